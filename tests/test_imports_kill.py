"""Bulk imports (issue 14): a worker killed with SIGKILL in the middle of a job, for real.

`server.py import` runs in a child process on its own SQLite file, with batches of 10 rows;
once a few batches are committed the child gets `kill -9`. Its lease is then made to have
run out (instead of waiting 5 minutes) and another process resumes the job: every row is
there exactly once, nothing was counted twice, the job succeeded.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS = 1000
RESUME = """
import asyncio
from domain import db
from domain.imports import runner

async def main():
    await db.init_orm()
    try:
        print(await runner.run_pending())
    finally:
        await db.close_orm()

asyncio.run(main())
"""


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": f"sqlite://{tmp_path}/patron.sqlite3", "REDIS_URL": "",
            "PATRON_IMPORT_DIR": str(tmp_path / "imports"), "PATRON_IMPORT_BATCH_ROWS": "10",
            "PATRON_MEDIA_DIR": str(tmp_path / "media")}


def _job(db: Path) -> tuple | None:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT status, committed_rows, processed, succeeded, skipped, failed, total "
                                "FROM import_jobs WHERE kind = 'reviews'").fetchone()
    except sqlite3.OperationalError:  # not migrated yet
        return None


def test_kill_9_mid_job_then_resume_without_duplicates_or_gaps(tmp_path):
    env = _env(tmp_path)
    server = [sys.executable, str(ROOT / "server.py"), "import"]
    orders = tmp_path / "orders.csv"
    orders.write_text("externalId,currency,placedAt,sku,quantity,unitPrice,productExternalId\n"
                      "o1,KRW,2024-01-01,S1,1,100,p1\n")
    subprocess.run([*server, "orders", str(orders)], env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("externalId,productExternalId,rating,body\n"
                       + "".join(f"r{i},p1,{1 + i % 5},Review {i}\n" for i in range(ROWS)))
    db = tmp_path / "patron.sqlite3"

    child = subprocess.Popen([*server, "reviews", str(reviews)], env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = _job(db)
        if job is not None and job[1] >= 50:  # five batches committed
            break
        assert child.poll() is None, "the import ended before it could be killed"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    status, committed, processed, succeeded, _, _, total = _job(db)
    assert (status, total) == ("running", ROWS) and 50 <= committed < ROWS
    assert processed == succeeded == committed  # the counters moved with the committed batches only
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == committed  # nothing half-written
        # The dead worker's lease would run out after 5 minutes; make it have run out now.
        conn.execute("UPDATE import_jobs SET lease_until = '2000-01-01 00:00:00+00:00'")

    resumed = subprocess.run([sys.executable, "-c", RESUME], env=env, cwd=ROOT, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert int(resumed.stdout.strip().splitlines()[-1]) == ROWS - committed  # from the last committed batch on
    assert _job(db) == ("succeeded", ROWS, ROWS, ROWS, 0, 0, ROWS)
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute("SELECT external_id FROM reviews")]
        summary = conn.execute("SELECT review_count, rating_sum FROM products WHERE external_id = 'p1'").fetchone()
        revisions = conn.execute("SELECT COUNT(*) FROM review_revisions").fetchone()[0]
    assert len(ids) == ROWS and set(ids) == {f"r{i}" for i in range(ROWS)}  # no duplicates, no gaps
    assert summary == (ROWS, sum(1 + i % 5 for i in range(ROWS))) and revisions == ROWS
