"""Apollo Federation's `_Service` type (the entities are schema/catalog.py's Product and
schema/members.py's Member; composition/api.py makes the schema a subgraph)."""

from __future__ import annotations

import strawberry


@strawberry.type(name="_Service", description="This subgraph's SDL, with its federation directives.")
class FederationService:
    sdl: str = strawberry.field(description="This subgraph's schema in SDL, with its federation directives (as in schema.graphql).")
