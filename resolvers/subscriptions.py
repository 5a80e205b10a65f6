from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from domain import changes
from domain.errors import InvalidInput
from domain.pagination import NEWEST_ID, keyset_page
from domain.subscriptions import service
from domain.subscriptions.models import Subscription as SubscriptionModel
from domain.subscriptions.models import SubscriptionPlan as PlanModel
from resolvers.common import attempt, fields_given, target_external_id, user_error
from schema.common import parse_id
from schema.pagination import Connection, paginate
from schema.subscriptions import (
    CancelSubscriptionInput,
    MemberSubscription,
    PlanInput,
    PlanPayload,
    RenewalFailureInput,
    SubscribeInput,
    SUBSCRIPTION_ID_TYPE,
    SubscriptionActionInput,
    SubscriptionPayload,
    SubscriptionPlan,
    SubscriptionStatus,
)


def _owner(info: Info, given: str | None) -> str | None:
    """A member acts on their own subscriptions; a storefront names the member; admin: any."""
    viewer = info.context.viewer
    if viewer.role == "admin" and not given:
        return None
    return target_external_id(info, given)


async def _payload(work, cancelled: bool = False) -> SubscriptionPayload:  # noqa: ANN001
    result, errors = await attempt(work)
    if result is None:
        return SubscriptionPayload(subscription=None, cancelled=False, retention_offer=None, errors=errors)
    sub, offer = result if isinstance(result, tuple) else (result, None)
    await sub.fetch_related("plan")
    return SubscriptionPayload(subscription=MemberSubscription.from_model(sub), cancelled=sub.status == "cancelled",
                               retention_offer=offer, errors=[])


async def subscription_plans(info: Info) -> list[SubscriptionPlan]:
    changes.reading("plans")
    return [SubscriptionPlan.from_model(p) for p in await PlanModel.filter(active=True).order_by("id")]


def _plan_values(input: PlanInput) -> dict[str, Any]:
    """The typed offer list becomes the stored map (reason -> offer); errors name list paths."""
    values = fields_given(input)
    if "grants_tier_id" in values:
        values["grants_tier_id"] = parse_id(values["grants_tier_id"], "Tier", "grantsTierId")
    typed = values.pop("retention_offer_list", None)
    if typed is None:
        return values
    if "retention_offers" in values:
        raise InvalidInput("Give retentionOffers or retentionOfferList, not both", "retentionOfferList")
    offers: dict[str, dict[str, Any]] = {}
    paths: dict[str, str] = {}
    for i, item in enumerate(typed):
        reason = item.reason.value
        if reason in offers:
            raise InvalidInput("One offer per cancel reason", f"retentionOfferList.{i}.reason")
        offers[reason] = {"type": item.type.value} | {
            name: getattr(item, name) for name in ("percent", "cycles", "days") if getattr(item, name) is not None}
        paths[reason] = f"retentionOfferList.{i}"
    values["retention_offers"] = service.validate_offers(offers, paths)
    return values


async def _save_plan(plan_id: int | None, input: PlanInput):  # noqa: ANN202
    return await service.save_plan(plan_id, _plan_values(input))


async def create_plan(info: Info, input: PlanInput) -> PlanPayload:
    plan, errors = await attempt(_save_plan(None, input))
    return PlanPayload(plan=SubscriptionPlan.from_model(plan) if plan else None, errors=errors)


async def update_plan(info: Info, id: strawberry.ID, input: PlanInput) -> PlanPayload:
    plan, errors = await attempt(_save_plan(parse_id(id, "SubscriptionPlan"), input))
    return PlanPayload(plan=SubscriptionPlan.from_model(plan) if plan else None, errors=errors)


async def subscribe(info: Info, input: SubscribeInput) -> SubscriptionPayload:
    member = target_external_id(info, input.member_external_id)
    plan_id = parse_id(input.plan_id, "SubscriptionPlan", "planId")
    return await _payload(service.subscribe(member, plan_id, input.sku, info.context.viewer.actor))


def _subscription_id(input: SubscriptionActionInput | CancelSubscriptionInput | RenewalFailureInput) -> int:
    return parse_id(input.subscription_id, SUBSCRIPTION_ID_TYPE, "subscriptionId")


def _action(name: str, **required: str):  # noqa: ANN202
    """A resolver for one self-service action; `required` maps its arguments to input fields."""

    async def resolve(info: Info, input: SubscriptionActionInput) -> SubscriptionPayload:
        subscription_id = _subscription_id(input)  # a malformed id is refused before anything else
        args = {}
        for arg, field_name in required.items():
            value = getattr(input, field_name)
            if value is None:
                return SubscriptionPayload(subscription=None, cancelled=False, retention_offer=None,
                                           errors=[user_error(InvalidInput(f"{field_name} is required", field_name))])
            args[arg] = value.value if hasattr(value, "value") else value
        owner = _owner(info, input.member_external_id)
        return await _payload(service.act(subscription_id, owner, name, info.context.viewer.actor, **args))

    resolve.__name__ = name
    return resolve


pause = _action("pause", until="until")
resume = _action("resume")
skip = _action("skip")
unskip = _action("unskip")
swap = _action("swap", sku="sku")
change_interval = _action("change_interval", unit="interval_unit", count="interval_count")
reschedule = _action("reschedule", date="date")


async def cancel(info: Info, input: CancelSubscriptionInput) -> SubscriptionPayload:
    subscription_id = _subscription_id(input)
    owner = _owner(info, input.member_external_id)
    actor = info.context.viewer.actor
    if input.accept_retention_offer:
        work = service.act(subscription_id, owner, "accept_offer", actor, reason=input.reason.value)
    else:
        work = service.act(subscription_id, owner, "cancel", actor, reason=input.reason.value,
                           comment=input.comment, confirm=input.confirm)
    return await _payload(work)


async def record_renewal_failure(info: Info, input: RenewalFailureInput) -> SubscriptionPayload:
    return await _payload(service.record_failure(_subscription_id(input), input.reason, info.context.viewer.actor))


async def subscriptions(
    info: Info, status: SubscriptionStatus | None = None, plan_id: strawberry.ID | None = None,
    first: int | None = None, after: str | None = None,
    last: int | None = None, before: str | None = None,
) -> Connection[MemberSubscription]:
    qs = SubscriptionModel.all()
    if status is not None:
        qs = qs.filter(status=status.value)
    if plan_id is not None:
        qs = qs.filter(plan_id=parse_id(plan_id, "SubscriptionPlan", "planId"))
    return await paginate("Query.subscriptions", first, after, last, before,
                          lambda req: keyset_page(qs, NEWEST_ID, req, prefetch=("plan",)),
                          MemberSubscription.from_model)
