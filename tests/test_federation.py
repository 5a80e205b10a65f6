"""Patron as an Apollo Federation 2 subgraph (issue 11, item 5).

In process: `_service { sdl }` is the committed schema.graphql; `_entities` resolves Product
(public, like `product(externalId:)`) and Member (exactly `member(externalId:)`'s permission)
per representation, refuses malformed representations as BAD_USER_INPUT, and is priced by its
number of representations; `_service` follows PATRON_INTROSPECTION; in trusted documents
`require` mode only the gateway holding PATRON_FEDERATION_GATEWAY_SECRET runs documents outside
the manifest. Then a real Apollo Gateway (tests/federation, npm lockfile) composes a started
Patron with a tiny commerce subgraph and answers cross-subgraph queries."""

from __future__ import annotations

import json
import os
import select
import subprocess
from pathlib import Path

import httpx
import pytest

from domain.settings import SettingsError, reload_settings
from tests.conftest import IS_POSTGRES, member_token
from tests.test_hostile_apq import manifest_file
from tests.test_js_clients import ADMIN_KEY, JWT_SECRET, node_for, running_patron

ROOT = Path(__file__).resolve().parent.parent
FEDERATION = ROOT / "tests" / "federation"
SECRET = "gateway-secret-0123456789abcdef-0123456789"
ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  __typename
  ... on Product { externalId title reviewSummary { count average } reviews(first: 5) { edges { node { rating body } } } }
  ... on Member { externalId points { balance } }
} }"""


def product(external_id: str) -> dict[str, str]:
    return {"__typename": "Product", "externalId": external_id}


def member(external_id: str) -> dict[str, str]:
    return {"__typename": "Member", "externalId": external_id}


@pytest.fixture
async def shop(api, admin_token):
    """prod-1 with one published review by m1; members m1 (250 points) and m2."""
    data = await api.ok("""mutation {
      p: upsertProducts(input: [{externalId: "prod-1", title: "Trail shoe"}]) { errors { code } }
      m1: upsertMember(input: {externalId: "m1"}) { errors { code } }
      m2: upsertMember(input: {externalId: "m2"}) { errors { code } }
      a: adjustPoints(input: {memberExternalId: "m1", amount: 250, reason: "welcome", idempotencyKey: "k1"}) { errors { code } }
      r: submitReview(input: {memberExternalId: "m1", productExternalId: "prod-1", rating: 4, body: "Light."}) {
        review { status } errors { code } }
    }""", token=admin_token)
    assert all(payload["errors"] == [] for payload in data.values()), data
    assert data["r"]["review"]["status"] == "PUBLISHED"


PROD_1 = {"__typename": "Product", "externalId": "prod-1", "title": "Trail shoe",
          "reviewSummary": {"count": 1, "average": 4.0},
          "reviews": {"edges": [{"node": {"rating": 4, "body": "Light."}}]}}
M1 = {"__typename": "Member", "externalId": "m1", "points": {"balance": 250}}


# --- _service ----------------------------------------------------------------------------------


async def test_service_sdl_is_the_committed_schema_with_the_entity_keys(api):
    body = await api.ok("{ _service { sdl } }")
    sdl = body["_service"]["sdl"]
    assert sdl + "\n" == (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert 'type Product implements Node @key(fields: "externalId") {' in sdl
    assert 'type Member implements Node @key(fields: "externalId") {' in sdl
    assert sdl.startswith('schema @link(url: "https://specs.apollo.dev/federation/v2.11", import: ["@key"]) {')


@pytest.mark.parametrize(("policy", "token", "code"), [
    ("authenticated", None, "UNAUTHENTICATED"),
    ("off", None, "INTROSPECTION_DISABLED"),
    ("off", "admin", "INTROSPECTION_DISABLED"),
])
async def test_service_follows_the_introspection_policy_except_for_the_gateway(app_with, admin_token, policy, token, code):
    client = await app_with(PATRON_INTROSPECTION=policy, PATRON_FEDERATION_GATEWAY_SECRET=SECRET)
    headers = {"authorization": f"Bearer {admin_token}"} if token else {}
    refused = await client.post("/graphql", json={"query": "{ _service { sdl } }"}, headers=headers)
    assert refused.status_code == 200
    assert refused.json()["data"] is None
    assert [e["extensions"]["code"] for e in refused.json()["errors"]] == [code]
    # The gateway composes the supergraph from it whatever the policy.
    served = await client.post("/graphql", json={"query": "{ _service { sdl } }"},
                               headers=headers | {"patron-gateway-secret": SECRET})
    assert served.json()["data"]["_service"]["sdl"].startswith("schema @link(")


# --- _entities: what each caller gets ----------------------------------------------------------


async def test_products_are_public_and_unknown_ones_are_null(api, shop):
    body = await api(ENTITIES, {"r": [product("prod-1"), product("nope"), product("prod-1")]})
    assert body == {"data": {"_entities": [PROD_1, None, PROD_1]}}


@pytest.mark.parametrize(("caller", "code"), [("anonymous", "UNAUTHENTICATED"), ("storefront", "FORBIDDEN"),
                                              ("partner", "FORBIDDEN"), ("other member", "FORBIDDEN")])
async def test_member_entity_is_refused_exactly_like_the_member_field(api, shop, storefront_token, partner_token,
                                                                      caller, code):
    token = {"anonymous": None, "storefront": storefront_token, "partner": partner_token,
             "other member": member_token("m2")}[caller]
    entities = await api(ENTITIES, {"r": [product("prod-1"), member("m1")]}, token)
    direct = await api('{ member(externalId: "m1") { points { balance } } }', token=token)
    # the product is served, the member is null with the error `member(externalId:)` gives
    assert entities["data"] == {"_entities": [PROD_1, None]}
    assert [(e["path"], e["extensions"]["code"], e["message"]) for e in entities["errors"]] == [
        (["_entities", 1], code, direct["errors"][0]["message"])]
    assert direct["errors"][0]["extensions"]["code"] == code
    assert "250" not in json.dumps(entities)


async def test_a_member_token_resolves_only_itself_and_an_admin_everyone(api, shop, admin_token):
    own = await api(ENTITIES, {"r": [member("m2"), member("m1")]}, member_token("m1"))
    assert own["data"] == {"_entities": [None, M1]}
    assert [(e["path"], e["extensions"]["code"]) for e in own["errors"]] == [(["_entities", 0], "FORBIDDEN")]
    everyone = await api(ENTITIES, {"r": [member("m2"), member("m1"), member("ghost")]}, admin_token)
    assert everyone == {"data": {"_entities": [
        {"__typename": "Member", "externalId": "m2", "points": {"balance": 0}}, M1, None]}}


@pytest.mark.parametrize("representations", [
    [{"__typename": "Order", "externalId": "o1"}],
    [{"__typename": "Product"}],
    [{"externalId": "prod-1"}],
    [{"__typename": "Product", "externalId": "prod-1", "title": "x"}],
    [{"__typename": "Product", "externalId": 7}],
    [{"__typename": "Product", "externalId": ""}],
    [{"__typename": "Product", "externalId": "x" * 256}],
    [{"__typename": "Product", "externalId": "a\u0000b"}],
    ["prod-1"],
    [product(f"p{i}") for i in range(101)],
], ids=["unknown type", "no key", "no typename", "extra field", "number", "empty", "too long", "NUL", "a string",
        "101 of them"])
async def test_malformed_representations_are_bad_user_input(api, shop, representations):
    body = await api(ENTITIES, {"r": representations})
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_entities_cost_counts_each_representation(api, shop):
    # One product's 100 reviews cost ~600 of the 5,000; eight products fit, twenty do not,
    # whether the representations come as a variable (as from a gateway) or written inline.
    selection = "{ ... on Product { reviews(first: 100) { edges { node { rating body title createdAt } } } } }"
    query = "query($r: [_Any!]!) { _entities(representations: $r) " + selection + " }"
    assert "errors" not in await api(query, {"r": [product(f"p{i}") for i in range(8)]})
    costly = await api(query, {"r": [product(f"p{i}") for i in range(20)]})
    assert [e["extensions"]["code"] for e in costly["errors"]] == ["QUERY_TOO_COSTLY"]
    inline = ", ".join(f'{{__typename: "Product", externalId: "p{i}"}}' for i in range(20))
    literal = await api("{ _entities(representations: [" + inline + "]) " + selection + " }")
    assert [e["extensions"]["code"] for e in literal["errors"]] == ["QUERY_TOO_COSTLY"]


# --- trusted documents `require` and the gateway secret ----------------------------------------


async def test_require_mode_runs_other_documents_only_for_the_gateway(app_with, tmp_path, shop):
    client = await app_with(PATRON_TRUSTED_DOCUMENTS="require", PATRON_FEDERATION_GATEWAY_SECRET=SECRET,
                            PATRON_TRUSTED_DOCUMENTS_MANIFEST=manifest_file(tmp_path, "{ tiers { name } }"))
    request = {"query": ENTITIES, "variables": {"r": [product("prod-1")]}}
    # The gateway's generated fetch runs, and its answer is cached for the gateway only:
    for _ in range(2):
        served = await client.post("/graphql", json=request, headers={"patron-gateway-secret": SECRET})
        assert served.json() == {"data": {"_entities": [PROD_1]}}
    refused = await client.post("/graphql", json=request)
    assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    wrong = await client.post("/graphql", json=request, headers={"patron-gateway-secret": SECRET[:-1] + "!"})
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # The secret runs documents, it grants no permission: the forwarded caller's decides.
    anonymous_member = await client.post("/graphql", json={"query": ENTITIES, "variables": {"r": [member("m1")]}},
                                         headers={"patron-gateway-secret": SECRET})
    assert anonymous_member.json()["data"] == {"_entities": [None]}
    assert anonymous_member.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_gateway_header_without_a_configured_secret_is_refused(client):
    response = await client.post("/graphql", json={"query": "{ tiers { name } }"},
                                 headers={"patron-gateway-secret": SECRET})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_short_gateway_secret_stops_the_server(monkeypatch):
    monkeypatch.setenv("PATRON_FEDERATION_GATEWAY_SECRET", "short-secret")
    with pytest.raises(SettingsError, match="PATRON_FEDERATION_GATEWAY_SECRET: String should have at least 32") as raised:
        reload_settings()
    assert "short-secret" not in str(raised.value)  # a secret is never echoed to the logs
    monkeypatch.delenv("PATRON_FEDERATION_GATEWAY_SECRET")
    reload_settings()


# --- a real gateway ------------------------------------------------------------------------------


@pytest.mark.skipif(IS_POSTGRES, reason="process tests run in the SQLite pass")
def test_a_real_apollo_gateway_composes_patron_with_a_commerce_subgraph(tmp_path, monkeypatch):
    node = node_for(FEDERATION)
    monkeypatch.setenv("PATRON_MEMBER_JWT_SECRET", JWT_SECRET)  # member tokens for the started Patron
    reload_settings()
    manifest = manifest_file(tmp_path, SEED)
    with running_patron(tmp_path, PATRON_TRUSTED_DOCUMENTS="require", PATRON_TRUSTED_DOCUMENTS_MANIFEST=manifest,
                        PATRON_FEDERATION_GATEWAY_SECRET=SECRET) as (patron_url, log):
        admin = {"authorization": f"Bearer {ADMIN_KEY}"}
        assert httpx.post(patron_url, json={"query": SEED}, headers=admin).json()["data"]["r"]["errors"] == []
        env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")} | {
            "PATRON_URL": patron_url, "PATRON_GATEWAY_SECRET": SECRET}
        gateway = subprocess.Popen([node, "supergraph.mjs"], cwd=FEDERATION, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            # The URLs, once the supergraph is composed (it fetched Patron's `_service`).
            ready, _, _ = select.select([gateway.stdout], [], [], 90)
            line = gateway.stdout.readline() if ready else ""
            assert line.startswith("{"), f"{line}{gateway.stderr.read() if gateway.poll() is not None else ''}" \
                                         f"\n--- Patron log ---\n{log.read_text()[-3000:]}"
            url = json.loads(line)["gateway"]

            def ask(query: str, token: str | None = None) -> dict:
                headers = {"authorization": f"Bearer {token}"} if token else {}
                response = httpx.post(url, json={"query": query}, headers=headers, timeout=30)
                assert response.status_code == 200, response.text
                return response.json()

            # The title from the commerce subgraph, the reviews from Patron, in one request.
            assert ask("""{ product(externalId: "prod-1") { externalId title
                           reviewSummary { count average } reviews(first: 5) { edges { node { rating body } } } } }""") == {
                "data": {"product": {"externalId": "prod-1", "title": "Trail shoe (commerce)",
                                     "reviewSummary": {"count": 1, "average": 4.0},
                                     "reviews": {"edges": [{"node": {"rating": 4, "body": "Light."}}]}}}}
            loyalty = '{ customer(id: "m1") { email loyalty { externalId points { balance } } } }'
            # A customer's loyalty is the member's: refused to an anonymous caller ...
            anonymous = ask(loyalty)
            assert anonymous["data"] == {"customer": {"email": "m1@shop.example", "loyalty": None}}
            assert [(e["path"], e["extensions"]["code"]) for e in anonymous["errors"]] == [
                (["customer", "loyalty"], "UNAUTHENTICATED")]
            # ... and to another member, served to the member themself.
            other = ask(loyalty, member_token("m2"))
            assert [e["extensions"]["code"] for e in other["errors"]] == ["FORBIDDEN"]
            assert ask(loyalty, member_token("m1")) == {"data": {"customer": {
                "email": "m1@shop.example", "loyalty": {"externalId": "m1", "points": {"balance": 250}}}}}
        finally:
            gateway.terminate()
            gateway.wait(timeout=20)
            gateway.stdout.close()
            gateway.stderr.close()


SEED = """mutation Seed {
  p: upsertProducts(input: [{externalId: "prod-1", title: "Trail shoe"}]) { errors { code } }
  m1: upsertMember(input: {externalId: "m1"}) { errors { code } }
  a: adjustPoints(input: {memberExternalId: "m1", amount: 250, reason: "welcome", idempotencyKey: "k1"}) { errors { code } }
  r: submitReview(input: {memberExternalId: "m1", productExternalId: "prod-1", rating: 4, body: "Light."}) { errors { code } }
}"""
