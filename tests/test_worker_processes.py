"""Three real `server.py worker` processes on one PostgreSQL database: every periodic job
runs once per period across all of them (the lease in job_states), as jobRuns shows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from domain import jobs
from domain.scheduler.models import JobRun
from tests.conftest import IS_POSTGRES

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="several processes need PostgreSQL row locks")
TICK = 1  # seconds: the tick jobs run every second, so a few seconds show many periods
RUN_SECONDS = 6


def start_worker() -> subprocess.Popen:
    env = os.environ | {"PATRON_JOB_INTERVAL": str(TICK), "PYTHONUNBUFFERED": "1", "PATRON_INPROCESS_JOBS": "0"}
    proc = subprocess.Popen([sys.executable, "server.py", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:  # imports take a while on a busy machine
        if "worker started" in line:
            return proc
    raise AssertionError(f"worker exited with {proc.wait()}")


async def test_three_workers_run_each_job_once_per_period(monkeypatch):
    monkeypatch.setenv("PATRON_JOB_INTERVAL", str(TICK))
    workers = [start_worker() for _ in range(3)]
    try:
        time.sleep(RUN_SECONDS)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            proc.communicate(timeout=60)
    assert [proc.returncode for proc in workers] == [0, 0, 0]

    runs = await JobRun.all().order_by("started_at").values("name", "worker", "status", "started_at", "finished_at")
    by_job: dict[str, list[dict]] = {}
    for run in runs:
        by_job.setdefault(run["name"], []).append(run)
    tick = timedelta(seconds=TICK)
    for name, _, every in jobs.JOBS:
        assert name in by_job, f"{name} never ran"
        mine = by_job[name]
        assert all(r["status"] == "ok" for r in mine), mine
        if every > RUN_SECONDS + 60:  # hourly and daily jobs: once in these few seconds
            assert len(mine) == 1, (name, mine)
        for before, after in zip(mine, mine[1:]):  # never two runs of one job in one period
            assert after["started_at"] - before["started_at"] >= max(tick, timedelta(seconds=every)) - timedelta(milliseconds=5)
            assert before["finished_at"] <= after["started_at"]
