"""`_service` and `_entities`: how a federation gateway fetches Patron's entities by their keys.

Each entity type names a batch loader (external ids → objects) and the permission classes of
the root field that reads it (`member(externalId:)` for Member), applied to every
representation as if the caller had asked that field: a refused one is null with the same
error (FORBIDDEN / UNAUTHENTICATED) at its index, the others are served. Unknown keys are null.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from schema.errors import bad_input, forbidden
from schema.federation import FederationService
from schema.pagination import MAX_PAGE

KEY = "externalId"
MAX_KEY_LENGTH = 255  # the length of every externalId column


@dataclass(frozen=True)
class Entity:
    load: Callable[[list[str]], Awaitable[dict[str, Any]]]
    permissions: Sequence[type[BasePermission]] = ()


def _key(representation: Any, entities: dict[str, Entity]) -> tuple[str, str]:
    """(type name, externalId) of one representation; a malformed one is the caller's mistake."""
    if not isinstance(representation, dict) or set(representation) != {"__typename", KEY}:
        raise bad_input(f'Every representation must be {{"__typename": ..., "{KEY}": ...}} and nothing else')
    typename, key = representation["__typename"], representation[KEY]
    if typename not in entities:
        raise bad_input(f"__typename must be one of {', '.join(sorted(entities))}")
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH or "\x00" in key:
        raise bad_input(f"{KEY} must be a string of 1 to {MAX_KEY_LENGTH} characters")
    return typename, key


async def _refusal(entity: Entity, info: Info, external_id: str) -> Exception | None:
    for permission in entity.permissions:
        try:
            allowed = permission().has_permission(None, info, external_id=external_id)
            if inspect.isawaitable(allowed):
                allowed = await allowed
        except Exception as exc:  # the permission's own FORBIDDEN / UNAUTHENTICATED
            return exc
        if not allowed:
            return forbidden(permission.message or "You are not allowed to do this")
    return None


async def resolve_entities(info: Info, representations: list[Any], entities: dict[str, Entity]) -> list[Any]:
    """One query per entity type whatever the number of representations (at most MAX_PAGE,
    which is also what the cost limit counts for a variable list)."""
    if len(representations) > MAX_PAGE:
        raise bad_input(f"At most {MAX_PAGE} representations per request")
    keys = [_key(r, entities) for r in representations]
    results: list[Any] = [None] * len(keys)
    wanted: dict[str, list[tuple[int, str]]] = {}
    for index, (typename, external_id) in enumerate(keys):
        refused = await _refusal(entities[typename], info, external_id)
        if refused is not None:
            results[index] = refused  # graphql-core raises it at `_entities.<index>`
        else:
            wanted.setdefault(typename, []).append((index, external_id))
    for typename, items in wanted.items():
        found = await entities[typename].load(sorted({external_id for _, external_id in items}))
        for index, external_id in items:
            results[index] = found.get(external_id)
    return results


@lru_cache(maxsize=2)
def _sdl(schema: Any) -> str:
    return schema.as_str()


def service(info: Info) -> FederationService:
    """Printing the schema takes ~80 ms of CPU: done once per process, not per request (30
    aliased `_service` fields would otherwise cost seconds)."""
    return FederationService(sdl=_sdl(info.schema))
