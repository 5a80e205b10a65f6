"""Earning rules: which rules apply to an event, how many points, and recording the award.

Every award stores the rule id and the values used (`details`), so a refund later reverses
exactly what was recorded, never a recomputation with today's rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from tortoise.functions import Sum

from domain import changes, clock
from domain.db import write_transaction
from domain.errors import InvalidInput, NotFound
from domain.ledger import service as ledger
from domain.ledger.models import Award
from domain.members.models import Member
from domain.rules.models import EarningRule
from domain.settings import get_settings
from domain.tiers.models import Tier

RULE_TYPES = (
    "ORDER_PAID", "SIGNUP", "BIRTHDAY", "REVIEW_PUBLISHED", "PHOTO_REVIEW", "VIDEO_REVIEW", "SOCIAL_SHARE",
    "UGC_SUBMITTED", "SURVEY_COMPLETED", "REFERRAL_CONVERTED", "SUBSCRIPTION_RENEWED", "CUSTOM",
)
REFERRAL_SIDES = ("REFERRER", "REFERRED", "BOTH")
CAP_PERIODS = ("DAY", "WEEK", "MONTH", "YEAR", "LIFETIME")


@dataclass
class OrderLineFacts:
    sku: str
    category: str | None
    amount: int  # quantity x unit price, minor units


def period_start(period: str, now: datetime) -> datetime | None:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "DAY":
        return day
    if period == "WEEK":
        return day - timedelta(days=day.weekday())
    if period == "MONTH":
        return day.replace(day=1)
    if period == "YEAR":
        return day.replace(month=1, day=1)
    return None


def eligible_amount(rule: EarningRule, lines: list[OrderLineFacts]) -> int:
    total = 0
    for line in lines:
        if rule.include_skus and line.sku not in rule.include_skus:
            continue
        if line.sku in (rule.exclude_skus or []):
            continue
        if rule.include_categories and line.category not in rule.include_categories:
            continue
        if line.category in (rule.exclude_categories or []):
            continue
        total += line.amount
    return total


async def _awarded_in_period(member: Member, rule: EarningRule, now: datetime) -> int:
    qs = Award.filter(member_id=member.id, rule_id=rule.id)
    start = period_start(rule.cap_period or "LIFETIME", now)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    row = await qs.annotate(total=Sum("amount")).first().values("total")
    return int(row["total"] or 0) if row else 0


async def compute(
    member: Member | None, rule: EarningRule, base: int, tier: Tier | None, values: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Points a rule gives now, and every value used (read-only: previews call this too)."""
    now = clock.now()
    multiplier = Decimal(tier.earn_multiplier) if (tier and rule.apply_tier_multiplier) else Decimal(1)
    points = int((Decimal(base) * multiplier).to_integral_value(rounding=ROUND_FLOOR))
    capped_from = None
    if rule.cap_points is not None and member is not None:
        room = max(0, rule.cap_points - await _awarded_in_period(member, rule, now))
        if points > room:
            capped_from, points = points, room
    return points, {
        "ruleId": rule.id,
        "ruleName": rule.name,
        "ruleType": rule.type,
        **values,
        "base": base,
        "multiplier": str(multiplier),
        "tier": tier.name if tier else None,
        "cappedFrom": capped_from,
        "cap": [rule.cap_points, rule.cap_period] if rule.cap_points is not None else None,
    }


async def _apply_rule(
    member: Member,
    rule: EarningRule,
    base: int,
    tier: Tier | None,
    source: tuple[str, str],
    reason: str,
    default_pending_days: int,
    values: dict[str, Any],
    new_source: bool = False,
) -> int:
    points, details = await compute(member, rule, base, tier, values)
    pending = rule.pending_days if rule.pending_days is not None else default_pending_days
    record = await ledger.award(
        member, points, reason, source=source,
        idempotency_key=f"rule:{rule.id}:{source[0]}:{source[1]}",
        rule_id=rule.id, details=details, pending_days=pending, new_source=new_source,
    )
    return record.amount if record else 0


def _active(rule: EarningRule, now: datetime) -> bool:
    if rule.starts_at and now < rule.starts_at:
        return False
    return not (rule.ends_at and now >= rule.ends_at)


async def _all_active_rules() -> list[EarningRule]:
    return await EarningRule.filter(active=True).order_by("id")


async def active_rules(rule_type: str) -> list[EarningRule]:
    now = clock.now()
    rules = await changes.memo("earning_rules", _all_active_rules)
    return [r for r in rules if r.type == rule_type and _active(r, now)]


def order_base(rule: EarningRule, currency: str, lines: list[OrderLineFacts]) -> tuple[int, dict[str, Any]] | None:
    if rule.currency and rule.currency != currency:
        return None
    eligible = eligible_amount(rule, lines)
    values = {"eligibleAmount": eligible, "currency": currency, "currencyUnit": rule.currency_unit,
              "pointsPerUnit": rule.points_per_unit}
    return eligible // rule.currency_unit * rule.points_per_unit, values


async def preview_order(
    member: Member | None, currency: str, lines: list[OrderLineFacts], tier: Tier | None
) -> list[tuple[EarningRule, int, dict[str, Any]]]:
    """What an order would earn, rule by rule, without writing anything."""
    result = []
    for rule in await active_rules("ORDER_PAID"):
        found = order_base(rule, currency, lines)
        if found is not None:
            points, details = await compute(member, rule, found[0], tier, found[1])
            result.append((rule, points, details))
    return result


async def award_order(
    member: Member,
    order_external_id: str,
    currency: str,
    lines: list[OrderLineFacts],
    tier: Tier | None,
) -> int:
    """Only for an order inserted in the current transaction (recordOrder): its awards are new."""
    total = 0
    for rule in await active_rules("ORDER_PAID"):
        found = order_base(rule, currency, lines)
        if found is None:
            continue
        base, values = found
        total += await _apply_rule(
            member, rule, base, tier, ("order", order_external_id),
            f"Order {order_external_id}", get_settings().return_window_days, values, new_source=True,
        )
    return total


async def award_fixed(
    member: Member, rule_type: str, source: tuple[str, str], reason: str, tier: Tier | None,
    custom_type: str | None = None, side: str | None = None,
) -> int:
    """Fixed-amount rules of one type. CUSTOM rules match their `custom_type`; referral
    rules pay the side (REFERRER/REFERRED) they are configured for."""
    total = 0
    for rule in await active_rules(rule_type):
        if custom_type is not None and rule.custom_type != custom_type:
            continue
        if side is not None and (rule.referral_side or "BOTH") not in (side, "BOTH"):
            continue
        total += await _apply_rule(
            member, rule, rule.points, tier, source, reason, 0, {"points": rule.points}
        )
    return total


def birthday_source(member: Member, today: date) -> tuple[str, str]:
    return ("birthday", f"{member.external_id}:{today.year}")


# --- admin management -------------------------------------------------------------------

RULE_FIELDS = (
    "name", "type", "active", "points", "points_per_unit", "currency_unit", "currency",
    "include_categories", "exclude_categories", "include_skus", "exclude_skus",
    "cap_points", "cap_period", "apply_tier_multiplier", "pending_days", "starts_at", "ends_at",
    "custom_type", "referral_side",
)


MAX_PENDING_DAYS = 3650
MAX_LIST = 100


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _validate_rule(values: dict[str, Any]) -> None:
    if values.get("type") not in RULE_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(RULE_TYPES)}", "type")
    if not (values.get("name") or "").strip():
        raise InvalidInput("A name is required", "name")
    for name in ("points", "points_per_unit", "cap_points", "pending_days"):
        if (values.get(name) or 0) < 0:
            raise InvalidInput(f"{name} must not be negative", name)
    if (values.get("currency_unit") or 0) <= 0:
        raise InvalidInput("currencyUnit must be positive", "currencyUnit")
    if values.get("cap_points") is not None and values.get("cap_period") not in CAP_PERIODS:
        raise InvalidInput(f"capPeriod must be one of {', '.join(CAP_PERIODS)}", "capPeriod")
    if values.get("type") == "ORDER_PAID" and (values.get("points_per_unit") or 0) <= 0:
        raise InvalidInput("pointsPerUnit must be positive for ORDER_PAID", "pointsPerUnit")
    if values.get("type") == "CUSTOM" and not (values.get("custom_type") or "").strip():
        raise InvalidInput("A CUSTOM rule needs customType (the activity name)", "customType")
    if values.get("referral_side") is not None and values["referral_side"] not in REFERRAL_SIDES:
        raise InvalidInput(f"referralSide must be one of {', '.join(REFERRAL_SIDES)}", "referralSide")
    if (values.get("pending_days") or 0) > MAX_PENDING_DAYS:
        raise InvalidInput(f"pendingDays is at most {MAX_PENDING_DAYS}", "pendingDays")
    for name, field, longest in (("name", "name", 200), ("custom_type", "customType", 64)):
        if values.get(name) is not None and len(values[name]) > longest:
            raise InvalidInput(f"{field} is at most {longest} characters", field)
    currency = values.get("currency")
    if currency is not None and (len(currency) != 3 or not currency.isascii() or not currency.isalpha()):
        raise InvalidInput("currency must be an ISO 4217 code such as USD", "currency")
    for name in ("include_categories", "exclude_categories", "include_skus", "exclude_skus"):
        items = values.get(name) or []
        field = _camel(name)
        if len(items) > MAX_LIST:
            raise InvalidInput(f"{field} has at most {MAX_LIST} items", field)
        for i, item in enumerate(items):
            if not item or len(item) > 255 or "\x00" in item:
                raise InvalidInput("Each item is 1 to 255 characters", f"{field}.{i}")
    for name, field in (("starts_at", "startsAt"), ("ends_at", "endsAt")):
        if values.get(name) is not None:
            values[name] = clock.as_utc(values[name], field)
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts and ends and ends <= starts:
        raise InvalidInput("endsAt must be after startsAt", "endsAt")


async def save_rule(rule_id: int | None, values: dict[str, Any]) -> EarningRule:
    if rule_id is None:
        merged = {"currency_unit": 100, "active": True, "apply_tier_multiplier": True, **values}
        _validate_rule(merged)
        async with write_transaction():
            rule = await EarningRule.create(**merged, created_at=clock.now())
        await changes.bump_program()
        return rule
    rule = await EarningRule.get_or_none(id=rule_id)
    if rule is None:
        raise NotFound("No such rule", "id", code="RULE_NOT_FOUND")
    merged = {name: getattr(rule, name) for name in RULE_FIELDS} | values
    _validate_rule(merged)
    async with write_transaction():
        await rule.update_from_dict({name: merged[name] for name in values}).save()
    await changes.bump_program()
    return rule
