"""Shared harness for the benchmarks: the bench database, uvicorn servers, a lean HTTP
client (closed loop and fixed rate), GraphQL calls, and an in-process SQL counter.

The load client is a minimal HTTP/1.1 keep-alive client on asyncio streams (uvloop), one
connection per in-flight request. It is deliberately lean: on a 2-core machine the client
shares the CPUs with the server and PostgreSQL, and a heavy client (httpx) would eat into
the faster reference more than into the app, flattering the ratio.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
# The app under test: this checkout, or an exported revision (run_all.py --commit REV).
APP_DIR = Path(os.environ.get("PATRON_BENCH_APP_DIR") or ROOT).resolve()
PYTHON = str(ROOT / ".venv" / "bin" / "python")
UVICORN = str(ROOT / ".venv" / "bin" / "uvicorn")
PG_BASE = os.environ.get("PATRON_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
ADMIN_KEY = "ptn_ad_bench-admin-key-0123456789abcdefghijklmnopqrstuvwxyz"
JWT_SECRET = "bench-member-jwt-secret-0123456789abcdef"
# A fixed Fernet key (webhook secrets are encrypted at rest): every process of one run must
# share it, and the embedded default would write data/secret.key into the checkout.
SECRET_KEY = "YmVuY2gtZmVybmV0LWtleS0wMTIzNDU2Nzg5YWJjZGU="
# Redis for P8. Unset: P8 starts a private redis-server for the run, because pub/sub channels
# are shared by every database of a Redis server and the test suite publishes on the app's
# channel too. Set it to use an existing Redis instead.
REDIS_BENCH = os.environ.get("PATRON_BENCH_REDIS") or None
FORBIDDEN_DBS = {"test", "postgres", "template0", "template1"}


def use_app_dir() -> None:
    """Import the app (domain, schema, server) from APP_DIR, the bench package from ROOT."""
    for p in (str(ROOT), str(APP_DIR)):
        while p in sys.path:
            sys.path.remove(p)
    sys.path[:0] = [str(APP_DIR)] + ([str(ROOT)] if APP_DIR != ROOT else [])


def bench_db_name(default: str = "patron_bench") -> str:
    name = os.environ.get("PATRON_BENCH_DB", default)
    if name in FORBIDDEN_DBS or not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing to use database {name!r} for the benchmark")
    return name


def db_url(name: str) -> str:
    return f"{PG_BASE}/{name}"


def run_loop(coro: Awaitable[Any]) -> Any:
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


# --- database ------------------------------------------------------------------------------


async def recreate_db(name: str) -> None:
    """An empty database `name`: created if missing, else emptied by dropping and re-creating
    its public schema. (DROP DATABASE forces a checkpoint of the whole cluster, which takes
    20 s and more while other work writes to the same PostgreSQL.)"""
    import asyncpg

    if name in FORBIDDEN_DBS:
        raise SystemExit(f"refusing to touch database {name!r}")
    conn = await asyncpg.connect(db_url("postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
            return
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE datname = $1 AND pid <> pg_backend_pid()", name)
    finally:
        await conn.close()
    conn = await asyncpg.connect(db_url(name))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


def migrate(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    out = subprocess.run([PYTHON, "server.py", "migrate"], cwd=APP_DIR, env=env,
                         capture_output=True, text=True, timeout=900)  # minutes on a loaded machine
    if out.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{out.stdout}\n{out.stderr}")


def app_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update({
        "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(APP_DIR), str(ROOT)])),
        "DATABASE_URL": url,
        "PATRON_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
        "PATRON_INPROCESS_JOBS": "0",
        "PATRON_MEMBER_JWT_SECRET": JWT_SECRET,
        # Throughput is the point here: per-caller rate limits off (0 = off, domain/ratelimit.py).
        "PATRON_RATE_LIMIT_KEY": "0",
        "PATRON_RATE_LIMIT_MEMBER": "0",
        "PATRON_RATE_LIMIT_ANONYMOUS": "0",
        "PATRON_SECRET_KEY": SECRET_KEY,
    })
    env.update(extra)
    return env


# --- servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """One uvicorn process, 1 worker, as TARGETS.md prescribes."""

    app: str  # "module:factory"
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def command(self) -> list[str]:
        return [UVICORN, "--factory", self.app, "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", "1", "--no-access-log", "--log-level", "warning"]

    def start(self, health_path: str = "/healthz") -> Server:
        self.proc = subprocess.Popen(self.command, cwd=APP_DIR, env=self.env)
        deadline = time.monotonic() + 120  # a loaded machine imports slowly
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.app} exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(f"GET {health_path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode())
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.app} did not become healthy on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Proc:
    """Any other process of the app (a `server.py worker`, the webhook receiver)."""

    args: list[str]
    env: dict[str, str]
    log_path: str | None = None  # stdout and stderr go here (else inherited)
    proc: subprocess.Popen | None = None

    def start(self) -> Proc:
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(self.args, cwd=APP_DIR, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT if out else None)
        finally:
            if out:
                out.close()
        return self

    def stop(self) -> None:
        Server.stop(self)  # type: ignore[arg-type]


def raise_fd_limit(want: int = 20_000) -> int:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(want, hard) if hard != resource.RLIM_INFINITY else want
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@contextlib.contextmanager
def serving(*servers: Server) -> Iterator[tuple[Server, ...]]:
    started = []
    try:
        for s in servers:
            started.append(s.start())
        yield tuple(started)
    finally:
        for s in reversed(started):
            s.stop()


# --- lean HTTP/1.1 client ------------------------------------------------------------------


def build_request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "host: 127.0.0.1"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body or method == "POST":
        lines.append("content-type: application/json")
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.last_head = b""  # the header block of the last response

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**22)
        return cls(reader, writer)

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = self.last_head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = -1
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(data[:-2])
            return status, b"".join(parts)
        if length < 0:
            raise RuntimeError("response without content-length")
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


class Failure(Exception):
    pass


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


@dataclass
class LoadResult:
    count: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def summary(self) -> dict[str, float]:
        return {
            "count": self.count, "seconds": round(self.seconds, 3), "per_second": round(self.rate, 1),
            "p50_ms": round(percentile(self.latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(self.latencies, 99) * 1000, 2),
        }


Check = Callable[[int, bytes], None]


async def closed_loop(port: int, requests: list[bytes] | Callable[[int], bytes], concurrency: int,
                      check: Check, count: int | None = None, duration: float | None = None) -> LoadResult:
    """Keep `concurrency` requests in flight until `count` are done (or `duration` passes).

    `requests` is a list (request i = requests[i]) or a function of i.
    """
    if count is None:
        count = len(requests) if isinstance(requests, list) else 10**9
    get = requests.__getitem__ if isinstance(requests, list) else requests
    conns = [await Conn.open(port) for _ in range(concurrency)]
    latencies: list[float] = []
    next_i = 0
    stop_at = None

    async def worker(conn: Conn) -> None:
        nonlocal next_i
        while next_i < count and (stop_at is None or time.perf_counter() < stop_at):
            i = next_i
            next_i += 1
            raw = get(i)
            t0 = time.perf_counter()
            status, body = await conn.send(raw)
            latencies.append(time.perf_counter() - t0)
            check(status, body)

    start = time.perf_counter()
    if duration is not None:
        stop_at = start + duration
    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for c in conns:
            c.close()
    return LoadResult(len(latencies), time.perf_counter() - start, latencies)


async def fixed_rate(port: int, raw: bytes, rate: float, duration: float, check: Check,
                     max_conns: int = 128) -> LoadResult:
    """Open loop: request i is due at start + i/rate; latency counts from when it was due
    (no coordinated omission). Connections are opened ahead and reused."""
    idle: list[Conn] = [await Conn.open(port) for _ in range(16)]
    opened = len(idle)
    latencies: list[float] = []
    total = int(rate * duration)
    start = time.perf_counter() + 0.05

    async def one(due: float) -> None:
        nonlocal opened
        if idle:
            conn = idle.pop()
        elif opened < max_conns:
            opened += 1
            conn = await Conn.open(port)
        else:
            while not idle:
                await asyncio.sleep(0.0005)
            conn = idle.pop()
        status, body = await conn.send(raw)
        latencies.append(time.perf_counter() - due)
        idle.append(conn)
        check(status, body)

    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for c in idle:
        c.close()
    return LoadResult(len(latencies), elapsed, latencies)


# --- GraphQL -------------------------------------------------------------------------------


def gql_body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return orjson.dumps({"query": query, "variables": variables or {}})


def gql_request(query: str, variables: dict[str, Any] | None = None, token: str | None = None,
                path: str = "/graphql") -> bytes:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return build_request("POST", path, gql_body(query, variables), headers)


async def gql(conn: Conn, query: str, variables: dict[str, Any] | None = None,
              token: str | None = None) -> dict[str, Any]:
    """A call that must succeed: HTTP 200, no GraphQL errors, no payload `errors`."""
    status, body = await conn.send(gql_request(query, variables, token))
    data = orjson.loads(body)
    if status != 200 or data.get("errors"):
        raise Failure(f"GraphQL call failed ({status}): {body[:500]!r}")
    for value in (data.get("data") or {}).values():
        if isinstance(value, dict) and value.get("errors"):
            raise Failure(f"mutation returned errors: {value['errors']}")
    return data["data"]


# --- in-process SQL counting ---------------------------------------------------------------


class SqlCounter:
    """Counts statements sent to PostgreSQL by wrapping asyncpg.Connection in this process.

    Every statement tortoise or hand-written code sends goes through one of
    `Connection._execute` (fetch/fetchrow/fetchval/execute-with-args),
    `Connection._executemany` (one statement executed once per argument row) or
    `Connection.execute` without arguments (simple-query protocol; BEGIN/COMMIT go there).
    """

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.active = False
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> SqlCounter:
        from asyncpg.connection import Connection

        counter = self
        orig_execute, orig_exec, orig_many = Connection.execute, Connection._execute, Connection._executemany

        async def execute(self, query, *args, **kw):
            if not args and counter.active:
                counter.statements.append(query)
            return await orig_execute(self, query, *args, **kw)

        async def _execute(self, query, args, *a, **kw):
            if counter.active:
                counter.statements.append(query)
            return await orig_exec(self, query, args, *a, **kw)

        async def _executemany(self, query, args, *a, **kw):
            args = list(args)
            if counter.active:
                counter.statements.extend([query] * len(args))
            return await orig_many(self, query, args, *a, **kw)

        self._saved = {"execute": orig_execute, "_execute": orig_exec, "_executemany": orig_many}
        Connection.execute, Connection._execute, Connection._executemany = execute, _execute, _executemany
        return self

    def __exit__(self, *exc: Any) -> None:
        from asyncpg.connection import Connection

        for name, fn in self._saved.items():
            setattr(Connection, name, fn)

    @contextlib.contextmanager
    def measure(self) -> Iterator[list[str]]:
        start = len(self.statements)
        self.active = True
        captured: list[str] = []
        try:
            yield captured
        finally:
            self.active = False
            captured.extend(self.statements[start:])


def is_pool_reset(query: str) -> bool:
    """asyncpg's Pool runs this when a connection goes back to the pool (Connection.reset)."""
    return query.startswith("SELECT pg_advisory_unlock_all()")


def is_tx_control(query: str) -> bool:
    return query.strip().rstrip(";").upper() in ("BEGIN", "COMMIT", "ROLLBACK") or \
        query.upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO"))


def classify(statements: list[str]) -> dict[str, int]:
    resets = sum(1 for s in statements if is_pool_reset(s))
    tx = sum(1 for s in statements if is_tx_control(s))
    return {"total": len(statements), "queries": len(statements) - resets - tx, "tx_control": tx,
            "pool_resets": resets}


def per_request(samples: list[list[str]]) -> dict[str, float]:
    """Average statement counts per request over `samples` (one statement list each)."""
    n = len(samples)
    rows = [classify(x) for x in samples]
    out: dict[str, float] = {k: round(sum(r[k] for r in rows) / n, 2) for k in rows[0]}
    out["requests"] = n
    out["min_total"] = min(r["total"] for r in rows)
    out["max_total"] = max(r["total"] for r in rows)
    return out


def short_sql(query: str, width: int = 110) -> str:
    one = " ".join(query.split())
    return one if len(one) <= width else one[: width - 3] + "..."


# --- machine -------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    pg = ""
    with contextlib.suppress(Exception):
        pg = subprocess.run(["psql", db_url("postgres"), "-Atc", "show server_version"],
                            capture_output=True, text=True, timeout=10).stdout.strip()
    load = ""
    with contextlib.suppress(OSError):
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    busy = ""
    with contextlib.suppress(Exception):
        rows = subprocess.run(["ps", "-eo", "pcpu=,args=", "--sort=-pcpu"], capture_output=True, text=True,
                              timeout=10).stdout.splitlines()
        busy = "; ".join(" ".join(r.split()[:3])[:80] for r in rows[:3])
    return {
        "loadavg": load,
        "busiest": busy,
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgres": pg,
    }


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
