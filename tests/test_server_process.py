"""The real command line: `python server.py` on a fresh SQLite file, `seed`, `worker`.

These start processes, so they run once (in the SQLite pass)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from domain import clock
from domain.jobs import JobRunner
from tests import helpers
from tests.conftest import sqlite_pass_only

ROOT = Path(__file__).resolve().parent.parent
pytestmark = sqlite_pass_only


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(db_file: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PATRON_", "DATABASE_URL", "REDIS_URL"))}
    return env | {"DATABASE_URL": f"sqlite://{db_file}", "PYTHONUNBUFFERED": "1"} | extra


def start(db_file: Path, port: int, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "server.py", "--port", str(port)], cwd=ROOT,
                            env=env_for(db_file, **extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def start_on_this_database(port: int) -> subprocess.Popen:
    """A second API process (`python server.py`) on the pass's own database and Redis, jobs
    off: for tests of what crosses processes (cache invalidation, real-time events)."""
    env = {k: v for k, v in os.environ.items() if k != "PATRON_BOOTSTRAP_ADMIN_KEY"}
    env |= {"PATRON_INPROCESS_JOBS": "0", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "server.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_ready(port: int, seconds: float = 180) -> None:
    """Until /readyz answers 200. Generous: a cold start (imports, migrations) on a loaded
    2-core machine running both test passes has taken over 20 s; this is no speed check."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server on port {port} did not become ready in {seconds:.0f} s")


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    return out


def test_fresh_start_prints_an_admin_key_once_and_serves_graphql(tmp_path):
    db_file, port = tmp_path / "patron.sqlite3", free_port()
    proc = start(db_file, port)
    try:
        wait_ready(port)
        page = httpx.get(f"http://127.0.0.1:{port}/graphql", headers={"accept": "text/html"})
        assert "graphiql" in page.text.lower()
    finally:
        out = stop(proc)
    match = re.search(r"(ptn_ad_\S+)", out)
    assert match, out
    key = match.group(1)
    proc = start(db_file, port)
    try:
        wait_ready(port)
        q = {"query": 'mutation { upsertMember(input: {externalId: "m1"}) { created errors { code } } }'}
        r = httpx.post(f"http://127.0.0.1:{port}/graphql", json=q, headers={"authorization": f"Bearer {key}"})
        assert r.json() == {"data": {"upsertMember": {"created": True, "errors": []}}}
    finally:
        out = stop(proc)
    assert "ptn_ad_" not in out  # shown once only


def test_bootstrap_key_from_the_environment(tmp_path):
    db_file, port = tmp_path / "patron.sqlite3", free_port()
    proc = start(db_file, port, PATRON_BOOTSTRAP_ADMIN_KEY="automation-key-123")
    try:
        wait_ready(port)
        r = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ apiKeys { name role } }"},
                       headers={"authorization": "Bearer automation-key-123"})
        assert r.json() == {"data": {"apiKeys": [{"name": "bootstrap admin", "role": "ADMIN"}]}}
    finally:
        out = stop(proc)
    assert "Generated admin API key" not in out


def test_seed_loads_the_demo_program(tmp_path):
    db_file = tmp_path / "patron.sqlite3"
    result = subprocess.run([sys.executable, "server.py", "seed"], cwd=ROOT, capture_output=True, text=True,
                            env=env_for(db_file, PATRON_SEED_BASKETS="40"), timeout=120)
    assert result.returncode == 0, result.stderr
    groceries = ROOT.parent / "shared" / "data" / "groceries" / "groceries.csv"
    if groceries.exists():
        assert "200 members and 40 orders" in result.stdout
    else:
        assert "Skipped demo orders" in result.stdout


def test_worker_stops_gracefully_on_sigterm(tmp_path):
    db_file = tmp_path / "patron.sqlite3"
    subprocess.run([sys.executable, "server.py", "migrate"], cwd=ROOT, env=env_for(db_file), check=True,
                   capture_output=True, timeout=60)
    proc = subprocess.Popen([sys.executable, "server.py", "worker"], cwd=ROOT, env=env_for(db_file, PATRON_JOB_INTERVAL="1"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in proc.stdout:  # wait until it runs (imports take a while on a busy machine)
        seen.append(line)
        if "worker started" in line:
            break
    time.sleep(1.5)  # let the loops do a round
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, "".join(seen) + out
    assert any("worker started" in line for line in seen)


async def test_job_runner_releases_and_expires_on_schedule():
    t0 = datetime(2026, 2, 1, tzinfo=UTC)
    clock.set_now(t0)
    await helpers.order_rule()
    await helpers.member()
    await helpers.order("o1", amount=10_000)
    runner = JobRunner()
    clock.set_now(t0 + timedelta(days=14))
    results = await runner.run_due()
    assert results["release_pending_points"] == 1 and results["tier_review"] == 0
    clock.set_now(t0 + timedelta(days=14 + 365))
    results = await runner.run_due()
    assert results["expire_points"] == 1
    assert results["tier_review"] == 0  # its hour has passed on the (injected) clock
    assert await runner.run_due() == {}  # nothing is due again at the same instant
    m = await helpers.assert_no_drift()
    assert (m.points_balance, m.lifetime_earned) == (0, 100)
