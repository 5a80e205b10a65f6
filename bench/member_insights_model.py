"""Member insights model benchmark (issue 13): churn risk and expected purchases from the
production code (domain/insights/clv.py), fitted on a calibration period and checked on a
holdout, against a recency-only baseline; and the fit's time at 1M customers.

    .venv/bin/python bench/member_insights_model.py [--markdown]

Data: MovieLens latest-small ratings (../shared/data) as a stand-in for purchases: a user is
a customer and a UTC day with at least one rating is one purchase (several ratings the same
day are one visit, as one basket). Split at CUT (the calibration end): customers are users
with a purchase before CUT; for each, from calibration purchases only, x = purchase days - 1,
t_x = days from the first to the last, T = days from the first to CUT; the holdout is the
HOLDOUT days after CUT; actual = purchase days in the holdout.

Figures per split (both splits: holdout = the last 365 days of data, and the 365 days before):
- Pearson correlation of predicted vs actual holdout purchases per customer;
- ROC AUC of "purchases again in the holdout" (actual >= 1), rank-based (Mann-Whitney);
for BG/NBD and MBG/NBD (the production choice): predicted = E[purchases in HOLDOUT days],
score = the same; recency-only baseline: score = -(days since the last purchase), its
"prediction" for the correlation is 1 / (1 + days since the last purchase); and a
frequency-rate baseline x / T x HOLDOUT (what a spreadsheet would do).

Speed: 1,000,000 synthetic customers drawn from an MBG/NBD population (numpy, seed 7), over
two years; seconds for fit_purchases, fit_spend, and scoring everyone (P(alive), expected
purchases 90 and 365 days, expected spend), on the aggregated arrays as the job does.

With --markdown writes bench/results/member_insights_model.md, which bench/run_all.py puts
into bench/RESULTS.md (`.venv/bin/python bench/run_all.py --render`).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from domain.insights import clv  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "movielens-latest-small" / "ratings.csv"
HOLDOUT = 365
DAY = 86_400


def load_days() -> tuple[np.ndarray, np.ndarray]:
    """(user, day) pairs, one per user and UTC day with a rating."""
    raw = np.loadtxt(DATA, delimiter=",", skiprows=1, usecols=(0, 3), dtype=np.int64)
    pairs = np.unique(np.column_stack([raw[:, 0], raw[:, 1] // DAY]), axis=0)
    return pairs[:, 0], pairs[:, 1]


def auc(score: np.ndarray, label: np.ndarray) -> float:
    ranks = stats.rankdata(score)
    pos = label.astype(bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def evaluate(users: np.ndarray, days: np.ndarray, cut: int) -> dict[str, object]:
    cal = days < cut
    hold = (days >= cut) & (days < cut + HOLDOUT)
    ids = np.unique(users[cal])
    idx = np.searchsorted(ids, users)
    n = np.bincount(idx[cal], minlength=len(ids))
    first = np.full(len(ids), np.iinfo(np.int64).max)
    last = np.full(len(ids), np.iinfo(np.int64).min)
    np.minimum.at(first, idx[cal], days[cal])
    np.maximum.at(last, idx[cal], days[cal])
    in_ids = np.isin(users, ids) & hold
    actual = np.bincount(np.searchsorted(ids, users[in_ids]), minlength=len(ids)).astype(float)
    x, t_x, T = n - 1.0, (last - first).astype(float), (cut - first).astype(float)
    recency = (cut - last).astype(float)
    rows: dict[str, dict[str, float]] = {}
    fitted = {}
    for name, modified in (("BG/NBD", False), ("MBG/NBD (production)", True)):
        t0 = time.perf_counter()
        model = clv.fit_purchases(x, t_x, T, modified=modified)
        fit_s = time.perf_counter() - t0
        assert model is not None
        fitted[name] = model
        predicted = model.expected_purchases(HOLDOUT, x, t_x, T)
        rows[name] = {"pearson": float(stats.pearsonr(predicted, actual)[0]), "auc": auc(predicted, actual > 0),
                      "fit_s": fit_s, "predicted_total": float(predicted.sum())}
    rec_score = 1 / (1 + recency)
    rows["recency-only baseline"] = {"pearson": float(stats.pearsonr(rec_score, actual)[0]),
                                     "auc": auc(-recency, actual > 0)}
    rate = x / np.maximum(T, 1) * HOLDOUT
    rows["frequency-rate baseline"] = {"pearson": float(stats.pearsonr(rate, actual)[0]), "auc": auc(rate, actual > 0),
                                       "predicted_total": float(rate.sum())}
    return {"cut": datetime.fromtimestamp(cut * DAY, UTC).date().isoformat(), "customers": int(len(ids)),
            "repeaters": int((x > 0).sum()), "holdout_buyers": int((actual > 0).sum()),
            "actual_total": float(actual.sum()), "rows": rows,
            "params": {k: {p: round(getattr(m, p), 4) for p in ("r", "alpha", "a", "b")} for k, m in fitted.items()}}


def synthetic(count: int, seed: int = 7) -> tuple[np.ndarray, ...]:
    """Aggregated (x, t_x, T, n, average) of `count` customers drawn exactly from the MBG/NBD
    story over 730 days, vectorised: orders come at rate ~ Gamma(r 0.8, alpha 40 days) while
    active, and at the first order and after each repeat the customer drops out with
    p ~ Beta(1.5, 4). N ~ Poisson(rate T) orders would come in T if always active, B ~
    Geometric(p) - 1 come before the drop-out; x = min(N, B) and, as N arrivals are uniform
    over T, t_x = T x Beta(x, N - x + 1) (the x-th of N uniforms)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.8, 1 / 40, count)
    p = rng.beta(1.5, 4, count)
    T = rng.uniform(0, 730, count)
    N = rng.poisson(rate * T)
    B = rng.geometric(p) - 1
    x = np.minimum(N, B)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), N - x + 1), 0.0)
    n = x + 1
    average = rng.gamma(6, 5_000 / 6, count) * rng.gamma(20, 1 / 20, count)
    return x.astype(float), t_x, T, n.astype(float), average


def speed(count: int) -> dict[str, float]:
    x, t_x, T, n, average = synthetic(count)
    t0 = time.perf_counter()
    model = clv.fit_purchases(x, t_x, T)
    t1 = time.perf_counter()
    spend = clv.fit_spend(n, average)
    t2 = time.perf_counter()
    assert model is not None and spend is not None
    alive = model.p_alive(x, t_x, T)
    e90 = model.expected_purchases(90, x, t_x, T)
    clv12 = model.expected_purchases(365, x, t_x, T) * spend.expected_average(n, average)
    t3 = time.perf_counter()
    assert np.isfinite(alive).all() and np.isfinite(e90).all() and np.isfinite(clv12).all()
    distinct = len(np.unique(np.column_stack([x, np.round(t_x), np.round(T)]), axis=0))  # whole days, as fitted
    return {"customers": count, "distinct_rows": distinct, "fit_purchases_s": t1 - t0, "fit_spend_s": t2 - t1, "score_s": t3 - t2,
            "params": {"r": model.r, "alpha": model.alpha, "a": model.a, "b": model.b}}


def markdown(splits: list[dict], fast: dict, load: tuple[float, ...], took: float) -> str:
    out = ["## Member insights model (`bench/member_insights_model.py`)", "",
           f"_Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; `.venv/bin/python bench/member_insights_model.py "
           f"--markdown`; took {took:.0f} s; load average before {' '.join(f'{v:.2f}' for v in load)}; "
           f"Python {platform.python_version()}, numpy {np.__version__}, nproc {os.cpu_count()}._", "",
           "MovieLens latest-small ratings as purchases (one purchase = a user's UTC day with a rating); "
           "calibration = everything before the cut, holdout = the 365 days after it; customers = users "
           "with a calibration purchase. Higher is better for both figures.", ""]
    for s in splits:
        out += [f"**Cut {s['cut']}**: {s['customers']} customers, {s['repeaters']} with a repeat purchase, "
                f"{s['holdout_buyers']} purchase again in the holdout ({s['actual_total']:.0f} purchase days).", "",
                "| model | Pearson r (predicted vs actual purchases) | ROC AUC (purchases again) | predicted total |",
                "|---|---|---|---|"]
        for name, row in s["rows"].items():
            total = f"{row['predicted_total']:.1f}" if "predicted_total" in row else "—"
            out.append(f"| {name} | {row['pearson']:.3f} | {row['auc']:.3f} | {total} |")
        out += ["", "Fitted: " + "; ".join(f"{k} r {v['r']}, alpha {v['alpha']} days, a {v['a']}, b {v['b']}"
                                           for k, v in s["params"].items()), ""]
    out += [f"**Fit at {fast['customers']:,} synthetic customers** (aggregated arrays, one process): MBG/NBD fit "
            f"{fast['fit_purchases_s']:.2f} s ({fast['distinct_rows']:,} distinct (x, t_x, T) rows in whole days), Gamma-Gamma fit {fast['fit_spend_s']:.2f} s, scoring everyone "
            f"(P(alive), expected purchases 90 and 365 days, CLV) {fast['score_s']:.2f} s. Recovered (drawn): r "
            f"{fast['params']['r']:.3f} (0.8), alpha {fast['params']['alpha']:.1f} (40), a {fast['params']['a']:.3f} "
            f"(1.5), b {fast['params']['b']:.3f} (4).", ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true", help="write bench/results/member_insights_model.md")
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    load = os.getloadavg()
    started = time.monotonic()
    users, days = load_days()
    end = int(days.max()) + 1
    splits = [evaluate(users, days, end - HOLDOUT), evaluate(users, days, end - 2 * HOLDOUT)]
    fast = speed(args.customers)
    text = markdown(splits, fast, load, time.monotonic() - started)
    print(text)
    if args.markdown:
        (ROOT / "bench" / "results").mkdir(exist_ok=True)
        (ROOT / "bench" / "results" / "member_insights_model.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
