"""Training never runs on a serving process's event loop, and a request never trains."""

from __future__ import annotations

import os
from datetime import timedelta

from domain import changes, clock, db
from domain.recommendations import training
from domain.scheduler import lease
from domain.scheduler.models import JobState
from domain.settings import reload_settings
from tests.test_recommendations import Q, T0, shop


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
