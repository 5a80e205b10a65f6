"""Training the recommender from the database, and sharing the model between processes.

Training never runs on the event loop of a serving process: `train()` reads and builds in
a child process (spawned, one at a time; it opens its own database connection and returns
the model in the same plain format Redis holds), so a 40-second build at 100k members
leaves /healthz, GraphQL and webhook leases untouched. A request never trains: with no
model yet it gets the non-personal fallback and the `train_recommender` job is made due.

The model lives in this process's memory; with REDIS_URL the trainer also stores it in
Redis and every API process loads a newer version when it sees one (checked at most
every few seconds), so all processes serve the same model. In Redis it is plain data —
numpy arrays in an .npz archive and JSON — never a pickle: whoever can write to Redis must
not be able to run code in the API processes.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import multiprocessing
import os
import threading
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from tortoise import connections

from domain import changes, clock, db, redis_client
from domain.settings import get_settings
from domain.recommendations import algorithms as algo
from domain.scheduler.models import JobState

POPULARITY_HALF_LIFE_DAYS = 7.0
TRENDING_DAYS = 7  # "this week": trending shows only items with an interaction this recent
# v2: npz + JSON (v1 held a pickle under another key, which is never read)
REDIS_KEY, REDIS_VERSION_KEY = "patron:recommender:model:v2", "patron:recommender:version"
log = logging.getLogger("patron.recommendations")
TRAINING_JOB = "train_recommender"  # its name in domain/jobs.py
SIGNAL_WEIGHT = {"PURCHASE": 3.0, "ADD_TO_CART": 2.0, "VIEW": 1.0, "REVIEW": 3.0}


@dataclass
class RecModel:
    trained_at: datetime
    items: list[str]
    index: dict[str, int]
    ease: algo.Neighbours
    cosine: algo.Neighbours
    together: algo.Neighbours  # co-purchase in the same order
    popularity: np.ndarray  # time-decayed interaction counts
    popularity_all: np.ndarray  # all-time interaction counts (fallback when nothing is recent)
    last_at: np.ndarray  # epoch seconds of each item's latest interaction
    stats: dict[str, float] = field(default_factory=dict)


def _epoch(value: object) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value)).timestamp()


async def _rows(sql: str) -> list:
    return (await connections.get("default").execute_query(sql))[1]


# Every interaction the recommender learns from, one row each: purchases (the order id groups
# baskets), signals, and reviews (the rating decides liked, disliked or neither).
INTERACTIONS = """
SELECT 'P', o.member_id, l.product_external_id, o.placed_at AS at, o.id, NULL FROM order_lines l
  JOIN orders o ON o.id = l.order_id WHERE l.product_external_id IS NOT NULL
UNION ALL
SELECT 'S', member_id, product_external_id, at, CAST(NULL AS INTEGER), type FROM signals WHERE type <> 'REMOVE_FROM_CART'
UNION ALL
SELECT 'R', r.member_id, p.external_id, r.created_at, r.rating, NULL FROM reviews r
  JOIN products p ON p.id = r.product_id WHERE r.member_id IS NOT NULL AND r.status <> 'deleted'
"""


def newest_interactions_sql(limit: int) -> str:
    """INTERACTIONS, only the newest `limit`: each source is cut to its newest `limit` rows
    first (purchases walk the orders' placed_at index backwards and stop there; signals
    and reviews by their own time), then the union of those is cut to `limit`. Sorting the
    whole union instead makes the database join and sort every order line ever recorded
    (6.2M at 1M members) to keep 2M."""
    return f"""
SELECT * FROM (SELECT 'P' AS kind, o.member_id, l.product_external_id, o.placed_at AS at, o.id AS num, CAST(NULL AS TEXT) AS sig
  FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE l.product_external_id IS NOT NULL
  ORDER BY o.placed_at DESC LIMIT {limit}) p
UNION ALL
SELECT * FROM (SELECT 'S', member_id, product_external_id, at, CAST(NULL AS INTEGER), type FROM signals
  WHERE type <> 'REMOVE_FROM_CART' ORDER BY at DESC LIMIT {limit}) s
UNION ALL
SELECT * FROM (SELECT 'R', r.member_id, p.external_id, r.created_at, r.rating, CAST(NULL AS TEXT) FROM reviews r
  JOIN products p ON p.id = r.product_id WHERE r.member_id IS NOT NULL AND r.status <> 'deleted'
  ORDER BY r.created_at DESC LIMIT {limit}) r
ORDER BY at DESC LIMIT {limit}"""


async def load_interactions(limit: int = 0) -> tuple[dict[int, dict[str, float]], dict[int, set[str]], list[tuple[str, float, float]]]:
    """Per member: item -> latest time of a positive interaction; baskets; (item, time, weight).

    limit > 0 reads only the newest `limit` interactions (PATRON_RECS_TRAIN_MAX_INTERACTIONS):
    reading and building are linear in the rows read, so this bounds a training run however
    large the history grows; recent behaviour is what recommendations and trending are about."""
    history: dict[int, dict[str, float]] = defaultdict(dict)
    baskets: dict[int, set[str]] = defaultdict(set)
    events: list[tuple[str, float, float]] = []
    negative: set[tuple[int, str]] = set()

    def add(member: int | None, item: str, at: float, weight: float) -> None:
        events.append((item, at, weight))
        if member is not None and history[member].get(item, -1) < at:
            history[member][item] = at

    sql = INTERACTIONS if limit <= 0 else newest_interactions_sql(int(limit))
    for kind, member, item, at, number, signal in await _rows(sql):
        if kind == "P":
            add(member, item, _epoch(at), SIGNAL_WEIGHT["PURCHASE"])
            baskets[number].add(item)
        elif kind == "S":
            add(member, item, _epoch(at), SIGNAL_WEIGHT.get(signal, 1.0))
        elif number >= 4:
            add(member, item, _epoch(at), SIGNAL_WEIGHT["REVIEW"])
        elif number <= 2:
            negative.add((member, item))
    for member, item in negative:
        history.get(member, {}).pop(item, None)
    return history, baskets, events


def build(history: dict[int, dict[str, float]], baskets: dict[int, set[str]],
          events: list[tuple[str, float, float]], now: float) -> RecModel:
    items = sorted({item for h in history.values() for item in h} | {e[0] for e in events})
    index = {item: i for i, item in enumerate(items)}
    n = len(items)
    rows, cols = [], []
    for r, h in enumerate(history.values()):
        for item in h:
            rows.append(r)
            cols.append(index[item])
    x = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(max(len(history), 1), max(n, 1)))
    brow, bcol = [], []
    for r, basket in enumerate(b for b in baskets.values() if len(b) > 1):
        for item in basket:
            brow.append(r)
            bcol.append(index[item])
    xb = sp.csr_matrix((np.ones(len(brow), dtype=np.float32), (brow, bcol)), shape=(max(len(brow), 1), max(n, 1)))
    popularity = np.zeros(max(n, 1), dtype=np.float32)
    popularity_all = np.zeros(max(n, 1), dtype=np.float32)
    last_at = np.zeros(max(n, 1), dtype=np.float64)
    decay = math.log(2) / (POPULARITY_HALF_LIFE_DAYS * 86400)
    for item, at, weight in events:
        i = index[item]
        popularity[i] += weight * math.exp(-decay * max(0.0, now - at))
        popularity_all[i] += weight
        last_at[i] = max(last_at[i], at)
    return RecModel(
        trained_at=datetime.fromtimestamp(now, clock.now().tzinfo), items=items, index=index,
        ease=algo.ease(x), cosine=algo.cosine(x), together=algo.cosine(xb), popularity=popularity,
        popularity_all=popularity_all, last_at=last_at,
        stats={"members": float(len(history)), "items": float(n), "interactions": float(x.nnz), "events": float(len(events))},
    )


class ModelFormatError(ValueError):
    """A stored model that is not exactly what dumps() writes."""


_ARRAYS = {"ease_index": np.int32, "ease_weight": np.float32, "cosine_index": np.int32, "cosine_weight": np.float32,
           "together_index": np.int32, "together_weight": np.float32, "popularity": np.float32,
           "popularity_all": np.float32, "last_at": np.float64}


def dumps(model: RecModel) -> bytes:
    """The model as an .npz archive: its arrays, and the rest as UTF-8 JSON in a uint8 array."""
    meta = {"trainedAt": model.trained_at.isoformat(), "items": model.items, "stats": model.stats}
    arrays = {"ease_index": model.ease.index, "ease_weight": model.ease.weight, "cosine_index": model.cosine.index,
              "cosine_weight": model.cosine.weight, "together_index": model.together.index,
              "together_weight": model.together.weight, "popularity": model.popularity,
              "popularity_all": model.popularity_all, "last_at": model.last_at}
    out = io.BytesIO()
    np.savez(out, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    return out.getvalue()


def loads(blob: bytes) -> RecModel:
    """Read what dumps() wrote; anything else (a pickle, object arrays, wrong shapes) raises
    ModelFormatError without running any of it."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
            if set(archive.files) != set(_ARRAYS) | {"meta"}:
                raise ModelFormatError(f"unexpected arrays {sorted(archive.files)}")
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
        items, stats = meta["items"], meta["stats"]
        trained_at = datetime.fromisoformat(meta["trainedAt"])
    except ModelFormatError:
        raise
    except Exception as exc:  # not an npz, a pickle refused by allow_pickle=False, bad JSON…
        raise ModelFormatError(f"not a stored model: {type(exc).__name__}: {exc}") from None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items) or not isinstance(stats, dict) \
            or not all(isinstance(v, (int, float)) for v in stats.values()):
        raise ModelFormatError("bad items or stats")
    n = max(len(items), 1)
    for name, dtype in _ARRAYS.items():
        a = arrays[name]
        if a.dtype != dtype or a.ndim != (2 if name.endswith(("_index", "_weight")) else 1) or a.shape[0] != n:
            raise ModelFormatError(f"{name}: dtype {a.dtype}, shape {a.shape}")
        if name.endswith("_index") and (a.shape != arrays[name.replace("_index", "_weight")].shape
                                        or (a.size and (a.min() < 0 or a.max() >= n))):
            raise ModelFormatError(f"{name}: shape or an item index out of range")
    nbrs = {k: algo.Neighbours(arrays[f"{k}_index"], arrays[f"{k}_weight"]) for k in ("ease", "cosine", "together")}
    return RecModel(trained_at=trained_at, items=items, index={item: i for i, item in enumerate(items)},
                    ease=nbrs["ease"], cosine=nbrs["cosine"], together=nbrs["together"],
                    popularity=arrays["popularity"], popularity_all=arrays["popularity_all"], last_at=arrays["last_at"],
                    stats={str(k): float(v) for k, v in stats.items()})


_model: RecModel | None = None
_checked_at = 0.0
_version: bytes | None = None
CHECK_SECONDS = 5.0


def _exit_with_parent() -> None:
    """Pool initializer in the training child: exit the moment the parent process is gone.

    A parent that is SIGKILLed runs no cleanup, and a child left behind would go on reading
    the database and burning a core for minutes for nobody. The child watches the pipe
    multiprocessing's spawn already keeps from the parent (parent_process().sentinel: it reads
    EOF once every copy of the parent's end is closed, i.e. when the parent dies). Chosen over
    Linux PR_SET_PDEATHSIG: portable (macOS development machines), no race with a parent that
    dies before the child calls prctl, and not tied to the parent *thread* that spawned the
    child (PDEATHSIG fires when that thread exits, which would kill a build started from a
    short-lived thread)."""
    parent = multiprocessing.parent_process()
    if parent is None:  # not a spawned child (called directly)
        return

    def watch() -> None:
        parent.join()  # returns when the sentinel reads EOF
        os._exit(1)  # no cleanup to run: the child only reads, and its answer has no reader now

    threading.Thread(target=watch, name="patron-parent-watch", daemon=True).start()


def _build_in_child(db_url: str, now: float) -> bytes:
    """Runs in the training process: its own event loop and database connection."""

    async def run() -> bytes:
        await db.init_orm(db_url)
        try:
            history, baskets, events = await load_interactions(get_settings().recs_train_max_interactions)
        finally:
            await db.close_orm()
        model = build(history, baskets, events, now)
        model.stats["trainerPid"] = float(os.getpid())
        return dumps(model)

    return asyncio.run(run())


async def _build_off_loop(now: float) -> RecModel:
    url = db.current_url()
    if not get_settings().recs_train_subprocess or ":memory:" in url:  # a memory database has no other reader
        history, baskets, events = await load_interactions(get_settings().recs_train_max_interactions)
        return build(history, baskets, events, now)
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_exit_with_parent)
    try:
        blob = await asyncio.get_running_loop().run_in_executor(pool, _build_in_child, url, now)
    finally:
        pool.shutdown(wait=False)  # the child exits by itself once it has answered
    return loads(blob)


async def train() -> RecModel:
    """Build from the database off the event loop and publish (memory, and Redis when
    configured). One build at a time per process."""
    global _model, _version
    async with _lock():
        started = time.perf_counter()
        model = await _build_off_loop(clock.now().timestamp())
    model.stats["seconds"] = round(time.perf_counter() - started, 3)
    _model = model
    client = changes._usable()
    if client is not None:
        version = model.trained_at.isoformat().encode()
        try:
            await client.set(REDIS_KEY, dumps(model))
            await client.set(REDIS_VERSION_KEY, version)
            _version = version
        except redis_client.FAILURES as exc:  # other processes keep their model until next time
            redis_client.failed(get_settings().redis_url or "", "recommender model", exc)
    return model


async def current() -> RecModel | None:
    """The newest model: from memory, refreshed from Redis when another process trained."""
    global _model, _checked_at, _version
    client = changes._usable()
    if client is not None and time.monotonic() - _checked_at > CHECK_SECONDS:
        _checked_at = time.monotonic()
        try:
            version = await client.get(REDIS_VERSION_KEY)
            blob = await client.get(REDIS_KEY) if version is not None and version != _version else None
        except redis_client.FAILURES as exc:  # serve the model in memory
            redis_client.failed(get_settings().redis_url or "", "recommender model", exc)
            version = blob = None
        if version is not None and version != _version:
            if blob is not None:
                try:
                    _model, _version = loads(blob), version
                except ModelFormatError as exc:  # keep serving what we have; never run what we were given
                    log.warning("ignoring the recommender model in Redis: %s", exc)
                    _version = version
    return _model


_locks: dict[int, asyncio.Lock] = {}
_requested_at = -1e9
REQUEST_EVERY_SECONDS = 60.0


def _lock() -> asyncio.Lock:
    return _locks.setdefault(id(asyncio.get_running_loop()), asyncio.Lock())


async def ensure() -> RecModel:
    """The current model; without one, an empty model (only the non-personal fallbacks can
    answer) and the training job is made due, so a worker builds one on its next tick."""
    global _requested_at
    model = await current()
    if model is not None:
        return model
    if time.monotonic() - _requested_at > REQUEST_EVERY_SECONDS:
        _requested_at = time.monotonic()
        await JobState.filter(name=TRAINING_JOB, next_run_at__gt=clock.now()).update(next_run_at=clock.now())
    return build({}, {}, [], clock.now().timestamp())


def forget() -> None:
    """Drop the in-memory model (tests; a retrain replaces it anyway)."""
    global _model, _version, _checked_at, _requested_at
    _model, _version, _checked_at, _requested_at = None, None, 0.0, -1e9
