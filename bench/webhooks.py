"""P7: webhook delivery to a local receiver: deliveries/s and event -> delivery latency.

    .venv/bin/python bench/webhooks.py [--workers 1,2] [--backlog 3000] [--rates 100,500]
                                       [--seconds 4] [--batch N] [--poll-ms N] [--json out.json]

What it does, in one run:
  1. empties (or creates) the bench database (PATRON_BENCH_DB, default patron_bench; never
     `test`), runs `python server.py migrate`; starts the API (uvicorn, 1 worker,
     PATRON_INPROCESS_JOBS=0, so the API process delivers nothing itself) and the receiver
     (bench/webhook_receiver.py: a bare asyncio HTTP server answering 200 at once, checking
     every Standard Webhooks signature), PATRON_WEBHOOK_ALLOWED_HOSTS=127.0.0.1 so the
     SSRF guard lets the deliveries through to loopback;
  2. createWebhookEndpoint(url: http://127.0.0.1:<port>/hook, eventTypes: ["member.*"])
     through GraphQL; the secret goes to the receiver;
  3. for 1 and then 2 `python server.py worker` processes:
       backlog  `backlog` member.created events with their delivery rows inserted in one
                SQL statement while no worker runs, then the workers start: deliveries/s
                from the first to the last arrival (the drain rate);
       rates    events + delivery rows inserted in SQL at each fixed rate/s for `seconds`
                (a batch every 20 ms, created_at = clock_timestamp()), workers running:
                event created_at -> arrival at the receiver, p50/p99/max, and how long
                after the last insert the last one arrived;
       api      upsertMember through GraphQL (8 in flight) for `seconds`: the app writes
                the events and fans them out itself; the same latency figures;
     then the workers stop (SIGTERM);
  4. SQL round trips per delivery: the delivery loop run in this process over 200 due rows;
  5. checks: every delivery row succeeded with one attempt, no event arrived twice, every
     signature verified, the receiver got exactly the events written.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    ADMIN_KEY,
    PYTHON,
    Conn,
    Failure,
    Proc,
    Server,
    SqlCounter,
    app_env,
    bench_db_name,
    build_request,
    classify,
    closed_loop,
    db_url,
    free_port,
    gql,
    gql_body,
    log,
    migrate,
    percentile,
    recreate_db,
    run_loop,
    serving,
    short_sql,
    use_app_dir,
)

use_app_dir()

INSERT_SQL = """
WITH e AS (
  INSERT INTO events (type, payload, created_at)
  SELECT 'member.created', jsonb_build_object('name', 'Bench Member', 'email', NULL, 'birthday', NULL, 'externalId', $2::text || g,
                            'signupChannel', 'bench'),
         clock_timestamp()
  FROM generate_series(1, $3::int) AS g
  RETURNING id, created_at)
INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts, next_attempt_at, created_at)
SELECT $1, id, 'pending', 0, created_at, created_at FROM e
"""


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def receiver_stats(port: int, reset: bool = False) -> list[list[Any]]:
    conn = await Conn.open(port)
    try:
        status, body = await conn.send(build_request("GET", "/stats?reset=1" if reset else "/stats"))
    finally:
        conn.close()
    if status != 200:
        raise Failure(f"receiver stats: HTTP {status}")
    return orjson.loads(body)["received"]


async def wait_for(port: int, expected: int, timeout: float) -> list[list[Any]]:
    """Poll the receiver until `expected` distinct events arrived (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        got = await receiver_stats(port)
        if len({r[1] for r in got}) >= expected or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.2)


def latency_summary(records: list[list[Any]]) -> dict[str, Any]:
    lat = [r[0] - datetime.fromisoformat(r[2]).timestamp() for r in records]
    ids = [r[1] for r in records]
    return {
        "received": len(records), "distinct": len(set(ids)), "duplicates": len(ids) - len(set(ids)),
        "bad_signatures": sum(1 for r in records if r[3] is False),
        "unchecked_signatures": sum(1 for r in records if r[3] is None),
        "p50_ms": round(percentile(lat, 50) * 1000, 1), "p99_ms": round(percentile(lat, 99) * 1000, 1),
        "max_ms": round(max(lat) * 1000, 1) if lat else None,
    }


async def insert_events(db: Any, endpoint_id: int, prefix: str, n: int) -> None:
    await db.execute(INSERT_SQL, endpoint_id, prefix, n)


async def phase_backlog(db: Any, a: argparse.Namespace, endpoint_id: int, rport: int, workers: list[Proc]) -> dict[str, Any]:
    await receiver_stats(rport, reset=True)
    await insert_events(db, endpoint_id, f"bk{len(workers)}-", a.backlog)
    started = time.time()
    for w in workers:
        w.start()
    cpu0 = 0.0  # a new process: its CPU counts from 0
    got = await wait_for(rport, a.backlog, timeout=a.backlog / 50 + 30)
    cpu = sum(cpu_seconds(w.proc.pid) for w in workers if w.proc) - cpu0
    times = sorted(r[0] for r in got)
    distinct = len({r[1] for r in got})
    if distinct < a.backlog:
        log(f"backlog: only {distinct} of {a.backlog} arrived")
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    out = latency_summary(got)
    out.update({
        "events": a.backlog, "first_after_start_s": round(times[0] - started, 2) if times else None,
        "drain_seconds": round(span, 2), "per_second": round((len(times) - 1) / span, 1) if span else None,
        "per_second_from_start": round(len(times) / (times[-1] - started), 1) if times else None,
        "worker_cpu_seconds": round(cpu, 2),
        "worker_cpu_ms_per_delivery": round(cpu * 1000 / max(1, len(times)), 2),
    })
    del out["p50_ms"], out["p99_ms"], out["max_ms"]  # queueing time of a backlog: not a latency
    return out


async def phase_rate(db: Any, a: argparse.Namespace, endpoint_id: int, rport: int, workers: list[Proc],
                     rate: float) -> dict[str, Any]:
    await receiver_stats(rport, reset=True)
    cpu0 = sum(cpu_seconds(w.proc.pid) for w in workers if w.proc)
    interval = 0.02
    per_batch = max(1, round(rate * interval))
    batches = int(a.seconds / interval)
    start = time.perf_counter()
    late = 0
    for k in range(batches):
        delay = start + k * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late += 1
        await insert_events(db, endpoint_id, f"rt{len(workers)}-{rate:.0f}-{k}-", per_batch)
    inserted_in = time.perf_counter() - start
    last_insert = time.time()
    total = batches * per_batch
    got = await wait_for(rport, total, timeout=60)
    cpu = sum(cpu_seconds(w.proc.pid) for w in workers if w.proc) - cpu0
    out = latency_summary(got)
    out.update({"events": total, "offered_per_second": round(total / inserted_in, 1),
                "inserts_behind_schedule": late,
                "last_arrival_after_last_insert_s": round(max(r[0] for r in got) - last_insert, 2) if got else None,
                "worker_cpu_ms_per_delivery": round(cpu * 1000 / max(1, len(got)), 2)})
    return out


async def phase_api(a: argparse.Namespace, app_port: int, rport: int, workers: list[Proc]) -> dict[str, Any]:
    await receiver_stats(rport, reset=True)
    auth = {"authorization": f"Bearer {ADMIN_KEY}"}
    upsert = """mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { created errors { message } } }"""
    tag = f"api{len(workers)}"

    def req(i: int) -> bytes:
        return build_request("POST", "/graphql", gql_body(upsert, {"input": {
            "externalId": f"{tag}-m{i}", "email": f"{tag}-m{i}@example.com", "name": f"Member {i}"}}), auth)

    def check(status: int, body: bytes) -> None:
        data = orjson.loads(body)
        if status != 200 or data.get("errors") or not data["data"]["upsertMember"]["created"]:
            raise Failure(f"upsertMember failed: {body[:300]!r}")

    res = await closed_loop(app_port, req, 8, check, duration=a.seconds)
    last = time.time()
    got = await wait_for(rport, res.count, timeout=60)
    out = latency_summary(got)
    out.update({"events": res.count, "events_per_second": round(res.rate, 1),
                "mutation_p50_ms": round(percentile(res.latencies, 50) * 1000, 1),
                "last_arrival_after_last_mutation_s": round(max(r[0] for r in got) - last, 2) if got else None})
    return out


async def count_statements(db: Any, url: str, endpoint_id: int, rport: int, env: dict[str, str],
                           n: int = 200) -> dict[str, Any]:
    """SQL round trips per delivery: the app's delivery loop run in this process (the same
    code as `server.py worker`) over `n` due rows, asyncpg wrapped (_common.SqlCounter)."""
    for k in ("DATABASE_URL", "PATRON_SECRET_KEY", "PATRON_WEBHOOK_ALLOWED_HOSTS", "PATRON_WEBHOOK_BATCH"):
        if k in env:
            os.environ[k] = env[k]
    from domain import db as app_db
    from domain.settings import reload_settings
    from domain.webhooks.delivery import Deliverer

    reload_settings()
    await app_db.init_orm(url)
    deliverer = Deliverer("bench-count")
    await receiver_stats(rport, reset=True)
    await insert_events(db, endpoint_id, "sql-", n)
    try:
        with SqlCounter() as counter:
            with counter.measure() as stmts:
                done = 0
                while done < n:
                    got = await deliverer.run_once()
                    if not got:
                        break
                    done += got
    finally:
        await deliverer.client.aclose()
        await app_db.close_orm()
    arrived = len({r[1] for r in await receiver_stats(rport, reset=True)})
    c = classify(stmts)
    return {"deliveries": done, "arrived": arrived, **{k: round(v / max(done, 1), 2) for k, v in c.items()},
            "distinct_statements": sorted({short_sql(q) for q in stmts})}


async def measure(app: Server, rport: int, url: str, a: argparse.Namespace, worker_env: dict[str, str],
                  logdir: str) -> dict[str, Any]:
    import asyncpg

    conn = await Conn.open(app.port)
    out = await gql(conn, """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
        endpoint { endpointId enabled } secret errors { field code message } } }""",
                    {"input": {"url": f"http://127.0.0.1:{rport}/hook", "eventTypes": ["member.*"],
                               "description": "bench receiver"}}, ADMIN_KEY)
    conn.close()
    endpoint_id = out["createWebhookEndpoint"]["endpoint"]["endpointId"]
    secret = out["createWebhookEndpoint"]["secret"]
    rc = await Conn.open(rport)
    await rc.send(build_request("POST", "/secret", secret.encode()))
    rc.close()

    db = await asyncpg.connect(url)
    results: dict[str, Any] = {}
    try:
        for n in [int(x) for x in a.workers.split(",")]:
            workers = [Proc([PYTHON, "server.py", "worker"], worker_env, log_path=f"{logdir}/worker-{n}-{i}.log")
                       for i in range(n)]
            try:
                r: dict[str, Any] = {"backlog": await phase_backlog(db, a, endpoint_id, rport, workers)}
                b = r["backlog"]
                log(f"{n} worker(s): backlog {b['events']} drained at {b['per_second']}/s "
                    f"({b['worker_cpu_ms_per_delivery']} ms worker CPU per delivery)")
                r["rates"] = {}
                for rate in [float(x) for x in a.rates.split(",")]:
                    x = r["rates"][f"{rate:g}"] = await phase_rate(db, a, endpoint_id, rport, workers, rate)
                    log(f"{n} worker(s): at {x['offered_per_second']}/s offered: p50 {x['p50_ms']} ms, "
                        f"p99 {x['p99_ms']} ms, max {x['max_ms']} ms, {x['distinct']}/{x['events']} arrived")
                r["api"] = await phase_api(a, app.port, rport, workers)
                x = r["api"]
                log(f"{n} worker(s): via upsertMember at {x['events_per_second']}/s: p50 {x['p50_ms']} ms, "
                    f"p99 {x['p99_ms']} ms, {x['distinct']}/{x['events']} arrived")
            finally:
                for w in workers:
                    w.stop()
            results[str(n)] = r
        statements = await count_statements(db, url, endpoint_id, rport, worker_env)
        log(f"SQL per delivery: {statements['total']} round trips ({statements['queries']} queries)")
        rows = {r["status"]: dict(r) for r in await db.fetch(
            "SELECT status, count(*) AS n, max(attempts) AS max_attempts, count(*) FILTER (WHERE attempts > 1)"
            " AS retried FROM webhook_deliveries GROUP BY status")}
        events = await db.fetchval("SELECT count(*) FROM events WHERE type = 'member.created'")
    finally:
        await db.close()
    return {
        "config": {"workers": a.workers, "backlog": a.backlog, "rates": a.rates, "seconds": a.seconds,
                   "batch": a.batch or "default (100)", "poll_ms": a.poll_ms or "default (250)", "database": url},
        "endpoint_id": endpoint_id,
        "results": results,
        "statements": {k: v for k, v in statements.items()},
        "deliveries_by_status": rows,
        "member_events": events,
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", default="1,2", help="worker process counts to measure, in order")
    p.add_argument("--backlog", type=int, default=3000)
    p.add_argument("--rates", default="100,500", help="events/s inserted in the fixed-rate phases")
    p.add_argument("--seconds", type=float, default=4.0, help="length of each rate phase and of the api phase")
    p.add_argument("--batch", type=int, help="PATRON_WEBHOOK_BATCH for the workers (app default 100)")
    p.add_argument("--poll-ms", type=int, help="PATRON_WEBHOOK_POLL_MS for the workers (app default 250)")
    p.add_argument("--json", help="write the figures here as JSON")
    return p.parse_args(argv)


def run(a: argparse.Namespace) -> dict[str, Any]:
    name = bench_db_name()
    url = db_url(name)
    log(f"webhooks: recreating database {name}")
    run_loop(recreate_db(name))
    migrate(url)
    extra = {"PATRON_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
    if a.batch:
        extra["PATRON_WEBHOOK_BATCH"] = str(a.batch)
    if a.poll_ms:
        extra["PATRON_WEBHOOK_POLL_MS"] = str(a.poll_ms)
    env = app_env(url, **extra)
    app = Server("server:create_app", env)
    rport = free_port()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as logdir:
        receiver = Proc([PYTHON, "-m", "bench.webhook_receiver", "--port", str(rport)], env,
                        log_path=f"{logdir}/receiver.log").start()
        try:
            for _ in range(100):
                try:
                    run_loop(receiver_stats(rport))
                    break
                except OSError:
                    time.sleep(0.1)
            with serving(app):
                out = run_loop(measure(app, rport, url, a, env, logdir))
            out["receiver_cpu_seconds"] = round(cpu_seconds(receiver.proc.pid), 2) if receiver.proc else None
        finally:
            receiver.stop()
        logs = {p.name: p.read_text().splitlines()[-5:] for p in Path(logdir).glob("*.log") if p.stat().st_size}
    out["process_logs_tail"] = logs
    out["wall_seconds"] = round(time.monotonic() - started, 1)
    return out


def report(r: dict[str, Any]) -> str:
    lines = []
    for n, x in r["results"].items():
        b, api = x["backlog"], x["api"]
        rates = "; ".join(f"at {rt['offered_per_second']}/s p50 {rt['p50_ms']} ms p99 {rt['p99_ms']} ms"
                          for rt in x["rates"].values())
        lines.append(f"webhooks, {n} worker(s): backlog drain {b['per_second']}/s; {rates}; via API "
                     f"{api['events_per_second']}/s p50 {api['p50_ms']} ms p99 {api['p99_ms']} ms")
    st = r["statements"]
    lines.append(f"SQL per delivery: {st['total']} round trips ({st['queries']} queries, {st['tx_control']} BEGIN/COMMIT, "
                 f"{st['pool_resets']} pool resets)")
    lines.append(f"deliveries by status: {r['deliveries_by_status']}")
    return "\n".join(lines)


def main() -> None:
    a = parse()
    out = run(a)
    print(report(out))
    if a.json:
        Path(a.json).write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2, default=str))


if __name__ == "__main__":
    main()
