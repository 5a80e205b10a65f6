"""What every GraphQL error carries out: a code in `extensions.code`.

Caller mistakes are told apart from server faults where they arise:
- the document does not parse: GRAPHQL_PARSE_FAILED;
- it does not validate: GRAPHQL_VALIDATION_FAILED (tagged in schema/limits.py);
- a variable does not fit its type (2^31 for Int, a bad enum, date or input object, null for
  non-null, a lone surrogate): BAD_USER_INPUT. graphql-core reports these before execution,
  without a `path`; they are answers, not bugs;
- a resolver raised a PublicError: its own code; the database refused a value: BAD_USER_INPUT.
Anything else is a server bug: masked as "Unexpected error." with INTERNAL_SERVER_ERROR, and
logged by PatronSchema.process_errors.
"""

from __future__ import annotations

import math
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from domain.errors import input_problem, is_bad_input
from domain.observability.metrics import GRAPHQL_ERRORS
from schema.errors import PublicError

MASKED_MESSAGE = "Unexpected error."
# Request-level refusals strawberry raises itself (no operation chosen, mutation over GET ...).
_REQUEST_REFUSALS = (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError)


def with_code(error: GraphQLError, code: str, message: str | None = None) -> GraphQLError:
    """A copy of `error` carrying `code` (kept if the error already has one)."""
    if (error.extensions or {}).get("code") and message is None:
        return error
    extensions = {**(error.extensions or {}), "code": code}
    return GraphQLError(message or error.message, error.nodes, error.source, error.positions,
                        error.path, error.original_error, extensions)


def caller_error_code(error: GraphQLError) -> str | None:
    """The code of an error the caller caused, or None for a server fault."""
    code = (error.extensions or {}).get("code")
    original = error.original_error
    if isinstance(original, PublicError):
        return original.extensions["code"]
    if isinstance(error, GraphQLSyntaxError) or isinstance(original, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if code:
        return code
    if is_bad_input(original):
        return "BAD_USER_INPUT"
    request_level = original is None or isinstance(original, (GraphQLError, *_REQUEST_REFUSALS))
    if error.path is None and request_level:
        # Raised before any resolver ran: coercing variables or choosing the operation.
        return "BAD_USER_INPUT"
    return None


class PatronMaskErrors(MaskErrors):
    """Gives every outgoing error a code; masks only server faults (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: True)  # all pass anonymise_error

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        code = caller_error_code(error)
        GRAPHQL_ERRORS.labels(code or "INTERNAL_SERVER_ERROR").inc()  # every error sent passes here
        if code is None:
            return GraphQLError(MASKED_MESSAGE, error.nodes, error.source, error.positions, error.path,
                                extensions={"code": "INTERNAL_SERVER_ERROR"})
        if is_bad_input(error.original_error):
            return with_code(error, code, f"Invalid input: {input_problem(error.original_error)}")
        return with_code(error, code)


# --- variable values graphql-core lets through -------------------------------------------------------


# Every input list of the schema is capped at 100 items (CONVENTIONS: input lists capped at 100),
# and graphql-core/strawberry coerce a variable into input objects once per field that uses it,
# on the event loop, before any resolver can check a length: 12,000 order lines used by ten
# aliased fields took 20 s. So oversized variables are refused before execution, for every field.
MAX_VARIABLE_LIST = 100
# The largest legitimate variables (100 products with 20 categories each) hold about 3,000 values.
MAX_VARIABLE_VALUES = 10_000


def _unfit_value(value: Any, path: str, budget: list[int] | None = None) -> str | None:
    """Variables are JSON, but Python's decoder also admits lone surrogates ("\\ud800", which no
    database or encoder accepts) and NaN/Infinity (which JSON has not). Find the first such, or the
    first list longer than any input list may be, or say when the request holds too many values
    (`budget` is shared by all the variables of a request)."""
    budget = budget if budget is not None else [MAX_VARIABLE_VALUES]
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            return f"values are too many (at most {MAX_VARIABLE_VALUES} in all variables)"
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return f"{where}: text must be valid Unicode (a lone surrogate such as \\ud800 is not)"
        elif isinstance(item, float) and not math.isfinite(item):
            return f"{where}: numbers must be finite"
        elif isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(key, str):
                    stack.append((key, f"{where} (a key)"))
                shown = str(key).encode("utf-8", "backslashreplace").decode()
                stack.append((inner, f"{where}.{shown}"))
        elif isinstance(item, list):
            if len(item) > MAX_VARIABLE_LIST:
                return f"{where}: at most {MAX_VARIABLE_LIST} items in a list (got {len(item)})"
            stack.extend((inner, f"{where}.{i}") for i, inner in enumerate(item))
    return None


def variable_errors(variables: dict[str, Any] | None) -> list[GraphQLError]:
    if not isinstance(variables, dict):
        return []
    budget = [MAX_VARIABLE_VALUES]
    for name, value in variables.items():
        if not isinstance(name, str) or _unfit_value(name, "") is not None:
            return [GraphQLError("Variable names must be valid Unicode",
                                 extensions={"code": "BAD_USER_INPUT"})]
        problem = _unfit_value(value, f"${name}", budget)
        if problem:
            return [GraphQLError(f"Variable {problem}", extensions={"code": "BAD_USER_INPUT"})]
    return []


def coded_validation_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    return [with_code(e, "GRAPHQL_VALIDATION_FAILED") for e in errors]
