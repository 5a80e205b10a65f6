"""P8: GraphQL subscription fan-out, 2 API processes via Redis, 1,000 sockets.

    .venv/bin/python bench/subscriptions.py [--sockets 1000] [--stages 1x10,2x20,5x25,10x40]
                                            [--json out.json]

What it does, in one run:
  1. empties (or creates) the bench database (PATRON_BENCH_DB, default patron_bench; never
     `test`), runs `python server.py migrate`, and restarts its events id sequence at
     1,000,000,000: with a shared Redis (PATRON_BENCH_REDIS), events other users publish on
     the app's channel (the test suite) are told apart by their ids and ignored;
  2. starts a private `redis-server` on a free port (no persistence) unless PATRON_BENCH_REDIS
     names one, and 2 API processes (uvicorn, 1 worker each) with REDIS_URL pointing at it;
  3. opens `sockets` websockets (graphql-transport-ws, no compression, no client pings),
     half on each process; each sends connection_init {"Authorization": "Bearer <admin
     key>"} and subscribes to
        subscription { events(types: ["member.*"]) { id type } }
  4. probes: one upsertMember at a time until every socket has received a probe event
     (so every subscription is registered before measuring);
  5. for each stage RATExCOUNT: COUNT upsertMember mutations (each writes one
     member.created event) sent to process A on a fixed schedule of RATE per second;
     every socket records when each event arrived;
  6. latency of every (socket, event) pair, from the moment the mutation was sent
     (publish -> receive), and from the event's created_at (written in the transaction),
     p50/p99/max over all pairs, per process; pairs that never arrived are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    ADMIN_KEY,
    REDIS_BENCH,
    Conn,
    Failure,
    Proc,
    Server,
    app_env,
    bench_db_name,
    build_request,
    db_url,
    free_port,
    gql_body,
    log,
    migrate,
    percentile,
    raise_fd_limit,
    recreate_db,
    run_loop,
    serving,
    use_app_dir,
)

use_app_dir()

SUBSCRIPTION = 'subscription { events(types: ["member.*"]) { id type } }'
UPSERT = """mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { created errors { message } } }"""
FIRST_ID = 1_000_000_000


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    """One websocket: graphql-transport-ws, one subscription, arrivals recorded."""

    def __init__(self, port: int, server: str) -> None:
        self.port, self.server = port, server
        self.arrivals: dict[int, float] = {}
        self.foreign = 0
        self.errors: list[str] = []
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        import websockets

        self.ws = await websockets.connect(
            f"ws://127.0.0.1:{self.port}/graphql", subprotocols=["graphql-transport-ws"],
            compression=None, ping_interval=None, open_timeout=60, max_queue=None)
        await self.ws.send(orjson.dumps({"type": "connection_init",
                                         "payload": {"Authorization": f"Bearer {ADMIN_KEY}"}}).decode())
        ack = orjson.loads(await asyncio.wait_for(self.ws.recv(), 60))
        if ack.get("type") != "connection_ack":
            raise Failure(f"no connection_ack: {ack}")
        await self.ws.send(orjson.dumps({"id": "1", "type": "subscribe",
                                         "payload": {"query": SUBSCRIPTION, "variables": {}}}).decode())
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        import websockets

        try:
            async for raw in self.ws:
                now = time.time()
                msg = orjson.loads(raw)
                if msg.get("type") == "next":
                    data = (msg.get("payload") or {}).get("data") or {}
                    ev = data.get("events")
                    if ev is None:
                        self.errors.append(str(msg)[:200])
                    elif ev["id"] >= FIRST_ID:
                        self.arrivals.setdefault(ev["id"], now)
                    else:
                        self.foreign += 1
                elif msg.get("type") in ("error", "complete"):
                    self.errors.append(str(msg)[:200])
                elif msg.get("type") == "ping":
                    await self.ws.send('{"type":"pong"}')
        except websockets.ConnectionClosed as exc:
            self.errors.append(f"closed: {exc}")

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        if self.ws is not None:
            await self.ws.close()


async def open_all(clients: list[Client], parallel: int = 50) -> float:
    start = time.perf_counter()
    sem = asyncio.Semaphore(parallel)

    async def one(c: Client) -> None:
        async with sem:
            await c.open()

    await asyncio.gather(*(one(c) for c in clients))
    return time.perf_counter() - start


async def mutate(conn: Conn, external_id: str) -> None:
    auth = {"authorization": f"Bearer {ADMIN_KEY}"}
    status, body = await conn.send(build_request("POST", "/graphql", gql_body(UPSERT, {"input": {
        "externalId": external_id, "email": f"{external_id}@example.com", "name": "Sub Scriber"}}), auth))
    data = orjson.loads(body)
    if status != 200 or data.get("errors") or not data["data"]["upsertMember"]["created"]:
        raise Failure(f"upsertMember failed: {body[:300]!r}")


async def event_ids(url: str, external_ids: list[str]) -> dict[str, tuple[int, float]]:
    import asyncpg

    db = await asyncpg.connect(url)
    try:
        rows = await db.fetch(
            "SELECT id, payload->>'externalId' AS ext, created_at FROM events"
            " WHERE type = 'member.created' AND payload->>'externalId' = ANY($1::text[])", external_ids)
    finally:
        await db.close()
    return {r["ext"]: (r["id"], r["created_at"].timestamp()) for r in rows}


async def probe(port: int, url: str, clients: list[Client], tries: int = 5) -> dict[str, Any]:
    """Send probe events until every socket has seen one (subscriptions registered)."""
    conn = await Conn.open(port)
    try:
        for k in range(tries):
            ext = f"probe-{k}"
            await mutate(conn, ext)
            eid = (await event_ids(url, [ext]))[ext][0]
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                missing = sum(1 for c in clients if eid not in c.arrivals)
                if not missing:
                    return {"probes": k + 1, "not_receiving": 0}
                await asyncio.sleep(0.1)
            log(f"probe {k}: {missing} sockets have not received it yet")
    finally:
        conn.close()
    return {"probes": tries, "not_receiving": missing}


async def stage(port: int, url: str, clients: list[Client], rate: float, count: int, tag: str,
                pids: dict[str, int]) -> dict[str, Any]:
    conns = [await Conn.open(port) for _ in range(32)]  # mutations in flight at most
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
    client_cpu0 = time.process_time()

    async def one(i: int, conn: Conn) -> None:
        ext = f"{tag}-{i}"
        sent[ext] = time.time()
        await mutate(conn, ext)
        answered[ext] = time.time()
        conns.append(conn)

    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        while not conns:
            await asyncio.sleep(0.001)
        tasks.append(asyncio.create_task(one(i, conns.pop())))
    await asyncio.gather(*tasks)
    published_in = time.perf_counter() - start
    for c in conns:
        c.close()
    ids = await event_ids(url, list(sent))
    if len(ids) != count:
        raise Failure(f"{len(ids)} events written for {count} mutations")
    wanted = {eid for eid, _ in ids.values()}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(wanted <= c.arrivals.keys() for c in clients):
            break
        await asyncio.sleep(0.1)
    waited = time.monotonic() - (deadline - 30)
    cpu = {k: round(cpu_seconds(p) - cpu0[k], 2) for k, p in pids.items()}
    client_cpu = round(time.process_time() - client_cpu0, 2)

    by_server: dict[str, dict[str, list[float]]] = {}
    missing = 0
    for c in clients:
        d = by_server.setdefault(c.server, {"send": [], "created": [], "answered": []})
        for ext, (eid, created) in ids.items():
            t = c.arrivals.get(eid)
            if t is None:
                missing += 1
                continue
            d["send"].append(t - sent[ext])
            d["created"].append(t - created)
            d["answered"].append(t - answered[ext])

    def stats(values: list[float]) -> dict[str, float]:
        return {"p50_ms": round(percentile(values, 50) * 1000, 1), "p99_ms": round(percentile(values, 99) * 1000, 1),
                "max_ms": round(max(values) * 1000, 1) if values else float("nan"), "pairs": len(values)}

    every = {k: [v for d in by_server.values() for v in d[k]] for k in ("send", "created", "answered")}
    per_event = []  # in publishing order: mutation ms, then arrival p50 / max over the sockets, ms from send
    for ext in sorted(sent, key=sent.get):
        eid = ids[ext][0]
        lat = [c.arrivals[eid] - sent[ext] for c in clients if eid in c.arrivals]
        per_event.append([round((answered[ext] - sent[ext]) * 1000, 1), round(percentile(lat, 50) * 1000, 1),
                          round(max(lat) * 1000, 1) if lat else None])
    mutation_ms = [answered[e] - sent[e] for e in sent]
    return {
        "rate": rate, "events": count, "sockets": len(clients), "published_in_s": round(published_in, 2),
        "offered_per_second": round(count / published_in, 2), "deliveries_expected": count * len(clients),
        "missing": missing, "all_arrived_after_s": round(waited, 2),
        "from_send": stats(every["send"]), "from_created_at": stats(every["created"]),
        "from_mutation_answer": stats(every["answered"]),
        "per_server_from_send": {k: stats(v["send"]) for k, v in sorted(by_server.items())},
        "per_event_ms": per_event,
        "mutation_p50_ms": round(percentile(mutation_ms, 50) * 1000, 1),
        "mutation_p99_ms": round(percentile(mutation_ms, 99) * 1000, 1),
        "messages_per_second": round(count * len(clients) / max(published_in, 1e-9), 1),
        "server_cpu_seconds": cpu, "client_cpu_seconds": client_cpu,
        # CPU per message = per (event, socket) pair, both processes together (includes the mutation on A)
        "server_cpu_ms_per_message": round(sum(cpu.values()) * 1000 / max(1, count * len(clients)), 3),
    }


async def measure(a_srv: Server, b_srv: Server, url: str, a: argparse.Namespace, redis_url: str) -> dict[str, Any]:
    clients = [Client(a_srv.port if i % 2 == 0 else b_srv.port, "A" if i % 2 == 0 else "B") for i in range(a.sockets)]
    took = await open_all(clients)
    log(f"{a.sockets} sockets open and subscribed in {took:.1f} s")
    probed = await probe(a_srv.port, url, clients)
    log(f"probes: {probed}")
    pids = {"A": a_srv.proc.pid, "B": b_srv.proc.pid}  # type: ignore[union-attr]
    stages = []
    for k, spec in enumerate(a.stages.split(",")):
        rate, count = spec.split("x")
        s = await stage(a_srv.port, url, clients, float(rate), int(count), f"s{k}", pids)
        stages.append(s)
        log(f"stage {spec}: publish->receive p50 {s['from_send']['p50_ms']} ms, p99 {s['from_send']['p99_ms']} ms, "
            f"max {s['from_send']['max_ms']} ms; missing {s['missing']}; server CPU {s['server_cpu_seconds']}, "
            f"client CPU {s['client_cpu_seconds']} s")
    errors = [e for c in clients for e in c.errors]
    foreign = sum(c.foreign for c in clients)
    for c in clients:
        await c.close()
    return {
        "config": {"sockets": a.sockets, "stages": a.stages, "redis": redis_url,
                   "redis_private": REDIS_BENCH is None, "database": url,
                   "subscription": SUBSCRIPTION},
        "open_seconds": round(took, 2),
        "probe": probed,
        "stages": stages,
        "socket_errors": len(errors), "socket_error_samples": errors[:5],
        "foreign_messages_ignored": foreign,
    }


async def wait_redis(url: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(url, socket_connect_timeout=1)
    try:
        for _ in range(100):
            try:
                if await client.ping():
                    return
            except (OSError, redis.ConnectionError):
                await asyncio.sleep(0.1)
        raise Failure(f"redis at {url} did not answer")
    finally:
        await client.aclose()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sockets", type=int, default=1000)
    p.add_argument("--stages", default="1x10,2x20,5x25,10x40", help="RATExCOUNT,...: events per second x events")
    p.add_argument("--json", help="write the figures here as JSON")
    return p.parse_args(argv)


def run(a: argparse.Namespace) -> dict[str, Any]:
    import asyncpg

    fds = raise_fd_limit(max(4096, a.sockets * 3))
    name = bench_db_name()
    url = db_url(name)
    log(f"subscriptions: recreating database {name}")
    run_loop(recreate_db(name))
    migrate(url)

    async def restart_ids() -> None:
        db = await asyncpg.connect(url)
        try:
            await db.execute(f"ALTER SEQUENCE events_id_seq RESTART WITH {FIRST_ID}")
        finally:
            await db.close()

    run_loop(restart_ids())
    redis_proc = None
    redis_url = REDIS_BENCH
    if redis_url is None:
        port = free_port()
        redis_proc = Proc(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--loglevel", "warning"], dict(os.environ)).start()
        redis_url = f"redis://127.0.0.1:{port}/0"
        run_loop(wait_redis(redis_url))
    env = app_env(url, REDIS_URL=redis_url)
    a_srv = Server("server:create_app", env)
    b_srv = Server("server:create_app", env)
    started = time.monotonic()
    try:
        with serving(a_srv, b_srv):
            out = run_loop(measure(a_srv, b_srv, url, a, redis_url))
    finally:
        if redis_proc:
            redis_proc.stop()
    out["fd_limit"] = fds
    out["wall_seconds"] = round(time.monotonic() - started, 1)
    return out


def report(r: dict[str, Any]) -> str:
    lines = [f"{r['config']['sockets']} sockets over 2 processes (Redis), opened in {r['open_seconds']} s"]
    for s in r["stages"]:
        lines.append(f"  {s['rate']}/s x {s['events']}: publish->receive p50 {s['from_send']['p50_ms']} ms "
                     f"p99 {s['from_send']['p99_ms']} ms max {s['from_send']['max_ms']} ms; "
                     f"missing {s['missing']} of {s['deliveries_expected']}")
    return "\n".join(lines)


def main() -> None:
    a = parse()
    out = run(a)
    print(report(out))
    if a.json:
        Path(a.json).write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2, default=str))


if __name__ == "__main__":
    main()
