"""Query limits: depth, tokens, aliases and cost, plus parse/validation caches and masking.

Cost: every field costs 1, multiplied by the `first`/`last` of each list above it
(capped like the resolvers at 100; a variable counts as 100), so a nested
`members(first: 100) { ledger(first: 100) }` is priced at what it would really load.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

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


def selection_cost(
    selection_set: SelectionSetNode, multiplier: int, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str]
) -> int:
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += multiplier
            if selection.selection_set:
                total += selection_cost(selection.selection_set, multiplier * _page_factor(selection), fragments, seen)
        elif isinstance(selection, InlineFragmentNode):
            total += selection_cost(selection.selection_set, multiplier, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in seen or name not in fragments:
                continue  # cycles and unknown fragments are reported by the standard rules
            total += selection_cost(fragments[name].selection_set, multiplier, fragments, seen | {name})
    return total


def cost_limit_rule(max_cost: int) -> type[ValidationRule]:
    class CostLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = {
                d.name.value: d for d in self.context.document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            cost = selection_cost(node.selection_set, 1, fragments, frozenset())
            if cost > max_cost:
                self.report_error(GraphQLError(
                    f"Query cost {cost} exceeds the limit of {max_cost}; ask for smaller pages",
                    node, extensions={"code": "QUERY_TOO_COSTLY"},
                ))

    return CostLimit


def should_mask(error: GraphQLError) -> bool:
    """Mask unexpected errors; keep validation errors and our own public errors."""
    original = error.original_error
    if original is None or isinstance(original, PublicError):
        return False
    return True


def extensions() -> list[Any]:
    """Extension factories. The validation rule classes are built once, here: the
    validation cache keys on the rules, so rules made per request would never hit it."""
    s = get_settings()
    rules = [
        *QueryDepthLimiter(max_depth=s.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=s.max_query_aliases).validation_rules,
        cost_limit_rule(s.max_query_cost),
    ]
    return [
        partial(MaxTokensLimiter, max_token_count=s.max_query_tokens),
        ParserCache,
        partial(AddValidationRules, rules),
        partial(ValidationCache, maxsize=256),
        partial(MaskErrors, should_mask_error=should_mask),
    ]
