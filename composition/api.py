"""The strawberry Schema: the root Query and Mutation (composition/operations.py), the
Subscription type (schema/realtime.py) and the request limits (schema/limits.py).

It is an Apollo Federation 2 subgraph: Product and Member are entities keyed by `externalId`
(`_service { sdl }` and `_entities`, see resolvers/federation.py), so a supergraph can add
Patron's review and loyalty fields to the commerce platform's products and customers."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.federation.schema import FederationAny
from strawberry.permission import BasePermission
from strawberry.types import Info

import resolvers.catalog
import resolvers.members
from composition.operations import Mutation, Query
from resolvers.federation import Entity, resolve_entities
from schema.limits import extensions
from schema.realtime import Subscription
from schema.request_errors import caller_error_code
from schema.response_cache import ReadTags
from schema.scalars import SCALAR_OVERRIDES


def permissions_of(root: type, name: str) -> list[type[BasePermission]]:
    """The permission classes declared on a root field, so an entity is guarded exactly as it."""
    return list(root.__strawberry_definition__.get_field(name).permission_classes)  # type: ignore[attr-defined]


# Entity type → how `_entities` loads it and the root field whose permission it applies.
ENTITIES = {
    "Product": Entity(resolvers.catalog.products_by_external_id, permissions_of(Query, "product")),
    "Member": Entity(resolvers.members.members_by_external_id, permissions_of(Query, "member")),
}


class PatronSchema(strawberry.federation.Schema):
    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        # Expected refusals (FORBIDDEN, BAD_USER_INPUT, invalid documents ...) are answers, not
        # server faults: only the errors the mask will hide are logged.
        unexpected = [e for e in errors if caller_error_code(e) is None]
        if unexpected:
            super().process_errors(unexpected, execution_context)

    # strawberry's own resolver looks each representation up in its type map (an unknown
    # __typename is a KeyError, a 500) and loads them one by one without any permission.
    async def entities_resolver(self, info: Info, representations: list[FederationAny]) -> list[FederationAny]:
        return await resolve_entities(info, representations, ENTITIES)


schema = PatronSchema(query=Query, mutation=Mutation, subscription=Subscription, extensions=[*extensions(), ReadTags],
                      scalar_overrides=SCALAR_OVERRIDES)  # DateTime without an offset = UTC
