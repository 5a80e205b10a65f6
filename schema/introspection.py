"""Who may introspect the schema (PATRON_INTROSPECTION = public | authenticated | off).

`__typename` is always allowed (clients need it); `__schema`, `__type` and federation's
`_service` are introspection, wherever they appear (operations or fragments). The configured
federation gateway (web/gateway.py) may always read `_service`."""

from __future__ import annotations

from typing import Any

from graphql import DocumentNode, FieldNode, GraphQLError, visit
from graphql.language import Visitor

from domain.settings import get_settings

# `_service { sdl }` (federation) hands out the whole schema: it is introspection too.
ROOTS = frozenset({"__schema", "__type", "_service"})


class _Finder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        if node.name.value in ROOTS:
            self.found = True
            return Visitor.BREAK
        return None


def uses_introspection(document: DocumentNode) -> bool:
    finder = _Finder()
    visit(document, finder)
    return finder.found


def introspection_errors(document: DocumentNode, context: Any) -> list[GraphQLError]:
    policy = get_settings().introspection
    if policy == "public" or not uses_introspection(document):
        return []
    viewer = getattr(context, "viewer", None)
    if viewer is None:
        return []  # called in-process (schema.introspect(), the SDL export): not a request
    if getattr(context, "gateway", False):
        return []  # the federation gateway composes the supergraph from `_service`
    if policy == "off":
        return [GraphQLError("Introspection is turned off on this server (PATRON_INTROSPECTION=off)",
                             extensions={"code": "INTROSPECTION_DISABLED"})]
    if viewer.role == "anonymous":
        return [GraphQLError("Introspection needs a credential: send an API key or a member token "
                             "in the Authorization header (PATRON_INTROSPECTION=authenticated)",
                             extensions={"code": "UNAUTHENTICATED"})]
    return []
