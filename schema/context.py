"""Per-request context: who is calling and the request's DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from domain.auth.service import Viewer
from domain.catalog.models import Product
from domain.members.models import Consent
from domain.reviews import queries as review_queries
from domain.reviews.models import Answer, ReviewMedia, ReviewReport
from domain.tiers.models import Tier


async def _load_tiers(ids: list[int]) -> list[Tier | None]:
    rows = {t.id: t for t in await Tier.filter(id__in=ids)}
    return [rows.get(i) for i in ids]


async def _load_consents(member_ids: list[int]) -> list[list[Consent]]:
    by_member: dict[int, list[Consent]] = {i: [] for i in member_ids}
    for row in await Consent.filter(member_id__in=member_ids).order_by("purpose"):
        by_member[row.member_id].append(row)
    return [by_member[i] for i in member_ids]


async def _load_products(ids: list[int]) -> list[Product | None]:
    rows = {p.id: p for p in await Product.filter(id__in=ids)}
    return [rows.get(i) for i in ids]


async def _load_public_media(review_ids: list[int]) -> list[list[ReviewMedia]]:
    grouped = await review_queries.media_for(review_ids, public=True)
    return [grouped[i] for i in review_ids]


async def _load_all_media(review_ids: list[int]) -> list[list[ReviewMedia]]:
    grouped = await review_queries.media_for(review_ids, public=False)
    return [grouped[i] for i in review_ids]


async def _load_answers(question_ids: list[int]) -> list[list[Answer]]:
    grouped = await review_queries.answers_for(question_ids)
    return [grouped[i] for i in question_ids]


async def _load_review_reports(review_ids: list[int]) -> list[list[ReviewReport]]:
    grouped = await review_queries.reports_for(review_ids)
    return [grouped[i] for i in review_ids]


@dataclass
class Loaders:
    tier: DataLoader[int, Tier | None] = field(default_factory=lambda: DataLoader(_load_tiers))
    consents: DataLoader[int, list[Consent]] = field(default_factory=lambda: DataLoader(_load_consents))
    product: DataLoader[int, Product | None] = field(default_factory=lambda: DataLoader(_load_products))
    public_media: DataLoader[int, list[ReviewMedia]] = field(default_factory=lambda: DataLoader(_load_public_media))
    all_media: DataLoader[int, list[ReviewMedia]] = field(default_factory=lambda: DataLoader(_load_all_media))
    answers: DataLoader[int, list[Answer]] = field(default_factory=lambda: DataLoader(_load_answers))
    review_reports: DataLoader[int, list[ReviewReport]] = field(default_factory=lambda: DataLoader(_load_review_reports))
    # (type name, key) -> a Node, None or a refusal: made by resolvers/node.py on first use,
    # because its permission checks need the request's viewer.
    node: DataLoader[tuple[str, int], Any] | None = None


@dataclass
class Context:
    viewer: Viewer
    request: Any = None
    response: Any = None
    loaders: Loaders = field(default_factory=Loaders)
    connection_params: dict | None = None  # graphql-transport-ws connection_init payload
    # The Authorization value the viewer was derived from (HTTP header or connection_init),
    # kept so long-lived subscriptions can check it again before every event.
    authorization: str | None = None
    # Sent by the configured federation gateway (web/gateway.py): its subgraph fetches may run
    # outside the trusted documents manifest; the caller's own credential still decides access.
    gateway: bool = False
