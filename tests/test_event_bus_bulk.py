"""The event bus's bulk path (record_many): a wave of changes writes one event per change
in multi-row INSERTs, batch subscribers (the webhook fan-out) run once over the list, and
the result is what as many single records would leave: same rows, same order, the same
notifications after the commit, nothing on a rollback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain import clock, db, jobs
from domain.events.bus import UnknownEventType, event_bus
from domain.events.models import Event
from domain.events.service import record_events
from domain.members.models import Member
from domain.members.service import update_consents
from domain.messaging import policies
from domain.messaging.models import Message
from domain.messaging.planning import after_quiet_hours, quiet_note, zone_of
from domain.tiers.models import Tier, TierChange
from domain.tiers.service import save_tier
from domain.webhooks.models import WebhookDelivery
from tests import helpers
from tests.test_webhooks import endpoint

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Seen:
    """A subscriber noting (event id, type, payload, member id, in a transaction)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, dict, int | None, bool]] = []
        self.batches: list[list[int]] = []

    async def __call__(self, event: Event) -> None:
        self.calls.append((event.id, event.type, event.payload, event.member_id, db.in_write_transaction()))

    async def batch(self, events: list[Event]) -> None:
        self.batches.append([e.id for e in events])


async def test_a_tier_wave_writes_an_event_per_change_and_a_delivery_per_subscribed_endpoint(
        api, admin_token, monkeypatch):
    # given: 5 Bronze members with 40,000 of spend (Silver asks 50,000), reviewed in chunks of 2,
    # two endpoints that hear tier changes and one that does not, an after-commit listener, and
    # consents: m1 to service notices, m3 to those and night messages
    monkeypatch.setattr(jobs, "REVIEW_CHUNK", 2)
    clock.set_now(T0)
    await helpers.tiers_bronze_silver_gold()
    for m in range(5):
        await helpers.member(f"m{m}")
        await helpers.order(f"o{m}", member_id=f"m{m}", amount=40_000)
    await update_consents("m1", [("SERVICE_NOTICES", True)], "test")
    await update_consents("m3", [("SERVICE_NOTICES", True), ("NIGHT_MESSAGES", True)], "test")
    everything, _ = await endpoint(api, admin_token, "http://127.0.0.1:9/all")
    tiers_only, _ = await endpoint(api, admin_token, "http://127.0.0.1:9/tiers", ["member.tier_changed"])
    await endpoint(api, admin_token, "http://127.0.0.1:9/orders", ["order.*"])
    last_before = (await Event.all().order_by("-id").first()).id
    deliveries_before = await WebhookDelivery.all().count()
    seen = Seen()
    unsubscribe = event_bus.subscribe("member.tier_changed", seen, after_commit=True)
    silver = await Tier.get(name="Silver")
    await save_tier(silver.id, {"min_spend": 30_000})
    try:
        # when: the review upgrades all five
        assert await jobs.review_tiers(clock.now()) == 5
    finally:
        unsubscribe()
    # then: 5 member.tier_changed events, one per member, in member order, each as its tier change says
    events = await Event.filter(id__gt=last_before).order_by("id")
    changes = {c.member_id: c.reason for c in await TierChange.filter(to_tier_id=silver.id)}
    members = {m.id: m.external_id for m in await Member.all()}
    assert [(e.type, e.member_id, e.payload) for e in events] == [
        ("member.tier_changed", member_id,
         {"memberExternalId": members[member_id], "from": "Bronze", "to": "Silver", "reason": changes[member_id]})
        for member_id in sorted(members)]
    assert [members[e.member_id] for e in events] == ["m0", "m1", "m2", "m3", "m4"]
    # and 2 deliveries per event (the endpoints that hear tier changes), by event then endpoint
    new = await WebhookDelivery.filter(event_id__gt=last_before).order_by("id")
    assert await WebhookDelivery.all().count() == deliveries_before + 10
    assert [(d.event_id, d.endpoint_id, d.status, d.attempts, d.lease_token) for d in new] == [
        (e.id, endpoint_id, "pending", 0, 0) for e in events for endpoint_id in (everything, tiers_only)]
    # and each event was announced after the commit, in order
    assert seen.calls == [(e.id, e.type, e.payload, e.member_id, False) for e in events]
    # and the TIER_CHANGED message of each was planned as one at a time would be: suppressed
    # without consent, moved past quiet hours without NIGHT_MESSAGES, due at once with it
    by_key = {m.dedupe_key: m for m in await Message.filter(type="TIER_CHANGED")}
    planned = [by_key[f"TIER_CHANGED:{e.id}:EMAIL"] for e in events]
    m1 = await Member.get(external_id="m1")
    moved = after_quiet_hours(events[1].created_at, zone_of(m1), await policies.policy("TIER_CHANGED"))
    quiet = (moved, quiet_note(moved, zone_of(m1))) if moved else (events[1].created_at, None)
    assert [(m.member_id, m.status, m.reason, m.scheduled_for, m.details) for m in planned] == [
        (e.member_id, *expected, {"from": "Bronze", "to": "Silver"}) for e, expected in zip(events, [
            ("SUPPRESSED", "no consent (SERVICE_NOTICES)", events[0].created_at),
            ("SCHEDULED", quiet[1], quiet[0]),
            ("SUPPRESSED", "no consent (SERVICE_NOTICES)", events[2].created_at),
            ("SCHEDULED", None, events[3].created_at),
            ("SUPPRESSED", "no consent (SERVICE_NOTICES)", events[4].created_at)], strict=True)]


async def test_record_many_runs_a_batch_subscriber_once_and_the_others_per_event_in_order(monkeypatch):
    # given: INSERTs of 2 rows (so 5 events take three), a batch subscriber, a per-event one and
    # an after-commit one
    monkeypatch.setattr(db, "INSERT_CHUNK", 2)
    batched, single, after = Seen(), Seen(), Seen()
    unsubscribe = [event_bus.subscribe("member.updated", batched, batch=batched.batch),
                   event_bus.subscribe("member.*", single),
                   event_bus.subscribe("*", after, after_commit=True)]
    items = [({"externalId": f"m{i}"}, i + 100) for i in range(5)]
    try:
        # when: five events are recorded in bulk
        async with db.write_transaction():
            recorded = await record_events("member.updated", items)
            assert after.calls == []  # nothing announced before the commit
    finally:
        for u in unsubscribe:
            u()
    # then: the rows are the items, in their order, and the returned events are those rows
    rows = await Event.all().order_by("id")
    assert [(r.type, r.payload, r.member_id) for r in rows] == [("member.updated", p, m) for p, m in items]
    assert [(e.id, e.payload, e.member_id, e.created_at) for e in recorded] == \
        [(r.id, r.payload, r.member_id, r.created_at) for r in rows]
    # and the batch subscriber ran once over all five, the per-event one five times in the
    # transaction, the after-commit one five times after it
    ids = [r.id for r in rows]
    assert batched.batches == [ids] and batched.calls == []
    assert single.calls == [(r.id, "member.updated", r.payload, r.member_id, True) for r in rows]
    assert after.calls == [(r.id, "member.updated", r.payload, r.member_id, False) for r in rows]


async def test_record_many_is_refused_outside_a_transaction_and_a_rollback_leaves_nothing():
    after = Seen()
    unsubscribe = event_bus.subscribe("*", after, after_commit=True)
    try:
        # when: outside a transaction, or with an unknown type
        with pytest.raises(db.OutsideTransaction):
            await record_events("member.updated", [({"externalId": "m1"}, None)])
        with pytest.raises(UnknownEventType):
            async with db.write_transaction():
                await record_events("member.nonsense", [({}, None)])
        # and a change that fails after its events were recorded
        with pytest.raises(RuntimeError):
            async with db.write_transaction():
                await record_events("member.updated", [({"externalId": "m1"}, None), ({"externalId": "m2"}, None)])
                raise RuntimeError("the change fails")
    finally:
        unsubscribe()
    # then: no rows, no notifications
    assert await Event.all().count() == 0
    assert after.calls == []


async def test_record_many_of_nothing_writes_nothing():
    async with db.write_transaction():
        assert await record_events("member.updated", []) == []
    assert await Event.all().count() == 0


def test_a_batch_handler_runs_in_the_transaction_only():
    with pytest.raises(ValueError):
        event_bus.subscribe("*", Seen(), after_commit=True, batch=Seen().batch)
