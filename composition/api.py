"""The strawberry Schema: the root Query and Mutation (composition/operations.py), the
Subscription type (schema/realtime.py) and the request limits (schema/limits.py)."""

from __future__ import annotations

from typing import Any

import strawberry

from composition.operations import Mutation, Query
from schema.limits import extensions
from schema.realtime import Subscription
from schema.request_errors import caller_error_code
from schema.scalars import SCALAR_OVERRIDES


class PatronSchema(strawberry.Schema):
    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        # Expected refusals (FORBIDDEN, BAD_USER_INPUT, invalid documents ...) are answers, not
        # server faults: only the errors the mask will hide are logged.
        unexpected = [e for e in errors if caller_error_code(e) is None]
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = PatronSchema(query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions(),
                      scalar_overrides=SCALAR_OVERRIDES)  # DateTime without an offset = UTC
