"""Persisted queries: Apollo's APQ protocol, trusted documents (off | allow | require), GET
answers with Cache-Control, and the bounds on what is stored (web/persisted.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from domain.recommendations.models import Signal
from schema import limits
from schema.response_cache import ResponseCache
from server import create_app
from web.persisted import ManifestError, PersistedQueries, sha256_hex
from web.persisted_store import INDEX, PREFIX, MemoryStore

ROOT = Path(__file__).resolve().parent.parent
NOT_FOUND = [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
TIERS = "query Tiers { tiers { name } }"
INTROSPECTION = "{ __schema { queryType { name } } }"


def unique_query() -> str:
    """A document no earlier test registered (the Redis store outlives a test)."""
    return f"query Q{uuid.uuid4().hex} {{ tiers {{ name }} }}"


def by_hash(text: str, **extra: Any) -> dict[str, Any]:
    return {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(text)}}, **extra}


def get_params(text: str, variables: dict | None = None) -> dict[str, str]:
    params = {"extensions": json.dumps(by_hash(text)["extensions"])}
    if variables is not None:
        params["variables"] = json.dumps(variables)
    return params


def manifest_file(tmp_path: Path, *documents: str, entries: dict | None = None) -> str:
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps(entries if entries is not None else {sha256_hex(d): d for d in documents}))
    return str(path)


# --- Automatic Persisted Queries --------------------------------------------------------------


async def test_unknown_hash_answers_persisted_query_not_found(client):
    # given a document never registered; when it is sent by hash only
    response = await client.post("/graphql", json=by_hash(unique_query()))
    # then Apollo's answer, so the client retries with the text
    assert response.status_code == 200
    assert response.json() == {"data": None, "errors": NOT_FOUND}


async def test_registered_document_runs_by_hash_alone(client):
    text = unique_query()
    registered = await client.post("/graphql", json={"query": text, **by_hash(text)})
    assert registered.status_code == 200 and registered.json() == {"data": {"tiers": []}}
    # when the next request carries only the hash
    response = await client.post("/graphql", json=by_hash(text))
    assert response.status_code == 200 and response.json() == {"data": {"tiers": []}}


async def test_hash_that_is_not_the_texts_is_refused_and_nothing_is_stored(client):
    # given a text registered under another document's hash (hash hijacking)
    victim = unique_query()
    attack = {"query": "{ tiers { name description } }", **by_hash(victim)}
    response = await client.post("/graphql", json=attack)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"message": "provided sha does not match query",
                                          "extensions": {"code": "PERSISTED_QUERY_HASH_MISMATCH"}}]
    # then the victim's hash still resolves to nothing
    assert (await client.post("/graphql", json=by_hash(victim))).json()["errors"] == NOT_FOUND


@pytest.mark.parametrize("persisted, status, code", [
    ({"version": 2, "sha256Hash": "a" * 64}, 400, "BAD_REQUEST"),
    ({"sha256Hash": "a" * 64}, 400, "BAD_REQUEST"),
    ({"version": True, "sha256Hash": "a" * 64}, 400, "BAD_REQUEST"),
    ({"version": 1, "sha256Hash": "not-a-hash"}, 400, "BAD_REQUEST"),
    ({"version": 1, "sha256Hash": ["a" * 64]}, 400, "BAD_REQUEST"),
    ("yes", 400, "BAD_REQUEST"),
], ids=["version 2", "no version", "version true", "not hex", "a list", "not an object"])
async def test_malformed_persisted_query_extension_is_a_coded_4xx(client, persisted, status, code):
    response = await client.post("/graphql", json={"extensions": {"persistedQuery": persisted}})
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == code


async def test_apq_turned_off_answers_not_supported(app_with):
    client = await app_with(PATRON_APQ_MAX_DOCUMENTS="0")
    text = unique_query()
    assert (await client.post("/graphql", json={"query": text, **by_hash(text)})).json() == {"data": {"tiers": []}}
    response = await client.post("/graphql", json=by_hash(text))
    assert response.status_code == 200
    assert response.json()["errors"] == [{"message": "PersistedQueryNotSupported",
                                          "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"}}]


async def test_document_over_the_size_cap_runs_but_is_not_kept(app_with):
    client = await app_with(PATRON_APQ_MAX_DOCUMENT_BYTES="40")
    text = unique_query()  # about 50 bytes
    assert (await client.post("/graphql", json={"query": text, **by_hash(text)})).json() == {"data": {"tiers": []}}
    assert (await client.post("/graphql", json=by_hash(text))).json()["errors"] == NOT_FOUND


async def test_memory_store_keeps_at_most_its_bound_and_evicts_the_least_recently_used():
    store = MemoryStore(max_documents=2)
    await store.put("a", "A")
    await store.put("b", "B")
    assert await store.get("a") == "A"  # a is now the most recently used
    await store.put("c", "C")
    assert len(store) == 2
    assert (await store.get("b"), await store.get("a"), await store.get("c")) == (None, "A", "C")


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (PostgreSQL + Redis pass)")
async def test_redis_store_is_shared_bounded_and_expiring(app_with):
    from domain import changes

    redis = changes._redis()
    await redis.delete(INDEX)
    first = await app_with(PATRON_APQ_MAX_DOCUMENTS="2", PATRON_APQ_TTL="600")
    second = await app_with()  # another process's view: its own LRU is empty
    texts = [unique_query() for _ in range(3)]
    for text in texts:
        assert (await first.post("/graphql", json={"query": text, **by_hash(text)})).status_code == 200
    # then the other app finds the newest ones in Redis, and the oldest was evicted
    assert (await second.post("/graphql", json=by_hash(texts[2]))).json() == {"data": {"tiers": []}}
    assert await redis.zcard(INDEX) == 2
    assert await redis.get(PREFIX + sha256_hex(texts[0])) is None
    assert 0 < await redis.ttl(PREFIX + sha256_hex(texts[2])) <= 600


async def test_mutation_sent_by_hash_is_never_answered_from_the_response_cache(client, storefront_token):
    # given a storefront mutation registered by its text
    text = ('mutation Track { trackEvents(events: [{sessionId: "s-apq", type: VIEW, productExternalId: "p-1"}]) '
            '{ accepted errors { code } } }')
    auth = {"authorization": f"Bearer {storefront_token}"}
    await client.post("/graphql", json={"query": text, **by_hash(text)}, headers=auth)
    # when the same hash-only body is sent twice
    for _ in range(2):
        response = await client.post("/graphql", json=by_hash(text), headers=auth)
        assert response.json() == {"data": {"trackEvents": {"accepted": 1, "errors": []}}}
        assert "x-patron-cache" not in response.headers
    # then it ran each time, and the cache sees the resolved text, which it never keys
    assert await Signal.filter(session_id="s-apq").count() == 3
    resolved = await PersistedQueries(MemoryStore(1), manifest={}).resolve_body(
        json.dumps({"query": text, **by_hash(text)}).encode())
    assert ResponseCache.key(resolved, "key:1") is None


# --- GET, for CDNs ----------------------------------------------------------------------------


async def test_public_get_by_hash_is_cacheable_by_a_cdn(client):
    text = unique_query()
    await client.post("/graphql", json={"query": text, **by_hash(text)})
    response = await client.get("/graphql", params=get_params(text))
    assert response.status_code == 200 and response.json() == {"data": {"tiers": []}}
    assert response.headers["cache-control"] == "public, max-age=60"
    assert response.headers["vary"] == "Authorization"


async def test_get_max_age_is_a_setting_and_zero_makes_every_answer_private(app_with):
    text = unique_query()
    client = await app_with(PATRON_GET_CACHE_MAX_AGE="300")
    assert (await client.get("/graphql", params={"query": text})).headers["cache-control"] == "public, max-age=300"
    client = await app_with(PATRON_GET_CACHE_MAX_AGE="0")
    assert (await client.get("/graphql", params={"query": text})).headers["cache-control"] == "private, no-store"


async def test_get_with_credentials_is_private(client, storefront_token):
    text = unique_query()
    await client.post("/graphql", json={"query": text, **by_hash(text)})
    response = await client.get("/graphql", params=get_params(text),
                                headers={"authorization": f"Bearer {storefront_token}"})
    assert response.json() == {"data": {"tiers": []}}
    assert response.headers["cache-control"] == "private, no-store"


@pytest.mark.parametrize("params", [
    {"query": "{ members(first: 1) { totalCount } }"},  # an error: FORBIDDEN
    {"extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}})},  # not found
    {"query": "{ tiers { name "},  # does not parse
], ids=["forbidden", "not found", "syntax error"])
async def test_get_answers_with_errors_are_private(client, params):
    response = await client.get("/graphql", params=params)
    assert "errors" in response.json()
    assert response.headers["cache-control"] == "private, no-store"


async def test_mutation_by_hash_over_get_is_refused_without_effect(client, storefront_token):
    text = ('mutation TrackGet { trackEvents(events: [{sessionId: "s-get", type: VIEW, productExternalId: "p-1"}]) '
            '{ accepted } }')
    auth = {"authorization": f"Bearer {storefront_token}"}
    await client.post("/graphql", json={"query": text, **by_hash(text)}, headers=auth)
    response = await client.get("/graphql", params=get_params(text), headers=auth)
    assert response.status_code in (400, 405)
    assert response.json()["errors"][0]["extensions"]["code"] in ("BAD_REQUEST", "METHOD_NOT_ALLOWED")
    assert response.headers["cache-control"] == "private, no-store"
    assert await Signal.filter(session_id="s-get").count() == 1  # the registration only


async def test_get_with_variables_by_hash(client):
    text = f"query V{uuid.uuid4().hex}($p: String!) {{ product(externalId: $p) {{ externalId }} }}"
    await client.post("/graphql", json={"query": text, **by_hash(text), "variables": {"p": "nothing"}})
    response = await client.get("/graphql", params=get_params(text, {"p": "nothing"}))
    assert response.json() == {"data": {"product": None}}
    assert response.headers["cache-control"] == "public, max-age=60"


# --- trusted documents ------------------------------------------------------------------------


async def test_allow_runs_a_manifest_document_by_hash_without_registration(app_with, tmp_path):
    client = await app_with(PATRON_TRUSTED_DOCUMENTS="allow", PATRON_TRUSTED_DOCUMENTS_MANIFEST=manifest_file(tmp_path, TIERS))
    by_text = await client.post("/graphql", json={"query": TIERS})
    response = await client.post("/graphql", json=by_hash(TIERS))
    assert response.status_code == 200 and response.json() == by_text.json() == {"data": {"tiers": []}}
    # and other documents still run, and may still be registered
    other = unique_query()
    assert (await client.post("/graphql", json={"query": other, **by_hash(other)})).json() == {"data": {"tiers": []}}
    assert (await client.post("/graphql", json=by_hash(other))).json() == {"data": {"tiers": []}}


@pytest.mark.parametrize("body", [
    {"query": "{ tiers { name } }"},
    {"query": INTROSPECTION},
    {"query": unique_query()},
], ids=["ad-hoc query", "introspection", "another query"])
async def test_require_refuses_a_document_not_in_the_manifest(app_with, tmp_path, body):
    client = await app_with(PATRON_TRUSTED_DOCUMENTS="require", PATRON_TRUSTED_DOCUMENTS_MANIFEST=manifest_file(tmp_path, TIERS))
    response = await client.post("/graphql", json=body)
    assert response.status_code == 200
    assert response.json() == {"data": None, "errors": [{
        "message": "This server runs only trusted documents (PATRON_TRUSTED_DOCUMENTS=require); "
                   "this document is not in its manifest",
        "extensions": {"code": NOT_IN_LIST}}]}


async def test_require_refuses_unknown_hashes_and_registers_nothing(app_with, tmp_path):
    client = await app_with(PATRON_TRUSTED_DOCUMENTS="require", PATRON_TRUSTED_DOCUMENTS_MANIFEST=manifest_file(tmp_path, TIERS))
    text = unique_query()
    registration = await client.post("/graphql", json={"query": text, **by_hash(text)})
    assert registration.json()["errors"][0]["extensions"]["code"] == NOT_IN_LIST
    response = await client.post("/graphql", json=by_hash(text))
    assert response.json()["errors"][0]["extensions"]["code"] == NOT_IN_LIST
    get = await client.get("/graphql", params={"query": text})
    assert get.json()["errors"][0]["extensions"]["code"] == NOT_IN_LIST


async def test_require_runs_a_manifest_document_by_hash_as_by_text(app_with, tmp_path, storefront_token):
    client = await app_with(PATRON_TRUSTED_DOCUMENTS="require", PATRON_TRUSTED_DOCUMENTS_MANIFEST=manifest_file(tmp_path, TIERS))
    by_text = await client.post("/graphql", json={"query": TIERS})
    by_post = await client.post("/graphql", json=by_hash(TIERS))
    by_get = await client.get("/graphql", params=get_params(TIERS))
    assert by_text.json() == by_post.json() == by_get.json() == {"data": {"tiers": []}}
    assert by_get.headers["cache-control"] == "public, max-age=60"


async def test_require_holds_multipart_requests_to_the_manifest(app_with, tmp_path, storefront_token):
    client = await app_with(PATRON_TRUSTED_DOCUMENTS="require", PATRON_TRUSTED_DOCUMENTS_MANIFEST=manifest_file(tmp_path, TIERS))
    form = {"operations": json.dumps({"query": "{ tiers { name } }", "variables": {}}), "map": json.dumps({})}
    # signed in: anonymous multipart requests are refused before their body is read
    response = await client.post("/graphql", data=form, files={"unused": ("a.txt", b"x", "text/plain")},
                                 headers={"authorization": f"Bearer {storefront_token}"})
    assert response.json()["errors"][0]["extensions"]["code"] == NOT_IN_LIST


async def test_trusted_documents_are_not_parsed_or_validated_per_request(app_with, tmp_path, monkeypatch):
    client = await app_with(PATRON_TRUSTED_DOCUMENTS="require", PATRON_TRUSTED_DOCUMENTS_MANIFEST=manifest_file(tmp_path, TIERS))
    calls: list[str] = []
    for name in ("_validate", "limit_errors", "_cached_parse"):
        original = getattr(limits, name)
        monkeypatch.setattr(limits, name, lambda *a, _o=original, _n=name, **k: calls.append(_n) or _o(*a, **k))
    assert (await client.post("/graphql", json=by_hash(TIERS))).json() == {"data": {"tiers": []}}
    assert (await client.post("/graphql", json={"query": TIERS})).json() == {"data": {"tiers": []}}
    assert calls == []


async def test_trusted_introspection_still_needs_its_permission(app_with, tmp_path):
    client = await app_with(PATRON_TRUSTED_DOCUMENTS="require", PATRON_INTROSPECTION="authenticated",
                            PATRON_TRUSTED_DOCUMENTS_MANIFEST=manifest_file(tmp_path, INTROSPECTION))
    response = await client.post("/graphql", json=by_hash(INTROSPECTION))
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("entries, message", [
    ({"0" * 64: TIERS}, "is not the SHA-256 of its document"),
    ({sha256_hex("{ nope }"): "{ nope }"}, "is invalid for this schema: Cannot query field 'nope'"),
    ({sha256_hex("{ tiers "): "{ tiers "}, "does not parse"),
    ({}, "must be a non-empty JSON object"),
    ({"x": 1}, "must map a hash to a document text"),
], ids=["wrong hash", "invalid", "syntax", "empty", "not text"])
async def test_a_bad_manifest_stops_the_app_from_starting(app_with, tmp_path, entries, message):
    with pytest.raises(ManifestError) as raised:
        await app_with(PATRON_TRUSTED_DOCUMENTS="require", PATRON_TRUSTED_DOCUMENTS_MANIFEST=manifest_file(tmp_path, entries=entries))
    assert message in str(raised.value) and "\n" not in str(raised.value)


async def test_apollo_persisted_query_manifest_is_accepted(app_with, tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": sha256_hex(TIERS), "name": "Tiers", "type": "query", "body": TIERS}]}))
    client = await app_with(PATRON_TRUSTED_DOCUMENTS="require", PATRON_TRUSTED_DOCUMENTS_MANIFEST=str(path))
    assert (await client.post("/graphql", json=by_hash(TIERS))).json() == {"data": {"tiers": []}}


def test_serve_refuses_to_start_on_a_bad_manifest_with_one_line(tmp_path):
    env = {**os.environ, "PATRON_TRUSTED_DOCUMENTS": "require", "DATABASE_URL": f"sqlite://{tmp_path}/x.sqlite3",
           "PATRON_TRUSTED_DOCUMENTS_MANIFEST": manifest_file(tmp_path, entries={"0" * 64: TIERS})}
    done = subprocess.run([sys.executable, "server.py", "serve", "--port", "1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("patron: trusted documents manifest ")
    assert "is not the SHA-256 of its document" in done.stderr


async def test_require_refuses_a_subscription_not_in_the_manifest(app_with, tmp_path):
    import asyncio

    import uvicorn
    import websockets

    from tests.test_realtime import free_port

    await app_with(PATRON_TRUSTED_DOCUMENTS="require", PATRON_TRUSTED_DOCUMENTS_MANIFEST=manifest_file(tmp_path, TIERS))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(manage_db=False), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                      "payload": {"query": "subscription { pointsBalanceChanged { balance } }"}}))
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert message["type"] == "error"
        assert [e["extensions"]["code"] for e in message["payload"]] == [NOT_IN_LIST]
    finally:
        server.should_exit = True
        await task


class FailingRedis:
    def pipeline(self, **_: Any) -> Any:
        raise OSError("connection refused")

    async def eval(self, *_: Any) -> Any:
        raise OSError("connection refused")


async def test_redis_store_failing_falls_back_to_this_process_without_raising():
    from web.persisted_store import RedisStore

    failures: list[str] = []
    store = RedisStore(10, 60, FailingRedis, lambda what, exc: failures.append(what), (OSError,))
    await store.put("a" * 64, "{ tiers { name } }")
    assert await store.get("a" * 64) == "{ tiers { name } }"  # from this process's LRU
    assert await store.get("b" * 64) is None
    assert failures == ["APQ write", "APQ read"]


async def test_lone_surrogates_around_a_persisted_query_are_coded_errors_not_500(client):
    # given a registered document, sent by hash with a variable that is not valid Unicode
    text = f"query S{uuid.uuid4().hex}($p: String!) {{ product(externalId: $p) {{ externalId }} }}"
    registered = await client.post("/graphql", json={"query": text, **by_hash(text), "variables": {"p": "x"}})
    assert registered.json() == {"data": {"product": None}}
    body = json.dumps({**by_hash(text), "variables": {"p": "\ud800"}}).encode()
    response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # and a text holding a lone surrogate is never stored
    odd = "{ tiers { name } } # \ud800"
    digest = sha256_hex(odd)
    raw = json.dumps({"query": odd, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}).encode()
    registration = await client.post("/graphql", content=raw, headers={"content-type": "application/json"})
    assert registration.status_code in (200, 400)
    again = await client.post("/graphql", json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}})
    assert again.json()["errors"] == NOT_FOUND
