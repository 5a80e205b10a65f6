"""Who is calling: API keys (stored hashed) and storefront-signed member JWTs."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import jwt
from tortoise.exceptions import IntegrityError

from domain import clock
from domain.auth import scopes as access
from domain.auth.models import ApiKey
from domain.db import write_transaction
from domain.errors import InvalidInput, NotFound
from domain.settings import get_settings

ROLES = ("admin", "storefront", "partner")


@dataclass(frozen=True)
class Viewer:
    role: str  # anonymous | admin | storefront | partner | member
    member_external_id: str | None = None
    api_key_id: int | None = None
    scopes: frozenset[str] = frozenset()  # an API key's access scopes (domain/auth/scopes.py)

    def holds(self, scope: str) -> bool:
        return self.role == "admin" or scope in self.scopes

    @property
    def sees_personal_data(self) -> bool:
        """Admins and members (on their own data) do; a storefront or partner key needs members:pii."""
        return self.role in ("admin", "member") or self.holds(access.PII)

    @property
    def actor(self) -> str:
        if self.role == "member":
            return f"member:{self.member_external_id}"
        return f"{self.role}:{self.api_key_id}" if self.api_key_id else self.role


ANONYMOUS = Viewer("anonymous")


class AuthError(Exception):
    """The token was given but is not valid (expired, revoked, bad signature)."""


def hash_key(secret: str) -> str:
    # API keys carry 256 random bits, so a fast hash is safe (as for GitHub tokens);
    # a slow password hash would only cost latency on every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(role: str) -> str:
    return f"ptn_{role[:2]}_{secrets.token_urlsafe(32)}"


async def create_api_key(name: str, role: str, secret: str | None = None, *,
                         scopes: list[str] | None = None) -> tuple[ApiKey, str]:
    """scopes None = the role's defaults (domain/auth/scopes.py DEFAULT_SCOPES)."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", "role")
    if not name.strip() or len(name) > 200:
        raise InvalidInput("name must be 1 to 200 characters", "name")
    chosen = access.normalize(role, scopes)
    secret = secret or new_secret(role)
    key = await ApiKey.create(
        name=name, role=role, prefix=secret[:10], key_hash=hash_key(secret), scopes=chosen, created_at=clock.now()
    )
    return key, secret


def key_scopes(key: ApiKey) -> frozenset[str]:
    return access.effective(key.role, key.scopes)


async def set_api_key_scopes(key_id: int, scopes: list[str]) -> ApiKey:
    """Replace a key's scopes. Takes effect at once here (and for its webhook endpoints);
    other processes see it within `api_key_cache_seconds`."""
    key = await ApiKey.get_or_none(id=key_id)
    if key is None:
        raise NotFound("No such API key", "id", code="API_KEY_NOT_FOUND")
    key.scopes = access.normalize(key.role, scopes)
    async with write_transaction():  # commits bump the change counter: cached answers for the key go stale
        await key.save(update_fields=["scopes"])
    _forget_key_changes()
    return key


async def revoke_api_key(key_id: int) -> ApiKey:
    key = await ApiKey.get_or_none(id=key_id)
    if key is None:
        raise NotFound("No such API key", "id", code="API_KEY_NOT_FOUND")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        await key.save(update_fields=["revoked_at"])
    _forget_key_changes()
    return key


def _forget_key_changes() -> None:
    from domain.webhooks.service import invalidate_cache  # endpoints cache their owner's scopes

    _cache.clear()
    invalidate_cache()


async def ensure_admin_key(bootstrap: str | None) -> str | None:
    """Make sure an admin can get in. Returns a newly generated secret to print once."""
    if bootstrap:
        if not await ApiKey.exists(key_hash=hash_key(bootstrap)):
            try:
                await create_api_key("bootstrap admin", "admin", bootstrap)
            except IntegrityError:
                # Processes started together all saw no key; the unique key_hash let one
                # insert win. Anything else is a real error.
                if not await ApiKey.exists(key_hash=hash_key(bootstrap)):
                    raise
        return None
    if await ApiKey.exists(role="admin", revoked_at__isnull=True):
        return None
    _, secret = await create_api_key("first admin", "admin")
    return secret


# Successful lookups are cached briefly: a key check on every request would otherwise be
# a query per request. Revocation clears this process's cache at once; other processes
# see it within `api_key_cache_seconds`.
_cache: dict[str, tuple[float, Viewer | None]] = {}


async def _viewer_for_key(secret: str) -> Viewer:
    digest = hash_key(secret)
    hit = _cache.get(digest)
    if hit and hit[0] > time.monotonic():
        viewer = hit[1]
    else:
        key = await ApiKey.get_or_none(key_hash=digest, revoked_at__isnull=True)
        viewer = Viewer(key.role, api_key_id=key.id, scopes=key_scopes(key)) if key else None
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[digest] = (time.monotonic() + get_settings().api_key_cache_seconds, viewer)
    if viewer is None:
        raise AuthError("Unknown or revoked API key")
    return viewer


def _viewer_for_jwt(token: str) -> Viewer:
    secret = get_settings().member_jwt_secret
    if not secret:
        raise AuthError("Member tokens are not enabled (PATRON_MEMBER_JWT_SECRET is not set)")
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError as exc:
        raise AuthError(f"Invalid member token: {exc}") from None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise AuthError("Invalid member token: sub must be the member externalId")
    return Viewer("member", member_external_id=sub)


async def authenticate(authorization: str | None) -> Viewer:
    if not authorization:
        return ANONYMOUS
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization must be 'Bearer <token>'")
    token = token.strip()
    if token.count(".") == 2:
        return _viewer_for_jwt(token)
    return await _viewer_for_key(token)


def issue_member_token(external_id: str, ttl_seconds: int = 3600) -> str:
    """What a storefront does to sign a member in (used by tests, the seed and docs)."""
    secret = get_settings().member_jwt_secret
    if not secret:
        raise AuthError("PATRON_MEMBER_JWT_SECRET is not set")
    return jwt.encode({"sub": external_id, "exp": int(time.time()) + ttl_seconds}, secret, algorithm="HS256")
