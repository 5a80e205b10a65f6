"""Operations: settings validated at start, request ids and structured logs, Prometheus metrics.

Issue 10, items 7 and 8. Metrics are read the way Prometheus reads them: by parsing /metrics/.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import uvicorn
import websockets
from prometheus_client.parser import text_string_to_metric_families

import server
from domain.jobs import JobRunner
from domain.observability import logs, metrics, scrape
from domain.settings import SettingsError, env_names, reload_settings
from domain.tiers import service as tier_service
from domain.webhooks import delivery as delivery_module
from domain.webhooks.delivery import Deliverer
from tests import helpers
from tests.conftest import IS_POSTGRES, sqlite_pass_only
from tests.receiver import Receiver, Reply

ROOT = Path(__file__).resolve().parent.parent
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


# --- helpers ----------------------------------------------------------------------------------------


async def scraped(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics/ parsed: {(sample name, sorted labels): value}."""
    response = await client.get("/metrics/")
    assert response.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def sample(values: dict, name: str, **labels: str) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    return sample(after, name, **labels) - sample(before, name, **labels)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def receiver():
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


# --- item 7: settings validated at start -------------------------------------------------------------


@sqlite_pass_only
@pytest.mark.parametrize("command", ["migrate", "worker", "serve"])
def test_a_misspelt_setting_stops_the_process_with_one_line(command, tmp_path):
    # given a typo in an enumerated setting (today it silently meant past_due)
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite://{tmp_path}/p.sqlite3",
           "PATRON_DUNNING_OUTCOME": "pasued"}
    # when the process starts
    result = subprocess.run([sys.executable, "server.py", command, "--port", str(free_port())], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    # then it stops at once with one line naming the variable and what it accepts
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "patron: invalid setting PATRON_DUNNING_OUTCOME='pasued': "
        "Input should be 'cancel', 'pause' or 'past_due'"]
    assert not (tmp_path / "p.sqlite3").exists()  # nothing was migrated or served


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("PATRON_REFUND_SPENT_POLICY", "cap", "Input should be 'allow_negative' or 'cap_at_zero'"),
    ("PATRON_INTROSPECTION", "yes", "Input should be 'public', 'authenticated' or 'off'"),
    ("PATRON_ENV", "prod", "Input should be 'development' or 'production'"),
    ("PATRON_LOG_FORMAT", "xml", "Input should be 'text' or 'json'"),
    ("PORT", "70000", "Input should be less than or equal to 65535"),
    ("PATRON_WEBHOOK_BATCH", "0", "Input should be greater than or equal to 1"),
    ("PATRON_RATE_LIMIT_KEY", "-1", "Input should be greater than or equal to 0"),
    ("PATRON_MAX_QUERY_DEPTH", "ten", "Input should be a valid integer, unable to parse string as an integer"),
    ("PATRON_REVIEW_AUTO_PUBLISH", "maybe", "Input should be a valid boolean, unable to interpret input"),
    ("PATRON_INPROCESS_JOBS", "2", "Input should be a valid boolean, unable to interpret input"),
    ("DATABASE_URL", "postgress://db/patron", "String should match pattern '^(sqlite|postgres|postgresql|asyncpg)://'"),
    ("REDIS_URL", "127.0.0.1:6379", "String should match pattern '^(redis|rediss|unix)://'"),
])
def test_each_bad_value_is_refused_naming_the_variable(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        reload_settings()
    assert str(refused.value) == f"patron: invalid setting {name}={value!r}: {expected}"


def test_pattern_checked_instance_name(monkeypatch):
    monkeypatch.setenv("PATRON_INSTANCE", "shop a")  # it names a Redis channel
    with pytest.raises(SettingsError, match="PATRON_INSTANCE='shop a'"):
        reload_settings()


def test_empty_values_mean_the_default_and_typed_values_are_read(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("PATRON_REVIEW_AUTO_PUBLISH", "0")
    monkeypatch.setenv("PATRON_INPROCESS_JOBS", "1")
    monkeypatch.setenv("PATRON_REDIS_TIMEOUT", "0.5")
    monkeypatch.setenv("PATRON_JOB_INTERVAL", "")
    settings = reload_settings()
    assert (settings.redis_url, settings.review_auto_publish, settings.run_jobs_in_process,
            settings.redis_timeout_seconds, settings.job_interval_seconds) == (None, False, True, 0.5, 30)


def _names_in(text: str) -> set[str]:
    return set(re.findall(r"\bPATRON_[A-Z0-9_]*[A-Z0-9]\b", text))


def _readme_configuration_names() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1]))
    return names


def test_every_variable_is_read_in_settings_and_documented():
    # the environment is read in one place only
    sources = [ROOT / "server.py", *(p for d in ("domain", "schema", "web", "resolvers")
                                     for p in (ROOT / d).rglob("*.py"))]
    settings_file = ROOT / "domain" / "settings.py"
    readers = [str(p.relative_to(ROOT)) for p in sources
               if p != settings_file and re.search(r"os\.environ|getenv\(", p.read_text(encoding="utf-8"))]
    assert readers == []
    # every PATRON_* the code names is a setting
    mentioned = set().union(*(_names_in(p.read_text(encoding="utf-8")) for p in sources))
    assert mentioned - env_names() == set()
    # and the README's configuration table lists exactly the settings
    assert _readme_configuration_names() == env_names()


# --- item 8: request ids -----------------------------------------------------------------------------


async def test_a_sane_request_id_is_echoed_on_every_response(client):
    rid = "shop-7f3a.b_9"
    ok = await client.get("/healthz", headers={"x-request-id": rid})
    graphql = await client.post("/graphql", json={"query": "{ tiers { name } }"}, headers={"x-request-id": rid})
    refused = await client.post("/graphql", json={"query": "{ tiers { name } }"},
                                headers={"x-request-id": rid, "authorization": "Bearer not-a-key"})
    wrong_method = await client.put("/graphql", headers={"x-request-id": rid})
    missing = await client.get("/nowhere", headers={"x-request-id": rid})
    assert [(r.status_code, r.headers["x-request-id"]) for r in (ok, graphql, refused, wrong_method, missing)] == [
        (200, rid), (200, rid), (401, rid), (405, rid), (404, rid)]


@pytest.mark.parametrize("incoming", ["x" * 129, "a b", "<script>", "id\\n", "café".encode(), ""])
async def test_an_insane_request_id_is_replaced_by_a_generated_one(client, incoming):
    response = await client.get("/healthz", headers={"x-request-id": incoming})
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


async def test_without_a_request_id_each_response_gets_a_new_one(client):
    first, second = await client.get("/healthz"), await client.get("/healthz")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(GENERATED_ID.fullmatch(i) for i in ids) and ids[0] != ids[1]


async def test_an_unhandled_error_answers_500_with_the_request_id_and_logs_it(monkeypatch, caplog):
    # given a route that fails unexpectedly
    async def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(server, "healthz", broken)
    app = server.create_app(manage_db=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://patron.test") as c:
        with caplog.at_level(logging.ERROR):
            response = await c.get("/healthz", headers={"x-request-id": "req-500"})
    # then the 500 carries the id, and the error was logged with it
    assert (response.status_code, response.headers["x-request-id"]) == (500, "req-500")
    logged = [r for r in caplog.records if getattr(r, "context", {}).get("request_id") == "req-500"]
    assert logged and logged[0].exc_info is not None


# --- item 8: structured logs -------------------------------------------------------------------------


async def test_a_masked_error_is_logged_as_json_with_the_request_id(api, client, monkeypatch, caplog):
    # given a resolver that fails unexpectedly (a server bug: masked for the caller)
    async def broken():
        raise RuntimeError("secret detail")

    monkeypatch.setattr(tier_service, "all_tiers", broken)
    with caplog.at_level(logging.ERROR):
        response = await client.post("/graphql", json={"query": "{ tiers { name } }"},
                                     headers={"x-request-id": "req-masked-1"})
    assert response.json()["errors"][0]["message"] == "Unexpected error."
    # then the log line, in the JSON format, names the request
    records = [r for r in caplog.records if "secret detail" in (r.getMessage() + str(r.exc_info))]
    assert records, caplog.records
    line = json.loads(logs.JsonFormatter().format(records[0]))
    assert line["request_id"] == "req-masked-1"
    assert line["level"] == "ERROR" and line["logger"] and line["message"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    assert "RuntimeError: secret detail" in line["exception"]


def test_text_format_appends_the_context_and_json_is_one_line():
    record = logging.LogRecord("patron.test", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.context = {"request_id": "r1", "job": "expire_points"}
    assert logs.TextFormatter().format(record).endswith("INFO patron.test hello world [request_id=r1 job=expire_points]")
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line) | {"time": None} == {"time": None, "level": "INFO", "logger": "patron.test",
                                                  "message": "hello world", "request_id": "r1", "job": "expire_points"}


@sqlite_pass_only
def test_a_worker_with_json_format_writes_one_json_object_per_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite://{tmp_path}/p.sqlite3", "PYTHONUNBUFFERED": "1",
           "PATRON_LOG_FORMAT": "json", "PATRON_SECRET_KEY_FILE": str(tmp_path / "secret.key")}
    subprocess.run([sys.executable, "server.py", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=120)
    proc = subprocess.Popen([sys.executable, "server.py", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for raw in proc.stdout:  # every line until the start is announced is a JSON object
            lines.append(json.loads(raw))
            if lines[-1]["message"] == "worker started" or len(lines) > 50:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert {"level": "INFO", "logger": "patron", "message": "worker started"}.items() <= lines[-1].items()


async def test_job_logs_carry_the_job_name_and_run_id(monkeypatch, caplog):
    async def chatty(now) -> int:
        logging.getLogger("patron.jobs").info("working")
        return 1

    monkeypatch.setattr("domain.jobs.JOBS", [("ops_test_job", chatty, 3600)])
    with caplog.at_level(logging.INFO, logger="patron.jobs"):
        assert await JobRunner("ops-test").run_due() == {"ops_test_job": 1}
    [record] = [r for r in caplog.records if r.getMessage() == "working"]
    assert record.context["job"] == "ops_test_job"
    assert record.context["job_run_id"].isdigit()


async def test_delivery_logs_carry_the_delivery_and_endpoint_ids(api, admin_token, receiver, monkeypatch, caplog):
    from tests.test_webhooks import endpoint

    endpoint_id, _ = await endpoint(api, admin_token, receiver.script("/hook", Reply(200)), ["member.*"])
    await helpers.member("m1")
    original = delivery_module._attempt

    async def chatty_attempt(*args):
        logging.getLogger("patron.webhooks").info("sending")
        return await original(*args)

    monkeypatch.setattr(delivery_module, "_attempt", chatty_attempt)
    deliverer = Deliverer("ops-test")
    try:
        with caplog.at_level(logging.INFO, logger="patron.webhooks"):
            assert await deliverer.run_once() == 1
    finally:
        await deliverer.client.aclose()
    [record] = [r for r in caplog.records if r.getMessage() == "sending"]
    from domain.webhooks.models import WebhookDelivery
    delivery = await WebhookDelivery.get()
    assert (record.context["delivery_id"], record.context["endpoint_id"]) == (str(delivery.id), str(endpoint_id))


# --- item 8: metrics ---------------------------------------------------------------------------------


async def test_request_latency_is_labelled_by_operation_name_and_status(client):
    before = await scraped(client)
    await client.post("/graphql", json={"query": "query TierList { tiers { name } }"})
    await client.post("/graphql", json={"query": "{ tiers { name } }"})
    await client.post("/graphql", json={"query": "query Real { tiers { name } }", "operationName": "Invented"})
    await client.post("/graphql", json={"query": "query TierList { tiers { name } }"},
                      headers={"authorization": "Bearer not-a-key"})
    after = await scraped(client)
    count = "patron_graphql_request_duration_seconds_count"
    assert moved(before, after, count, operation="TierList", status="200") == 1
    assert moved(before, after, count, operation="anonymous", status="200") == 1
    assert sample(after, count, operation="Invented", status="200") == 0  # a name the document lacks
    assert moved(before, after, count, operation="anonymous", status="401") == 1  # refused before parsing


async def test_answers_from_the_public_cache_have_their_own_label(client):
    from domain.catalog.service import upsert_products

    await upsert_products([{"external_id": "p1", "title": "Shoe"}])
    query = {"query": 'query Product { product(externalId: "p1") { title } }'}
    before = await scraped(client)
    first, second = await client.post("/graphql", json=query), await client.post("/graphql", json=query)
    after = await scraped(client)
    assert (first.headers.get("x-patron-cache"), second.headers.get("x-patron-cache")) == (None, "hit")
    count = "patron_graphql_request_duration_seconds_count"
    assert moved(before, after, count, operation="Product", status="200") == 1
    assert moved(before, after, count, operation="(cached)", status="200") == 1


async def test_operation_names_past_the_cap_count_as_other(client, monkeypatch):
    monkeypatch.setattr(metrics, "_seen", set())
    monkeypatch.setattr(metrics, "MAX_OPERATION_NAMES", 1)
    before = await scraped(client)
    await client.post("/graphql", json={"query": "query First { tiers { name } }"})
    await client.post("/graphql", json={"query": "query Second { tiers { name } }"})
    after = await scraped(client)
    count = "patron_graphql_request_duration_seconds_count"
    assert moved(before, after, count, operation="First", status="200") == 1
    assert moved(before, after, count, operation="other", status="200") == 1
    assert sample(after, count, operation="Second", status="200") == 0


async def test_graphql_errors_are_counted_by_code(client, monkeypatch):
    async def broken():
        raise RuntimeError("bug")

    before = await scraped(client)
    await client.post("/graphql", json={"query": "{ nope }"})
    await client.post("/graphql", json={"query": "{ tiers { name } }"}, headers={"authorization": "Bearer nope"})
    await client.post("/graphql", json={"query": "{ tiers { name "})
    monkeypatch.setattr(tier_service, "all_tiers", broken)
    await client.post("/graphql", json={"query": "{ tiers { name } }"})
    after = await scraped(client)
    name = "patron_graphql_errors_total"
    assert [moved(before, after, name, code=c) for c in
            ("GRAPHQL_VALIDATION_FAILED", "UNAUTHENTICATED", "GRAPHQL_PARSE_FAILED", "INTERNAL_SERVER_ERROR")] == [1, 1, 1, 1]


async def test_db_pool_usage_is_read_on_scrape(client):
    values = await scraped(client)
    name = "patron_db_pool_connections"
    if not IS_POSTGRES:  # SQLite: one connection, no pool to report
        assert sample(values, name, state="max") == 0
        return
    size, idle, cap = (sample(values, name, state=s) for s in ("size", "idle", "max"))
    assert cap >= 1 and 1 <= size <= cap and 0 <= idle <= size


async def test_webhook_outcomes_first_attempt_delay_and_outbox_depth(api, admin_token, receiver, client):
    from tests.test_webhooks import endpoint

    await endpoint(api, admin_token, receiver.script("/ok", Reply(200)), ["member.*"])
    await endpoint(api, admin_token, receiver.script("/down", Reply(503)), ["member.*"])
    await helpers.member("m1")  # one event, two deliveries
    scrape.forget_cache()
    before = await scraped(client)
    assert sample(before, "patron_webhook_outbox_depth") == 2
    deliverer = Deliverer("ops-test")
    try:
        assert await deliverer.run_once() == 2
    finally:
        await deliverer.client.aclose()
    scrape.forget_cache()
    after = await scraped(client)
    name = "patron_webhook_deliveries_total"
    assert (moved(before, after, name, outcome="succeeded"), moved(before, after, name, outcome="retry")) == (1, 1)
    assert moved(before, after, "patron_webhook_first_attempt_delay_seconds_count") == 2
    assert moved(before, after, "patron_webhook_attempt_duration_seconds_count") == 2
    assert sample(after, "patron_webhook_outbox_depth") == 1  # the 503 one waits for its retry


@pytest.fixture
async def served():
    port = free_port()
    instance = uvicorn.Server(uvicorn.Config(server.create_app(manage_db=False), host="127.0.0.1", port=port,
                                             log_level="warning", lifespan="off"))
    task = asyncio.create_task(instance.serve())
    while not instance.started:
        await asyncio.sleep(0.01)
    yield port
    instance.should_exit = True
    await task


async def test_open_subscription_sockets_are_a_gauge(served):
    async def sockets() -> float:
        async with httpx.AsyncClient() as c:
            text = (await c.get(f"http://127.0.0.1:{served}/metrics/")).text
        return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}[
            "patron_subscription_sockets"]

    before = await sockets()
    ws = await websockets.connect(f"ws://127.0.0.1:{served}/graphql", subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
    assert ws.response.headers["x-request-id"]  # the handshake carries a request id too
    assert await sockets() == before + 1
    await ws.close()
    for _ in range(100):  # the server notices the close on its own schedule
        if await sockets() == before:
            break
        await asyncio.sleep(0.05)
    assert await sockets() == before
