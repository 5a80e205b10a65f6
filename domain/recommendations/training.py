"""Training the recommender from the database, and sharing the model between processes.

The model lives in this process's memory; with REDIS_URL the trainer also stores it in
Redis and every API process loads a newer version when it sees one (checked at most
every few seconds), so all processes serve the same model.
"""

from __future__ import annotations

import math
import pickle
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from tortoise import connections

from domain import changes, clock
from domain.recommendations import algorithms as algo

POPULARITY_HALF_LIFE_DAYS = 7.0
REDIS_KEY, REDIS_VERSION_KEY = "patron:recommender:model", "patron:recommender:version"
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
    stats: dict[str, float] = field(default_factory=dict)


def _epoch(value: object) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value)).timestamp()


async def _rows(sql: str) -> list:
    return (await connections.get("default").execute_query(sql))[1]


async def load_interactions() -> tuple[dict[int, dict[str, float]], dict[int, set[str]], list[tuple[str, float, float]]]:
    """Per member: item -> latest time of a positive interaction; baskets; (item, time, weight)."""
    history: dict[int, dict[str, float]] = defaultdict(dict)
    baskets: dict[int, set[str]] = defaultdict(set)
    events: list[tuple[str, float, float]] = []
    negative: set[tuple[int, str]] = set()

    def add(member: int | None, item: str, at: float, weight: float) -> None:
        events.append((item, at, weight))
        if member is not None and history[member].get(item, -1) < at:
            history[member][item] = at

    for row in await _rows("SELECT o.member_id, l.product_external_id, o.placed_at, o.id FROM order_lines l "
                           "JOIN orders o ON o.id = l.order_id WHERE l.product_external_id IS NOT NULL"):
        add(row[0], row[1], _epoch(row[2]), SIGNAL_WEIGHT["PURCHASE"])
        baskets[row[3]].add(row[1])
    for row in await _rows("SELECT member_id, product_external_id, at, type FROM signals"):
        add(row[0], row[1], _epoch(row[2]), SIGNAL_WEIGHT.get(row[3], 1.0))
    for row in await _rows("SELECT r.member_id, p.external_id, r.created_at, r.rating FROM reviews r "
                           "JOIN products p ON p.id = r.product_id WHERE r.member_id IS NOT NULL AND r.status <> 'deleted'"):
        if row[3] >= 4:
            add(row[0], row[1], _epoch(row[2]), SIGNAL_WEIGHT["REVIEW"])
        elif row[3] <= 2:
            negative.add((row[0], row[1]))
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
    decay = math.log(2) / (POPULARITY_HALF_LIFE_DAYS * 86400)
    for item, at, weight in events:
        popularity[index[item]] += weight * math.exp(-decay * max(0.0, now - at))
    return RecModel(
        trained_at=datetime.fromtimestamp(now, clock.now().tzinfo), items=items, index=index,
        ease=algo.ease(x), cosine=algo.cosine(x), together=algo.cosine(xb), popularity=popularity,
        stats={"members": float(len(history)), "items": float(n), "interactions": float(x.nnz), "events": float(len(events))},
    )


_model: RecModel | None = None
_checked_at = 0.0
_version: bytes | None = None
CHECK_SECONDS = 5.0


async def train() -> RecModel:
    """Build from the database and publish (memory, and Redis when configured)."""
    global _model, _version
    started = time.perf_counter()
    history, baskets, events = await load_interactions()
    model = build(history, baskets, events, clock.now().timestamp())
    model.stats["seconds"] = round(time.perf_counter() - started, 3)
    _model = model
    client = changes._redis()
    if client is not None:
        version = model.trained_at.isoformat().encode()
        # pickle is fine here: only Patron's own trainer writes this key.
        await client.set(REDIS_KEY, pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
        await client.set(REDIS_VERSION_KEY, version)
        _version = version
    return model


async def current() -> RecModel | None:
    """The newest model: from memory, refreshed from Redis when another process trained."""
    global _model, _checked_at, _version
    client = changes._redis()
    if client is not None and time.monotonic() - _checked_at > CHECK_SECONDS:
        _checked_at = time.monotonic()
        version = await client.get(REDIS_VERSION_KEY)
        if version is not None and version != _version:
            blob = await client.get(REDIS_KEY)
            if blob is not None:
                _model, _version = pickle.loads(blob), version
    return _model


async def ensure() -> RecModel:
    return await current() or await train()


def forget() -> None:
    """Drop the in-memory model (tests; a retrain replaces it anyway)."""
    global _model, _version, _checked_at
    _model, _version, _checked_at = None, None, 0.0
