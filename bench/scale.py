"""Scale run: the periodic jobs, the member API and pagination on a generated 1M-member database.

    # once: the data (see README, benchmarks), then the measurements
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/patron_scale \\
        nice -n 10 .venv/bin/python server.py generate-demo --members 1000000 --orders 3000000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/patron_scale_small \\
        .venv/bin/python server.py generate-demo --members 1000 --orders 3000
    .venv/bin/python bench/scale.py [--only size,jobs,api,pagination,workers] [--json out.json]

Databases: PATRON_SCALE_DB (default patron_scale) and PATRON_SCALE_SMALL_DB (default
patron_scale_small, the 1k-member baseline of the API comparison). Never `test`.
The measurements write to the scale database (jobs release/expire/award, recordOrder adds
orders); re-generate it for a pristine run.

- size: pg_database_size and the largest tables;
- jobs: every job of domain/jobs.py JOBS called directly with the clock at "now", first with
  what is due in the generated data, then again with nothing due; a job still running after
  --job-timeout is stopped and its rate estimated from committed transactions;
- api: member dashboard (bench/dashboard.py's query, member JWT) and recordOrder p50/p99 on
  the big and the small database (closed loop, --concurrency in flight, --seconds each);
- pagination: events / members (admin) and a heavy member's ledger, page 1 vs a cursor 90 %
  deep (keyset: both should cost the same);
- workers: a backlog of --backlog held awards inserted already due, drained by 1 then by 3 `server.py worker`
  processes (hourly jobs pushed out so the drain is what is measured), then every job made
  due once with 3 workers running: job_runs shows how many runs each job got.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    ADMIN_KEY,
    FORBIDDEN_DBS,
    PYTHON,
    Failure,
    Proc,
    Server,
    app_env,
    build_request,
    closed_loop,
    db_url,
    gql_body,
    log,
    machine,
    percentile,
    run_loop,
    serving,
    use_app_dir,
)

use_app_dir()

import jwt  # noqa: E402

from bench._common import JWT_SECRET  # noqa: E402
from bench.dashboard import DASHBOARD  # noqa: E402

SECTIONS = ("size", "jobs", "api", "pagination", "workers")
RECORD_ORDER = """mutation($input: RecordOrderInput!) { recordOrder(input: $input) {
  pointsAwarded errors { message } } }"""
EVENTS = """query($after: String) { events(first: 20, after: $after) { edges { cursor node { id type } } } }"""
MEMBERS = """query($after: String) { members(first: 20, after: $after) { edges { cursor node { externalId } } } }"""
LEDGER = """query($after: String) { me { ledger(first: 20, after: $after) { edges { cursor node { amount } } } } }"""


def member_token(external_id: str) -> str:
    """What domain.auth.service.issue_member_token signs (iat is required), with the bench secret."""
    now = int(time.time())
    return jwt.encode({"sub": external_id, "iat": now, "exp": now + 3600}, JWT_SECRET, algorithm="HS256")


def db_name(env: str, default: str) -> str:
    name = os.environ.get(env, default)
    if name in FORBIDDEN_DBS or not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing to use database {name!r}")
    return name


async def pg(url: str):  # noqa: ANN201
    import asyncpg

    return await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))


# --- size -----------------------------------------------------------------------------------


async def size(url: str) -> dict[str, Any]:
    conn = await pg(url)
    try:
        total = await conn.fetchval("SELECT pg_database_size(current_database())")
        tables = await conn.fetch("""SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes,
            c.reltuples::bigint AS rows FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC LIMIT 10""")
        counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("members", "orders")}
    finally:
        await conn.close()
    return {"database_mb": round(total / 2**20), "counts": counts,
            "tables": [{"name": r["name"], "mb": round(r["bytes"] / 2**20), "rows": r["rows"]} for r in tables]}


# --- jobs -----------------------------------------------------------------------------------


async def _commits(conn: Any) -> int:
    return int(await conn.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))


async def _time_job(name: str, job: Any, timeout: float, watch: Any) -> dict[str, Any]:
    from domain import clock

    before = await _commits(watch)
    started = time.monotonic()
    try:
        result = await asyncio.wait_for(job(clock.now()), timeout)
        return {"seconds": round(time.monotonic() - started, 3), "items": int(result)}
    except TimeoutError:
        elapsed = time.monotonic() - started
        commits = await _commits(watch) - before
        return {"seconds": None, "stopped_after": round(elapsed, 1), "commits": commits,
                "commits_per_s": round(commits / elapsed, 1)}


# Jobs that do the same full work on every run (no "due" set): timed once, in the due pass.
FULL_WORK = {"tier_review", "train_recommender"}


async def jobs(url: str, timeout: float, train_timeout: float, skip: set[str]) -> dict[str, Any]:
    from domain import db
    from domain.jobs import JOBS

    await db.init_orm(url)
    watch = await pg(url)
    out: dict[str, Any] = {}
    # Training last: a build stopped by the timeout keeps running in its child process.
    ordered = sorted(JOBS, key=lambda j: j[0] == "train_recommender")
    try:
        for label in ("due", "nothing_due"):
            for name, job, every in ordered:
                if name in skip or (label == "nothing_due" and name in FULL_WORK):
                    continue
                limit = train_timeout if name == "train_recommender" else timeout
                r = await _time_job(name, job, limit, watch)
                r["period_s"] = every or 30
                out.setdefault(name, {})[label] = r
                log(f"job {name} ({label}): {r}")
    finally:
        await watch.close()
        await db.close_orm()
    return out


# --- API ------------------------------------------------------------------------------------


def _ok(status: int, body: bytes) -> None:
    data = orjson.loads(body)
    if status != 200 or data.get("errors") or any(isinstance(v, dict) and v.get("errors")
                                                   for v in (data.get("data") or {}).values()):
        raise Failure(f"call failed ({status}): {body[:300]!r}")


async def _sample(url: str) -> tuple[list[str], list[tuple[str, str]]]:
    conn = await pg(url)
    try:
        members = [r[0] for r in await conn.fetch(
            "SELECT external_id FROM members TABLESAMPLE SYSTEM_ROWS(400)"
            if await conn.fetchval("SELECT count(*) > 0 FROM pg_extension WHERE extname = 'tsm_system_rows'")
            else "SELECT external_id FROM members WHERE id % 97 = 0 ORDER BY id LIMIT 400")]
        products = [(r[0], r[1]) for r in await conn.fetch(
            "SELECT external_id, categories ->> 0 FROM products ORDER BY id LIMIT 200")]
    finally:
        await conn.close()
    return members, products


async def api_side(url: str, seconds: float, concurrency: int, tag: str) -> dict[str, Any]:
    members, products = await _sample(url)
    server = Server("server:create_app", app_env(url))
    rng = random.Random(7)
    auth = {"authorization": f"Bearer {ADMIN_KEY}"}
    tokens = {m: member_token(m) for m in members}

    def dashboard(i: int) -> bytes:
        m = members[i % len(members)]
        return build_request("POST", "/graphql", gql_body(DASHBOARD), {"authorization": f"Bearer {tokens[m]}"})

    def order(i: int) -> bytes:
        m = members[rng.randrange(len(members))]
        lines = [{"sku": f"sku-{p}", "productExternalId": p, "category": c, "quantity": 1,
                  "unitPrice": 100 + rng.randrange(2000)} for p, c in rng.sample(products, 2)]
        return build_request("POST", "/graphql", gql_body(RECORD_ORDER, {"input": {
            "externalId": f"bench-{tag}-{time.time_ns()}-{i}", "memberExternalId": m, "currency": "USD",
            "placedAt": "2026-01-15T10:00:00+00:00", "lines": lines}}), auth)

    out = {}
    with serving(server):
        await closed_loop(server.port, dashboard, concurrency, _ok, count=100)  # warm-up
        for name, make in (("dashboard", dashboard), ("recordOrder", order)):
            r = await closed_loop(server.port, make, concurrency, _ok, duration=seconds)
            out[name] = r.summary()
            log(f"{tag} {name}: {out[name]}")
    return out


async def api(big: str, small: str, seconds: float, concurrency: int, rounds: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"big": [], "small": []}
    for _ in range(rounds):  # alternate, so a busy moment on the shared machine hits both
        runs["small"].append(await api_side(small, seconds, concurrency, "small"))
        runs["big"].append(await api_side(big, seconds, concurrency, "big"))
    out: dict[str, Any] = {}
    for side, results in runs.items():
        for op in ("dashboard", "recordOrder"):
            p99s = [r[op]["p99_ms"] for r in results]
            out.setdefault(op, {})[side] = {"p99_ms_median": sorted(p99s)[len(p99s) // 2],
                                           "p50_ms": [r[op]["p50_ms"] for r in results],
                                           "per_second": [r[op]["per_second"] for r in results]}
    for op, sides in out.items():
        sides["ratio_p99"] = round(sides["big"]["p99_ms_median"] / sides["small"]["p99_ms_median"], 2)
    return out


# --- pagination -----------------------------------------------------------------------------


async def pagination(url: str, repeat: int) -> dict[str, Any]:
    from bench._common import Conn

    conn = await pg(url)
    try:
        bounds = {t: await conn.fetchrow(f"SELECT min(id) AS lo, max(id) AS hi FROM {t}") for t in ("events", "members")}
        heavy = await conn.fetchrow("""SELECT m.external_id, count(*) AS n FROM ledger_entries e
            JOIN members m ON m.id = e.member_id GROUP BY m.external_id ORDER BY n DESC LIMIT 1""")
        ledger_ids = [r[0] for r in await conn.fetch(
            "SELECT e.id FROM ledger_entries e JOIN members m ON m.id = e.member_id WHERE m.external_id = $1"
            " ORDER BY e.id", heavy["external_id"])]
    finally:
        await conn.close()
    from schema.pagination import encode_cursor

    def deep(table: str) -> str:  # newest first: 90 % deep = a key 10 % above the oldest
        lo, hi = bounds[table]["lo"], bounds[table]["hi"]
        return encode_cursor(f"Query.{table}", [lo + (hi - lo) // 10])

    cases = {
        "events": (EVENTS, ADMIN_KEY, deep("events")),
        "members": (MEMBERS, ADMIN_KEY, deep("members")),
        "ledger": (LEDGER, member_token(heavy["external_id"]),
                   encode_cursor("Member.ledger", [ledger_ids[len(ledger_ids) // 10]])),
    }
    server = Server("server:create_app", app_env(url))
    out: dict[str, Any] = {"ledger_member_entries": heavy["n"]}
    with serving(server):
        c = await Conn.open(server.port)
        try:
            for name, (query, token, cursor) in cases.items():
                for label, after in (("page1", None), ("deep90", cursor)):
                    raw = build_request("POST", "/graphql", gql_body(query, {"after": after}),
                                        {"authorization": f"Bearer {token}"})
                    times = []
                    for _ in range(repeat):
                        t0 = time.perf_counter()
                        status, body = await c.send(raw)
                        times.append(time.perf_counter() - t0)
                        _ok(status, body)
                    out.setdefault(name, {})[label] = {"p50_ms": round(percentile(times, 50) * 1000, 2),
                                                       "p99_ms": round(percentile(times, 99) * 1000, 2)}
                log(f"pagination {name}: {out[name]}")
        finally:
            c.close()
    return out


# --- N workers ------------------------------------------------------------------------------

async def _reset_jobs(conn: Any, hourly_due: bool) -> None:
    """Every job registered, no lease held (stopped workers leave theirs), the frequent jobs due,
    the hourly ones due or pushed an hour out."""
    from domain.jobs import job_periods

    for name, period in job_periods().items():
        await conn.execute("""INSERT INTO job_states (name, period_seconds, next_run_at, lease_token)
            VALUES ($1, $2, now(), 0) ON CONFLICT (name) DO NOTHING""", name, period)
    await conn.execute("""UPDATE job_states SET lease_owner = NULL, lease_until = NULL,
        next_run_at = CASE WHEN period_seconds >= 600 AND NOT $1 THEN now() + interval '1 hour'
                           ELSE now() - interval '1 second' END""", hourly_due)


async def _make_backlog(conn: Any, size: int) -> None:
    """`size` held awards already due, for members spread over the table, with each member's
    points_pending raised by the same amount (the ledger invariant holds; releasing them is the
    work). Fresh rows each time, so the run can be repeated on the same database."""
    tag = f"bench-backlog-{time.time_ns()}"
    async with conn.transaction():
        await conn.execute("""
            WITH picked AS (
                SELECT m.id AS member_id, n FROM generate_series(1, $1) n
                JOIN members m ON m.id = (SELECT min(id) FROM members) + (n * 7919) % (SELECT count(*) FROM members)),
            made AS (
                INSERT INTO awards (amount, reversed, status, reason, source_type, source_id, idempotency_key,
                                    rule_id, details, release_at, created_at, member_id)
                SELECT 10, 0, 'held', 'Scale bench backlog', 'bench', $2 || '-' || n, $2 || '-' || n, NULL, NULL,
                       now() - interval '1 minute', now() - interval '15 days', member_id FROM picked
                RETURNING member_id, amount)
            UPDATE members m SET points_pending = points_pending + t.total
            FROM (SELECT member_id, sum(amount) AS total FROM made GROUP BY member_id) t WHERE m.id = t.member_id
            """, size, tag)


async def _due(conn: Any) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM awards WHERE status = 'held' AND release_at <= now()"))


async def _wait_up(conn: Any, n: int, since: Any, limit: float = 90) -> None:
    """Until each of the n workers has run a job (they take seconds to import on a busy machine)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await conn.fetchval("SELECT count(DISTINCT worker) FROM job_runs WHERE started_at >= $1", since) >= n:
            return
        await asyncio.sleep(0.5)
    log(f"not every worker ran a job within {limit} s; measuring anyway")


def _workers(url: str, n: int, tick: int, logs: Path) -> list[Proc]:
    env = app_env(url, PATRON_JOB_INTERVAL=str(tick))
    return [Proc([PYTHON, "server.py", "worker"], env, str(logs / f"worker{i}.log")).start() for i in range(n)]


async def workers(url: str, counts: list[int], tick: int, timeout: float, hourly_window: float,
                  backlog_size: int) -> dict[str, Any]:
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "patron-scale-workers"
    logs.mkdir(exist_ok=True)
    conn = await pg(url)
    out: dict[str, Any] = {"tick_s": tick}
    try:
        # The hourly jobs pushed out of the way: the drain is what is measured.
        for n in counts:
            await _reset_jobs(conn, hourly_due=False)
            since = await conn.fetchval("SELECT now()")
            procs = _workers(url, n, tick, logs)
            try:
                await _wait_up(conn, n, since)  # the clock starts with every worker running
                await _make_backlog(conn, backlog_size)
                backlog = await _due(conn)
                started = time.monotonic()
                while await _due(conn) and time.monotonic() - started < timeout:
                    await asyncio.sleep(0.5)
                elapsed = time.monotonic() - started
                left = await _due(conn)
            finally:
                for p in procs:
                    p.stop()
            out[f"{n}_workers"] = {"backlog": backlog, "seconds": round(elapsed, 1), "left": left,
                                   "per_second": round((backlog - left) / elapsed, 1)}
            log(f"workers {n}: {out[f'{n}_workers']}")
        # Each job due once, 3 workers running for `hourly_window` seconds: runs started per job.
        since = await conn.fetchval("SELECT now()")
        await _reset_jobs(conn, hourly_due=True)
        procs = _workers(url, 3, tick, logs)
        try:
            await asyncio.sleep(hourly_window)
        finally:
            for p in procs:
                p.stop()
        rows = await conn.fetch("""SELECT s.name, s.period_seconds, count(r.id) AS runs,
                count(DISTINCT r.worker) AS workers FROM job_states s
            LEFT JOIN job_runs r ON r.name = s.name AND r.started_at >= $1
            WHERE s.period_seconds >= 600 GROUP BY s.name, s.period_seconds ORDER BY s.name""", since)
        out["hourly_runs"] = {r["name"]: {"period_s": r["period_seconds"], "runs": r["runs"]} for r in rows}
        out["hourly_window_s"] = hourly_window
        log(f"hourly runs in {hourly_window} s with 3 workers: {out['hourly_runs']}")
    finally:
        await conn.close()
    return out


# --- report ---------------------------------------------------------------------------------


def _fmt_job(r: dict[str, Any] | None) -> str:
    if not r:
        return "–"
    if r.get("seconds") is None:
        # xact_commit counts every autocommitted query too: database transactions, not items
        return f"stopped after {r['stopped_after']} s ({r['commits_per_s']} database transactions/s)"
    return f"{r['seconds']:.2f} s ({r['items']:,} items)"


def _job_verdict(r: dict[str, Any]) -> str:
    period = r.get("due", r.get("nothing_due", {})).get("period_s", 30)
    worst = [x.get("seconds") for x in r.values()]
    if any(w is None for w in worst):
        return "**NOT met** (did not finish)"
    nothing = r.get("nothing_due", {}).get("seconds")
    if period <= 60 and nothing is not None and nothing >= 5:
        return "**NOT met** (≥ 5 s with nothing due)"
    return "met" if max(worst) < period / 2 else "**NOT met** (over half its period)"


def markdown(r: dict[str, Any], command: str) -> str:
    """The "Scale" section of bench/RESULTS.md (run_all.py --render appends results/scale.md)."""
    m = r["machine"]
    size_line = ""
    if "size" in r:
        c = r["size"]["counts"]
        size_line = f"{c['members']:,} members, {c['orders']:,} orders"
    lines = [f"## Scale: 1M members (`bench/scale.py`) — measured at {size_line or 'see below'}", "",
             f"_Measured {r['started']} UTC; `{command}`; took {r['took_s']} s; load average before / after "
             f"{m['loadavg']} / {r['machine_after']['loadavg']}; busiest processes before: {m['busiest']}._", "",
             "Data: `server.py generate-demo` (domain/demo_scale.py; distributions in its docstring). "
             "Full size: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/patron_scale nice -n 10 "
             ".venv/bin/python server.py generate-demo --members 1000000 --orders 3000000`; 1k baseline: "
             "the same with `patron_scale_small --members 1000 --orders 3000`.", ""]
    if "size" in r:
        s = r["size"]
        lines += [f"Database size: **{s['database_mb']:,} MB**. Largest tables:", "",
                  "| table | MB (with indexes) | rows (estimate) |", "|---|---:|---:|"]
        lines += [f"| {t['name']} | {t['mb']:,} | {t['rows']:,} |" for t in s["tables"]]
        lines.append("")
    if "jobs" in r:
        lines += ["Periodic jobs, each called directly (domain/jobs.py JOBS) with the clock at now: first with "
                  "what the generated data has due, then again with nothing due. Target: well inside the period "
                  "(here: under half of it), the 30-s jobs under 5 s with nothing due.", "",
                  "| job | period | due set | nothing due | verdict |", "|---|---:|---|---|---|"]
        for name, v in r["jobs"].items():
            period = v.get("due", v.get("nothing_due", {})).get("period_s", 30)
            lines.append(f"| {name} | {period} s | {_fmt_job(v.get('due'))} | {_fmt_job(v.get('nothing_due'))} "
                         f"| {_job_verdict(v)} |")
        lines.append("")
    if "api" in r:
        lines += ["Member API: dashboard (bench/dashboard.py's query, member JWT, random sampled members) and "
                  "recordOrder (2 lines, admin key, random members), closed loop, alternating big/small databases. "
                  "Target: p99 at the big size within 1.5× the 1k-member p99.", "",
                  "| operation | p99 big (median of rounds) | p99 1k members | ratio | p50 big / small | req/s big / small | verdict |",
                  "|---|---:|---:|---:|---|---|---|"]
        for op, v in r["api"].items():
            verdict = "met" if v["ratio_p99"] <= 1.5 else "**NOT met**"
            lines.append(f"| {op} | {v['big']['p99_ms_median']} ms | {v['small']['p99_ms_median']} ms | "
                         f"{v['ratio_p99']}× | {v['big']['p50_ms']} / {v['small']['p50_ms']} | "
                         f"{v['big']['per_second']} / {v['small']['per_second']} | {verdict} |")
        lines.append("")
    if "pagination" in r:
        p = r["pagination"]
        lines += [f"Pagination, first: 20, one request at a time: page 1 vs a cursor 90 % deep (ledger: the member "
                  f"with the most entries, {p['ledger_member_entries']:,}). Keyset pages should cost the same.", "",
                  "| list | page 1 p50 / p99 | 90 % deep p50 / p99 | verdict |", "|---|---|---|---|"]
        for name in ("events", "members", "ledger"):
            a, b = p[name]["page1"], p[name]["deep90"]
            flat = b["p50_ms"] <= max(2 * a["p50_ms"], a["p50_ms"] + 5)
            lines.append(f"| {name} | {a['p50_ms']} / {a['p99_ms']} ms | {b['p50_ms']} / {b['p99_ms']} ms | "
                         f"{'flat: met' if flat else '**NOT flat**'} |")
        lines.append("")
    if "workers" in r:
        w = r["workers"]
        lines += [f"N workers (`server.py worker`, PATRON_JOB_INTERVAL={w['tick_s']}): a backlog of held awards "
                  "already due, drained by `release_pending_points`, hourly jobs pushed out during "
                  "the drain. Target: 3 workers drain ~3× faster.", "",
                  "| workers | backlog | seconds | left | awards/s |", "|---:|---:|---:|---:|---:|"]
        for key, v in w.items():
            if key.endswith("_workers"):
                lines.append(f"| {key.split('_')[0]} | {v['backlog']:,} | {v['seconds']} | {v['left']:,} | "
                             f"{v['per_second']} |")
        runs = w.get("hourly_runs", {})
        lines += ["", f"Every job made due once, 3 workers for {w.get('hourly_window_s')} s: runs started per job "
                  "with a period ≥ 10 min (target: 1 each): "
                  + ", ".join(f"{k} {v['runs']}" for k, v in runs.items()) + ".", ""]
    return "\n".join(lines)


def report(r: dict[str, Any]) -> str:
    lines = [f"machine: {r['machine']}"]
    for key in SECTIONS:
        if key in r:
            lines.append(f"{key}: {orjson.dumps(r[key], option=orjson.OPT_INDENT_2).decode()}")
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    p.add_argument("--job-timeout", type=float, default=120)
    p.add_argument("--train-timeout", type=float, default=300)
    p.add_argument("--skip-jobs", default="", help="comma-separated job names not to run (e.g. train_recommender)")
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--workers", default="1,3")
    p.add_argument("--tick", type=int, default=2, help="PATRON_JOB_INTERVAL of the worker processes")
    p.add_argument("--drain-timeout", type=float, default=300)
    p.add_argument("--backlog", type=int, default=8000, help="held awards made due per worker count")
    p.add_argument("--hourly-window", type=float, default=60)
    p.add_argument("--json")
    p.add_argument("--markdown", help="write the RESULTS.md section here (bench/results/scale.md is appended "
                                      "by `bench/run_all.py --render`)")
    return p.parse_args(argv)


def run(a: argparse.Namespace) -> dict[str, Any]:
    big = db_url(db_name("PATRON_SCALE_DB", "patron_scale"))
    small = db_url(db_name("PATRON_SCALE_SMALL_DB", "patron_scale_small"))
    only = set(a.only.split(","))
    r: dict[str, Any] = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    t0 = time.monotonic()
    if "size" in only:
        r["size"] = run_loop(size(big))
    if "jobs" in only:
        r["jobs"] = run_loop(jobs(big, a.job_timeout, a.train_timeout, set(filter(None, a.skip_jobs.split(",")))))
    if "api" in only:
        r["api"] = run_loop(api(big, small, a.seconds, a.concurrency, a.rounds))
    if "pagination" in only:
        r["pagination"] = run_loop(pagination(big, a.repeat))
    if "workers" in only:
        r["workers"] = run_loop(workers(big, [int(n) for n in a.workers.split(",")], a.tick,
                                        a.drain_timeout, a.hourly_window, a.backlog))
    r["machine_after"] = {"loadavg": machine()["loadavg"]}
    r["took_s"] = round(time.monotonic() - t0)
    return r


def main() -> None:
    a = parse()
    with contextlib.suppress(KeyboardInterrupt):
        r = run(a)
        print(report(r))
        if a.json:
            Path(a.json).write_text(orjson.dumps(r, option=orjson.OPT_INDENT_2).decode())
        if a.markdown:
            Path(a.markdown).write_text(markdown(r, "bench/scale.py " + " ".join(sys.argv[1:])) + "\n")


if __name__ == "__main__":
    main()
