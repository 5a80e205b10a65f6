"""The ledger's entry points for callers outside a transaction (the API): each opens the
transaction, locks the member and calls the building blocks in domain/ledger/service.py."""

from __future__ import annotations

from domain import changes
from domain.db import write_transaction
from domain.ledger import service
from domain.ledger.models import LedgerEntry
from domain.members.models import Member
from domain.members.service import get_member


async def spend_points(member_external_id: str, amount: int, idempotency_key: str,
                       reason: str) -> tuple[LedgerEntry, Member]:
    async with write_transaction():
        changes.touch()  # a points change: nothing any public answer shows
        changes.touch_member(member_external_id)  # and only this member's own reads
        member = await service.lock_member((await get_member(member_external_id)).id)
        entry = await service.spend(member, amount, idempotency_key, reason)
        return entry, member


async def adjust_points(member_external_id: str, amount: int, reason: str, idempotency_key: str,
                        actor: str) -> tuple[LedgerEntry, Member]:
    async with write_transaction():
        changes.touch()  # a points change: nothing any public answer shows
        changes.touch_member(member_external_id)  # and only this member's own reads
        member = await service.lock_member((await get_member(member_external_id)).id)
        entry = await service.adjust(member, amount, reason, idempotency_key, actor)
        return entry, member
