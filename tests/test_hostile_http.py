"""Issue 9, the HTTP edge: body limits while streaming, malformed requests, Redis trouble,
oversized headers, forwarded addresses, bootstrap races, metrics and the offline GraphiQL.

Everything goes through the real ASGI app; a few cases start a real uvicorn process
(SQLite pass only, like tests/test_server_process.py)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import socket
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest
from prometheus_client import REGISTRY
from strawberry.http.ides import get_graphql_ide_html

from domain import changes
from domain.auth import service as auth
from domain.auth.models import ApiKey
from domain.settings import reload_settings
from server import create_app
from tests.conftest import IS_POSTGRES
from tests.test_realtime import served  # noqa: F401  (a real uvicorn on this process's app)
from web import graphiql

JSON = {"content-type": "application/json"}
TIERS = b'{"query": "{ tiers { name } }"}'


def _bad_request(response: httpx.Response, status: int = 400, code: str = "BAD_REQUEST") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == code, body


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A body without Content-Length: httpx sends it with Transfer-Encoding: chunked."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


def _multipart(operations: str, files_map: str, files: dict[str, tuple[str, bytes, str]] | None = None) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://patron.test/graphql", data={"operations": operations, "map": files_map},
                            files=files or {"0": ("a.jpg", b"abc", "image/jpeg")})
    return request.read(), request.headers["content-type"]


# --- finding 2: the body limit holds for chunked bodies --------------------------------


async def test_chunked_json_body_past_the_limit_is_refused_and_not_executed(client, admin_token):
    # Given a valid mutation padded past 1 MB and sent chunked (no Content-Length)
    mutation = json.dumps({"query": 'mutation { createTier(input: {name: "Gold", rank: 5}) { errors { code } } }'})
    body = mutation[:-1].encode() + b" " * 1_100_000 + b"}"
    # When it is posted
    response = await client.post("/graphql", content=_chunks(body),
                                 headers=JSON | {"authorization": f"Bearer {admin_token}"})
    # Then 413 with a JSON error, and nothing was written
    _bad_request(response, 413, "REQUEST_TOO_LARGE")
    tiers = await client.post("/graphql", json={"query": "{ tiers { name } }"})
    assert tiers.json() == {"data": {"tiers": []}}


async def test_chunked_json_body_within_the_limit_is_served(client):
    response = await client.post("/graphql", content=_chunks(TIERS[:-1] + b" " * 500_000 + b"}"), headers=JSON)
    assert response.status_code == 200 and response.json() == {"data": {"tiers": []}}


async def test_chunked_multipart_body_past_its_own_limit_is_refused(client, monkeypatch, storefront_token):
    # Given a multipart limit of 30 KB (body 10 KB + one 10 KB video + one 10 KB photo)
    for name in ("PATRON_MAX_BODY_BYTES", "PATRON_VIDEO_MAX_BYTES", "PATRON_PHOTO_MAX_BYTES"):
        monkeypatch.setenv(name, "10000")
    reload_settings()
    ops = json.dumps({"query": "mutation($f: Upload) { __typename }", "variables": {"f": None}})
    small, small_type = _multipart(ops, '{"0": ["variables.f"]}', {"0": ("a.jpg", b"x" * 15_000, "image/jpeg")})
    large, large_type = _multipart(ops, '{"0": ["variables.f"]}', {"0": ("a.jpg", b"x" * 40_000, "image/jpeg")})
    # When both are sent chunked, then the one past 30 KB is a 413 and the other passes the limit
    # anonymous uploads are refused unread (401); an admin's multipart body may be an import file
    # (PATRON_IMPORT_MAX_MB), so the media limit is checked with a storefront key
    signed_in = {"authorization": f"Bearer {storefront_token}"}
    _bad_request(await client.post("/graphql", content=_chunks(large, 4096),
                                   headers={"content-type": large_type} | signed_in), 413, "REQUEST_TOO_LARGE")
    assert (await client.post("/graphql", content=_chunks(small, 4096),
                              headers={"content-type": small_type} | signed_in)).status_code == 200
    # And a JSON body keeps the smaller limit
    _bad_request(await client.post("/graphql", content=_chunks(TIERS[:-1] + b" " * 15_000 + b"}"), headers=JSON),
                 413, "REQUEST_TOO_LARGE")


# --- finding 3: malformed requests are a JSON 400, never a 500 -------------------------

OPS = json.dumps({"query": "mutation($media: [Upload!]) { __typename }", "variables": {"media": [None]}})
MALFORMED_JSON_BODIES = {
    "invalid utf-8 ff": b"\xff",
    "invalid utf-8 c3 28": b'{"query": "\xc3\x28"}',
    "overlong utf-8 c0 af": b'{"query": "{ tiers { name } }", "x": "\xc0\xaf"}',
    "utf-16 bom": '{"query": "{ tiers { name } }"}'.encode("utf-16"),
    "100k deep array unclosed": b"[" * 100_000,
    "100k deep array": b"[" * 100_000 + b"]" * 100_000,
    "100k deep object": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "deep variables": b'{"query": "{ tiers { name } }", "variables": {"v": ' + b"[" * 500 + b"]" * 500 + b"}}",
    "bare number": b"1",
    "bare string": b'"{ tiers { name } }"',
    "null": b"null",
    "true": b"true",
    "empty": b"",
    "whitespace": b"   ",
    "truncated": TIERS[:-3],
    "empty object": b"{}",
    "empty batch": b"[]",
    "batch": b"[" + TIERS + b"]",
    "query not a string": b'{"query": 1}',
    "query a list": b'{"query": ["{ tiers { name } }"]}',
    "variables a list": b'{"query": "{ tiers { name } }", "variables": []}',
    "variables a string": b'{"query": "{ tiers { name } }", "variables": "{}"}',
    "extensions a number": b'{"query": "{ tiers { name } }", "extensions": 1}',
    "nan": b'{"query": "{ tiers { name } }", "variables": {"a": NaN}}',
    "nul byte": b'{"query": "{ tiers\x00 { name } }"',
}


@pytest.mark.parametrize("body", MALFORMED_JSON_BODIES.values(), ids=MALFORMED_JSON_BODIES.keys())
async def test_malformed_json_body_is_a_json_400(client, body):
    _bad_request(await client.post("/graphql", content=body, headers=JSON))


MALFORMED_MULTIPART = {
    "map past the list": (OPS, '{"0": ["variables.media.5"]}'),
    "map as a list": (OPS, '[["variables.media.0"]]'),
    "map entry a string": (OPS, '{"0": "variables.media.0"}'),
    "map path a number": (OPS, '{"0": [0]}'),
    "map names a missing file": (OPS, '{"1": ["variables.media.0"]}'),
    "map path not an index": (OPS, '{"0": ["variables.media.x"]}'),
    "map path outside variables": (OPS, '{"0": ["query"]}'),
    "map path is variables": (OPS, '{"0": ["variables"]}'),
    "map path into a non-null value": (json.dumps({"query": "{ __typename }", "variables": {"a": "x"}}), '{"0": ["variables.a"]}'),
    "map path through a string": (json.dumps({"query": "{ __typename }", "variables": {"a": "x"}}), '{"0": ["variables.a.0"]}'),
    "map a number": (OPS, "1"),
    "map null": (OPS, "null"),
    "map not json": (OPS, "{"),
    "map invalid utf-8": (OPS, b"\xff".decode("latin-1")),
    "operations a list": ('[{"query": "{ tiers { name } }"}]', "{}"),
    "operations a number": ("1", "{}"),
    "operations not json": ("{", "{}"),
    "operations query a number": ('{"query": 1}', "{}"),
    "operations deep": ('{"query": "{ __typename }", "variables": {"a": ' + "[" * 100 + "]" * 100 + "}}", "{}"),
}


@pytest.mark.parametrize("fields", MALFORMED_MULTIPART.values(), ids=MALFORMED_MULTIPART.keys())
async def test_malformed_multipart_request_is_a_json_400(client, fields, admin_token):
    body, content_type = _multipart(*fields)
    _bad_request(await client.post("/graphql", content=body, headers={"content-type": content_type,
                                                                      "authorization": f"Bearer {admin_token}"}))


async def test_multipart_without_operations_or_with_a_bad_boundary_is_a_json_400(client, admin_token):
    body, content_type = _multipart(OPS, '{"0": ["variables.media.0"]}')
    signed_in = {"authorization": f"Bearer {admin_token}"}
    _bad_request(await client.post("/graphql", content=body.replace(b'name="operations"', b'name="other"'),
                                   headers={"content-type": content_type} | signed_in))
    _bad_request(await client.post("/graphql", content=b"garbage",
                                   headers={"content-type": "multipart/form-data; boundary=xyz"} | signed_in))
    _bad_request(await client.post("/graphql", content=b"garbage", headers={"content-type": "multipart/form-data"} | signed_in))


BAD_GET = {
    "variables not json": "query={tiers{name}}&variables={",
    "variables a number": "query={tiers{name}}&variables=1",
    "variables deep": "query={tiers{name}}&variables=" + "[" * 3000,
    "variables invalid utf-8": "query={tiers{name}}&variables=%FF%FE",
    "extensions a list": "query={tiers{name}}&extensions=[1]",
    "mutation over GET": "query=mutation{__typename}",
    "empty query": "query=",
}


@pytest.mark.parametrize("params", BAD_GET.values(), ids=BAD_GET.keys())
async def test_get_with_bad_parameters_is_a_json_400(client, params):
    _bad_request(await client.get(f"/graphql?{params}", headers={"accept": "application/json"}))


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
async def test_other_methods_are_a_json_405(client, method):
    response = await client.request(method, "/graphql", content=TIERS, headers=JSON)
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    if method != "HEAD":
        _bad_request(response, 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/graphql",
                                          "", "multipart/mixed; boundary=x", "application/json; charset=latin1"])
async def test_any_content_type_gets_a_json_answer(client, content_type):
    response = await client.post("/graphql", content=b"\xff" + TIERS, headers={"content-type": content_type})
    _bad_request(response)


BAD_HEADERS = {
    "authorization not utf-8": ([(b"authorization", b"Bearer \xff\xfe")], 401, "UNAUTHENTICATED"),
    "jwt with a bad segment": ([(b"authorization", b"Bearer a.\xff.c")], 401, "UNAUTHENTICATED"),
    "jwt alg none": ([(b"authorization", b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")], 401, "UNAUTHENTICATED"),
    "basic scheme": ([(b"authorization", b"Basic abc")], 401, "UNAUTHENTICATED"),
    "bearer alone": ([(b"authorization", b"Bearer")], 401, "UNAUTHENTICATED"),
    "nul token": ([(b"authorization", b"Bearer \x00")], 401, "UNAUTHENTICATED"),
    "negative content-length": ([(b"content-length", b"-1")], 400, "BAD_REQUEST"),
    "content-length not a number": ([(b"content-length", b"1e3")], 400, "BAD_REQUEST"),
    "multipart boundary not utf-8": ([(b"content-type", b'multipart/form-data; boundary="\xff"')], 400, "BAD_REQUEST"),
}


@pytest.mark.parametrize("headers,status,code", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
async def test_malformed_headers_get_a_json_4xx(client, headers, status, code, admin_token):
    if not any(name == b"content-type" for name, _ in headers):
        headers = [(b"content-type", b"application/json")] + headers
    elif not any(name == b"authorization" for name, _ in headers):  # multipart: anonymous is refused unread
        headers = [(b"authorization", f"Bearer {admin_token}".encode())] + headers
    _bad_request(await client.post("/graphql", content=TIERS, headers=headers), status, code)


async def test_mutated_requests_never_give_a_5xx():
    """Fuzz: 300 random byte edits of valid JSON and multipart requests, every answer JSON < 500."""
    rng = random.Random(9)
    app = create_app(manage_db=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a crash shows as a 500
    multipart, multipart_type = _multipart(OPS, '{"0": ["variables.media.0"]}')
    seeds = [(TIERS, "application/json"), (b'{"query": "query($a: Int) { tiers { name } }", "variables": {"a": [1, {"b": 2}]}}',
                                            "application/json"), (multipart, multipart_type)]
    async with httpx.AsyncClient(transport=transport, base_url="http://patron.test") as client:
        for _ in range(300):
            body, content_type = rng.choice(seeds)
            data = bytearray(body)
            for _ in range(rng.randint(1, 6)):
                pos = rng.randrange(len(data))
                action = rng.random()
                if action < 0.4:
                    data[pos] = rng.randrange(256)
                elif action < 0.7:
                    data[pos:pos] = bytes([rng.choice(b'[]{}",:\\\xff\xc0\x00')]) * rng.randint(1, 2000)
                else:
                    del data[pos:pos + rng.randint(1, 20)]
            response = await client.post("/graphql", content=bytes(data), headers={"content-type": content_type})
            assert response.status_code < 500, (bytes(data[:200]), response.text)
            assert response.headers["content-type"].startswith("application/json"), response.text


# --- finding 6: Redis pool exhaustion, Redis down or slow ------------------------------


@pytest.fixture
async def fresh_redis():
    """A new client per test (the pool size and URL come from settings at creation)."""
    from domain import redis_client

    await changes.close()
    redis_client.reset()
    yield
    await changes.close()
    redis_client.reset()


@pytest.mark.skipif(not __import__("os").environ.get("REDIS_URL"), reason="needs REDIS_URL (PostgreSQL + Redis pass)")
async def test_many_concurrent_requests_share_a_tiny_redis_pool(client, monkeypatch, fresh_redis):
    # Given a pool of 2 connections and the anonymous limit on (so every request uses Redis)
    monkeypatch.setenv("PATRON_REDIS_MAX_CONNECTIONS", "2")
    monkeypatch.setenv("PATRON_RATE_LIMIT_ANONYMOUS", "100000")
    reload_settings()
    # When 300 anonymous queries run at once
    responses = await asyncio.gather(*[client.post("/graphql", json={"query": "{ tiers { name } }"}) for _ in range(300)])
    # Then every one is answered (they waited for a connection instead of failing)
    assert [r.status_code for r in responses] == [200] * 300
    assert all(r.json() == {"data": {"tiers": []}} for r in responses)
    assert changes._redis().connection_pool.max_connections == 2


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: connecting is refused


async def test_requests_are_served_when_redis_is_unreachable(client, monkeypatch, fresh_redis, admin_token, caplog):
    # Given REDIS_URL pointing at a closed port, limits on
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{_closed_port()}/0")
    monkeypatch.setenv("PATRON_RATE_LIMIT_ANONYMOUS", "100000")
    monkeypatch.setenv("PATRON_RATE_LIMIT_KEY", "100000")
    reload_settings()
    # When anonymous queries and an admin mutation (which bumps the change counter and
    # publishes an event) are sent
    queries = [await client.post("/graphql", json={"query": "{ tiers { name } }"}) for _ in range(3)]
    created = await client.post("/graphql", json={"query": 'mutation { createTier(input: {name: "Gold", rank: 1}) { tier { name } errors { code } } }'},
                                headers={"authorization": f"Bearer {admin_token}"})
    after = await client.post("/graphql", json={"query": "{ tiers { name } }"})
    # Then all are served, the write is visible at once, and the trouble is logged
    assert [r.status_code for r in queries] == [200, 200, 200]
    assert created.status_code == 200 and created.json() == {"data": {"createTier": {"tier": {"name": "Gold"}, "errors": []}}}
    assert after.json() == {"data": {"tiers": [{"name": "Gold"}]}}
    assert any("working without Redis" in r.getMessage() for r in caplog.records)


async def test_requests_are_served_when_redis_never_answers(client, monkeypatch, fresh_redis):
    # Given a "Redis" that accepts connections and never replies, and a 0.2 s timeout
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    monkeypatch.setenv("PATRON_REDIS_TIMEOUT", "0.2")
    monkeypatch.setenv("PATRON_RATE_LIMIT_ANONYMOUS", "100000")
    reload_settings()
    try:
        # When queries are sent, then they are answered
        responses = [await client.post("/graphql", json={"query": "{ tiers { name } }"}) for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert responses[-1].json() == {"data": {"tiers": []}}
    finally:
        await changes.close()
        server.close()


async def test_rate_limit_still_counts_in_memory_while_redis_is_down(monkeypatch, fresh_redis):
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{_closed_port()}/0")
    monkeypatch.setenv("PATRON_RATE_LIMIT_ANONYMOUS", "2")
    reload_settings()
    app = create_app(manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://patron.test") as client:
        statuses = [(await client.post("/graphql", content=TIERS, headers=JSON)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


# --- weak: oversized Authorization header ----------------------------------------------


async def test_oversized_authorization_header_is_refused_without_parsing(client, monkeypatch):
    import server

    async def must_not_run(header: str | None) -> None:
        raise AssertionError("authenticate() was called")

    monkeypatch.setattr(server, "authenticate", must_not_run)
    response = await client.post("/graphql", content=TIERS, headers=JSON | {"authorization": "Bearer " + "a" * 9000})
    _bad_request(response, 431, "REQUEST_HEADER_TOO_LARGE")


# --- weak: X-Forwarded-For is believed only from trusted proxies -----------------------


async def _statuses_with_rotating_forwarded_for(n: int) -> list[int]:
    app = create_app(manage_db=False)
    peer = f"127.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"  # a fresh count in Redis
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(peer, 5000)),
                                 base_url="http://patron.test") as client:
        return [(await client.post("/graphql", content=TIERS, headers=JSON | {"x-forwarded-for": f"203.0.113.{i}"})).status_code
                for i in range(n)]


async def test_rotating_forwarded_for_does_not_escape_the_anonymous_limit(monkeypatch):
    monkeypatch.setenv("PATRON_RATE_LIMIT_ANONYMOUS", "2")
    reload_settings()
    assert await _statuses_with_rotating_forwarded_for(3) == [200, 200, 429]


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(monkeypatch):
    monkeypatch.setenv("PATRON_RATE_LIMIT_ANONYMOUS", "2")
    monkeypatch.setenv("PATRON_TRUSTED_PROXIES", "127.0.0.0/8")
    reload_settings()
    assert await _statuses_with_rotating_forwarded_for(3) == [200, 200, 200]  # three clients behind the proxy


def test_uvicorn_does_not_trust_forwarded_headers_itself():
    from web import proxies

    options = proxies.uvicorn_options("127.0.0.1", 8000)
    assert options["proxy_headers"] is False and options["forwarded_allow_ips"] == ""


# --- weak: two processes bootstrapping the same admin key at once ----------------------


async def test_bootstrap_admin_key_is_idempotent_under_concurrent_starts():
    results = await asyncio.gather(*[auth.ensure_admin_key("bootstrap-race-key") for _ in range(8)],
                                   return_exceptions=True)
    assert results == [None] * 8
    assert await ApiKey.filter(key_hash=auth.hash_key("bootstrap-race-key")).count() == 1


async def test_bootstrap_admin_key_twice_in_a_row_makes_one_key():
    assert await auth.ensure_admin_key("bootstrap-twice") is None
    assert await auth.ensure_admin_key("bootstrap-twice") is None
    assert await ApiKey.all().count() == 1


# --- wrong behaviour: metrics count the real status -----------------------------------


def _count(status: str) -> float:
    return REGISTRY.get_sample_value("patron_graphql_requests_total", {"status": status}) or 0.0


async def test_metrics_count_each_real_status(client):
    before = {s: _count(s) for s in ("200", "400", "401", "413")}
    await client.post("/graphql", content=TIERS, headers=JSON)
    await client.post("/graphql", content=TIERS, headers=JSON | {"authorization": "Bearer not-a-key"})
    await client.post("/graphql", content=b"\xff", headers=JSON)
    await client.post("/graphql", content=_chunks(b" " * 1_100_000), headers=JSON)
    text = (await client.get("/metrics/")).text
    assert 'patron_graphql_requests_total{status="401"}' in text
    assert {s: _count(s) - before[s] for s in before} == {"200": 1, "400": 1, "401": 1, "413": 1}


# --- wrong behaviour: GraphiQL works offline ---------------------------------------------


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.integrity: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href"):
            if found.get(name) and not found[name].startswith("data:"):  # inline: no fetch
                self.urls.append(found[name])
                self.integrity[found[name]] = found.get("integrity")


async def test_graphiql_page_loads_every_asset_from_patron(client):
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    parser = _Assets()
    parser.feed(page.text)
    assert len(parser.urls) == 7, parser.urls
    assert all(url.startswith("/static/graphiql/") for url in parser.urls), parser.urls
    assert "unpkg.com" not in page.text and "https://" not in page.text.split("<script>")[0]
    for url in parser.urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        expected = "text/css" if url.endswith(".css") else "javascript"
        assert expected in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > 500
        # byte-identical to the npm release strawberry's template pins: its Subresource
        # Integrity hash (kept on the local URL) is what the browser checks before running it
        digest = base64.b64encode(hashlib.sha384(asset.content).digest()).decode()
        assert parser.integrity[url] == f"sha384-{digest}", url


async def test_graphiql_page_prefills_the_authorization_header(client):
    page = (await client.get("/graphql", headers={"accept": "text/html"})).text
    assert f"const patronDefaultHeaders = {json.dumps(graphiql.DEFAULT_HEADERS)};" in page
    assert json.loads(graphiql.DEFAULT_HEADERS) == {"Authorization": "Bearer "}
    assert "fetcher: patronFetcher,\n          defaultHeaders: patronDefaultHeaders," in page


def test_graphiql_refuses_a_changed_strawberry_template():
    """The prefill edits anchors in strawberry's page: a template without them must fail at
    the first render, not serve a page that sends the empty bearer placeholder."""
    template = get_graphql_ide_html(graphql_ide="graphiql")
    with pytest.raises(RuntimeError, match="'fetcher: fetcher,' is not there once"):
        graphiql.localise(template.replace("fetcher: fetcher,", "fetcher,"))
    assert "patronFetcher" in graphiql.localise(template)


# --- a real uvicorn process: chunked body and forwarded addresses ------------------------


@pytest.mark.skipif(IS_POSTGRES, reason="process tests run in the SQLite pass")
def test_real_server_refuses_a_chunked_body_and_ignores_forwarded_for(tmp_path):
    from tests.test_server_process import free_port, start, stop, wait_ready

    port = free_port()
    proc = start(tmp_path / "patron.sqlite3", port, PATRON_RATE_LIMIT_ANONYMOUS="3")
    try:
        wait_ready(port)
        url = f"http://127.0.0.1:{port}/graphql"

        def chunks():
            for _ in range(40):
                yield b" " * 65536  # 2.6 MB, no Content-Length

        big = httpx.post(url, content=chunks(), headers=JSON, timeout=30)
        assert big.status_code == 413 and big.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
        statuses = [httpx.post(url, content=TIERS, headers=JSON | {"x-forwarded-for": f"198.51.100.{i}"}).status_code
                    for i in range(3)]
        assert statuses == [200, 200, 429]  # the 413 counted too: same client whatever it claims
    finally:
        stop(proc)


# --- the same decoding on the WebSocket ---------------------------------------------------


async def test_websocket_message_nested_too_deep_closes_with_4400(served):
    import websockets

    async with websockets.connect(f"ws://127.0.0.1:{served}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
        await ws.send('{"type": "subscribe", "id": "1", "payload": ' + "[" * 100_000 + "]" * 100_000 + "}")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == 4400


async def test_recommender_trains_and_serves_when_redis_is_unreachable(api, monkeypatch, fresh_redis, admin_token):
    # Given REDIS_URL pointing at a closed port
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{_closed_port()}/0")
    reload_settings()
    from domain.recommendations import training

    training.forget()
    # When the model is trained (it cannot be published to Redis) and read back
    trained = await api("mutation { trainRecommender { items } }", token=admin_token)
    served = await api('{ recommendations(context: HOME, first: 3) { personalized items { product { externalId } } } }',
                       token=admin_token)
    # Then both answer without errors: the model lives in this process's memory
    assert "errors" not in trained and "errors" not in served, (trained, served)
    assert await training.current() is not None
