"""`node(id:)` and `nodes(ids:)`: refetch any Node by its global ID.

Each type answers with exactly the permissions of the field a client reads it through today,
reusing that field's permission class (schema/permissions.py) or filter:

- owned by a member (Member, Order, LedgerEntry, MemberSubscription: `member(externalId)` and its
  lists; Redemption: that, plus `rewardCode` for storefronts): another caller gets null and
  FORBIDDEN (UNAUTHENTICATED when anonymous) at that position, never the data;
- admin only (Event, ApiKey, JobRun, ImportJob, Segment): the root field's IsAdmin; webhooks: AdminOrPartner, and a
  partner sees only its own endpoints and their deliveries (another's is null, as in
  `webhookEndpoints`);
- public lists (Product, Tier; EarningRule, Reward and SubscriptionPlan while active; published
  reviews, media, questions and answers): what the public list would hide is null, no error.
  Admins see every state, an author their own review and its media (as `member { reviews }`).

A malformed id, or one naming a type that is not a Node, is null + BAD_USER_INPUT; a
well-formed id of a missing row is null without an error (Relay). `nodes` loads each type with
one query, however many ids name it, and every position is answered on its own.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.permission import BasePermission
from strawberry.types import Info
from tortoise.queryset import QuerySet

from domain.auth.models import ApiKey as ApiKeyModel
from domain.catalog.models import Product as ProductModel
from domain.events.models import Event as EventModel
from domain.ledger.models import LedgerEntry as LedgerEntryModel
from domain.members.models import Member as MemberModel
from domain.orders.models import Order as OrderModel
from domain.reviews.models import Answer as AnswerModel
from domain.reviews.models import Question as QuestionModel
from domain.reviews.models import Review as ReviewModel
from domain.reviews.models import ReviewMedia as MediaModel
from domain.rewards.models import Redemption as RedemptionModel
from domain.rewards.models import Reward as RewardModel
from domain.rules.models import EarningRule as RuleModel
from domain.imports.models import ImportJob as ImportJobModel
from domain.scheduler.models import JobRun as JobRunModel
from domain.segments.models import Segment as SegmentModel
from domain.subscriptions.models import Subscription as SubscriptionModel
from domain.subscriptions.models import SubscriptionPlan as PlanModel
from domain.tiers.models import Tier as TierModel
from domain.webhooks.models import WebhookDelivery as DeliveryModel
from domain.webhooks.models import WebhookEndpoint as EndpointModel
from schema.auth import ApiKey
from schema.catalog import Product
from schema.common import BIGINT_MAX, INT32_MAX, decode_global_id
from schema.errors import PublicError, bad_input
from schema.events import Event
from schema.ledger import LedgerEntry
from schema.members import Member
from schema.node import Node
from schema.orders import Order
from schema.permissions import AdminOrPartner, AdminOrSelf, AdminStorefrontOrSelf, IsAdmin, SupportDeskOrSelf
from schema.rewards import Redemption, Reward
from schema.rules import EarningRule
from schema.imports import ImportJob
from schema.scheduler import JobRun
from schema.segments import Segment
from schema.subscriptions import MemberSubscription, SubscriptionPlan
from schema.tiers import Tier
from schema.reviews import Answer, Question, Review, ReviewMedia
from schema.webhooks import WebhookDelivery, WebhookEndpoint

MAX_NODES = 100

Shown = Any  # a Node, None (hidden or missing) or a PublicError for that position


def _check(permission: type[BasePermission], info: Info, owner: str | None = None) -> None:
    """The root field's permission class, as if the field named member `owner` (raises
    FORBIDDEN or UNAUTHENTICATED when it refuses)."""
    permission().has_permission(None, info, external_id=owner)


def _owner_sees(info: Info, owner: str | None) -> bool:
    viewer = info.context.viewer
    return owner is not None and viewer.role == "member" and viewer.member_external_id == owner


def _is_admin(info: Info) -> bool:
    return info.context.viewer.role == "admin"


def _refusal(exc: PublicError) -> PublicError:
    return PublicError(str(exc), exc.extensions["code"])


@dataclass(frozen=True)
class NodeKind:
    """How one type is refetched: `rows` reads the rows of some keys (one query), `show` turns
    a row into what this caller may see (None: hidden; raises PublicError: refused)."""

    rows: Callable[[list[int]], QuerySet]
    show: Callable[[Info, Any], Shown | Awaitable[Shown]]
    guard: type[BasePermission] | None = None  # the root field's permission, checked before reading
    max_pk: int = INT32_MAX  # a larger key names no row of an IntField table


def _owned(permission: type[BasePermission], to_node: Callable[[Any], Node],
           owner: Callable[[Any], str] = lambda row: row.member.external_id) -> Callable[[Info, Any], Node]:
    """A member's object: refused (not hidden) when the permission refuses its owner."""
    def show(info: Info, row: Any) -> Node:
        _check(permission, info, owner(row))
        return to_node(row)
    return show


def _review(info: Info, r: ReviewModel) -> Review | None:
    # Admins: the moderation queue (every state); the author: `member { reviews }` (not deleted);
    # everyone else: the product page (published only).
    if _is_admin(info) or (r.status != "deleted" and _owner_sees(info, r.member.external_id if r.member else None)):
        return Review.from_model(r, public=False)
    return Review.from_model(r) if r.status == "published" else None


def _media(info: Info, m: MediaModel) -> ReviewMedia | None:
    review = m.review
    author = review.member.external_id if review.member else None
    if _is_admin(info) or (review.status != "deleted" and _owner_sees(info, author)):
        return ReviewMedia.from_model(m, preview=True)
    return ReviewMedia.from_model(m) if m.status == "published" and review.status == "published" else None


def _question(info: Info, q: QuestionModel) -> Question | None:
    return Question.from_model(q) if _is_admin(info) or q.status == "published" else None


def _answer(info: Info, a: AnswerModel) -> Answer | None:
    visible = a.status == "published" and a.question.status == "published"
    return Answer.from_model(a) if _is_admin(info) or visible else None


def _active(to_node: Callable[[Any], Node]) -> Callable[[Info, Any], Node | None]:
    """`rewards` and `earningRules`: active ones for everyone, inactive ones for admins."""
    return lambda info, row: to_node(row) if row.active or _is_admin(info) else None


def _reward(info: Info, r: RewardModel) -> Reward | None:
    # As `rewards`: active ones of the public catalog (audience ALL) for everyone, all for admins;
    # a member reads a personalized offer through its code (`member { rewards { available } }`).
    return Reward.from_model(r) if _is_admin(info) or (r.active and r.audience == "ALL") else None


async def _plan(info: Info, p: PlanModel) -> SubscriptionPlan | None:
    # `subscriptionPlans` lists the active ones; an inactive plan is still read by an admin and,
    # through `member { subscriptions { plan } }`, by the members subscribed to it.
    if p.active or _is_admin(info):
        return SubscriptionPlan.from_model(p)
    viewer = info.context.viewer
    if viewer.role == "member" and await SubscriptionModel.exists(
            plan_id=p.id, member__external_id=viewer.member_external_id):
        return SubscriptionPlan.from_model(p)
    return None


def _partner_owns(owner_key_id: int | None, info: Info) -> bool:
    viewer = info.context.viewer
    return viewer.role != "partner" or owner_key_id == viewer.api_key_id


KINDS: dict[str, NodeKind] = {
    "Member": NodeKind(lambda ks: MemberModel.filter(id__in=ks),
                       _owned(SupportDeskOrSelf, Member.from_model, owner=lambda m: m.external_id)),
    "Order": NodeKind(lambda ks: OrderModel.filter(id__in=ks).select_related("member"),
                      _owned(AdminOrSelf, Order.from_model)),
    "LedgerEntry": NodeKind(lambda ks: LedgerEntryModel.filter(id__in=ks).select_related("member"),
                            _owned(AdminOrSelf, LedgerEntry.from_model), max_pk=BIGINT_MAX),
    "Redemption": NodeKind(lambda ks: RedemptionModel.filter(id__in=ks).select_related("reward", "member"),
                           _owned(AdminStorefrontOrSelf, Redemption.from_model)),
    # MemberSubscription ids carry "Subscription" (schema/subscriptions.py).
    "Subscription": NodeKind(lambda ks: SubscriptionModel.filter(id__in=ks).select_related("plan", "member"),
                             _owned(AdminOrSelf, MemberSubscription.from_model)),
    "Product": NodeKind(lambda ks: ProductModel.filter(id__in=ks), lambda info, p: Product.from_model(p)),
    "Review": NodeKind(lambda ks: ReviewModel.filter(id__in=ks).select_related("member"), _review),
    "ReviewMedia": NodeKind(lambda ks: MediaModel.filter(id__in=ks).select_related("review__member"), _media),
    "Question": NodeKind(lambda ks: QuestionModel.filter(id__in=ks), _question),
    "Answer": NodeKind(lambda ks: AnswerModel.filter(id__in=ks).select_related("question"), _answer),
    "Tier": NodeKind(lambda ks: TierModel.filter(id__in=ks), lambda info, t: Tier.from_model(t)),
    "EarningRule": NodeKind(lambda ks: RuleModel.filter(id__in=ks), _active(EarningRule.from_model)),
    "Reward": NodeKind(lambda ks: RewardModel.filter(id__in=ks), _reward),
    "Segment": NodeKind(lambda ks: SegmentModel.filter(id__in=ks), lambda info, s: Segment.from_model(s),
                        guard=IsAdmin),
    "SubscriptionPlan": NodeKind(lambda ks: PlanModel.filter(id__in=ks), _plan),
    "WebhookEndpoint": NodeKind(
        lambda ks: EndpointModel.filter(id__in=ks),
        lambda info, e: WebhookEndpoint.from_model(e) if _partner_owns(e.owner_key_id, info) else None,
        guard=AdminOrPartner),
    "WebhookDelivery": NodeKind(
        lambda ks: DeliveryModel.filter(id__in=ks).select_related("event", "endpoint"),
        lambda info, d: WebhookDelivery.from_model(d) if _partner_owns(d.endpoint.owner_key_id, info) else None,
        guard=AdminOrPartner, max_pk=BIGINT_MAX),
    "Event": NodeKind(lambda ks: EventModel.filter(id__in=ks), lambda info, e: Event.from_model(e),
                      guard=IsAdmin, max_pk=BIGINT_MAX),
    "ApiKey": NodeKind(lambda ks: ApiKeyModel.filter(id__in=ks), lambda info, k: ApiKey.from_model(k), guard=IsAdmin),
    "JobRun": NodeKind(lambda ks: JobRunModel.filter(id__in=ks), lambda info, r: JobRun.from_model(r),
                       guard=IsAdmin, max_pk=BIGINT_MAX),
    "ImportJob": NodeKind(lambda ks: ImportJobModel.filter(id__in=ks), lambda info, j: ImportJob.from_model(j),
                          guard=IsAdmin),
}


async def _shown(info: Info, kind: NodeKind, row: Any) -> Shown:
    try:
        result = kind.show(info, row)
        return await result if asyncio.iscoroutine(result) else result
    except PublicError as exc:
        return exc


async def _load_kind(info: Info, kind: NodeKind, pks: list[int]) -> dict[int, Shown]:
    if kind.guard is not None:
        try:
            _check(kind.guard, info)
        except PublicError as exc:
            return {pk: _refusal(exc) for pk in pks}
    wanted = [pk for pk in pks if pk <= kind.max_pk]
    rows = await kind.rows(wanted) if wanted else []
    return {row.id: await _shown(info, kind, row) for row in rows}


async def _load(info: Info, keys: list[tuple[str, int]]) -> list[Shown]:
    by_type: dict[str, list[int]] = defaultdict(list)
    for type_name, pk in keys:
        by_type[type_name].append(pk)
    found: dict[tuple[str, int], Shown] = {}
    for type_name, pks in by_type.items():  # one query per type
        for pk, shown in (await _load_kind(info, KINDS[type_name], sorted(set(pks)))).items():
            found[(type_name, pk)] = shown
    # A refusal is raised at each position it answers (a fresh error per position).
    return [_refusal(s) if isinstance(s, PublicError) else s for s in (found.get(k) for k in keys)]


def _loader(info: Info) -> DataLoader[tuple[str, int], Shown]:
    """One per request (aliased `node` fields batch together); it checks the request's viewer."""
    loaders = info.context.loaders
    if loaders.node is None:
        loaders.node = DataLoader(lambda keys: _load(info, keys))
    return loaders.node


def _key(value: str, field: str) -> tuple[str, int]:
    decoded = decode_global_id(value)
    if decoded is None or decoded[0] not in KINDS:
        raise bad_input(f"{field} is not the ID of a Node this API issued")
    return decoded


async def _resolve(info: Info, keys: list[tuple[str, int] | PublicError]) -> list[Shown]:
    loader = _loader(info)
    wanted = [k for k in keys if not isinstance(k, PublicError)]
    loaded = iter(await asyncio.gather(*(loader.load(k) for k in wanted), return_exceptions=True))
    return [k if isinstance(k, PublicError) else next(loaded) for k in keys]


async def node(info: Info, id: strawberry.ID) -> Node | None:
    (result,) = await _resolve(info, [_key(id, "id")])
    if isinstance(result, BaseException):
        raise result
    return result


async def nodes(info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
    if len(ids) > MAX_NODES:
        raise bad_input(f"ids: at most {MAX_NODES} per call")
    keys: list[tuple[str, int] | PublicError] = []
    for i, value in enumerate(ids):
        try:
            keys.append(_key(value, f"ids.{i}"))
        except PublicError as exc:
            keys.append(exc)
    # An error in the list is raised by GraphQL at its own position: that item is null.
    return await _resolve(info, keys)
