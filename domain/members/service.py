"""Members: idempotent upsert, consent with history, export and anonymisation."""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from zoneinfo import available_timezones
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from domain import clock
from domain.db import drop_old_page_copies, write_transaction
from domain.errors import DomainError, InvalidInput, MemberNotFound
from domain.events.service import record_event
from domain.ledger.service import lock_member
from domain.members import erasure
from domain.members.models import Consent, ConsentChange, Member
from domain.reviews.media import storage
from domain.rules import service as rules
from domain.tiers import service as tiers

# SERVICE_NOTICES (points expiring, tier changed) and NIGHT_MESSAGES (advertising between 21:00
# and 08:00, which Korea's Network Act Art. 50 needs a separate consent for) are opt-in too.
PURPOSES = ("PERSONALIZATION", "MARKETING_EMAIL", "MARKETING_SMS", "REVIEW_REQUESTS", "SERVICE_NOTICES",
            "NIGHT_MESSAGES")
LOCALES = ("ko", "en")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PROFILE_FIELDS = ("email", "name", "birthday", "signup_channel", "timezone", "locale")


def search_members(text: str | None, personal: bool) -> QuerySet[Member]:
    """The support desk's look-up: the exact externalId, or (for a caller who may read personal
    data, so a search is never an oracle on e-mails) the exact e-mail or a part of the name.
    The name match is a scan (no trigram index): fine for a person typing, not for a loop."""
    text = (text or "").strip()[:320]
    if not text:
        return Member.all()
    found = Q(external_id=text)
    if personal:
        found |= Q(email__iexact=text) | Q(name__icontains=text)
    return Member.filter(found)


async def get_member(external_id: str, field: str = "memberExternalId") -> Member:
    member = await Member.get_or_none(external_id=external_id)
    if member is None:
        raise MemberNotFound(external_id, field)
    return member


def validate_profile(external_id: str, values: dict[str, Any]) -> None:
    if not external_id.strip() or len(external_id) > 255:
        raise InvalidInput("externalId must be 1 to 255 characters", "externalId")
    email = values.get("email")
    if email is not None and (len(email) > 320 or not EMAIL_RE.match(email)):
        raise InvalidInput("Not a valid e-mail address", "email")
    if values.get("name") is not None and len(values["name"]) > 200:
        raise InvalidInput("name is at most 200 characters", "name")
    birthday = values.get("birthday")
    if birthday is not None and (birthday > clock.now().date() or birthday < date(1900, 1, 1)):
        raise InvalidInput("birthday must be a past date", "birthday")
    channel = values.get("signup_channel")
    if channel is not None and len(channel) > 32:
        raise InvalidInput("signupChannel is at most 32 characters", "signupChannel")
    zone = values.get("timezone")
    if zone is not None and zone not in zone_names():
        raise InvalidInput("timezone must be an IANA time zone name such as Asia/Seoul", "timezone")
    if values.get("locale") is not None and values["locale"] not in LOCALES:
        raise InvalidInput(f"locale must be one of {', '.join(LOCALES)}", "locale")


@cache
def zone_names() -> frozenset[str]:
    # Membership in the installed zone list, not ZoneInfo(name): a path such as "../x" or a
    # NUL must never reach the file system.
    return frozenset(available_timezones())


async def upsert_member(external_id: str, values: dict[str, Any]) -> tuple[Member, bool]:
    """Create or update by externalId. Only fields given (not None) are changed."""
    validate_profile(external_id, values)
    given = {k: v for k, v in values.items() if k in PROFILE_FIELDS and v is not None}
    referrer = None
    if values.get("referred_by"):
        if values["referred_by"] == external_id:
            raise InvalidInput("A member cannot refer themselves", "referredBy")
        referrer = await get_member(values["referred_by"], "referredBy")
    try:
        return await _upsert(external_id, given, referrer)
    except IntegrityError:
        # A concurrent upsert created the same externalId first: now it is an update.
        return await _upsert(external_id, given, referrer)


async def _upsert(external_id: str, given: dict[str, Any], referrer: Member | None = None) -> tuple[Member, bool]:
    async with write_transaction():
        existing = await Member.select_for_update().get_or_none(external_id=external_id)
        now = clock.now()
        if existing is None:
            # The referrer counts only for a new member (a referral is how someone joins).
            member = await Member.create(external_id=external_id, created_at=now, updated_at=now,
                                         referred_by_id=referrer.id if referrer else None, **given)
            await record_event("member.created", member_payload(member), member.id)
            await rules.award_fixed(member, "SIGNUP", ("signup", external_id), "Signup bonus", None)
            await tiers.evaluate_upgrade(member, "signup")
            return member, True
        changed = {k: v for k, v in given.items() if getattr(existing, k) != v}
        if changed:
            existing.update_from_dict(changed)
            existing.updated_at = now
            await existing.save(update_fields=[*changed, "updated_at"])
            await record_event(
                "member.updated",
                {**member_payload(existing), "changed": sorted(changed)},
                existing.id,
            )
        return existing, False


def member_payload(member: Member) -> dict[str, Any]:
    return {
        "externalId": member.external_id,
        "email": member.email,
        "name": member.name,
        "birthday": member.birthday.isoformat() if member.birthday else None,
        "signupChannel": member.signup_channel,
    }


async def current_consents(member_id: int) -> dict[str, Consent]:
    return {c.purpose: c for c in await Consent.filter(member_id=member_id)}


CONSENT_HISTORY_MAX = 200


async def consent_history(member_id: int, limit: int) -> list[ConsentChange]:
    """The member's consent changes, newest first (the audit trail of grants and withdrawals)."""
    return await ConsentChange.filter(member_id=member_id).order_by("-id").limit(max(0, min(limit, CONSENT_HISTORY_MAX)))


async def update_consents(
    external_id: str, changes: list[tuple[str, bool]], source: str
) -> Member:
    """Record each consent change with time and source; unchanged purposes write nothing."""
    for purpose, _ in changes:
        if purpose not in PURPOSES:
            raise InvalidInput(f"Unknown purpose {purpose}", "consents")
    if len({p for p, _ in changes}) != len(changes):
        raise InvalidInput("Each purpose may appear once", "consents")
    async with write_transaction():
        member = await lock_member((await get_member(external_id)).id)
        if member.anonymized_at:
            raise DomainError("Member is anonymized", "memberExternalId", code="MEMBER_ANONYMIZED")
        now = clock.now()
        state = await current_consents(member.id)
        changed = []
        for purpose, granted in changes:
            row = state.get(purpose)
            if (row.granted if row else False) == granted:
                continue  # no change (a missing row means the default: not granted)
            if row is None:
                await Consent.create(member_id=member.id, purpose=purpose, granted=granted, source=source, updated_at=now)
            else:
                row.granted, row.source, row.updated_at = granted, source, now
                await row.save(update_fields=["granted", "source", "updated_at"])
            await ConsentChange.create(member_id=member.id, purpose=purpose, granted=granted, source=source, created_at=now)
            changed.append({"purpose": purpose, "granted": granted})
        if changed:
            await record_event(
                "member.updated",
                {"externalId": member.external_id, "changed": ["consents"], "consents": changed, "source": source},
                member.id,
            )
        return member


async def anonymize(external_id: str, actor: str) -> Member:
    """Erase the member's identifiers everywhere (domain/members/erasure.py); orders, the
    ledger and all totals stay, so balances and reports are intact."""
    async with write_transaction():
        member = await lock_member((await get_member(external_id)).id)
        if member.anonymized_at:
            return member
        now = clock.now()
        new_id = erasure.new_external_id()
        old_actor = f"member:{member.external_id}"
        files = await erasure.erase(member, new_id)
        member.external_id = new_id
        member.email = member.name = member.birthday = member.signup_channel = None
        member.timezone = member.locale = None
        member.anonymized_at = member.updated_at = now
        await member.save()
        for row in await Consent.filter(member_id=member.id, granted=True):
            row.granted, row.source, row.updated_at = False, "anonymization", now
            await row.save(update_fields=["granted", "source", "updated_at"])
            await ConsentChange.create(member_id=member.id, purpose=row.purpose, granted=False, source="anonymization", created_at=now)
        # A member erasing themselves is named by the new id, like everywhere else.
        actor = f"member:{new_id}" if actor == old_actor else actor
        await record_event(
            "member.anonymized", {"externalId": member.external_id, "actor": actor, "at": now.isoformat()}, member.id
        )
    for name in files:  # after commit: a rolled-back erasure keeps its files
        storage().delete(name)
    await drop_old_page_copies()
    return member
