from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain import changes
from domain.members.models import Member as MemberModel
from domain.rules import activities, service
from domain.rules.models import Activity as ActivityModel
from domain.rules.models import EarningRule as RuleModel
from domain.tiers.models import Tier as TierModel
from resolvers.common import attempt, fields_given, target_external_id
from schema.common import parse_id
from schema.errors import bad_input
from schema.rules import (
    Activity,
    ActivityPayload,
    EarningLine,
    EarningPreview,
    EarningRule,
    EarningRuleInput,
    EarningRulePayload,
    PreviewEarningInput,
    RecordActivityInput,
    ReviewActivityInput,
)


async def earning_rules(info: Info, include_inactive: bool = False) -> list[EarningRule]:
    """Active rules are public (storefronts show "earn 1 point per $1"); admins see all."""
    changes.reading("rules")
    qs = RuleModel.all().order_by("id")
    if not (include_inactive and info.context.viewer.role == "admin"):
        qs = qs.filter(active=True)
    return [EarningRule.from_model(r) for r in await qs]


def _values(input: EarningRuleInput) -> dict:
    values = fields_given(input)
    if "currency" in values:
        values["currency"] = values["currency"].upper()
    return values


async def create_earning_rule(info: Info, input: EarningRuleInput) -> EarningRulePayload:
    rule, errors = await attempt(service.save_rule(None, _values(input)))
    return EarningRulePayload(rule=EarningRule.from_model(rule) if rule else None, errors=errors)


async def update_earning_rule(info: Info, id: strawberry.ID, input: EarningRuleInput) -> EarningRulePayload:
    rule, errors = await attempt(service.save_rule(parse_id(id, "EarningRule"), _values(input)))
    return EarningRulePayload(rule=EarningRule.from_model(rule) if rule else None, errors=errors)


async def record_activity(info: Info, input: RecordActivityInput) -> ActivityPayload:
    member = target_external_id(info, input.member_external_id)
    result, errors = await attempt(activities.record(member, input.type.value, input.external_id, input.custom_type, input.url))
    if result is None:
        return ActivityPayload(activity=None, points_awarded=0, errors=errors)
    return ActivityPayload(activity=Activity.from_model(result[0]), points_awarded=result[1], errors=[])


async def review_activity(info: Info, input: ReviewActivityInput) -> ActivityPayload:
    result, errors = await attempt(activities.decide(parse_id(input.activity_id, "Activity", "activityId"), input.approve, info.context.viewer.actor))
    if result is None:
        return ActivityPayload(activity=None, points_awarded=0, errors=errors)
    return ActivityPayload(activity=Activity.from_model(result[0]), points_awarded=result[1], errors=[])


async def pending_activities(info: Info) -> list[Activity]:
    return [Activity.from_model(a) for a in await ActivityModel.filter(status="pending").order_by("id").limit(100)]


async def preview_earning(info: Info, input: PreviewEarningInput) -> EarningPreview:
    if len(input.lines) > 100:
        raise bad_input("At most 100 lines")
    if any(not 0 < ln.quantity <= 1_000_000 or not 0 <= ln.unit_price <= 10**12 for ln in input.lines):
        raise bad_input("quantity must be 1 to 1000000 and unitPrice 0 to 10^12")
    member = tier = None
    if input.member_external_id:
        member = await MemberModel.get_or_none(external_id=input.member_external_id)
        if member and member.tier_id:
            tier = await TierModel.get_or_none(id=member.tier_id)
    facts = [service.OrderLineFacts(ln.sku, ln.category, max(0, ln.quantity) * max(0, ln.unit_price)) for ln in input.lines]
    found = await service.preview_order(member, input.currency.upper(), facts, tier)
    lines = [EarningLine(rule_id=rule.id, rule_name=rule.name, points=points, eligible_amount=d["eligibleAmount"],
                         multiplier=float(d["multiplier"]), capped_from=d["cappedFrom"]) for rule, points, d in found]
    total = sum(line.points for line in lines)
    if total > 2**31 - 1 or any(line.eligible_amount > 2**31 - 1 for line in lines):
        raise bad_input("This order is too large to preview")
    return EarningPreview(points=total, lines=lines)
