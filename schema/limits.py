"""Query limits: depth, tokens, aliases and cost, plus parse/validation caches and masking.

Cost: every field costs 1, multiplied by the `first`/`last` of each list above it
(capped like the resolvers at 100; a variable counts as 100), so a nested
`members(first: 100) { ledger(first: 100) }` is priced at what it would really load.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache, partial
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import MaskErrors, MaxTokensLimiter, ParserCache, SchemaExtension
from strawberry.schema.schema import validate_document

from domain.errors import input_problem, is_bad_input
from domain.settings import get_settings
from schema.errors import PublicError
from schema.pagination import MAX_PAGE


def _page_factor(field: FieldNode) -> int:
    for arg in field.arguments or ():
        if arg.name.value in ("first", "last"):
            if isinstance(arg.value, IntValueNode):
                return max(1, min(int(arg.value.value), MAX_PAGE))
            return MAX_PAGE
    return 1


Measure = tuple[int, int, int]  # depth, aliases, cost


def measure(selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode],
            memo: dict[str, Measure], visiting: set[str]) -> Measure:
    """Depth, alias count and cost of a selection set with fragments expanded, in linear time:
    each fragment is measured once (cost is linear in the page multiplier, so a fragment's
    unit cost can be reused wherever it is spread). Cycles count as nothing here; the
    standard validation reports them."""
    depth = aliases = cost = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            alias = 1 if sel.alias else 0
            if sel.selection_set is None:
                depth, aliases, cost = max(depth, 1), aliases + alias, cost + 1
                continue
            d, a, c = measure(sel.selection_set, fragments, memo, visiting)
            # Introspection (__schema, __type) is bounded by the schema: it adds no depth.
            depth = max(depth, 1 if sel.name.value.startswith("__") else 1 + d)
            aliases, cost = aliases + alias + a, cost + 1 + _page_factor(sel) * c
        elif isinstance(sel, InlineFragmentNode):
            d, a, c = measure(sel.selection_set, fragments, memo, visiting)
            depth, aliases, cost = max(depth, d), aliases + a, cost + c
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            if name in visiting or name not in fragments:
                continue
            if name not in memo:
                visiting.add(name)
                memo[name] = measure(fragments[name].selection_set, fragments, memo, visiting)
                visiting.discard(name)
            d, a, c = memo[name]
            depth, aliases, cost = max(depth, d), aliases + a, cost + c
    return depth, aliases, cost


def limit_errors(document: DocumentNode) -> list[GraphQLError]:
    s = get_settings()
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    memo: dict[str, Measure] = {}
    errors = []
    for op in document.definitions:
        if not isinstance(op, OperationDefinitionNode):
            continue
        depth, aliases, cost = measure(op.selection_set, fragments, memo, set())
        name = op.name.value if op.name else "anonymous"
        if depth > s.max_query_depth:
            errors.append(GraphQLError(f"'{name}' exceeds maximum operation depth of {s.max_query_depth}", op,
                                       extensions={"code": "QUERY_TOO_DEEP"}))
        if aliases > s.max_query_aliases:
            errors.append(GraphQLError(f"{aliases} aliases found. Allowed: {s.max_query_aliases}", op,
                                       extensions={"code": "TOO_MANY_ALIASES"}))
        if cost > s.max_query_cost:
            errors.append(GraphQLError(f"Query cost {cost} exceeds the limit of {s.max_query_cost}; ask for smaller pages",
                                       op, extensions={"code": "QUERY_TOO_COSTLY"}))
    return errors


@lru_cache(maxsize=256)
def _validate(schema: GraphQLSchema, document: DocumentNode, rules: tuple) -> list[GraphQLError]:
    return validate_document(schema, document, rules)


class GuardedValidation(SchemaExtension):
    """Limits first (linear, fragments measured once), then graphql-core's validation,
    cached per document (ParserCache hands back the same document for the same text).
    A document over a limit is never given to the standard rules, some of which expand
    fragments and would take exponential time on a fragment fan-out."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        errors = limit_errors(ctx.graphql_document)
        ctx.pre_execution_errors = errors or _validate(ctx.schema._schema, ctx.graphql_document,
                                                       tuple(ctx.validation_rules))
        yield


def should_mask(error: GraphQLError) -> bool:
    """Mask unexpected errors; keep validation errors and our own public errors."""
    original = error.original_error
    if original is None or isinstance(original, PublicError):
        return False
    return True


class PatronMaskErrors(MaskErrors):
    """Input the database refuses (too long, out of range) is the caller's mistake: it gets
    BAD_USER_INPUT. Anything else unexpected is masked and logged."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if is_bad_input(error.original_error):
            return GraphQLError(f"Invalid input: {input_problem(error.original_error)}", error.nodes, error.source,
                                error.positions, error.path, extensions={"code": "BAD_USER_INPUT"})
        return super().anonymise_error(error)


def extensions() -> list[Any]:
    s = get_settings()
    return [
        partial(MaxTokensLimiter, max_token_count=s.max_query_tokens),
        ParserCache,
        GuardedValidation,
        PatronMaskErrors,
    ]
