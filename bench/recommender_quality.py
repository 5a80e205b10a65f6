"""Recommendation quality (TARGETS.md P6) on the public data in ../shared/data, with the
protocol of ../shared/data/README.md, measuring the production code itself:
domain/recommendations/algorithms.py (EASE, cosine, recency weights, blend, top_n),
training.build (the model the service serves) and service.recommend (the served ranking,
run for real with its database reads replaced by in-memory fakes).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/recommender_quality.py [--json out.json]

MovieLens latest-small: positives = rating >= 4; per user, positives sorted by
(timestamp, movie id), the last floor(0.2 n) are the test set; candidates = items with a
training positive minus the user's own training positives; recall@10 and NDCG@10 (binary
relevance, IDCG over min(|test|, 10)) averaged over users with test items.

Groceries: each basket is a session; one random item is hidden per basket of >= 2 distinct
items (numpy default_rng(SEED)); the models are trained on the remaining items of every
basket only; hit-rate@10 of recommendations from each basket's remaining items.

Writes nothing into the repository; prints a report (and JSON with --json).
"""

from __future__ import annotations

import os

# implicit asks for this (its own threads + OpenBLAS threads oversubscribe); must precede numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import csv  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from domain.recommendations import algorithms as algo  # noqa: E402
from domain.recommendations import service, training  # noqa: E402

DATA = Path(os.environ.get("PATRON_SHARED_DATA", ROOT.parent / "shared" / "data"))
K = 10
SEED = 42
ALS_PARAMS = {"factors": 32, "regularization": 0.1, "alpha": 1.0, "iterations": 15}
ALS_SEEDS = tuple(range(10))  # seed 0 is the reported run (it reproduces the README's reference); the rest show the spread


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- metrics --------------------------------------------------------------------------------

DISCOUNT = 1.0 / np.log2(np.arange(2, K + 2))


def user_metrics(recs: list[int], test: set[int]) -> tuple[float, float]:
    hits = [i for i, item in enumerate(recs[:K]) if item in test]
    recall = len(hits) / len(test)
    idcg = DISCOUNT[: min(len(test), K)].sum()
    return recall, float(sum(DISCOUNT[i] for i in hits) / idcg)


def evaluate(all_recs: dict[int, list[int]], tests: dict[int, set[int]]) -> dict:
    per_user = np.array([user_metrics(all_recs.get(u, []), t) for u, t in tests.items()])
    return {"recall@10": float(per_user[:, 0].mean()), "ndcg@10": float(per_user[:, 1].mean()),
            "users": len(tests), "short_lists": sum(len(all_recs.get(u, [])) < K for u in tests),
            "_per_user": per_user}


def coverage_diversity(all_recs: dict[int, list[int]], genres: list[frozenset], catalog: int) -> dict:
    distinct = {i for r in all_recs.values() for i in r[:K]}
    ild = []
    for r in all_recs.values():
        r = r[:K]
        if len(r) < 2:
            continue
        sims = []
        for a in range(len(r)):
            for b in range(a + 1, len(r)):
                ga, gb = genres[r[a]], genres[r[b]]
                union = len(ga | gb)
                sims.append(len(ga & gb) / union if union else 0.0)
        ild.append(1.0 - float(np.mean(sims)))
    return {"coverage@10": len(distinct) / catalog, "distinct_items": len(distinct),
            "intra_list_diversity": float(np.mean(ild)) if ild else float("nan")}


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n: int = 2000) -> tuple[float, float, float]:
    """Mean of a - b per user with a 95% bootstrap interval (users resampled)."""
    rng = np.random.default_rng(SEED)
    d = a - b
    means = d[rng.integers(0, d.size, size=(n, d.size))].mean(axis=1)
    return float(d.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


# --- MovieLens ------------------------------------------------------------------------------


@dataclass
class Split:
    items: np.ndarray  # movie ids of the catalog (items with a training positive), sorted
    col: dict[int, int]  # movie id -> column
    users: list[int]  # row -> user id (every user with a training positive)
    x: sp.csr_matrix  # users x items, binary training positives
    history: dict[int, list[tuple[int, int]]]  # row -> [(timestamp, column)] oldest -> newest
    tests: dict[int, set[int]]  # row -> test columns (movie ids outside the catalog: -movie id)
    test_start: dict[int, tuple[int, int]]  # row -> (timestamp, movie id) of its first test item
    dislikes: dict[int, list[tuple[int, int]]]  # row -> [(timestamp, movie id)] ratings <= 2 before the test
    genres: list[frozenset]  # column -> genres
    first_genre: dict[int, list[str]]  # movie id -> genres in movies.csv order
    n_test_items: int
    test_outside_catalog: int


def load_movielens() -> Split:
    folder = DATA / "movielens-latest-small"
    ratings = defaultdict(list)
    low = defaultdict(list)
    with open(folder / "ratings.csv", newline="") as f:
        for row in csv.DictReader(f):
            u, m, r, t = int(row["userId"]), int(row["movieId"]), float(row["rating"]), int(row["timestamp"])
            if r >= 4:
                ratings[u].append((t, m))
            elif r <= 2:
                low[u].append((t, m))
    movie_genres: dict[int, list[str]] = {}
    with open(folder / "movies.csv", newline="") as f:
        for row in csv.DictReader(f):
            g = row["genres"]
            movie_genres[int(row["movieId"])] = [] if g == "(no genres listed)" else g.split("|")
    train: dict[int, list[tuple[int, int]]] = {}
    test: dict[int, list[tuple[int, int]]] = {}
    for u, pos in ratings.items():
        pos.sort()  # (timestamp, movie id)
        n_test = math.floor(0.2 * len(pos))
        train[u] = pos[: len(pos) - n_test]
        if n_test:
            test[u] = pos[len(pos) - n_test:]
    items = np.array(sorted({m for pos in train.values() for _, m in pos}))
    col = {int(m): i for i, m in enumerate(items)}
    users = sorted(u for u in train if train[u])
    row_of = {u: r for r, u in enumerate(users)}
    rows, cols = [], []
    history = {}
    for u in users:
        history[row_of[u]] = [(t, col[m]) for t, m in train[u]]
        for _, m in train[u]:
            rows.append(row_of[u])
            cols.append(col[m])
    x = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(items)))
    tests, test_start, dislikes = {}, {}, {}
    outside = n_test_items = 0
    for u, pos in test.items():
        r = row_of[u]
        tests[r] = {col.get(m, -m) for _, m in pos}
        outside += sum(m not in col for _, m in pos)
        n_test_items += len(pos)
        test_start[r] = pos[0]
        dislikes[r] = [(t, m) for t, m in low[u] if (t, m) < pos[0]]
    genres = [frozenset(movie_genres.get(int(m), [])) for m in items]
    return Split(items, col, users, x, history, tests, test_start, dislikes, genres, movie_genres,
                 n_test_items, outside)


def ranked_lists(split: Split, scorer) -> dict[int, list[int]]:
    out = {}
    for r in split.tests:
        hist = np.array([c for _, c in split.history[r]], dtype=np.int64)
        scores = scorer(r, hist)
        out[r] = algo.top_n(scores, K, hist).tolist()
    return out


def most_popular(split: Split) -> dict[int, list[int]]:
    counts = np.asarray(split.x.sum(axis=0)).ravel()
    order = np.lexsort((np.arange(counts.size), -counts))  # by count, ties by movie id
    out = {}
    for r in split.tests:
        seen = set(split.x.indices[split.x.indptr[r]:split.x.indptr[r + 1]].tolist())
        out[r] = [int(i) for i in order[: K + len(seen)] if i not in seen][:K]
    return out


def als_lists(x: sp.csr_matrix, rows: list[int], seed: int) -> dict[int, list[int]]:
    from implicit.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(**ALS_PARAMS, random_state=seed)
    model.fit(x, show_progress=False)
    ids, _ = model.recommend(np.array(rows), x[rows], N=K, filter_already_liked_items=True)
    return {r: [int(i) for i in ids[j] if i >= 0] for j, r in enumerate(rows)}


def decayed_popularity(times: np.ndarray, cols: np.ndarray, n: int, now: float) -> np.ndarray:
    """training.build's popularity formula (weight is constant for one signal type)."""
    decay = math.log(2) / (training.POPULARITY_HALF_LIFE_DAYS * 86400)
    w = training.SIGNAL_WEIGHT["REVIEW"] * np.exp(-decay * np.maximum(0.0, now - times))
    return np.bincount(cols, weights=w, minlength=n).astype(np.float32)


# --- the served ranking: service.recommend with its database reads faked ---------------------


@dataclass
class FakeProduct:
    external_id: str
    title: str
    categories: list
    active: bool = True
    hidden: bool = False
    in_stock: bool = True


@dataclass
class FakeMember:
    id: int
    anonymized_at: None = None


class FakeQuery:
    def __init__(self, rows):
        self.rows = rows

    def __await__(self):
        async def done():
            return self.rows
        return done().__await__()


def served_lists(split: Split, model: training.RecModel, mapping: str, with_dislikes: bool) -> tuple[dict, Counter]:
    """Runs the real service.recommend(context HOME, first 10, PERSONALIZATION granted) for
    every test user. mapping 'review': training positives are reviews rated >= 4 (what
    MovieLens ratings are); 'purchase': they are purchases (orders of one line each)."""
    products = {str(m): FakeProduct(str(m), str(m), split.first_genre.get(int(m), [])) for m in split.items}

    class FakeProductModel:
        @staticmethod
        def filter(external_id__in):
            return FakeQuery([products[p] for p in external_id__in if p in products])

    current: dict = {}
    # _member_history's shape follows the service under test (it grew a fifth value, all seen ids).
    legacy_history = "seen_all" not in inspect.getsource(service.recommend)

    async def member_history(member):
        # what _member_history returns for this member's rows (see service._member_history)
        seen: dict[str, float] = {}
        purchases: dict[str, list[datetime]] = {}
        rows = [(t, str(split.items[c])) for t, c in split.history[member.id]]
        if mapping == "purchase":
            for t, pid in sorted(rows, reverse=True)[:500]:  # .order_by("-placed_at").limit(500)
                purchases.setdefault(pid, []).append(datetime.fromtimestamp(t, UTC))
                seen[pid] = max(seen.get(pid, 0.0), float(t))
        else:
            for t, pid in rows:
                seen[pid] = max(seen.get(pid, 0.0), float(t))
        disliked = {str(m) for _, m in split.dislikes.get(member.id, [])} if with_dislikes else set()
        for pid in disliked:
            seen.pop(pid, None)
        ordered = sorted(((t, pid) for pid, t in seen.items()))[-service.HISTORY:]
        if legacy_history:  # before commit 4f9e389 _member_history returned four values
            return ordered, set(purchases), disliked, purchases
        return ordered, set(purchases), disliked, purchases, set(seen)

    async def get_member(ext):
        return FakeMember(int(ext))

    async def allowed(member):
        return True

    async def ensure():
        return model

    patches = {"Product": FakeProductModel, "_member_history": member_history, "get_member": get_member,
               "personalization_allowed": allowed}
    saved = {k: getattr(service, k) for k in patches}
    saved_ensure = service.training.ensure
    strategies: Counter = Counter()
    out = {}
    try:
        for k, v in patches.items():
            setattr(service, k, v)
        service.training.ensure = ensure

        async def run_all():
            for r in split.tests:
                current["now"] = datetime.fromtimestamp(split.test_start[r][0], UTC)
                _, items = await service.recommend(str(r), "HOME", [], K, None, [], now=current["now"])
                out[r] = [split.col[int(i.product.external_id)] for i in items]
                strategies.update(i.strategy for i in items)

        asyncio.run(run_all())
    finally:
        for k, v in saved.items():
            setattr(service, k, v)
        service.training.ensure = saved_ensure
    return out, strategies


def movielens(report: dict) -> None:
    t0 = time.perf_counter()
    split = load_movielens()
    n_items = split.x.shape[1]
    info = {"users_with_test": len(split.tests), "train_users": len(split.users), "catalog_items": n_items,
            "train_positives": int(split.x.nnz), "test_items": split.n_test_items,
            "test_items_outside_catalog": split.test_outside_catalog,
            "users_with_more_than_50_training_positives": sum(len(split.history[r]) > service.HISTORY for r in split.tests)}
    report["movielens"] = {"data": info, "rows": {}}
    rows = report["movielens"]["rows"]
    per_user = {}
    lists = {}
    log(f"movielens loaded: {info}")

    def add(name: str, recs: dict, note: str = "", seconds: float | None = None, diversity: bool = True):
        m = evaluate(recs, split.tests)
        per_user[name] = m.pop("_per_user")
        if diversity:
            m.update(coverage_diversity(recs, split.genres, n_items))
        m["note"] = note
        if seconds is not None:
            m["train_seconds"] = round(seconds, 2)
        rows[name] = m
        lists[name] = recs
        log(f"{name}: recall@10 {m['recall@10']:.4f} ndcg@10 {m['ndcg@10']:.4f}")

    add("most-popular", most_popular(split), "count of training positives, ties by ascending movie id")
    counts = np.asarray(split.x.sum(axis=0)).ravel().astype(np.float32)
    ties = {}
    for label, order in (("ties by descending movie id", np.lexsort((-np.arange(counts.size), -counts))),
                         ("algo.top_n (argpartition order)", None)):
        recs = {}
        for r in split.tests:
            hist = np.array([c for _, c in split.history[r]], dtype=np.int64)
            if order is None:
                recs[r] = algo.top_n(counts, K, hist).tolist()
            else:
                seen = set(hist.tolist())
                recs[r] = [int(i) for i in order[: K + len(seen)] if i not in seen][:K]
        m = evaluate(recs, split.tests)
        ties[label] = [m["recall@10"], m["ndcg@10"]]
    report["movielens"]["most_popular_tie_breaks"] = ties

    als_runs = []
    for seed in ALS_SEEDS:
        t = time.perf_counter()
        recs = als_lists(split.x, list(split.tests), seed)
        took = time.perf_counter() - t
        if seed == ALS_SEEDS[0]:
            add("implicit ALS", recs, f"{ALS_PARAMS}, random_state={seed}, implicit {__import__('implicit').__version__}",
                took)
        else:
            m = evaluate(recs, split.tests)
            als_runs.append((seed, m["recall@10"], m["ndcg@10"]))
    rec_all = [rows["implicit ALS"]["recall@10"]] + [r for _, r, _ in als_runs]
    nd_all = [rows["implicit ALS"]["ndcg@10"]] + [n for _, _, n in als_runs]
    report["movielens"]["als_seeds"] = {"seeds": list(ALS_SEEDS), "recall@10": rec_all, "ndcg@10": nd_all,
                                        "recall_mean": float(np.mean(rec_all)), "recall_sd": float(np.std(rec_all)),
                                        "ndcg_mean": float(np.mean(nd_all)), "ndcg_sd": float(np.std(nd_all))}

    t = time.perf_counter()
    ease_nb = algo.ease(split.x)
    t_ease = time.perf_counter() - t
    t = time.perf_counter()
    cos_nb = algo.cosine(split.x)
    t_cos = time.perf_counter() - t
    log(f"ease {t_ease:.1f}s cosine {t_cos:.1f}s")

    def rw(r, hist):
        return algo.recency_weights(hist.size)

    def uw(r, hist):
        return np.ones(hist.size, dtype=np.float32)

    add("EASE top-100, recency weights", ranked_lists(split, lambda r, h: algo.score(h, rw(r, h), ease_nb, n_items)),
        f"algo.ease (lambda {algo.EASE_LAMBDA}, k {algo.NEIGHBOURS}) + algo.score, tau {algo.RECENCY_TAU}", t_ease)
    add("EASE top-100, uniform weights", ranked_lists(split, lambda r, h: algo.score(h, uw(r, h), ease_nb, n_items)),
        "algo.ease + algo.score, every history item weight 1")
    add("cosine top-100, recency weights", ranked_lists(split, lambda r, h: algo.score(h, rw(r, h), cos_nb, n_items)),
        "algo.cosine + algo.score", t_cos)
    add("cosine top-100, uniform weights", ranked_lists(split, lambda r, h: algo.score(h, uw(r, h), cos_nb, n_items)),
        "algo.cosine + algo.score, every history item weight 1")
    add("blend (EASE + 0.3 cosine), recency weights, full history",
        ranked_lists(split, lambda r, h: algo.blend_scores(h, rw(r, h), ease_nb, cos_nb, n_items)),
        "algo.blend_scores(history oldest->newest, algo.recency_weights) + algo.top_n(banned = all training positives)")
    add("blend, uniform weights, full history",
        ranked_lists(split, lambda r, h: algo.blend_scores(h, uw(r, h), ease_nb, cos_nb, n_items)),
        "algo.blend_scores with every history item weight 1")

    # Decomposing the gap between the blend above and the served ranking below.
    def last50(h):
        return h[-service.HISTORY:]

    recs = {}
    for r in split.tests:
        hist = np.array([c for _, c in split.history[r]], dtype=np.int64)
        h = last50(hist)
        recs[r] = algo.top_n(algo.blend_scores(h, algo.recency_weights(h.size), ease_nb, cos_nb, n_items), K, hist).tolist()
    add("blend, recency weights, 50 most recent items as history, all training positives banned", recs,
        "the service's HISTORY = 50 cut alone")
    recs = {}
    for r in split.tests:
        h = last50(np.array([c for _, c in split.history[r]], dtype=np.int64))
        recs[r] = algo.top_n(algo.blend_scores(h, algo.recency_weights(h.size), ease_nb, cos_nb, n_items), K, h).tolist()
    add("blend, recency weights, 50 most recent items, only those 50 banned", recs,
        "what the similar_customers pool ranks (service bans hist_idx only), before filters and the category cap")

    # Reference only (not production): EASE without the top-100 pruning.
    t = time.perf_counter()
    gram = (split.x.T @ split.x).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += algo.EASE_LAMBDA
    p = np.linalg.inv(gram)
    b = (p / (-np.diag(p))).astype(np.float32)
    np.fill_diagonal(b, 0)
    del gram, p
    t_full = time.perf_counter() - t
    add("reference: EASE dense (no pruning), uniform weights",
        ranked_lists(split, lambda r, h: np.asarray(b[h].sum(axis=0)).ravel()),
        "textbook EASE, lambda 200, all item weights, float64 inverse (not production code)", t_full)
    b = None  # free the dense matrix

    # Trending: training.build's decayed popularity.
    times = np.concatenate([[t for t, _ in split.history[r]] for r in range(len(split.users))]).astype(np.float64)
    cols_all = np.concatenate([[c for _, c in split.history[r]] for r in range(len(split.users))]).astype(np.int64)
    t_end = float(times.max())
    pop_end = decayed_popularity(times, cols_all, n_items, t_end)
    add("trending, model trained at the end of training (now = last training timestamp)",
        ranked_lists(split, lambda r, h: pop_end),
        f"decayed popularity, half-life {training.POPULARITY_HALF_LIFE_DAYS} days; top_n drops items whose "
        f"score underflows to 0 ({int((pop_end > 0).sum())} items > 0)")

    def pop_at_user_time(r, h):
        now = split.test_start[r][0]
        mask = times < now
        return decayed_popularity(times[mask], cols_all[mask], n_items, now)

    add("trending as of each user's first test timestamp (past training events only)",
        ranked_lists(split, pop_at_user_time),
        "decayed popularity, half-life 7 days, computed per user from events before the test starts")

    # End to end, as served: training.build -> service.recommend.
    history = {r: {str(split.items[c]): float(t) for t, c in split.history[r]} for r in range(len(split.users))}
    events = [(str(split.items[c]), float(t), training.SIGNAL_WEIGHT["REVIEW"])
              for r in range(len(split.users)) for t, c in split.history[r]]
    t = time.perf_counter()
    model = training.build(history, {}, events, t_end)
    t_build = time.perf_counter() - t
    log(f"training.build {t_build:.1f}s, items {model.stats['items']:.0f}")
    served_notes = {
        ("review", False): "service.recommend(HOME, first 10) with training positives as reviews >= 4: history = the "
                           "50 most recent, only those 50 banned; category cap 3 per first genre; then trending",
        ("review", True): "as above, plus the user's ratings <= 2 before the test start as disliked reviews (blocked)",
        ("purchase", False): "training positives as purchases: every purchased item (500 most recent) is filtered; "
                             "history = 50 most recent; cap 3 per first genre; then exploration, trending",
    }
    report["movielens"]["served_strategies"] = {}
    for mapping, dis in served_notes:
        recs, strategies = served_lists(split, model, mapping, dis)
        name = f"served: service.recommend, positives as {mapping}s" + (" + dislikes" if dis else "")
        add(name, recs, served_notes[(mapping, dis)], t_build)
        report["movielens"]["served_strategies"][name] = dict(strategies)
    rows["served: service.recommend, positives as reviews"]["training.build_seconds"] = round(t_build, 2)

    # Where the served ranking loses: repeats of the user's own older positives.
    recs = lists["served: service.recommend, positives as reviews"]
    repeats = sum(len(set(recs[r]) & {c for _, c in split.history[r]}) for r in split.tests)
    report["movielens"]["served_repeats"] = {
        "recommended_training_positives_total": repeats,
        "users_affected": sum(bool(set(recs[r]) & {c for _, c in split.history[r]}) for r in split.tests),
        "slots": sum(len(recs[r]) for r in split.tests)}

    # Paired comparison with ALS.
    cmp = {}
    for name in ("blend (EASE + 0.3 cosine), recency weights, full history",
                 "served: service.recommend, positives as reviews", "served: service.recommend, positives as purchases"):
        for j, metric in enumerate(("recall@10", "ndcg@10")):
            d, lo, hi = paired_bootstrap(per_user[name][:, j], per_user["implicit ALS"][:, j])
            cmp[f"{name} - ALS, {metric}"] = {"diff": d, "ci95": [lo, hi]}
    report["movielens"]["vs_als_paired_bootstrap"] = cmp
    report["movielens"]["seconds"] = round(time.perf_counter() - t0, 1)


# --- Groceries ------------------------------------------------------------------------------


def groceries(report: dict) -> None:
    t0 = time.perf_counter()
    baskets = []
    with open(DATA / "groceries" / "groceries.csv") as f:
        for line in f:
            if line.strip():
                items = list(dict.fromkeys(i.strip() for i in line.rstrip("\n").split(",") if i.strip()))
                baskets.append(items)
    rng = np.random.default_rng(SEED)
    remaining: list[list[str]] = []
    hidden: dict[int, str] = {}
    for b, items in enumerate(baskets):
        if len(items) >= 2:
            h = int(rng.integers(len(items)))
            hidden[b] = items[h]
            remaining.append(items[:h] + items[h + 1:])
        else:
            remaining.append(list(items))
    # The model sees only the remaining items: every basket is an order, every line an event.
    train_baskets = {b: set(items) for b, items in enumerate(remaining)}
    events = [(i, 0.0, training.SIGNAL_WEIGHT["PURCHASE"]) for items in remaining for i in items]
    assert not any(hidden[b] in train_baskets[b] for b in hidden)
    t = time.perf_counter()
    model = training.build({}, train_baskets, events, 0.0)
    t_build = time.perf_counter() - t
    n = len(model.items)
    counts = np.zeros(n)
    for items in remaining:
        for i in items:
            counts[model.index[i]] += 1
    pop_order = np.lexsort((np.arange(n), -counts))
    eval_baskets = sorted(hidden)
    info = {"baskets": len(baskets), "eval_baskets": len(eval_baskets), "items_in_model": n,
            "distinct_items": len({i for b in baskets for i in b}),
            "hidden_items_unknown_to_model": sum(hidden[b] not in model.index for b in eval_baskets),
            "training_baskets_used_by_build (>1 remaining item)": sum(len(v) > 1 for v in train_baskets.values())}
    rows: dict = {}
    report["groceries"] = {"data": info, "rows": rows, "seed": SEED}

    def hit_rate(lists: dict[int, list[int]]) -> dict:
        hits = np.array([model.index.get(hidden[b], -1) in lists[b][:K] for b in eval_baskets])
        size2 = np.array([len(baskets[b]) == 2 for b in eval_baskets])
        return {"hit_rate@10": float(hits.mean()), "hit_rate@10 (2-item baskets)": float(hits[size2].mean()),
                "hit_rate@10 (3+ item baskets)": float(hits[~size2].mean()),
                "short_lists": int(sum(len(lists[b]) < K for b in eval_baskets))}

    anchors = {b: np.array([model.index[i] for i in remaining[b]], dtype=np.int64) for b in eval_baskets}
    mp = {}
    for b in eval_baskets:
        seen = set(anchors[b].tolist())
        mp[b] = [int(i) for i in pop_order[: K + len(seen)] if i not in seen][:K]
    rows["most-popular"] = hit_rate(mp) | {"note": "count of training occurrences, the basket's items excluded"}

    together = {}
    for b in eval_baskets:
        a = anchors[b]
        s = algo.score(a, np.ones(a.size, dtype=np.float32), model.together, n)
        together[b] = algo.top_n(s, K, a).tolist()
    rows["co-purchase (model.together = algo.cosine on basket x item)"] = hit_rate(together) | {
        "note": "training.build(...).together, algo.score from every remaining item (weight 1), algo.top_n banning them",
        "train_seconds": round(t_build, 3)}

    filled = {}
    for b in eval_baskets:
        extra = [i for i in mp[b] if i not in together[b]]
        filled[b] = (together[b] + extra)[:K]
    rows["co-purchase, then popularity fill (anonymous cart as served)"] = hit_rate(filled) | {
        "note": "service pools item_to_item then trending; no timestamps, so trending = plain popularity; "
                "no member, so the cosine half of item_to_item is 0"}

    # ALS with each basket as a user (trained on the remaining items only).
    from implicit.als import AlternatingLeastSquares

    rows_i, cols_i = [], []
    for b, items in enumerate(remaining):
        for i in items:
            rows_i.append(b)
            cols_i.append(model.index[i])
    xb = sp.csr_matrix((np.ones(len(rows_i), dtype=np.float32), (rows_i, cols_i)), shape=(len(remaining), n))
    t = time.perf_counter()
    als = AlternatingLeastSquares(**ALS_PARAMS, random_state=ALS_SEEDS[0])
    als.fit(xb, show_progress=False)
    ids, _ = als.recommend(np.array(eval_baskets), xb[eval_baskets], N=K, filter_already_liked_items=True)
    t_als = time.perf_counter() - t
    # References (not what the service serves for a cart): other item-item weights on the same training baskets.
    xg = xb[np.asarray(xb.sum(axis=1)).ravel() > 1]  # the baskets build() uses
    ease_g = algo.ease(xg)
    co = (xb.T @ xb).toarray()
    cnt = np.diag(co).copy()
    np.fill_diagonal(co, 0)
    for name, weights in (
            ("reference: algo.ease on the basket x item matrix (lambda 200, top-100)", None),
            ("reference: raw co-occurrence counts", co),
            ("reference: conditional probability P(j | i) = co(i, j) / count(i)", co / np.maximum(cnt, 1)[:, None])):
        lists = {}
        for b in eval_baskets:
            a = anchors[b]
            if weights is None:
                s = algo.score(a, np.ones(a.size, dtype=np.float32), ease_g, n)
            else:
                s = weights[a].sum(axis=0).astype(np.float32)
            lists[b] = algo.top_n(s, K, a).tolist()
        rows[name] = hit_rate(lists) | {"note": "not production; for scale"}

    rows["implicit ALS (baskets as users)"] = hit_rate({b: [int(i) for i in ids[j] if i >= 0]
                                                         for j, b in enumerate(eval_baskets)}) | {
        "note": f"{ALS_PARAMS}, random_state={ALS_SEEDS[0]}", "train_seconds": round(t_als, 2)}
    for name, m in rows.items():
        log(f"groceries {name}: hit-rate@10 {m['hit_rate@10']:.4f}")
    report["groceries"]["seconds"] = round(time.perf_counter() - t0, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    if not (DATA / "movielens-latest-small" / "ratings.csv").exists():
        raise SystemExit(f"shared data not found under {DATA} (set PATRON_SHARED_DATA)")
    import implicit

    report = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                          "numpy": np.__version__, "implicit": implicit.__version__,
                          "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
                          "loadavg_before": os.getloadavg()},
              "command": "OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/recommender_quality.py"}
    t0 = time.perf_counter()
    movielens(report)
    groceries(report)
    report["machine"]["loadavg_after"] = os.getloadavg()
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=float) + "\n")


def print_report(report: dict) -> None:
    ml = report["movielens"]
    print(f"\n# MovieLens latest-small  ({ml['data']})")
    base = ml["rows"]["most-popular"]
    als = ml["rows"]["implicit ALS"]
    print(f"{'strategy':<92} {'recall@10':>9} {'ndcg@10':>8} {'xPop':>5} {'xALS':>5} {'cov@10':>7} {'ILD':>5} short")
    for name, m in ml["rows"].items():
        print(f"{name[:92]:<92} {m['recall@10']:9.4f} {m['ndcg@10']:8.4f} {m['recall@10'] / base['recall@10']:5.2f} "
              f"{m['recall@10'] / als['recall@10']:5.2f} {m.get('coverage@10', float('nan')):7.3f} "
              f"{m.get('intra_list_diversity', float('nan')):5.3f} {m['short_lists']}")
    print("ALS seeds:", json.dumps(ml["als_seeds"]))
    print("most-popular with other tie-breaks:", json.dumps(ml["most_popular_tie_breaks"]))
    print("served strategies:", json.dumps(ml["served_strategies"]))
    print("served repeats of own training positives:", json.dumps(ml["served_repeats"]))
    for k, v in ml["vs_als_paired_bootstrap"].items():
        print(f"  {k}: {v['diff']:+.4f} [{v['ci95'][0]:+.4f}, {v['ci95'][1]:+.4f}]")
    g = report["groceries"]
    print(f"\n# Groceries  ({g['data']})")
    for name, m in g["rows"].items():
        print(f"{name:<70} " + " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                        for k, v in m.items() if k != "note"))
    print(f"\nmachine {report['machine']}; took {report['seconds']} s")


if __name__ == "__main__":
    main()
