"""Architecture (issue 10, items 1-3 and the error convention): every event goes through
the one bus, inside a transaction; subscribers run in it or after its commit; errors follow
one convention (payload errors for business outcomes, GraphQL errors for malformed input)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from composition import subscribers
from domain import db
from domain.errors import DomainError
from domain.events.bus import UnknownEventType, event_bus
from domain.events.models import Event
from domain.events.service import record_event
from domain.realtime.bus import publish_event
from domain.rewards import service as rewards_service
from domain.webhooks.models import WebhookDelivery
from domain.webhooks.service import fan_out
from tests.test_webhooks import endpoint

ROOT = Path(__file__).resolve().parent.parent


class Seen:
    """A subscriber that notes what it saw and whether a transaction was open then."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []

    async def __call__(self, event: Event) -> None:
        self.calls.append((event.type, db.in_write_transaction()))


async def test_recording_an_event_outside_a_transaction_is_refused_and_writes_nothing():
    # given a subscriber after commit
    seen = Seen()
    unsubscribe = event_bus.subscribe("*", seen, after_commit=True)
    try:
        # when an event is recorded with no write_transaction open
        with pytest.raises(db.OutsideTransaction):
            await record_event("member.updated", {"externalId": "m1"})
    finally:
        unsubscribe()
    # then no row and no notification
    assert await Event.all().count() == 0
    assert seen.calls == []


async def test_in_transaction_subscribers_run_inside_and_after_commit_ones_after():
    inside, after = Seen(), Seen()
    unsubscribe = [event_bus.subscribe("member.*", inside), event_bus.subscribe("member.*", after, after_commit=True)]
    try:
        async with db.write_transaction():
            await record_event("member.updated", {"externalId": "m1"})
            assert after.calls == []  # nothing announced before the commit
        await record_event_in_own_transaction("points.earned")  # another family: not theirs
    finally:
        for u in unsubscribe:
            u()
    assert inside.calls == [("member.updated", True)]
    assert after.calls == [("member.updated", False)]


async def record_event_in_own_transaction(type_: str) -> None:
    async with db.write_transaction():
        await record_event(type_, {})


async def test_a_rolled_back_change_is_never_announced_and_its_event_is_gone():
    after = Seen()
    unsubscribe = event_bus.subscribe("*", after, after_commit=True)
    try:
        with pytest.raises(RuntimeError):
            async with db.write_transaction():
                await record_event("member.updated", {"externalId": "m1"})
                raise RuntimeError("the change fails after its event was recorded")
    finally:
        unsubscribe()
    assert after.calls == []
    assert await Event.all().count() == 0


async def test_a_failing_in_transaction_subscriber_rolls_the_change_back():
    async def broken(event: Event) -> None:
        raise RuntimeError("outbox writer failed")

    unsubscribe = event_bus.subscribe("member.updated", broken)
    try:
        with pytest.raises(RuntimeError):
            async with db.write_transaction():
                await record_event("member.updated", {"externalId": "m1"})
    finally:
        unsubscribe()
    assert await Event.all().count() == 0


async def test_a_failing_after_commit_subscriber_neither_fails_the_caller_nor_stops_the_others():
    seen = Seen()

    async def broken(event: Event) -> None:
        raise RuntimeError("notification failed")

    unsubscribe = [event_bus.subscribe("*", broken, after_commit=True), event_bus.subscribe("*", seen, after_commit=True)]
    try:
        async with db.write_transaction():
            await record_event("member.updated", {"externalId": "m1"})
    finally:
        for u in unsubscribe:
            u()
    assert seen.calls == [("member.updated", False)]
    assert await Event.all().count() == 1


async def test_unknown_event_types_are_refused_when_recorded_and_when_subscribed():
    async def handler(event: Event) -> None:
        return None

    with pytest.raises(UnknownEventType):
        event_bus.subscribe("membr.*", handler)
    with pytest.raises(UnknownEventType):
        async with db.write_transaction():
            await record_event("member.renamed", {})
    assert await Event.all().count() == 0


def test_the_wiring_registers_each_subscriber_once_in_its_phase():
    subscribers.wire()
    subscribers.wire()  # every process start calls it; tests again
    assert [(s.pattern, s.after_commit) for s in event_bus.subscribers("order.recorded", after_commit=False)
            if s.handler is fan_out] == [("*", False)]
    assert [(s.pattern, s.after_commit) for s in event_bus.subscribers("order.recorded", after_commit=True)
            if s.handler is publish_event] == [("*", True)]


async def test_a_test_webhook_goes_through_the_bus_to_its_endpoint_only(api, admin_token):
    # given two endpoints that subscribe to everything, and an after-commit subscriber
    target, _ = await endpoint(api, admin_token, "http://127.0.0.1:9/a")
    other, _ = await endpoint(api, admin_token, "http://127.0.0.1:9/b")
    seen = Seen()
    unsubscribe = event_bus.subscribe("webhook.*", seen, after_commit=True)
    try:
        # when a test webhook is sent to the first
        body = await api.ok("mutation($e: ID!) { sendTestWebhook(endpointId: $e) { delivery { deliveryId eventType } "
                            "errors { code } } }", {"e": target}, admin_token)
    finally:
        unsubscribe()
    # then the event was announced like any other, and queued for that endpoint alone
    assert body["sendTestWebhook"]["errors"] == []
    assert body["sendTestWebhook"]["delivery"]["eventType"] == "webhook.test"
    assert seen.calls == [("webhook.test", False)]
    event = await Event.get(type="webhook.test")
    assert [(d.endpoint_id, d.event_id) for d in await WebhookDelivery.all()] == [(target, event.id)]
    assert other != target


def test_event_type_names_live_in_a_leaf_module():
    tree = ast.parse((ROOT / "domain" / "events" / "types.py").read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | \
               {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "fnmatch"}


# --- one error convention: business outcomes are payload errors with codes ---------------

CREATE_TIER = "mutation($i: TierInput!) { createTier(input: $i) { tier { name } errors { field code message } } }"


async def test_create_tier_without_a_name_is_a_payload_error_like_any_other_validation(api, admin_token):
    # when a tier is created without its name, then without its rank
    no_name = await api(CREATE_TIER, {"i": {"rank": 1}}, admin_token)
    no_rank = await api(CREATE_TIER, {"i": {"name": "Gold"}}, admin_token)
    # then each is a payload error on its field (as an out-of-range multiplier is), not a GraphQL error
    assert "errors" not in no_name and "errors" not in no_rank
    assert no_name["data"]["createTier"] == {"tier": None, "errors": [
        {"field": "name", "code": "INVALID", "message": "name is required to create a tier"}]}
    assert no_rank["data"]["createTier"] == {"tier": None, "errors": [
        {"field": "rank", "code": "INVALID", "message": "rank is required to create a tier"}]}
    multiplier = await api(CREATE_TIER, {"i": {"name": "Gold", "rank": 1, "earnMultiplier": "0"}}, admin_token)
    assert [e["code"] for e in multiplier["data"]["createTier"]["errors"]] == ["INVALID"]
    # and nothing was written
    assert (await api("{ tiers { name } }"))["data"]["tiers"] == []


RECOMMEND = """query($m: String) { recommendations(context: HOME, memberExternalId: $m) {
  personalized items { product { externalId } } errors { field code } } }"""


async def test_recommendations_for_an_unknown_member_answer_a_payload_error_with_its_code(api, admin_token):
    # when an admin asks for a member that does not exist
    body = await api(RECOMMEND, {"m": "nobody"}, admin_token)
    # then the business outcome keeps its code in the result, not a BAD_USER_INPUT GraphQL error
    assert "errors" not in body
    assert body["data"]["recommendations"] == {"personalized": False, "items": [], "errors": [
        {"field": "memberExternalId", "code": "MEMBER_NOT_FOUND"}]}


async def test_recommendations_still_refuse_malformed_input_as_a_graphql_error(api, admin_token):
    query = "query($e: [String!]) { recommendations(context: HOME, exclude: $e) { items { score } errors { code } } }"
    body = await api(query, {"e": [f"p{i}" for i in range(101)]}, admin_token)
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


REWARD_CODE = "query($c: String!) { rewardCode(code: $c) { code status } }"


async def test_reward_code_answers_null_only_for_a_code_that_does_not_exist(api, admin_token):
    body = await api(REWARD_CODE, {"c": "NO-SUCH-CODE"}, admin_token)
    assert body == {"data": {"rewardCode": None}}


async def test_reward_code_no_longer_swallows_other_refusals_into_null(api, admin_token, monkeypatch):
    # given a lookup that refuses for a reason other than "no such code"
    async def refuses(code: str):  # noqa: ANN202
        raise DomainError("This code cannot be checked now", "code", code="INVALID_STATE")

    monkeypatch.setattr(rewards_service, "find_code", refuses)
    # when the storefront checks a code
    body = await api(REWARD_CODE, {"c": "ANY"}, admin_token)
    # then the refusal is a GraphQL error with its code, not a null that reads as "no such code"
    assert body["data"] == {"rewardCode": None}
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        ("This code cannot be checked now", "INVALID_STATE")]
