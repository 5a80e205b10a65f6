from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.auth import scopes as access
from domain.auth import service
from domain.events.types import EVENT_TYPES
from domain.auth.models import ApiKey as ApiKeyModel
from resolvers.common import attempt
from schema.common import parse_id
from schema.auth import (
    ApiKey,
    ApiKeyPayload,
    ApiKeyScope,
    CreateApiKeyInput,
    CreateApiKeyPayload,
    SetApiKeyScopesInput,
)


async def api_keys(info: Info) -> list[ApiKey]:
    return [ApiKey.from_model(k) for k in await ApiKeyModel.all().order_by("id")]


def api_key_scopes(info: Info) -> list[ApiKeyScope]:
    return [ApiKeyScope(name=name, grants=grants,
                        event_types=[t for t in EVENT_TYPES if access.scope_for_event(t) == name])
            for name, grants in access.SCOPES.items()]


async def create_api_key(info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
    result, errors = await attempt(service.create_api_key(input.name, input.role.value, scopes=input.scopes))
    if result is None:
        return CreateApiKeyPayload(api_key=None, secret=None, errors=errors)
    key, secret = result
    return CreateApiKeyPayload(api_key=ApiKey.from_model(key), secret=secret, errors=[])


async def revoke_api_key(info: Info, id: strawberry.ID) -> ApiKeyPayload:
    key, errors = await attempt(service.revoke_api_key(parse_id(id, "ApiKey")))
    return ApiKeyPayload(api_key=ApiKey.from_model(key) if key else None, errors=errors)


async def set_api_key_scopes(info: Info, input: SetApiKeyScopesInput) -> ApiKeyPayload:
    key, errors = await attempt(service.set_api_key_scopes(parse_id(input.id, "ApiKey"), input.scopes))
    return ApiKeyPayload(api_key=ApiKey.from_model(key) if key else None, errors=errors)
