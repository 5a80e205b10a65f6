"""API key types and inputs."""

from __future__ import annotations

from enum import Enum

import strawberry

from domain.auth.models import ApiKey as ApiKeyModel
from domain.auth.service import key_scopes
from schema.common import global_id, legacy_int_id
from schema.errors import UserError
from schema.node import Node


@strawberry.enum
class ApiKeyRole(Enum):
    ADMIN = "admin"
    STOREFRONT = "storefront"
    PARTNER = "partner"


@strawberry.type
class ApiKey(Node):
    key_id: int = strawberry.field(deprecation_reason=legacy_int_id())
    name: str
    role: ApiKeyRole
    prefix: str = strawberry.field(description="The first characters of the secret, to recognise it.")
    scopes: list[str] = strawberry.field(
        description="Access scopes held (see the README's scope table); an admin key holds every scope.")
    created_at: str
    revoked_at: str | None

    @classmethod
    def from_model(cls, k: ApiKeyModel) -> ApiKey:
        return cls(
            id=global_id("ApiKey", k.id), key_id=k.id, name=k.name, role=ApiKeyRole(k.role),
            prefix=k.prefix, scopes=sorted(key_scopes(k)), created_at=k.created_at.isoformat(),
            revoked_at=k.revoked_at.isoformat() if k.revoked_at else None,
        )


@strawberry.type(description="One access scope an admin can give an API key.")
class ApiKeyScope:
    name: str
    grants: str
    event_types: list[str] = strawberry.field(description="The event types it lets webhooks receive (events:* scopes).")


@strawberry.input
class CreateApiKeyInput:
    name: str
    role: ApiKeyRole
    scopes: list[str] | None = strawberry.field(
        default=None, description="e.g. [\"events:reviews\", \"members:pii\"]; omitted: the role's defaults.")


@strawberry.input
class SetApiKeyScopesInput:
    id: strawberry.ID
    scopes: list[str] = strawberry.field(description="The complete new set (replaces the old one).")


@strawberry.type
class CreateApiKeyPayload:
    api_key: ApiKey | None
    secret: str | None = strawberry.field(description="Shown once; only its hash is stored.")
    errors: list[UserError]


@strawberry.type
class ApiKeyPayload:
    api_key: ApiKey | None
    errors: list[UserError]
