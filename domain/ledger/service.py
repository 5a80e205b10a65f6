"""The points ledger: append-only entries, credit lots, FEFO debits, holds and reversals.

Every function here must run inside `write_transaction()` with the member row locked
(`lock_member`), so the cached figures on the member and the entries move together:
`member.points_balance == sum(entry.amount)` and `member.points_pending == sum(held awards)`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domain import clock
from domain.errors import Conflict, InsufficientPoints, InvalidInput, MemberNotFound
from domain.events.service import record_event
from domain.ledger.models import Award, LedgerEntry, LotConsumption
from domain.members.models import Member
from domain.settings import get_settings

FAR_FUTURE = datetime.max.replace(tzinfo=clock.now().tzinfo)
MAX_BALANCE = 2**31 - 1  # the ledger's integer columns
MAX_ADJUSTMENT = 100_000_000


async def lock_member(member_id: int) -> Member:
    """Re-read the member with a row lock (PostgreSQL); SQLite is serialized by the caller."""
    return await Member.select_for_update().get(id=member_id)


async def lock_member_by_external_id(external_id: str, field: str = "memberExternalId") -> Member:
    """The member by externalId, read once and locked (MemberNotFound when there is none)."""
    member = await Member.select_for_update().get_or_none(external_id=external_id)
    if member is None:
        raise MemberNotFound(external_id, field)
    return member


def _expiry_from(start: datetime) -> datetime | None:
    days = get_settings().points_expiry_days
    return start + timedelta(days=days) if days > 0 else None


def _entry_event(entry: LedgerEntry, member: Member, **extra: Any) -> dict[str, Any]:
    return {
        "memberExternalId": member.external_id,
        "entryId": entry.id,
        "amount": entry.amount,
        "kind": entry.kind,
        "reason": entry.reason,
        "source": {"type": entry.source_type, "id": entry.source_id},
        "balance": member.points_balance,
        **extra,
    }


async def find_by_key(member: Member, idempotency_key: str) -> LedgerEntry | None:
    return await LedgerEntry.get_or_none(member_id=member.id, idempotency_key=idempotency_key)


async def credit(
    member: Member,
    amount: int,
    kind: str,
    reason: str,
    *,
    source: tuple[str | None, str | None] = (None, None),
    idempotency_key: str | None = None,
    rule_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> LedgerEntry:
    """Append a credit lot. A negative balance (debt from a refund) is repaid first."""
    now = clock.now()
    debt = -member.points_balance if member.points_balance < 0 else 0
    entry = await LedgerEntry.create(
        member_id=member.id,
        amount=amount,
        kind=kind,
        reason=reason,
        source_type=source[0],
        source_id=source[1],
        idempotency_key=idempotency_key,
        rule_id=rule_id,
        details=details,
        expires_at=_expiry_from(now),
        remaining=max(0, amount - debt),
        created_at=now,
    )
    member.points_balance += amount
    if kind == "earn":
        member.lifetime_earned += amount
    await member.save(update_fields=["points_balance", "lifetime_earned"])
    return entry


async def debit(
    member: Member,
    amount: int,
    kind: str,
    reason: str,
    *,
    source: tuple[str | None, str | None] = (None, None),
    idempotency_key: str | None = None,
    details: dict[str, Any] | None = None,
    overdraft: str = "refuse",
    first_lot_id: int | None = None,
) -> LedgerEntry | None:
    """Append a debit consuming lots soonest-expiring first (FEFO), recording each lot used.

    overdraft: "refuse" raises InsufficientPoints, "allow" lets the balance go negative,
    "cap" debits only what is available (None when nothing is). `first_lot_id` is consumed
    before the FEFO order (a reversal takes back its own award's lot first).
    """
    lots = await LedgerEntry.filter(member_id=member.id, remaining__gt=0).order_by("id")
    lots.sort(key=lambda lot: (lot.id != first_lot_id, lot.expires_at or FAR_FUTURE, lot.id))
    available = sum(lot.remaining for lot in lots)
    if amount > available:
        if overdraft == "refuse":
            raise InsufficientPoints(
                f"Needs {amount} points, {max(available, 0)} available", "amount"
            )
        if overdraft == "cap":
            amount = max(0, available)
            if amount == 0:
                return None
    entry = await LedgerEntry.create(
        member_id=member.id,
        amount=-amount,
        kind=kind,
        reason=reason,
        source_type=source[0],
        source_id=source[1],
        idempotency_key=idempotency_key,
        details=details,
        created_at=clock.now(),
    )
    left = amount
    consumptions = []
    for lot in lots:
        if left == 0:
            break
        used = min(lot.remaining, left)
        lot.remaining -= used
        left -= used
        await lot.save(update_fields=["remaining"])
        consumptions.append(LotConsumption(debit_id=entry.id, lot_id=lot.id, amount=used))
    if consumptions:
        await LotConsumption.bulk_create(consumptions)
    member.points_balance -= amount
    await member.save(update_fields=["points_balance"])
    return entry


def _check_text(idempotency_key: str, reason: str) -> None:
    if not idempotency_key.strip() or len(idempotency_key) > 255:
        raise InvalidInput("idempotencyKey must be 1 to 255 characters", "idempotencyKey")
    if not reason.strip() or len(reason) > 500:
        raise InvalidInput("A reason of 1 to 500 characters is required", "reason")


def _check_replay(existing: LedgerEntry, amount: int) -> LedgerEntry:
    if abs(existing.amount) != amount:
        raise Conflict(
            "This idempotency key was already used with a different amount", "idempotencyKey"
        )
    return existing


async def spend(member: Member, amount: int, idempotency_key: str, reason: str) -> LedgerEntry:
    """Points used as payment. Never takes the balance below zero. Replays return the first."""
    if amount <= 0:
        raise InvalidInput("Amount must be positive", "amount")
    _check_text(idempotency_key, reason)
    existing = await find_by_key(member, idempotency_key)
    if existing:
        return _check_replay(existing, amount)
    entry = await debit(
        member, amount, "redeem", reason, source=("checkout", idempotency_key),
        idempotency_key=idempotency_key,
    )
    assert entry is not None
    await record_event("points.redeemed", _entry_event(entry, member), member.id)
    return entry


async def adjust(
    member: Member, amount: int, reason: str, idempotency_key: str, actor: str
) -> LedgerEntry:
    """Admin correction, audited with its reason and actor; cannot overdraw."""
    if amount == 0:
        raise InvalidInput("Amount must not be zero", "amount")
    if abs(amount) > MAX_ADJUSTMENT or member.points_balance + amount > MAX_BALANCE:
        raise InvalidInput(f"Adjustments are at most {MAX_ADJUSTMENT} and balances at most {MAX_BALANCE}", "amount")
    _check_text(idempotency_key, reason)
    existing = await find_by_key(member, idempotency_key)
    if existing:
        return _check_replay(existing, abs(amount))
    details = {"actor": actor}
    source = ("adjustment", idempotency_key)
    if amount > 0:
        entry = await credit(
            member, amount, "adjust", reason, source=source,
            idempotency_key=idempotency_key, details=details,
        )
    else:
        entry = await debit(
            member, -amount, "adjust", reason, source=source,
            idempotency_key=idempotency_key, details=details,
        )
        assert entry is not None
    await record_event("points.adjusted", _entry_event(entry, member, actor=actor), member.id)
    return entry


async def award(
    member: Member,
    amount: int,
    reason: str,
    *,
    source: tuple[str, str],
    idempotency_key: str,
    rule_id: int | None,
    details: dict[str, Any],
    pending_days: int,
    new_source: bool = False,
) -> Award | None:
    """Record a rule award: held for `pending_days`, or released into the ledger at once.

    Idempotent on the key: a second award for the same (rule, source) returns None.
    `new_source`: the source row was inserted in this very transaction (recordOrder's order,
    unique on its externalId, never deleted), so no award can name it yet and the lookup is
    skipped (the unique index on the key still stands behind it).
    """
    if amount <= 0:
        return None
    if not new_source and await Award.exists(member_id=member.id, idempotency_key=idempotency_key):
        return None
    now = clock.now()
    record = await Award.create(
        member_id=member.id,
        amount=amount,
        reason=reason,
        source_type=source[0],
        source_id=source[1],
        idempotency_key=idempotency_key,
        rule_id=rule_id,
        details=details,
        release_at=now + timedelta(days=pending_days),
        created_at=now,
    )
    member.points_pending += amount
    await member.save(update_fields=["points_pending"])
    payload = {
        "memberExternalId": member.external_id,
        "awardId": record.id,
        "amount": amount,
        "reason": reason,
        "source": {"type": source[0], "id": source[1]},
        "ruleId": rule_id,
        "pending": pending_days > 0,
        "availableAt": record.release_at.isoformat(),
    }
    await record_event("points.earned", payload, member.id)
    if pending_days <= 0:
        await release(member, record)
    return record


async def release(member: Member, record: Award) -> LedgerEntry | None:
    """Move a held award into the ledger as an earn lot (what refunds left of it)."""
    net = record.amount - record.reversed
    member.points_pending -= net
    await member.save(update_fields=["points_pending"])
    record.status = "released"
    entry = None
    if net > 0:
        entry = await credit(
            member, net, "earn", record.reason,
            source=(record.source_type, record.source_id),
            idempotency_key=record.idempotency_key, rule_id=record.rule_id,
            details={**(record.details or {}), "awardId": record.id},
        )
        record.entry_id = entry.id
        await record_event("points.released", _entry_event(entry, member), member.id)
    await record.save(update_fields=["status", "entry_id"])
    return entry


async def reverse_awards(
    member: Member, source: tuple[str, str], refunded: int, total: int, cause: tuple[str, str],
    rule_ids: list[int] | None = None,
) -> int:
    """Take back, proportionally, what was recorded for a source (an order, a review).

    `refunded/total` is the cumulative share to take back, so successive partial refunds
    add up to exactly the recorded award on a full refund. `cause` is what triggered it,
    e.g. ("refund", "r1") or ("review_rejected", "12"). `rule_ids` limits it to the awards
    of those rules (a review's photo bonus, not its publication award). Returns the points
    reversed now.
    """
    refund_id = cause[1]
    reason = f"Refund {refund_id}" if cause[0] == "refund" else f"Reversed: {cause[0].replace('_', ' ')} {refund_id}"
    policy = get_settings().refund_spent_policy
    awards = Award.filter(member_id=member.id, source_type=source[0], source_id=source[1])
    if rule_ids is not None:
        awards = awards.filter(rule_id__in=rule_ids)
    awards = await awards.order_by("id")
    taken = 0
    for record in awards:
        target = record.amount * refunded // total if total else record.amount
        delta = target - record.reversed
        if delta <= 0:
            continue
        record.reversed += delta
        await record.save(update_fields=["reversed"])
        details = {"awardId": record.id, "cause": list(cause), "share": [refunded, total]}
        if record.status == "held":
            # Inside the return window: the pending points are simply cancelled.
            member.points_pending -= delta
            await member.save(update_fields=["points_pending"])
            taken += delta
            payload = {
                "memberExternalId": member.external_id, "amount": -delta, "pending": True,
                "source": {"type": cause[0], "id": refund_id}, "awardId": record.id,
            }
            await record_event("points.reversed", payload, member.id)
            continue
        overdraft = "allow" if policy == "allow_negative" else "cap"
        entry = await debit(
            member, delta, "reverse", reason, source=cause,
            details={**details, "intended": delta}, overdraft=overdraft,
            first_lot_id=record.entry_id,
        )
        if entry is not None:
            taken += -entry.amount
            await record_event("points.reversed", _entry_event(entry, member), member.id)
    return taken


async def expire_lot(member: Member, lot: LedgerEntry) -> LedgerEntry | None:
    """Expire what is left of one lot (caller re-read it under the member lock)."""
    if not lot.remaining or lot.remaining <= 0:
        return None
    entry = await LedgerEntry.create(
        member_id=member.id, amount=-lot.remaining, kind="expire",
        reason="Points expired", source_type="lot", source_id=str(lot.id),
        created_at=clock.now(),
    )
    await LotConsumption.create(debit_id=entry.id, lot_id=lot.id, amount=lot.remaining)
    member.points_balance -= lot.remaining
    lot.remaining = 0
    await lot.save(update_fields=["remaining"])
    await member.save(update_fields=["points_balance"])
    await record_event("points.expired", _entry_event(entry, member), member.id)
    return entry
