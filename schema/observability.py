"""Tells the HTTP endpoint which operation ran: the label of its latency histogram (server.py)."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import OperationDefinitionNode
from strawberry.extensions import SchemaExtension

STATE_KEY = "graphql_operation"


class OperationName(SchemaExtension):
    """Writes the name of the operation run into the request's ASGI scope state: only a name
    the document defines (a client cannot invent labels by sending `operationName` alone);
    domain/observability/metrics.py bounds it further."""

    def on_operation(self) -> Iterator[None]:
        yield
        request = getattr(self.execution_context.context, "request", None)
        scope = getattr(request, "scope", None)
        document = self.execution_context.graphql_document
        if not isinstance(scope, dict) or document is None:
            return
        defined = {d.name.value for d in document.definitions
                   if isinstance(d, OperationDefinitionNode) and d.name is not None}
        name = self.execution_context.operation_name
        if name in defined:
            scope.setdefault("state", {})[STATE_KEY] = name
