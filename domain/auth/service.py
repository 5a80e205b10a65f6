"""Who is calling: API keys (stored hashed) and storefront-signed member JWTs."""

from __future__ import annotations

import hashlib
import logging
import math
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

log = logging.getLogger("patron.auth")

ROLES = ("admin", "storefront", "partner")


@dataclass(frozen=True)
class Viewer:
    role: str  # anonymous | admin | storefront | partner | member | staff (a console role below admin)
    member_external_id: str | None = None
    api_key_id: int | None = None
    scopes: frozenset[str] = frozenset()  # an API key's or staff role's access scopes (domain/auth/scopes.py)
    staff_user_id: int | None = None  # a console session's staff account (domain/staff/)
    staff_role: str | None = None  # its console role (owner, admin, moderator ...)

    def holds(self, scope: str) -> bool:
        return self.role == "admin" or scope in self.scopes

    @property
    def sees_personal_data(self) -> bool:
        """Admins and members (on their own data) do; a storefront or partner key needs members:pii."""
        return self.role in ("admin", "member") or self.holds(access.PII)

    @property
    def reads_held_reviews(self) -> bool:
        """The text of reviews not yet published: whoever sees personal data, and moderators."""
        return self.sees_personal_data or (self.role != "member" and self.holds(access.MODERATE))

    @property
    def actor(self) -> str:
        if self.staff_user_id is not None:
            return f"staff:{self.staff_user_id}"
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
    async with write_transaction():
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
        async with write_transaction():  # commits bump the change counter: cached answers for the key go stale
            await key.save(update_fields=["revoked_at"])
    _forget_key_changes()
    return key


# Bumped when a key is revoked or its scopes change: caches derived from keys (the webhook
# fan-out's endpoint owners, domain/webhooks/service.py) compare it and rebuild at once.
_key_generation = 0


def key_generation() -> int:
    return _key_generation


def _forget_key_changes() -> None:
    global _key_generation
    _key_generation += 1
    _cache.clear()


REVOKED_BOOTSTRAP_MESSAGE = ("PATRON_BOOTSTRAP_ADMIN_KEY names a revoked key; set a new value to create a new "
                             "admin key")


async def ensure_admin_key(bootstrap: str | None) -> str | None:
    """Make sure an admin can get in. Returns a newly generated secret to print once."""
    if bootstrap:
        if await ApiKey.exists(key_hash=hash_key(bootstrap), revoked_at__isnull=False):
            # An admin revoked it on purpose: never brought back silently. Say how to get in.
            log.warning(REVOKED_BOOTSTRAP_MESSAGE)
            return None
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
# see it within `api_key_cache_seconds`. Valid member tokens are cached the same way (with
# their exp, still checked on every hit): a subscription re-checks its credential before
# every event, and decoding a JWT costs about 100 µs.
_cache: dict[str, tuple[float, Viewer | None, float | None]] = {}


def _remember(key: str, viewer: Viewer | None, exp: float | None = None) -> None:
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[key] = (time.monotonic() + get_settings().api_key_cache_seconds, viewer, exp)


async def _viewer_for_key(secret: str) -> Viewer:
    digest = hash_key(secret)
    hit = _cache.get(digest)
    if hit and hit[0] > time.monotonic():
        viewer = hit[1]
    else:
        key = await ApiKey.get_or_none(key_hash=digest, revoked_at__isnull=True)
        viewer = Viewer(key.role, api_key_id=key.id, scopes=key_scopes(key)) if key else None
        _remember(digest, viewer)
    if viewer is None:
        raise AuthError("Unknown or revoked API key")
    return viewer


# Leeway for an `iat` or `nbf` a little ahead: the storefront's clock may run fast.
CLOCK_SKEW_SECONDS = 60


def token_time() -> float:
    """Wall-clock seconds for token lifetimes. A credential expires in real time, not on the
    business clock tests move (domain.clock); tests replace this function to expire tokens."""
    return time.time()


# JSON integers have no bound: 10**400 made math.isfinite raise OverflowError (an HTTP 500).
# Beyond 10**18 s no time is real (and a lifetime check still names exp = 10**18 itself).
MAX_EPOCH_SECONDS = 10**18


def _epoch_seconds(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, int):
        return abs(value) <= MAX_EPOCH_SECONDS
    return math.isfinite(value) and abs(value) <= MAX_EPOCH_SECONDS


def _valid_sub(sub: object) -> bool:
    """The externalId rules (1 to 255 characters, not blank), valid Unicode, no NUL: a signed
    token is still input, and a sub no member could have must not reach the database."""
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255 or "\x00" in sub:
        return False
    try:
        sub.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_token_times(claims: dict) -> None:
    """exp and iat are required numbers; the lifetime (exp - iat) is capped, so a token with
    exp = 10**18 is refused; iat may not lie in the future beyond the leeway."""
    now = token_time()
    exp, iat = claims.get("exp"), claims.get("iat")
    for name, value in (("exp", exp), ("iat", iat)):
        if not _epoch_seconds(value):
            raise AuthError(f"Invalid member token: {name} must be a number (seconds since the epoch)")
    if exp <= now:
        raise AuthError("Invalid member token: Signature has expired")
    if iat > now + CLOCK_SKEW_SECONDS:
        raise AuthError("Invalid member token: iat is in the future")
    max_ttl = get_settings().member_jwt_max_ttl
    if exp - iat > max_ttl:
        raise AuthError(f"Invalid member token: lifetime exp - iat exceeds {max_ttl} seconds "
                        "(PATRON_MEMBER_JWT_MAX_TTL)")
    nbf = claims.get("nbf")
    if nbf is not None and (not _epoch_seconds(nbf) or nbf > now + CLOCK_SKEW_SECONDS):
        raise AuthError("Invalid member token: not yet valid (nbf)")


def _viewer_for_jwt(token: str) -> Viewer:
    key = "jwt:" + hash_key(token)
    hit = _cache.get(key)
    if hit and hit[0] > time.monotonic() and hit[1] is not None and hit[2] is not None:
        if hit[2] <= token_time():
            raise AuthError("Invalid member token: Signature has expired")
        return hit[1]
    viewer, exp = _decode_member_token(token)
    _remember(key, viewer, exp)
    return viewer


def _decode_member_token(token: str) -> tuple[Viewer, float]:
    settings = get_settings()
    secret = settings.member_jwt_secret
    if not secret:
        raise AuthError("Member tokens are not enabled (PATRON_MEMBER_JWT_SECRET is not set)")
    required = ["exp", "iat", "sub"] + (["iss"] if settings.member_jwt_issuer else []) + (
        ["aud"] if settings.member_jwt_audience else [])
    try:
        # Times are checked below against token_time(); PyJWT checks signature, iss and aud.
        options = {"require": required, "verify_exp": False, "verify_iat": False, "verify_nbf": False,
                   "verify_aud": settings.member_jwt_audience is not None}
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=settings.member_jwt_issuer,
                            audience=settings.member_jwt_audience, options=options)
    except jwt.PyJWTError as exc:
        raise AuthError(f"Invalid member token: {exc}") from None
    _check_token_times(claims)
    sub = claims.get("sub")
    if not _valid_sub(sub):
        raise AuthError("Invalid member token: sub must be the member externalId (1 to 255 characters "
                        "of valid Unicode)")
    return Viewer("member", member_external_id=sub), claims["exp"]


async def authenticate(authorization: str | None) -> Viewer:
    if not authorization:
        return ANONYMOUS
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization must be 'Bearer <token>'")
    token = token.strip()
    try:
        token.encode("utf-8")  # "\ud800" (a WebSocket's JSON can carry one) broke hash_key
    except UnicodeEncodeError:
        raise AuthError("Malformed credential: not valid Unicode text") from None
    if token.count(".") == 2:
        try:
            return _viewer_for_jwt(token)
        except AuthError:
            raise
        except (ValueError, TypeError, OverflowError, UnicodeError) as exc:  # any malformed token is refused
            raise AuthError(f"Invalid member token: {type(exc).__name__}") from None
    return await _viewer_for_key(token)


def issue_member_token(external_id: str, ttl_seconds: int = 3600) -> str:
    """What a storefront does to sign a member in (used by tests, the seed and docs)."""
    settings = get_settings()
    if not settings.member_jwt_secret:
        raise AuthError("PATRON_MEMBER_JWT_SECRET is not set")
    now = int(token_time())
    claims: dict[str, object] = {"sub": external_id, "iat": now, "exp": now + ttl_seconds}
    if settings.member_jwt_issuer:
        claims["iss"] = settings.member_jwt_issuer
    if settings.member_jwt_audience:
        claims["aud"] = settings.member_jwt_audience
    return jwt.encode(claims, settings.member_jwt_secret, algorithm="HS256")


async def credential_problem(authorization: str | None, viewer: Viewer) -> str | None:
    """Why a credential accepted earlier no longer holds (revoked key, expired member token),
    or None while it still names the same caller. Long-lived connections (subscriptions) ask
    this before every event; API keys come from the same short cache as HTTP requests."""
    if viewer.role == "anonymous" or authorization is None:
        return None  # no credential, or a viewer made in-process (tests, jobs): nothing to re-check
    try:
        current = await authenticate(authorization)
    except AuthError as exc:
        return str(exc)
    return None if current == viewer else "The credential no longer names this caller"
