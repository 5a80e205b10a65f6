"""The GraphQL surface. `schema` is the strawberry Schema; `schema.graphql` is its SDL."""

from __future__ import annotations

from typing import Any

import strawberry

from schema.errors import PublicError
from schema.limits import extensions
from schema.realtime import Subscription
from schema.root import Mutation, Query


class PatronSchema(strawberry.Schema):
    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        # Expected refusals (FORBIDDEN, BAD_USER_INPUT ...) are answers, not server faults.
        unexpected = [e for e in errors if not isinstance(getattr(e, "original_error", None), PublicError)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = PatronSchema(query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions())
