from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.rules import service
from domain.rules.models import EarningRule as RuleModel
from resolvers.common import attempt, decode_id, fields_given
from schema.rules import EarningRule, EarningRuleInput, EarningRulePayload


async def earning_rules(info: Info, include_inactive: bool = False) -> list[EarningRule]:
    """Active rules are public (storefronts show "earn 1 point per $1"); admins see all."""
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
    rule, errors = await attempt(service.save_rule(decode_id(id, "EarningRule"), _values(input)))
    return EarningRulePayload(rule=EarningRule.from_model(rule) if rule else None, errors=errors)
