"""Relay Global Object Identification: the `Node` interface.

Patron's own interface rather than `strawberry.relay.Node`: our types already build `id`
with `schema.common.global_id` (and MemberSubscription's carry the name "Subscription",
issued before this interface existed), and `node`/`nodes` must answer null with an error at
the one position a caller may not see (resolvers/node.py), which strawberry's `relay.node()`
does not do (a malformed id fails the whole request, one failed id fails the whole list).
"""

from __future__ import annotations

import strawberry


@strawberry.interface(description="An object that can be fetched again by its global ID (`node(id:)`).")
class Node:
    id: strawberry.ID = strawberry.field(description="The global ID: opaque, stable, accepted by node(id:).")
