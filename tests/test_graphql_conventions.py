"""GraphQL conventions: committed SDL in step, masked unexpected errors, typed input errors."""

from __future__ import annotations

from pathlib import Path

from composition.api import schema as patron_schema
from tests import helpers

ROOT = Path(__file__).resolve().parent.parent


def test_committed_schema_graphql_matches_the_code():
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == patron_schema.as_str() + "\n", (
        "schema.graphql drifted: run `make schema` and review the diff for breaking changes")


async def test_unexpected_errors_are_masked(api, monkeypatch):
    import resolvers.tiers

    async def broken():
        raise RuntimeError("SELECT secret FROM internals")

    monkeypatch.setattr(resolvers.tiers.service, "all_tiers", broken)
    body = await api("{ tiers { name } }")
    assert body["data"] is None
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in str(body)


async def test_bad_cursor_and_negative_first_are_typed_errors(api, admin_token):
    await helpers.member()
    bad_cursor = await api('{ members(first: 5, after: "not-a-cursor") { edges { cursor } } }', token=admin_token)
    assert bad_cursor["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    negative = await api("{ members(first: -1) { edges { cursor } } }", token=admin_token)
    assert negative["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_page_size_is_capped_at_100(api, admin_token):
    from domain.members.service import upsert_member

    for i in range(105):
        await upsert_member(f"m{i:03d}", {})
    data = await api.ok("{ members(first: 100) { edges { node { externalId } } pageInfo { hasNextPage } } }", token=admin_token)
    assert len(data["members"]["edges"]) == 100 and data["members"]["pageInfo"]["hasNextPage"] is True


async def test_oversized_body_is_refused(client):
    response = await client.post("/graphql", content=b"{" + b" " * 1_000_001 + b"}",
                                 headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_metrics_endpoint_counts_requests(client, api):
    from prometheus_client import REGISTRY

    def count(status: str) -> float:
        return REGISTRY.get_sample_value("patron_graphql_requests_total", {"status": status}) or 0.0

    before = count("200"), count("401")
    await api("{ tiers { name } }")
    await api.raw("{ tiers { name } }", token="not-a-key")  # 401: counted as such, not as 200
    text = (await client.get("/metrics/")).text
    assert 'patron_graphql_requests_total{status="401"}' in text
    assert (count("200") - before[0], count("401") - before[1]) == (1, 1)


async def test_public_queries_are_cached_until_the_next_write(api, client, admin_token):
    from domain.catalog.service import upsert_products

    await upsert_products([{"external_id": "p1", "title": "Old"}])
    q = {"query": '{ product(externalId: "p1") { title } }'}
    first = await client.post("/graphql", json=q)
    second = await client.post("/graphql", json=q)
    assert first.json() == second.json() == {"data": {"product": {"title": "Old"}}}
    assert "x-patron-cache" not in first.headers and second.headers["x-patron-cache"] == "hit"
    await upsert_products([{"external_id": "p1", "title": "New"}])
    third = await client.post("/graphql", json=q)
    assert third.json() == {"data": {"product": {"title": "New"}}} and "x-patron-cache" not in third.headers
    # Admin answers are never served from (or stored in) the public cache.
    admin = await client.post("/graphql", json=q, headers={"authorization": f"Bearer {admin_token}"})
    assert "x-patron-cache" not in admin.headers
    # Mutations and error answers are not cached.
    bad = {"query": "{ product(externalId: 1) { nope } }"}
    await client.post("/graphql", json=bad)
    assert "x-patron-cache" not in (await client.post("/graphql", json=bad)).headers
