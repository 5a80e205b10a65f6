"""The GraphQL surface. `schema` is the strawberry Schema; `schema.graphql` is its SDL."""

from __future__ import annotations

from typing import Any

import strawberry

from schema.limits import extensions
from schema.realtime import Subscription
from schema.request_errors import caller_error_code
from schema.root import Mutation, Query
from schema.scalars import SCALAR_OVERRIDES


class PatronSchema(strawberry.Schema):
    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        # Expected refusals (FORBIDDEN, BAD_USER_INPUT, invalid documents ...) are answers, not
        # server faults: only the errors the mask will hide are logged.
        unexpected = [e for e in errors if caller_error_code(e) is None]
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = PatronSchema(query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions(),
                      scalar_overrides=SCALAR_OVERRIDES)
