"""Hostile GraphQL (issue 9): bad variable values and documents get coded errors, never a masked
"Unexpected error."; crowded selection sets and introspection are limited; member JWTs have a
bounded lifetime; subscriptions end when their credential does."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jwt
import pytest
import websockets

from domain.auth import service as auth
from domain.catalog.models import Product
from domain.members.models import Member
from domain.orders.models import Order
from domain.reviews.models import Review, ReviewReport
from domain.rewards.models import Reward
from domain.settings import get_settings, reload_settings
from domain.tiers.models import Tier
from tests import helpers
from tests.conftest import member_token
from tests.test_realtime import Subscriber, served  # noqa: F401  (the fixture)

MASKED = "Unexpected error."
SECRET = "test-member-secret-of-at-least-32-bytes"

# --- finding 11: every bad input gets a code -----------------------------------------------------------

# Raw JSON (so lone surrogates, NaN and 1e400 reach the server as a client could send them).
HOSTILE = {
    "Int": ["2147483648", "-2147483649", "1.5", '"12"', "true", "[1]", '{"a": 1}', "1e400", "NaN", "null"],
    "String": ['"\\ud800"', '"a\\udfffb"', "5", "[\"a\"]", '{"a": "b"}', "null"],
    "Enum": ['"NOT_A_VALUE"', '"fake"', "3", "null"],
    "Date": ['"2020-13-45"', '"nope"', "5", '""', '"2020-02-30"'],
    "DateTime": ['"2020-01-01T25:00:00Z"', '"yesterday"', "5", '"2020-01-01T10:00:00+99:00"',
                 '"0001-01-01T00:00:00+14:00"', '"9999-12-31T23:59:59-14:00"'],
    "Decimal": ['"abc"', "[1]", '{"a": 1}', '"NaN"', '"Infinity"', '"-1e400"', '"1e999999999"'],
    "JSON": ['{"a": "\\ud800"}', '{"a": NaN}', '["\\udc00"]'],
    "Input": ['"a string"', "5", "[]", '{"unknownField": 1}', "{}", "null"],
}

# Each slot: (caller, document, variables with @ where the hostile value goes, slot kind,
# the model whose rows must not change).
SLOTS: list[tuple[str, str, str, str, Any]] = [
    # members
    ("admin", "query($n: Int) { members(first: $n) { edges { cursor } } }", '{"n": @}', "Int", Member),
    ("admin", "mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { errors { code } } }",
     '{"i": {"externalId": @}}', "String", Member),
    ("admin", "mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { errors { code } } }",
     '{"i": {"externalId": "new", "birthday": @}}', "Date", Member),
    ("admin", "mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { errors { code } } }", '{"i": @}',
     "Input", Member),
    ("member", "mutation($p: ConsentPurpose!) { updateConsents(input: {consents: [{purpose: $p, granted: true}]}) "
               "{ errors { code } } }", '{"p": @}', "Enum", Member),
    # orders
    ("admin", "mutation($i: RecordOrderInput!) { recordOrder(input: $i) { errors { code } } }",
     '{"i": {"externalId": "o1", "memberExternalId": "m1", "currency": "USD", "placedAt": @, '
     '"lines": [{"sku": "s", "quantity": 1, "unitPrice": 100}]}}', "DateTime", Order),
    ("admin", "mutation($i: RecordOrderInput!) { recordOrder(input: $i) { errors { code } } }",
     '{"i": {"externalId": "o1", "memberExternalId": "m1", "currency": "USD", "placedAt": "2026-01-01T00:00:00Z", '
     '"lines": [{"sku": "s", "quantity": @, "unitPrice": 100}]}}', "Int", Order),
    ("admin", "mutation($i: RecordOrderInput!) { recordOrder(input: $i) { errors { code } } }", '{"i": @}',
     "Input", Order),
    # reviews
    ("member", "mutation($i: SubmitReviewInput!) { submitReview(input: $i) { errors { code } } }",
     '{"i": {"productExternalId": "p1", "rating": @, "body": "Comfortable and light, good for walks."}}', "Int", Review),
    ("member", "mutation($i: SubmitReviewInput!) { submitReview(input: $i) { errors { code } } }",
     '{"i": {"productExternalId": "p1", "rating": 4, "body": @}}', "String", Review),
    ("member", "mutation($i: SubmitReviewInput!) { submitReview(input: $i) { errors { code } } }",
     '{"i": {"productExternalId": "p1", "rating": 4, "body": "Comfortable and light, good for walks.", '
     '"attributes": @}}', "JSON", Review),
    ("member", "mutation($r: ReportReason!) { reportReview(input: {reviewId: 1, reason: $r}) { errors { code } } }",
     '{"r": @}', "Enum", ReviewReport),
    ("anonymous", "query($p: String!, $s: ReviewSort!) { product(externalId: $p) { reviews(sort: $s) "
                  "{ edges { cursor } } } }", '{"p": "p1", "s": @}', "Enum", Review),
    ("anonymous", "query($p: String!) { product(externalId: $p) { externalId } }", '{"p": @}', "String", Product),
    # rewards
    ("admin", "mutation($i: RewardInput!) { createReward(input: $i) { errors { code } } }",
     '{"i": {"name": "Mug", "type": "FREE_SHIPPING", "pointsCost": @}}', "Int", Reward),
    ("admin", "mutation($i: RewardInput!) { createReward(input: $i) { errors { code } } }",
     '{"i": {"name": "Mug", "type": @, "pointsCost": 100}}', "Enum", Reward),
    ("admin", "mutation($i: RewardInput!) { createReward(input: $i) { errors { code } } }",
     '{"i": {"name": "Mug", "type": "FREE_SHIPPING", "pointsCost": 100, "startsAt": @}}', "DateTime", Reward),
    ("admin", "mutation($i: RewardInput!) { createReward(input: $i) { errors { code } } }", '{"i": @}',
     "Input", Reward),
    # tiers
    ("admin", "mutation($i: TierInput!) { createTier(input: $i) { errors { code } } }",
     '{"i": {"name": "Gold", "rank": 2, "earnMultiplier": @}}', "Decimal", Tier),
    ("admin", "mutation($i: TierInput!) { createTier(input: $i) { errors { code } } }",
     '{"i": {"name": "Gold", "rank": 2, "window": @}}', "Enum", Tier),
    ("admin", "mutation($i: TierInput!) { createTier(input: $i) { errors { code } } }",
     '{"i": {"name": @, "rank": 2}}', "String", Tier),
    ("admin", "mutation($i: TierInput!) { createTier(input: $i) { errors { code } } }",
     '{"i": {"name": "Gold", "rank": @}}', "Int", Tier),
]
# A value each slot accepts (index: raw JSON), to show the slot reaches its operation.
VALID = ['1', '"m-new"', '"1990-05-06"', '{"externalId": "m-new"}', '"MARKETING_EMAIL"', '"2026-01-01T00:00:00Z"', '1',
         '{"externalId": "o2", "memberExternalId": "m1", "currency": "USD", "placedAt": "2026-01-01T00:00:00Z", '
         '"lines": [{"sku": "s", "quantity": 1, "unitPrice": 100}]}', '2', '"Comfortable and light, good for walks."',
         '{"fit": "true to size"}', '"SPAM"', '"RATING_HIGH"', '"p1"', '100', '"FREE_SHIPPING"', '"2026-01-01T00:00:00Z"',
         '{"name": "Mug", "type": "FREE_SHIPPING", "pointsCost": 100}', '"1.5"', '"LIFETIME"', '"Gold"', '2']
# "null" is only hostile where the slot is non-null.
NULLABLE = {("Int", 0), ("Date", 2), ("String", 9), ("DateTime", 16), ("Enum", 19)}  # 9: a review body is optional

CASES = [
    pytest.param(caller, document, template.replace("@", value), model, id=f"slot{n}-{kind}-{value}")
    for n, (caller, document, template, kind, model) in enumerate(SLOTS)
    for value in HOSTILE[kind]
    if not (value == "null" and (kind, n) in NULLABLE)
]


async def _world() -> dict[str, str]:
    from domain.catalog.service import upsert_products

    await helpers.member("m1")
    await upsert_products([{"external_id": "p1"}])
    return {"admin": (await auth.create_api_key("admin", "admin"))[1], "member": member_token("m1"), "anonymous": ""}


def assert_coded_refusal(status: int, body: dict) -> None:
    """A GraphQL error with a code, or (for a value GraphQL accepts, e.g. null in a nullable
    field) a mutation payload error with a code."""
    assert status in (200, 400), (status, body)
    if not body.get("errors"):
        payloads = [v for v in (body.get("data") or {}).values() if isinstance(v, dict)]
        assert payloads and all(p["errors"] and all(e["code"] for e in p["errors"]) for p in payloads), body
        return
    for error in body["errors"]:
        assert error["message"] != MASKED, body
        assert (error.get("extensions") or {}).get("code"), body


async def _post(client, tokens: dict[str, str], caller: str, document: str, variables: str) -> Any:
    body = '{"query": %s, "variables": %s}' % (json.dumps(document), variables)
    headers = {"content-type": "application/json"} | ({"authorization": f"Bearer {tokens[caller]}"} if tokens[caller] else {})
    return await client.post("/graphql", content=body.encode(), headers=headers)


@pytest.mark.parametrize("n", range(len(SLOTS)))
async def test_each_slot_accepts_a_valid_value(client, n):
    caller, document, template, _, _ = SLOTS[n]
    response = await _post(client, await _world(), caller, document, template.replace("@", VALID[n]))
    assert response.status_code == 200 and "errors" not in response.json(), response.text


@pytest.mark.parametrize(("caller", "document", "variables", "model"), CASES)
async def test_hostile_variable_value_gets_a_coded_error_and_changes_nothing(client, caller, document, variables, model):
    tokens = await _world()
    before = await model.all().count()
    response = await _post(client, tokens, caller, document, variables)
    assert_coded_refusal(response.status_code, response.json())
    assert await model.all().count() == before


@pytest.mark.parametrize(("document", "code"), [
    ("{ tiers { name }", "GRAPHQL_PARSE_FAILED"),
    ('mutation { upsertMember(input: {externalId: "\\ud800"}) { errors { code } } }', "GRAPHQL_PARSE_FAILED"),
    ("{ tiers { nme } }", "GRAPHQL_VALIDATION_FAILED"),
    ("query A { tiers { name } } query A { tiers { name } }", "GRAPHQL_VALIDATION_FAILED"),
    ("{ members(first: 2147483648) { edges { cursor } } }", "GRAPHQL_VALIDATION_FAILED"),
    ('mutation { upsertMember(input: {externalId: "x", birthday: "nope"}) { errors { code } } }',
     "GRAPHQL_VALIDATION_FAILED"),
    ('mutation { createTier(input: {name: "G", window: NOPE}) { errors { code } } }', "GRAPHQL_VALIDATION_FAILED"),
    ("query($n: Int!) { members(first: $n) { edges { cursor } } }", "BAD_USER_INPUT"),  # $n not given
])
async def test_malformed_documents_get_coded_errors(api, admin_token, document, code):
    response = await api.raw(document, token=admin_token)
    assert_coded_refusal(response.status_code, response.json())
    assert response.json()["errors"][0]["extensions"]["code"] == code


@pytest.mark.parametrize("extra", ['"\\ud800": 1', '"a": {"\\ud800": "x"}', '"a": {"k\\udc00": "\\ud800"}'])
async def test_lone_surrogates_in_variable_names_and_keys_are_bad_input(client, extra):
    query = "query($p: String!) { product(externalId: $p) { externalId } }"
    body = '{"query": "%s", "variables": {"p": "p1", %s}}' % (query, extra)
    response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert_coded_refusal(response.status_code, response.json())
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_real_server_bug_is_still_masked_with_its_own_code(api, monkeypatch):
    from domain.tiers import service as tier_service

    async def broken() -> list:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(tier_service, "all_tiers", broken)
    body = await api("{ tiers { name } }")
    assert body["errors"] == [{"message": MASKED, "locations": [{"line": 1, "column": 3}], "path": ["tiers"],
                               "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]


# --- field merging: crowded selection sets are refused before validation ---------------------------------


async def test_495_repeated_tiers_fields_are_refused_with_a_code(client):
    query = "{ " + " ".join(["tiers { name }"] * 495) + " }"
    response = await client.post("/graphql", json={"query": query})
    body = response.json()
    assert response.status_code == 200 and body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["TOO_MANY_FIELDS"]
    assert "'tiers' is selected 495 times" in body["errors"][0]["message"]


async def test_repeats_through_fragments_and_nested_sets_are_counted(client):
    fragment = "fragment F on Tier { name name name name name name }"
    query = "{ tiers { ...F ...F } } " + fragment  # 12 x name in one merged selection set
    body = (await client.post("/graphql", json={"query": query})).json()
    assert body["errors"][0]["extensions"]["code"] == "TOO_MANY_FIELDS"
    fine = "{ tiers { ...F } } " + fragment.replace("name name name name name name", "name rank")
    assert "errors" not in (await client.post("/graphql", json={"query": fine})).json()


async def test_too_many_fields_in_one_selection_set_are_refused(client, monkeypatch):
    monkeypatch.setenv("PATRON_MAX_SELECTION_FIELDS", "20")
    reload_settings()
    query = "{ tiers { " + " ".join(f"a{i}: name" for i in range(25)) + " } }"
    body = (await client.post("/graphql", json={"query": query})).json()
    assert "TOO_MANY_FIELDS" in [e["extensions"]["code"] for e in body["errors"]]


# --- introspection: priced, and limited by PATRON_INTROSPECTION ----------------------------------------

INTROSPECTION = __import__("graphql").get_introspection_query(descriptions=True)


async def test_one_introspection_passes_but_eight_aliased_are_too_costly(client):
    one = await client.post("/graphql", json={"query": INTROSPECTION})
    assert "errors" not in one.json() and one.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    body_start = INTROSPECTION.index("__schema")
    selection = INTROSPECTION[body_start:INTROSPECTION.rindex("}", 0, INTROSPECTION.index("fragment"))]
    fragments = INTROSPECTION[INTROSPECTION.index("fragment"):]
    aliased = "query { " + " ".join(f"s{i}: {selection}" for i in range(8)) + " } " + fragments
    body = (await client.post("/graphql", json={"query": aliased})).json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COSTLY"]


@pytest.mark.parametrize(("policy", "env", "anonymous", "keyed", "page"), [
    (None, "development", None, None, 200),
    (None, "production", "UNAUTHENTICATED", None, 200),
    ("public", "production", None, None, 200),
    ("authenticated", "development", "UNAUTHENTICATED", None, 200),
    ("off", "development", "INTROSPECTION_DISABLED", "INTROSPECTION_DISABLED", 404),
])
async def test_introspection_policy(client, admin_token, monkeypatch, policy, env, anonymous, keyed, page):
    monkeypatch.setenv("PATRON_ENV", env)
    if policy:
        monkeypatch.setenv("PATRON_INTROSPECTION", policy)
    else:
        monkeypatch.delenv("PATRON_INTROSPECTION", raising=False)
    reload_settings()
    for token, expected in ((None, anonymous), (admin_token, keyed)):
        headers = {"authorization": f"Bearer {token}"} if token else {}
        for query in ("{ __schema { queryType { name } } }", '{ __type(name: "Tier") { name } }',
                      "query { ...Q } fragment Q on Query { __schema { queryType { name } } }"):
            body = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
            codes = [e["extensions"]["code"] for e in body.get("errors", [])]
            assert codes == ([expected] if expected else []), (query, token, body)
        typename = (await client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)).json()
        assert typename == {"data": {"__typename": "Query"}}  # never introspection
    graphiql = await client.get("/graphql", headers={"accept": "text/html"})
    assert graphiql.status_code == page


# --- member JWTs: bounded lifetime, iat required, iss/aud when configured -----------------------------


def _token(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _now() -> int:
    return int(auth.token_time())


@pytest.mark.parametrize(("claims", "message"), [
    (lambda now: {"sub": "m1", "iat": now, "exp": 10**18}, "lifetime exp - iat exceeds 86400 seconds"),
    (lambda now: {"sub": "m1", "exp": now + 600}, 'Token is missing the "iat" claim'),
    (lambda now: {"sub": "m1", "iat": now - 100_000, "exp": now + 600}, "lifetime exp - iat exceeds 86400"),
    (lambda now: {"sub": "m1", "iat": now + 3600, "exp": now + 7200}, "iat is in the future"),
    (lambda now: {"sub": "m1", "iat": "yesterday", "exp": now + 600}, "iat must be a number"),
    (lambda now: {"sub": "m1", "iat": now - 7200, "exp": now - 10}, "Signature has expired"),
    (lambda now: {"sub": "m1", "iat": now, "exp": float("nan")}, "exp must be a number"),
])
async def test_member_token_lifetime_is_bounded(api, claims, message):
    await helpers.member("m1")
    response = await api.raw("{ me { externalId } }", token=_token(claims(_now())))
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED" and message in error["message"], error


async def test_issued_tokens_carry_iat_and_a_day_long_token_is_accepted(api):
    await helpers.member("m1")
    claims = jwt.decode(member_token("m1"), SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 3600
    day = _token({"sub": "m1", "iat": _now(), "exp": _now() + 86400})
    assert await api.ok("{ me { externalId } }", token=day) == {"me": {"externalId": "m1"}}


async def test_issuer_and_audience_are_checked_when_configured(api, monkeypatch):
    await helpers.member("m1")
    monkeypatch.setenv("PATRON_MEMBER_JWT_ISSUER", "https://shop.example")
    monkeypatch.setenv("PATRON_MEMBER_JWT_AUDIENCE", "patron")
    reload_settings()
    now = _now()
    base = {"sub": "m1", "iat": now, "exp": now + 600}
    for claims, message in (
        (base, 'missing the "iss" claim'),
        (base | {"iss": "https://evil.example", "aud": "patron"}, "Invalid issuer"),
        (base | {"iss": "https://shop.example"}, 'missing the "aud" claim'),
        (base | {"iss": "https://shop.example", "aud": "other"}, "Audience doesn't match"),
    ):
        response = await api.raw("{ me { externalId } }", token=_token(claims))
        assert response.status_code == 401, claims
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "UNAUTHENTICATED" and message in error["message"], error
    assert await api.ok("{ me { externalId } }", token=member_token("m1")) == {"me": {"externalId": "m1"}}
    assert get_settings().member_jwt_issuer == "https://shop.example"


# --- finding 9: a subscription ends when its credential does ------------------------------------------


async def _closed_code(sub: Subscriber) -> int:
    """The close code the server sent, after asserting no event came before it."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        message = await asyncio.wait_for(sub.ws.recv(), 5)
        pytest.fail(f"an event was delivered after the credential lapsed: {message}")
    return closed.value.rcvd.code


async def test_revoking_the_key_closes_its_subscription_before_the_next_event(served, api, admin_token):  # noqa: F811
    key, secret = await auth.create_api_key("watcher", "admin")
    sub = Subscriber(served, secret)
    await sub.start('subscription { events(types: ["member.*"]) { type } }')
    await helpers.member("before")
    assert (await sub.next())["payload"]["data"]["events"] == {"type": "member.created"}
    revoke = 'mutation($id: ID!) { revokeApiKey(id: $id) { errors { code } } }'
    await api.ok(revoke, {"id": str(key.id)}, admin_token)
    await helpers.member("after")
    assert await _closed_code(sub) == 4403


async def test_an_expired_member_token_closes_its_subscription(served, api, admin_token, monkeypatch):  # noqa: F811
    await helpers.member("m1")
    sub = Subscriber(served, member_token("m1", ttl=60))
    await sub.start("subscription { pointsBalanceChanged { balance } }")
    adjust = ('mutation($k: String!) { adjustPoints(input: {memberExternalId: "m1", amount: 5, reason: "gift", '
              "idempotencyKey: $k}) { errors { code } } }")
    await api.ok(adjust, {"k": "a"}, admin_token)
    assert (await sub.next())["payload"]["data"]["pointsBalanceChanged"] == {"balance": 5}
    later = auth.token_time() + 3600
    monkeypatch.setattr(auth, "token_time", lambda: later)
    await api.ok(adjust, {"k": "b"}, admin_token)
    assert await _closed_code(sub) == 4403


# --- requests strawberry cannot run get a JSON error with a code, not plain text ----------------------


@pytest.mark.parametrize("body", [
    json.dumps({"query": "query A { tiers { name } }", "operationName": "B"}),
    '{"query": "query A { tiers { name } }", "operationName": "\\ud800"}',  # echoed in the message
    "{not json",
])
async def test_unrunnable_requests_get_a_coded_json_error(client, body):
    response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_mutation_over_get_gets_a_coded_json_error(client):
    response = await client.get("/graphql", params={"query": 'mutation { upsertMember(input: {externalId: "x"}) '
                                                              "{ errors { code } } }"})
    assert response.status_code == 400 and response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
