"""Which member queries the response cache may keep per member (server.py, schema/response_cache.py).

Only a query whose every field is on the list below: the member's own row, points, tier and
ledger page, none of which changes with the clock alone (`expiringSoon` does, so it is left
out) or with other members' data. Such an answer depends on the tags `member:<externalId>`,
`all` and `members` (domain/changes.py): every write moves `members` unless it named the
members whose points, ledger or tier it changes (changes.touch_member), so a member's cached
dashboard is stale after no commit. Any other member query is answered uncached.

The list is by path of field names (aliases do not matter), fragments followed.
"""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, OperationDefinitionNode

PAGE_INFO = frozenset({"__typename", "hasNextPage", "endCursor", "hasPreviousPage", "startCursor"})
OWN_FIELDS: dict[str, frozenset[str]] = {
    "": frozenset({"__typename", "me"}),
    "me": frozenset({"__typename", "id", "externalId", "createdAt", "signupChannel", "anonymized",
                     "points", "tier", "ledger"}),
    "me.points": frozenset({"__typename", "balance", "pending", "lifetimeEarned"}),
    "me.tier": frozenset({"__typename", "id", "name", "rank", "earnMultiplier", "perks", "benefits",
                          "minSpend", "minPoints", "minOrders", "requireAll", "window"}),
    "me.tier.minSpend": frozenset({"__typename", "amount", "currency"}),
    "me.ledger": frozenset({"__typename", "edges", "pageInfo"}),
    "me.ledger.pageInfo": PAGE_INFO,
    "me.ledger.edges": frozenset({"__typename", "node", "cursor"}),
    "me.ledger.edges.node": frozenset({"__typename", "id", "amount", "kind", "sourceType", "sourceId", "ruleId",
                                       "ruleGlobalId", "details", "createdAt", "expiresAt", "remaining", "reason"}),
}


def reads_only_own_data(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> bool:
    """True when every field the query selects is on OWN_FIELDS (a query operation only)."""
    if operation.operation.value != "query":
        return False
    pending: list[tuple[str, Any]] = [("", s) for s in operation.selection_set.selections]
    spreads = 0
    while pending:
        path, node = pending.pop()
        if isinstance(node, FieldNode):
            name = node.name.value
            if name not in OWN_FIELDS.get(path, ()):
                return False
            if node.selection_set is not None:
                inner = f"{path}.{name}" if path else name
                pending.extend((inner, s) for s in node.selection_set.selections)
        elif isinstance(node, InlineFragmentNode):
            pending.extend((path, s) for s in node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode):
            fragment = fragments.get(node.name.value)
            spreads += 1
            if fragment is None or spreads > 100:  # unknown (refused anyway) or a spread bomb
                return False
            pending.extend((path, s) for s in fragment.selection_set.selections)
        else:
            return False
    return True
