"""Staff accounts, sign-in with throttling and lockout, sessions and the audit log.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 profile). A session is a
256-bit random token in an HttpOnly cookie; only its SHA-256 is stored. The CSRF token of a
session is an HMAC of the session token, so it is bound to it and needs no storage: a page
on another site can neither read the cookie nor compute the token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from domain import clock
from domain.auth import scopes as access
from domain.auth.service import Viewer
from domain.db import write_transaction
from domain.errors import DomainError, InvalidInput
from domain.settings import get_settings
from domain.staff.models import StaffAudit, StaffSession, StaffUser

ROLES = tuple(access.STAFF_ROLE_SCOPES)
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # argon2 would hash more, but nobody types it: a cheap bound on work
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")
IP_WINDOW = timedelta(minutes=15)
_hasher = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4
# Verified when the e-mail is unknown, so a wrong address costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class SignInRefused(DomainError):
    """Wrong e-mail or password (one message for both), a locked account or a throttled address."""

    code = "SIGN_IN_REFUSED"


@dataclass(frozen=True)
class SignedIn:
    user: StaffUser
    token: str  # the cookie value, never stored


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_password(password: str) -> None:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidInput(f"The password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters",
                           "password")


def new_password() -> str:
    """A one-time password for create-staff: 20 URL-safe characters (120 bits)."""
    return secrets.token_urlsafe(15)


async def create_staff(email: str, role: str, password: str, *, one_time: bool = False) -> StaffUser:
    """`one_time`: a generated password the person must replace at the first sign-in."""
    email = normalize_email(email)
    if not EMAIL.match(email):
        raise InvalidInput("Give an e-mail address such as ann@example.com", "email")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", "role")
    check_password(password)
    if await StaffUser.exists(email=email):
        raise InvalidInput("A staff account with this e-mail exists", "email", code="STAFF_EXISTS")
    async with write_transaction():
        user = await StaffUser.create(email=email, role=role, password_hash=_hasher.hash(password),
                                      must_change_password=one_time, created_at=clock.now())
        await StaffAudit.create(user=user, email=email, action="staff.created", detail=f"role {role}", ip="cli",
                                at=clock.now())
    return user


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"patron-console-csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(session_token), given or "")


async def audit(user: StaffUser | None, email: str, action: str, detail: str = "", ip: str = "") -> None:
    async with write_transaction():
        await StaffAudit.create(user=user, email=email[:254], action=action[:64], detail=detail[:500], ip=ip[:64],
                                at=clock.now())


async def sign_in(email: str, password: str, ip: str) -> SignedIn:
    """A new session, or SignInRefused. N wrong passwords in a row lock the account for a while
    (PATRON_STAFF_LOCKOUT_ATTEMPTS, _MINUTES); an address with too many failed attempts in 15
    minutes is refused before any password is checked (PATRON_STAFF_LOGIN_ATTEMPTS_PER_IP)."""
    settings = get_settings()
    email = normalize_email(email)[:254]
    now = clock.now()
    failures = await StaffAudit.filter(ip=ip[:64], action="sign_in.failed", at__gt=now - IP_WINDOW).count()
    if failures >= settings.staff_login_attempts_per_ip:
        await audit(None, email, "sign_in.throttled", "", ip)
        raise SignInRefused("Too many attempts from this address; try again in 15 minutes", "email",
                            code="SIGN_IN_THROTTLED")
    user = await StaffUser.get_or_none(email=email)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        await audit(user, email, "sign_in.locked", "", ip)
        raise SignInRefused("This account is locked after too many wrong passwords; try again later",
                            "email", code="ACCOUNT_LOCKED")
    ok = _verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    if not ok:
        detail = ""
        if user is not None:
            async with write_transaction():
                user = await StaffUser.select_for_update().get(id=user.id)
                user.failed_attempts += 1
                fields = ["failed_attempts"]
                if user.failed_attempts >= settings.staff_lockout_attempts:
                    user.locked_until = now + timedelta(minutes=settings.staff_lockout_minutes)
                    user.failed_attempts = 0
                    fields.append("locked_until")
                    detail = "account locked"
                await user.save(update_fields=fields)
        await audit(user, email, "sign_in.failed", detail, ip)
        if detail:
            raise SignInRefused("This account is locked after too many wrong passwords; try again later",
                                "email", code="ACCOUNT_LOCKED")
        raise SignInRefused("Wrong e-mail or password", "password")
    token = secrets.token_urlsafe(32)
    async with write_transaction():
        user.failed_attempts = 0
        user.locked_until = None
        user.last_login_at = now
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        await user.save(update_fields=["failed_attempts", "locked_until", "last_login_at", "password_hash"])
        await StaffSession.create(user=user, token_hash=_hash_token(token), created_at=now,
                                  expires_at=now + timedelta(hours=settings.staff_session_hours), ip=ip[:64])
        await StaffAudit.create(user=user, email=email, action="sign_in", ip=ip[:64], at=now)
    return SignedIn(user, token)


def _verify(password_hash: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def change_password(user: StaffUser, current: str, new: str, keep_token: str, ip: str) -> None:
    """The person's own password change: the current one is checked, the new one must differ;
    every other session of the account ends."""
    if not _verify(user.password_hash, current):
        raise InvalidInput("The current password is wrong", "current", code="WRONG_PASSWORD")
    check_password(new)
    if new == current:
        raise InvalidInput("Choose a password different from the current one", "password", code="SAME_PASSWORD")
    async with write_transaction():
        user.password_hash = _hasher.hash(new)
        user.must_change_password = False
        await user.save(update_fields=["password_hash", "must_change_password"])
        await StaffSession.filter(user_id=user.id).exclude(token_hash=_hash_token(keep_token)).delete()
        await StaffAudit.create(user=user, email=user.email, action="password.changed", ip=ip[:64], at=clock.now())


async def session_user(token: str | None) -> StaffUser | None:
    """The staff account of a live session cookie, else None."""
    if not token or len(token) > 128:
        return None
    session = await StaffSession.get_or_none(token_hash=_hash_token(token), expires_at__gt=clock.now()) \
        .prefetch_related("user")
    return session.user if session else None


async def sign_out(token: str, ip: str) -> None:
    session = await StaffSession.get_or_none(token_hash=_hash_token(token)).prefetch_related("user")
    if session is None:
        return
    async with write_transaction():
        await StaffSession.filter(id=session.id).delete()
        await StaffAudit.create(user=session.user, email=session.user.email, action="sign_out", ip=ip[:64],
                                at=clock.now())


def viewer_for(user: StaffUser) -> Viewer:
    """The API viewer a staff account acts as: the same permission checks as an HTTP call."""
    scopes = frozenset(access.STAFF_ROLE_SCOPES[user.role])
    role = "admin" if user.role in access.STAFF_ADMIN_ROLES else "staff"
    return Viewer(role, scopes=scopes, staff_user_id=user.id, staff_role=user.role)


def audit_log_query():  # noqa: ANN201
    """The audit log, newest first (the GraphQL field pages it)."""
    return StaffAudit.all()
