"""Training never runs on a serving process's event loop, and a request never trains."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from domain import changes, clock, db
from domain.recommendations import training
from domain.recommendations.models import Signal
from domain.scheduler import lease
from domain.scheduler.models import JobState
from domain.settings import reload_settings
from tests import helpers
from tests.test_recommendations import Q, T0, shop

ROOT = Path(__file__).resolve().parent.parent
# The parent: a real process that trains with the pool's build function replaced by
# held_build (pickled by name, so the spawned child runs it). Its database (DATABASE_URL) is
# never read: the child is killed before it gets there.
PARENT = """
import asyncio
from domain.recommendations import training
from domain.recommendations.models import Signal
from tests import test_recommender_training as t

training._build_in_child = t.held_build
asyncio.run(training.train())
print("trained", flush=True)
"""


def held_build(db_url: str, now: float) -> bytes:
    """A long build in the training child: records its pid, works for 60 s, then marks that
    it finished and builds for real. A child that outlives its parent gets to the marker."""
    marker = Path(os.environ["PATRON_TEST_TRAINING_DIR"])
    (marker / "child.tmp").write_text(str(os.getpid()))
    os.replace(marker / "child.tmp", marker / "child.pid")  # never seen half-written
    until = time.monotonic() + 60
    while time.monotonic() < until:
        sum(range(10_000))  # busy, holding the GIL most of the time like the Python parts of a build
    (marker / "finished").write_text("model")
    return training._build_in_child(db_url, now)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as gone
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


async def test_training_builds_the_model_in_another_process_and_serves_it_here(api, monkeypatch):
    monkeypatch.setenv("PATRON_RECS_TRAIN_SUBPROCESS", "1")
    reload_settings()
    await shop()
    model = await training.train()
    if ":memory:" not in db.current_url():  # a memory database cannot be read by another process
        assert model.stats["trainerPid"] != os.getpid()
    assert sorted(model.items) == ["beans", "cake", "coffee", "cookie", "filter", "mug", "tea"]
    assert await training.current() is model
    data = await api.ok(Q, {"c": "PRODUCT", "p": "coffee", "first": 3})
    got = [i["product"]["externalId"] for i in data["recommendations"]["items"]]
    assert len(got) >= 2 and set(got[:2]) <= {"mug", "filter", "beans"}  # bought with coffee


async def test_in_process_training_gives_the_same_model(monkeypatch):
    monkeypatch.setenv("PATRON_RECS_TRAIN_SUBPROCESS", "1")
    reload_settings()
    await shop()
    child = await training.train()
    monkeypatch.setenv("PATRON_RECS_TRAIN_SUBPROCESS", "0")
    reload_settings()
    here = await training.train()
    assert "trainerPid" not in here.stats
    assert here.items == child.items
    assert (here.ease.index == child.ease.index).all() and (here.popularity_all == child.popularity_all).all()


async def test_a_request_without_a_model_does_not_train_but_makes_the_job_due(api):
    client = changes._usable()
    if client is not None:  # a model another test published in Redis would be loaded
        await client.delete(training.REDIS_KEY, training.REDIS_VERSION_KEY)
    await shop()
    await lease.register({training.TRAINING_JOB: 3600}, T0)
    claimed = await lease.claim(training.TRAINING_JOB, "w", T0)  # it ran a moment ago: next run in an hour
    await lease.finish(claimed, 1, 0, None, T0)
    clock.set_now(T0 + timedelta(minutes=5))
    data = await api.ok(Q, {"c": "HOME", "first": 5})
    # Then no model was built inside the request, the list is still not empty (catalog
    # fallback), and the training job is due now instead of in 55 minutes
    assert await training.current() is None
    assert data["recommendations"]["items"] != []
    assert (await JobState.get(name=training.TRAINING_JOB)).next_run_at == T0 + timedelta(minutes=5)


async def test_training_reads_only_the_newest_interactions_up_to_the_cap(monkeypatch):
    await shop()  # the newest orders: o20 (tea, cake) and o19 (tea, cookie) of s9, then o18 of s8
    s0 = await helpers.fresh("s0")
    await Signal.create(member_id=s0.id, product_external_id="mug", type="VIEW", at=T0 - timedelta(days=1))
    monkeypatch.setenv("PATRON_RECS_TRAIN_MAX_INTERACTIONS", "5")
    reload_settings()
    capped = await training.train()
    # Then the newest five: the view and the four lines of o20 and o19; nothing older
    assert capped.items == ["cake", "cookie", "mug", "tea"]
    assert capped.stats["events"] == 5
    assert capped.popularity_all[capped.index["tea"]] == 2 * training.SIGNAL_WEIGHT["PURCHASE"]
    assert capped.popularity_all[capped.index["mug"]] == training.SIGNAL_WEIGHT["VIEW"]
    monkeypatch.setenv("PATRON_RECS_TRAIN_MAX_INTERACTIONS", "0")
    reload_settings()
    everything = await training.train()
    assert everything.items == ["beans", "cake", "coffee", "cookie", "filter", "mug", "tea"]
    assert everything.stats["events"] == 5 * 5 + 5 * 4 + 1  # every order line, and the view


def test_the_training_child_dies_with_its_parent(tmp_path):
    env = os.environ | {"PATRON_RECS_TRAIN_SUBPROCESS": "1", "PATRON_TEST_TRAINING_DIR": str(tmp_path),
                        "DATABASE_URL": f"sqlite://{tmp_path / 'unused.sqlite3'}", "REDIS_URL": "",
                        "PYTHONUNBUFFERED": "1"}
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    pid_file = tmp_path / "child.pid"
    try:
        deadline = time.monotonic() + 120  # a spawned child imports for seconds on a busy machine
        while not pid_file.exists() and parent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pid_file.exists(), parent.communicate(timeout=10)[0].decode()[-2000:]
        child = int(pid_file.read_text())
        assert child != parent.pid and alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Then the child is gone within seconds, long before its 60-s build would have ended,
        # and it never finished a model
        assert not alive(child)
        assert not (tmp_path / "finished").exists()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        if pid_file.exists() and alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
