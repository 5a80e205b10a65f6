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
    key_id: int = strawberry.field(description="Legacy integer ID of the key.", deprecation_reason=legacy_int_id())
    name: str = strawberry.field(description="The admin's label for the key; 1–200 characters.")
    role: ApiKeyRole = strawberry.field(description="What the key may call (the README's role table).")
    prefix: str = strawberry.field(description="The first characters of the secret, to recognise it.")
    scopes: list[str] = strawberry.field(
        description="Access scopes held (see the README's scope table); an admin key holds every scope.")
    created_at: str = strawberry.field(description="When it was created, UTC ISO 8601.")
    revoked_at: str | None = strawberry.field(
        description="When it was revoked (it authenticates no more), UTC ISO 8601; null while active.")

    @classmethod
    def from_model(cls, k: ApiKeyModel) -> ApiKey:
        return cls(
            id=global_id("ApiKey", k.id), key_id=k.id, name=k.name, role=ApiKeyRole(k.role),
            prefix=k.prefix, scopes=sorted(key_scopes(k)), created_at=k.created_at.isoformat(),
            revoked_at=k.revoked_at.isoformat() if k.revoked_at else None,
        )


@strawberry.type(description="One access scope an admin can give an API key.")
class ApiKeyScope:
    name: str = strawberry.field(description='The scope, e.g. "members:pii" or "events:orders".')
    grants: str = strawberry.field(description="What it lets a key receive, in words.")
    event_types: list[str] = strawberry.field(description="The event types it lets webhooks receive (events:* scopes).")


@strawberry.input
class CreateApiKeyInput:
    name: str = strawberry.field(description="A label to recognise the key by; 1–200 characters.")
    role: ApiKeyRole = strawberry.field(description="What the key may call; its default scopes follow from it.")
    scopes: list[str] | None = strawberry.field(
        default=None, description="e.g. [\"events:reviews\", \"members:pii\"]; omitted: the role's defaults.")


@strawberry.input
class SetApiKeyScopesInput:
    id: strawberry.ID = strawberry.field(description="The API key's global ID.")
    scopes: list[str] = strawberry.field(description="The complete new set (replaces the old one).")


@strawberry.type
class CreateApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The new key; null when `errors` is not empty.")
    secret: str | None = strawberry.field(description="Shown once; only its hash is stored.")
    errors: list[UserError] = strawberry.field(description="Why no key was created; empty on success.")


@strawberry.type
class ApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The key as saved; null when `errors` is not empty.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed (e.g. API_KEY_NOT_FOUND); "
                                                           "empty on success.")
