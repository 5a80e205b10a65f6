"""The GraphQL surface. `schema` is the strawberry Schema; `schema.graphql` is its SDL."""

from __future__ import annotations

import strawberry

from schema.limits import extensions
from schema.root import Mutation, Query

schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=extensions())
