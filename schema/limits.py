"""Query limits: depth, tokens, aliases, cost and crowded selection sets, plus parse/validation
caches; the extensions list (masking lives in schema/request_errors.py).

Cost: every field costs 1, multiplied by the `first`/`last` of each list above it (by the
number of `ids` of `nodes`, and for federation's `_entities` by its number of representations),
capped like the resolvers at 100; a variable counts as 100, so a nested
`members(first: 100) { ledger(first: 100) }` is priced at what it would really load.
Introspection fields cost INTROSPECTION_FIELD_COST each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from graphql.language.parser import parse
from strawberry.extensions import MaxTokensLimiter, SchemaExtension
from strawberry.schema.schema import validate_document

from domain.settings import get_settings
from schema.introspection import introspection_errors
from schema.observability import OperationName
from schema.pagination import MAX_PAGE
from schema.request_errors import PatronMaskErrors, coded_validation_errors, variable_errors
from schema.trusted import is_trusted, refusal, trusted_document, trusted_errors


# Federation's `_entities` resolves one object per representation (at most MAX_PAGE), so its
# selection costs that many times: the gateway sends them as a variable, whose length is known
# when a request is validated (unknown, e.g. for a manifest document, it counts as MAX_PAGE).
ENTITIES_FIELD = "_entities"


def _entities_factor(field: FieldNode, variables: dict[str, Any] | None) -> int:
    for arg in field.arguments or ():
        if arg.name.value != "representations":
            continue
        if isinstance(arg.value, ListValueNode):
            return max(1, min(len(arg.value.values), MAX_PAGE))
        if isinstance(arg.value, VariableNode) and isinstance(variables, dict):
            value = variables.get(arg.value.name.value)
            if isinstance(value, list):
                return max(1, min(len(value), MAX_PAGE))
    return MAX_PAGE


def _page_factor(field: FieldNode, variables: dict[str, Any] | None = None) -> int:
    if field.name.value == ENTITIES_FIELD:
        return _entities_factor(field, variables)
    for arg in field.arguments or ():
        if field.name.value == "nodes" and arg.name.value == "ids":  # one object per id
            if isinstance(arg.value, ListValueNode):
                return max(1, min(len(arg.value.values), MAX_PAGE))
            return MAX_PAGE
        if arg.name.value in ("first", "last"):
            if isinstance(arg.value, IntValueNode):
                return max(1, min(int(arg.value.value), MAX_PAGE))
            return MAX_PAGE
    return 1


# Introspection resolves a list of every type, field and argument of the schema for each of
# its fields, so one of its fields costs this much: a whole introspection query (GraphiQL's,
# about 230 fields with its fragments spread) costs about 1,800 of the default 5,000, and three
# aliased copies of it (eight stalled the process for 1.5 s of CPU) are refused.
INTROSPECTION_FIELD_COST = 8
INTROSPECTION_ROOTS = ("__schema", "__type")


@dataclass
class Measure:
    depth: int = 0
    aliases: int = 0
    cost: int = 0
    keys: Counter[str] = field(default_factory=Counter)  # response keys of the merged selection set


@dataclass
class Walk:
    """State of one document's measurement: fragments measured once, and the first selection set
    whose fields are too many or repeat one response key too often."""

    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any] | None = None  # the request's, for `_entities`' representations
    memo: dict[tuple[str, bool], Measure] = field(default_factory=dict)
    visiting: set[str] = field(default_factory=set)
    crowded: str | None = None


def _check_crowding(keys: Counter[str], walk: Walk) -> None:
    if walk.crowded or not keys:
        return
    s = get_settings()
    key, repeats = keys.most_common(1)[0]
    if repeats > s.max_field_repeats:
        walk.crowded = (f"'{key}' is selected {repeats} times in one selection set. "
                        f"Allowed: {s.max_field_repeats}")
    elif sum(keys.values()) > s.max_selection_fields:
        walk.crowded = (f"{sum(keys.values())} fields in one selection set. "
                        f"Allowed: {s.max_selection_fields}")


def measure(selection_set: SelectionSetNode, walk: Walk, introspective: bool = False) -> Measure:
    """Depth, alias count, cost and response keys of a selection set with fragments expanded,
    in linear time: each fragment is measured once (cost is linear in the page multiplier, so a
    fragment's unit cost can be reused wherever it is spread). Cycles count as nothing here;
    the standard validation reports them."""
    total = Measure()
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            total.keys[(sel.alias or sel.name).value] += 1
            total.aliases += 1 if sel.alias else 0
            inside = introspective or sel.name.value in INTROSPECTION_ROOTS
            unit = INTROSPECTION_FIELD_COST if inside and sel.name.value != "__typename" else 1
            if sel.selection_set is None:
                total.depth, total.cost = max(total.depth, 1), total.cost + unit
                continue
            inner = measure(sel.selection_set, walk, inside)
            _check_crowding(inner.keys, walk)
            # Introspection (__schema, __type) is bounded by the schema: it adds no depth.
            own_depth = 1 if sel.name.value.startswith("__") else 1 + inner.depth
            total.depth = max(total.depth, own_depth)
            total.aliases += inner.aliases
            total.cost += unit + _page_factor(sel, walk.variables) * inner.cost
            continue
        if isinstance(sel, InlineFragmentNode):
            inner = measure(sel.selection_set, walk, introspective)
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            if name in walk.visiting or name not in walk.fragments:
                continue
            if (name, introspective) not in walk.memo:
                walk.visiting.add(name)
                fragment = walk.fragments[name].selection_set
                walk.memo[(name, introspective)] = measure(fragment, walk, introspective)
                walk.visiting.discard(name)
            inner = walk.memo[(name, introspective)]
        else:
            continue
        total.depth = max(total.depth, inner.depth)
        total.aliases, total.cost = total.aliases + inner.aliases, total.cost + inner.cost
        total.keys.update(inner.keys)
    return total


def limit_errors(document: DocumentNode, variables: dict[str, Any] | None = None) -> list[GraphQLError]:
    s = get_settings()
    walk = Walk({d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)},
                variables)
    errors = []
    for op in document.definitions:
        if not isinstance(op, OperationDefinitionNode):
            continue
        m = measure(op.selection_set, walk)
        _check_crowding(m.keys, walk)
        name = op.name.value if op.name else "anonymous"
        if m.depth > s.max_query_depth:
            errors.append(GraphQLError(f"'{name}' exceeds maximum operation depth of {s.max_query_depth}", op,
                                       extensions={"code": "QUERY_TOO_DEEP"}))
        if m.aliases > s.max_query_aliases:
            errors.append(GraphQLError(f"{m.aliases} aliases found. Allowed: {s.max_query_aliases}", op,
                                       extensions={"code": "TOO_MANY_ALIASES"}))
        if m.cost > s.max_query_cost:
            errors.append(GraphQLError(f"Query cost {m.cost} exceeds the limit of {s.max_query_cost}; ask for smaller pages",
                                       op, extensions={"code": "QUERY_TOO_COSTLY"}))
    if walk.crowded:
        errors.append(GraphQLError(walk.crowded + " (repeated fields make validation slow; select each once)",
                                   extensions={"code": "TOO_MANY_FIELDS"}))
    return errors


_cached_parse = lru_cache(maxsize=256)(parse)


@lru_cache(maxsize=256)
def _validate(schema: GraphQLSchema, document: DocumentNode, rules: tuple) -> list[GraphQLError]:
    return validate_document(schema, document, rules)


class CachedParse(SchemaExtension):
    """ParserCache without its flaw: a document that does not parse is left to strawberry's own
    parse step, which reports the syntax error as a result (the mask then codes it) instead of
    raising it past every extension (and, on a WebSocket, past the protocol handler)."""

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        try:
            ctx.graphql_document = trusted_document(ctx.query) or _cached_parse(ctx.query, **ctx.parse_options)
        except GraphQLError:
            pass  # parsed again by strawberry, bounded by max_tokens: a failure is cheap
        yield


class GuardedValidation(SchemaExtension):
    """Limits first (linear, fragments measured once), then who may introspect, then
    graphql-core's validation, cached per document (CachedParse hands back the same document
    for the same text), then the variable values graphql-core would let through. A document
    over a limit is never given to the standard rules, some of which expand fragments and
    would take exponential time on a fragment fan-out."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if is_trusted(ctx.query, ctx.graphql_document):  # validated when the manifest loaded
            ctx.pre_execution_errors = trusted_errors(ctx.graphql_document, ctx.context) or variable_errors(ctx.variables)
            yield
            return
        errors = (refusal(ctx.context) or limit_errors(ctx.graphql_document, ctx.variables)
                  or introspection_errors(ctx.graphql_document, ctx.context))
        if not errors:
            errors = coded_validation_errors(_validate(ctx.schema._schema, ctx.graphql_document,
                                                       tuple(ctx.validation_rules)))
        ctx.pre_execution_errors = errors or variable_errors(ctx.variables)
        yield


def extensions() -> list[Any]:
    s = get_settings()
    return [
        partial(MaxTokensLimiter, max_token_count=s.max_query_tokens),
        CachedParse,
        GuardedValidation,
        PatronMaskErrors,
        OperationName,  # the latency histogram's label (schema/observability.py)
    ]
