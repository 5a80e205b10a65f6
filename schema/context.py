"""Per-request context: who is calling and the request's DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from domain.auth.service import Viewer
from domain.members.models import Consent
from domain.tiers.models import Tier


async def _load_tiers(ids: list[int]) -> list[Tier | None]:
    rows = {t.id: t for t in await Tier.filter(id__in=ids)}
    return [rows.get(i) for i in ids]


async def _load_consents(member_ids: list[int]) -> list[list[Consent]]:
    by_member: dict[int, list[Consent]] = {i: [] for i in member_ids}
    for row in await Consent.filter(member_id__in=member_ids).order_by("purpose"):
        by_member[row.member_id].append(row)
    return [by_member[i] for i in member_ids]


@dataclass
class Loaders:
    tier: DataLoader[int, Tier | None] = field(default_factory=lambda: DataLoader(_load_tiers))
    consents: DataLoader[int, list[Consent]] = field(default_factory=lambda: DataLoader(_load_consents))


@dataclass
class Context:
    viewer: Viewer
    request: Any = None
    response: Any = None
    loaders: Loaders = field(default_factory=Loaders)
