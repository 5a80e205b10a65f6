"""Relay Global Object Identification: every Node type refetched with node(id:) and nodes(ids:),
with the permissions of the field that lists it (resolvers/node.py).

Built on the authorization world (tests/test_authorization.py): members A and B with orders,
points, reviews (B's with a photo), a question and answer, reward codes, subscriptions, a
partner's webhook endpoint with a delivery. Ids are read through the normal fields; literal
ids in documents are integers, which the Int and ID arguments alike accept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from graphql import parse
from tortoise import connections

from domain import clock
from domain.events.models import Event as EventModel
from domain.orders.models import Order as OrderModel
from domain.reviews.models import Question as QuestionModel
from domain.reviews.models import Review as ReviewModel
from domain.rewards.models import Reward as RewardModel
from domain.scheduler.models import JobRun as JobRunModel
from domain.subscriptions.models import SubscriptionPlan as PlanModel
from domain.tiers.models import Tier as TierModel
from resolvers.node import KINDS
from schema.common import decode_global_id, global_id
from schema.limits import Walk, measure
from tests.conftest import member_token
from tests.test_authorization import (  # noqa: F401  (fixtures)
    MEMBER_A,
    MEMBER_B,
    World,
    fresh_webhook_endpoint_cache,
    world,
)

NODE = "query($id: ID!) { node(id: $id) { __typename ...F } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


@dataclass(frozen=True)
class Refetch:
    """How a client first meets an object of `type_name`: `document` (with fragment F on the
    type) read by `caller`, and `path` to the object in its data."""

    type_name: str
    caller: str
    document: str
    path: tuple[str | int, ...]
    fragment: str


REFETCHES = [
    Refetch("Member", "admin", 'query { member(externalId: "member-a") { ...F } }', ("member",),
            "id externalId email name points { balance lifetimeEarned } tier { name }"),
    Refetch("Order", "admin",
            'query { member(externalId: "member-a") { orders(first: 1) { edges { node { ...F } } } } }',
            ("member", "orders", "edges", 0, "node"), "id externalId channel total { amount currency } placedAt"),
    Refetch("LedgerEntry", "member_self", "query { me { ledger(first: 1) { edges { node { ...F } } } } }",
            ("me", "ledger", "edges", 0, "node"), "id amount kind reason sourceType createdAt"),
    Refetch("Redemption", "storefront", "query($c: String!) { rewardCode(code: $c) { ...F } }", ("rewardCode",),
            "id code status points memberExternalId reward { id name }"),
    Refetch("MemberSubscription", "member_self", "query { me { subscriptions { ...F } } }", ("me", "subscriptions", 0),
            "id status sku nextDeliveryAt plan { id name }"),
    Refetch("Product", "anonymous", 'query { product(externalId: "prod-1") { ...F } }', ("product",),
            "id externalId title categories reviewSummary { count average }"),
    Refetch("Review", "anonymous",
            'query { product(externalId: "prod-1") { reviews(first: 5) { edges { node { ...F } } } } }',
            ("product", "reviews", "edges", 0, "node"), "id rating body status author { displayName } productExternalId"),
    Refetch("ReviewMedia", "anonymous",
            'query { product(externalId: "prod-1") { reviews(first: 5, filter: {withMedia: true}) '
            "{ edges { node { media { ...F } } } } } }",
            ("product", "reviews", "edges", 0, "node", "media", 0), "id kind url status width"),
    Refetch("Question", "anonymous",
            'query { product(externalId: "prod-1") { questions(first: 1) { edges { node { ...F } } } } }',
            ("product", "questions", "edges", 0, "node"), "id body authorName status answers { id }"),
    Refetch("Answer", "anonymous",
            'query { product(externalId: "prod-1") { questions(first: 1) { edges { node { answers { ...F } } } } } }',
            ("product", "questions", "edges", 0, "node", "answers", 0), "id body authorKind status"),
    Refetch("Tier", "anonymous", "query { tiers { ...F } }", ("tiers", 0), "id name rank benefits"),
    Refetch("EarningRule", "anonymous", "query { earningRules { ...F } }", ("earningRules", 0),
            "id name type pointsPerUnit active"),
    Refetch("Reward", "anonymous", "query { rewards { ...F } }", ("rewards", 0), "id name type pointsCost stock"),
    Refetch("SubscriptionPlan", "anonymous", "query { subscriptionPlans { ...F } }", ("subscriptionPlans", 0),
            "id name kind price { amount currency } active"),
    Refetch("WebhookEndpoint", "partner", "query { webhookEndpoints { ...F } }", ("webhookEndpoints", 0),
            "id url eventTypes enabled"),
    Refetch("WebhookDelivery", "partner",
            "query($e: ID!) { webhookDeliveries(endpointId: $e) { edges { node { ...F } } } }",
            ("webhookDeliveries", "edges", 0, "node"), "id eventType status attempts"),
    Refetch("Event", "admin", "query { events(first: 1) { edges { node { ...F } } } }",
            ("events", "edges", 0, "node"), "id type payload createdAt"),
    Refetch("ApiKey", "admin", "query { apiKeys { ...F } }", ("apiKeys", 0), "id name role prefix scopes"),
    Refetch("JobRun", "admin", "query { jobRuns(first: 1) { edges { node { ...F } } } }",
            ("jobRuns", "edges", 0, "node"), "id name worker status startedAt"),
    Refetch("ImportJob", "admin", "query { importJobs(first: 1) { edges { node { ...F } } } }",
            ("importJobs", "edges", 0, "node"), "id kind format status total processed"),
    Refetch("Segment", "admin", "query { segments(first: 1) { edges { node { ...F } } } }",
            ("segments", "edges", 0, "node"), "id name memberCount"),
]


def test_every_node_type_has_a_refetch_case():
    node_types = {r.type_name for r in REFETCHES}
    assert len(node_types) == len(REFETCHES) == len(KINDS) == 21


def _pk(global_id_value: str) -> int:
    """The primary key inside a global ID the API returned (for direct database setup)."""
    return decode_global_id(global_id_value)[1]


def _dig(data, path):
    for step in path:
        data = data[step]
    return data


async def _shown_on_the_product_page(w: World) -> None:
    """The world's question waits for a moderator, and its photo was written without the
    review's with-media flag: publish the one, set the other."""
    await QuestionModel.filter(id=_pk(w.question_id)).update(status="published")
    await ReviewModel.filter(id=_pk(w.reviews[MEMBER_B])).update(has_media=True)


async def _job_run() -> None:
    await JobRunModel.create(name="expire_points", worker="w1", lease_token=1, status="ok", started_at=clock.now())


async def _first_seen(api, w: World, case: Refetch):
    await _shown_on_the_product_page(w)
    await _job_run()
    document = f"{case.document} fragment F on {case.type_name} {{ {case.fragment} }}"
    variables = {"c": w.codes[MEMBER_B], "e": w.endpoint_id}
    used = {k: v for k, v in variables.items() if f"${k}" in case.document}
    data = await api.ok(document, used, w.tokens[case.caller])
    return _dig(data, case.path)


@pytest.mark.parametrize("case", REFETCHES, ids=lambda c: c.type_name)
async def test_node_refetches_what_the_normal_field_shows(api, world, case):
    seen = await _first_seen(api, world, case)
    assert seen["id"]
    refetched = await api.ok(f"{NODE} fragment F on {case.type_name} {{ {case.fragment} }}", {"id": seen["id"]},
                             world.tokens[case.caller])
    assert refetched["node"] == {"__typename": case.type_name} | seen
    both = await api.ok(f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ ...F }} }} "
                        f"fragment F on {case.type_name} {{ {case.fragment} }}",
                        {"ids": [seen["id"], seen["id"]]}, world.tokens[case.caller])
    assert both["nodes"] == [seen, seen]


# --- who may refetch what ----------------------------------------------------------------------


async def _member_owned_ids(api, w: World, owner: str) -> dict[str, str]:
    """The global ids of one member's Member, Order, LedgerEntry, Redemption and MemberSubscription."""
    data = await api.ok("""query($t: String!) { member(externalId: $t) { id orders(first: 1) { edges { node { id } } }
        ledger(first: 1) { edges { node { id } } } redemptions { id } subscriptions { id } } }""", {"t": owner}, w.admin)
    m = data["member"]
    return {"Member": m["id"], "Order": m["orders"]["edges"][0]["node"]["id"],
            "LedgerEntry": m["ledger"]["edges"][0]["node"]["id"], "Redemption": m["redemptions"][0]["id"],
            "MemberSubscription": m["subscriptions"][0]["id"]}


# caller -> outcome for an object of member B, per type (OK, or the error code at that position)
OWNED_OUTCOMES = {
    #             Member             Order              LedgerEntry        Redemption         MemberSubscription
    "anonymous": ("UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED"),
    "storefront": ("FORBIDDEN",      "FORBIDDEN",       "FORBIDDEN",       "OK",              "FORBIDDEN"),
    "partner":   ("FORBIDDEN",       "FORBIDDEN",       "FORBIDDEN",       "FORBIDDEN",       "FORBIDDEN"),
    "member_other": ("FORBIDDEN",    "FORBIDDEN",       "FORBIDDEN",       "FORBIDDEN",       "FORBIDDEN"),
    "member_self": ("OK",            "OK",              "OK",              "OK",              "OK"),
    "admin":     ("OK",              "OK",              "OK",              "OK",              "OK"),
}
OWNED_TYPES = ("Member", "Order", "LedgerEntry", "Redemption", "MemberSubscription")


@pytest.mark.parametrize("caller", sorted(OWNED_OUTCOMES))
async def test_member_owned_nodes_follow_the_member_fields(api, world, caller):
    """member_self reads its own (A's) objects, every other caller B's: a refusal is null and the
    error at that position, never the data; the other positions of nodes() are unaffected."""
    owner = MEMBER_A if caller == "member_self" else MEMBER_B
    ids = await _member_owned_ids(api, world, owner)
    token = member_token(MEMBER_A) if caller.startswith("member") else world.tokens[caller]
    tier = (await api.ok("query { tiers { id } }"))["tiers"][0]["id"]
    ordered = [ids[t] for t in OWNED_TYPES] + [tier]
    body = await api(NODES, {"ids": ordered}, token)
    errors = {tuple(e["path"]): e["extensions"]["code"] for e in body.get("errors", [])}
    for i, (type_name, outcome) in enumerate(zip(OWNED_TYPES, OWNED_OUTCOMES[caller], strict=True)):
        if outcome == "OK":
            assert body["data"]["nodes"][i] == {"__typename": type_name, "id": ids[type_name]}, (type_name, body)
            assert ("nodes", i) not in errors
        else:
            assert body["data"]["nodes"][i] is None, (type_name, body)
            assert errors[("nodes", i)] == outcome, (type_name, body)
    assert body["data"]["nodes"][-1] == {"__typename": "Tier", "id": tier}  # public, served to all
    assert len(errors) == sum(o != "OK" for o in OWNED_OUTCOMES[caller])
    single = await api(f"{NODE} fragment F on Member {{ externalId email }}", {"id": ids["Member"]}, token)
    if OWNED_OUTCOMES[caller][0] == "OK":
        assert single == {"data": {"node": {"__typename": "Member", "externalId": owner,
                                            "email": f"{owner[-1]}@example.com"}}}
    else:
        assert single["data"] == {"node": None}
        assert single["errors"][0]["path"] == ["node"]
        assert single["errors"][0]["extensions"]["code"] == OWNED_OUTCOMES[caller][0]
        assert "b@example.com" not in json.dumps(single)


async def test_node_objects_keep_their_field_level_checks(api, world):
    """Refetched objects are the same types with the same field checks: the storefront reads
    B's code as through rewardCode; a held review's text is there for the admin (and withheld
    from keys without members:pii, who cannot reach it anyway: it is null for them)."""
    ids = await _member_owned_ids(api, world, MEMBER_B)
    data = await api.ok("query($id: ID!) { node(id: $id) { ... on Redemption { memberExternalId code } } }",
                        {"id": ids["Redemption"]}, world.tokens["storefront"])
    assert data["node"] == {"memberExternalId": MEMBER_B, "code": world.codes[MEMBER_B]}
    held = await ReviewModel.get(id=_pk(world.reviews[MEMBER_B]))
    await ReviewModel.filter(id=held.id).update(status="pending")
    review = global_id("Review", held.id)
    query = "query($id: ID!) { node(id: $id) { ... on Review { status body personalDataWithheld } } }"
    assert (await api.ok(query, {"id": review}, world.admin))["node"] == {
        "status": "PENDING", "body": held.body, "personalDataWithheld": False}
    assert await api(query, {"id": review}, world.tokens["storefront"]) == {"data": {"node": None}}
    open_reports = "query($id: ID!) { node(id: $id) { ... on Review { openReports } } }"
    published = world.reviews[MEMBER_A]
    body = await api(open_reports, {"id": published}, world.tokens["storefront"])  # moderators only, as before
    assert body["data"] == {"node": None}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["node", "openReports"], "FORBIDDEN")]


async def test_unpublished_reviews_and_their_content_are_hidden_like_on_the_product_page(api, world):
    review_b, review_a = world.reviews[MEMBER_B], world.reviews[MEMBER_A]
    await ReviewModel.filter(id=_pk(review_b)).update(status="pending")
    await QuestionModel.filter(id=_pk(world.question_id)).update(status="pending")
    ids = [review_b, world.media_id,
           world.question_id, world.answer_id, review_a]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Review { body } } }"
    for caller in ("anonymous", "storefront", "partner", "member_other"):
        body = await api(query, {"ids": ids}, world.tokens[caller])
        assert body == {"data": {"nodes": [None, None, None, None, {"id": ids[4], "body": "Great fit."}]}}, caller
    # The author sees their own review and its photo in every state, as in `me { reviews }`.
    own = await api.ok(query, {"ids": ids[:2]}, member_token(MEMBER_B))
    assert own["nodes"] == [{"id": ids[0], "body": "Too small."}, {"id": ids[1]}]
    admin = await api.ok(query, {"ids": ids}, world.admin)
    assert [n["id"] for n in admin["nodes"]] == ids
    # Deleted is gone for the author too (the admin's queue still has it).
    await ReviewModel.filter(id=_pk(review_b)).update(status="deleted")
    assert (await api.ok(query, {"ids": ids[:2]}, member_token(MEMBER_B)))["nodes"] == [None, None]


async def test_inactive_catalog_items_are_for_admins(api, world):
    await RewardModel.all().update(active=False)
    plan = await PlanModel.get(id=_pk(world.plan_id))
    await PlanModel.filter(id=plan.id).update(active=False)
    ids = [world.reward_id, global_id("SubscriptionPlan", plan.id)]
    assert (await api.ok(NODES, {"ids": ids}))["nodes"] == [None, None]
    assert (await api.ok(NODES, {"ids": ids}, world.tokens["storefront"]))["nodes"] == [None, None]
    served = [{"__typename": "Reward", "id": ids[0]}, {"__typename": "SubscriptionPlan", "id": ids[1]}]
    assert (await api.ok(NODES, {"ids": ids}, world.admin))["nodes"] == served
    # A subscriber still reads the plan of its subscription (me { subscriptions { plan } }).
    assert (await api.ok(NODES, {"ids": ids[1:]}, member_token(MEMBER_A)))["nodes"] == served[1:]


async def test_admin_and_partner_types(api, world, partner_token):
    await _job_run()
    run = await JobRunModel.first()
    event = await EventModel.first()
    endpoint = (await api.ok("query { webhookEndpoints { id } }", token=world.tokens["partner"]))
    endpoint_id = endpoint["webhookEndpoints"][0]["id"]
    delivery_id = world.delivery_id
    admin_only = [global_id("JobRun", run.id), global_id("Event", event.id), world.spare_key_id]
    expected = {"anonymous": "UNAUTHENTICATED", "storefront": "FORBIDDEN", "partner": "FORBIDDEN",
                "member_self": "FORBIDDEN"}
    for caller, code in expected.items():
        body = await api(NODES, {"ids": admin_only}, world.tokens[caller])
        assert body["data"] == {"nodes": [None, None, None]}, caller
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
            (["nodes", i], code) for i in range(3)], caller
    admin = await api.ok(NODES, {"ids": admin_only + [endpoint_id, delivery_id]}, world.admin)
    assert [n["__typename"] for n in admin["nodes"]] == ["JobRun", "Event", "ApiKey", "WebhookEndpoint",
                                                         "WebhookDelivery"]
    # Partner A's endpoint and delivery: its own; to another partner they do not exist.
    assert (await api.ok(NODES, {"ids": [endpoint_id, delivery_id]}, world.tokens["partner"]))["nodes"] == [
        {"__typename": "WebhookEndpoint", "id": endpoint_id}, {"__typename": "WebhookDelivery", "id": delivery_id}]
    other_partner = (await api.ok('mutation { createApiKey(input: {name: "p2", role: PARTNER}) { secret } }',
                                  token=world.admin))["createApiKey"]["secret"]
    assert await api(NODES, {"ids": [endpoint_id, delivery_id]}, other_partner) == {"data": {"nodes": [None, None]}}
    body = await api(NODES, {"ids": [endpoint_id]}, member_token(MEMBER_A))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# --- ids that name nothing ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [
    "nope", "", "TWVtYmVy", global_id("Nope", 1), global_id("UserError", 1), global_id("Refund", 1),
    "TWVtYmVyOi0x",  # "Member:-1"
    "TWVtYmVyOjFhYg==",  # "Member:1ab"
    "1", "x" * 300,
])
async def test_malformed_or_unknown_type_ids_are_bad_input(api, world, bad):
    body = await api("query($id: ID!) { node(id: $id) { id } }", {"id": bad}, world.admin)
    assert body["data"] == {"node": None}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["node"], "BAD_USER_INPUT")]


async def test_missing_rows_are_null_without_an_error(api, world):
    ids = [global_id("Member", 999_999), global_id("Review", 2**31), global_id("LedgerEntry", 10**17),
           global_id("Event", 424242), global_id("Tier", 0)]
    assert await api(NODES, {"ids": ids}, world.admin) == {"data": {"nodes": [None] * 5}}
    assert await api("query($id: ID!) { node(id: $id) { id } }", {"id": ids[0]}, world.admin) == {
        "data": {"node": None}}


async def test_nodes_mixed_batch_answers_each_position_alone(api, world):
    ids = await _member_owned_ids(api, world, MEMBER_B)
    tier = (await api.ok("query { tiers { id } }"))["tiers"][0]["id"]
    batch = [tier, ids["Member"], "garbage", global_id("Member", 999_999), tier, ids["Order"]]
    body = await api(NODES, {"ids": batch}, member_token(MEMBER_A))
    assert body["data"]["nodes"] == [{"__typename": "Tier", "id": tier}, None, None, None,
                                     {"__typename": "Tier", "id": tier}, None]
    assert sorted((e["path"][1], e["extensions"]["code"]) for e in body["errors"]) == [
        (1, "FORBIDDEN"), (2, "BAD_USER_INPUT"), (5, "FORBIDDEN")]
    assert "b@example.com" not in json.dumps(body)


async def test_nodes_reads_each_type_with_one_query(api, world):
    ids = await _member_owned_ids(api, world, MEMBER_A)
    tiers = [global_id("Tier", i) for i in range(10_000, 10_040)]  # none exists
    orders = [ids["Order"]] * 3 + [global_id("Order", i) for i in range(1000, 1030)]
    connection = connections.get("default")
    executed: list[str] = []
    original = connection.execute_query

    async def counting(query, values=None):
        executed.append(query)
        return await original(query, values)

    connection.execute_query = counting
    try:
        body = await api(NODES, {"ids": tiers + orders}, world.admin)
    finally:
        connection.execute_query = original
    assert "errors" not in body
    assert [n["id"] for n in body["data"]["nodes"] if n] == [ids["Order"]] * 3
    for model in (TierModel, OrderModel):
        reads = [q for q in executed if f'FROM "{model._meta.db_table}"' in q]
        assert len(reads) == 1, (model, executed)


async def test_nodes_list_is_capped_at_100(api, world):
    tier = global_id("Tier", 1)
    body = await api(NODES, {"ids": [tier] * 101}, world.admin)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    literal = "[" + ",".join(f'"{tier}"' for _ in range(101)) + "]"
    body = await api(f"{{ nodes(ids: {literal}) {{ id }} }}", token=world.admin)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["message"] == "ids: at most 100 per call"
    assert len((await api.ok(NODES, {"ids": [tier] * 100}, world.admin))["nodes"]) == 100


def _cost(document: str) -> int:
    return measure(parse(document).definitions[0].selection_set, Walk(fragments={})).cost


def test_nodes_costs_one_object_per_id():
    """Each id loads an object: the cost limit prices `nodes` like a page of that many (a
    variable list as the 100 it may hold)."""
    ids = ",".join(f'"{global_id("Tier", i)}"' for i in range(60))
    assert _cost(f"{{ nodes(ids: [{ids}]) {{ id ... on Tier {{ name rank }} }} }}") == 1 + 60 * 3
    assert _cost(f'{{ nodes(ids: ["{global_id("Tier", 1)}"]) {{ id }} }}') == 2
    assert _cost("query($x: [ID!]!) { nodes(ids: $x) { id __typename } }") == 1 + 100 * 2
    assert _cost('{ node(id: "x") { id ... on Tier { name } } }') == 3
