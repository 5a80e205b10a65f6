"""BG/NBD (and its modified variant MBG/NBD) purchase model and Gamma-Gamma spend model.

Pure numpy/scipy, vectorised over aggregated per-customer arrays (never one object per
customer): `frequency` x = repeat purchases (orders - 1), `recency` t_x = days from the first
to the last order, `T` = days from the first order to now, `monetary` = average order value.
Formulas: Fader, Hardie & Lee (2005) "Counting your customers the easy way" (BG/NBD);
Batislam, Denizel & Filiztekin (2007) (MBG/NBD: a customer may also drop out right after the
first order, so a one-order customer long gone is not certain to be alive); Fader & Hardie
(2013) "The Gamma-Gamma model of monetary value". The `lifetimes` package implements the same
likelihoods; bench/member_insights_model.py checks these fits against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

MIN_CUSTOMERS = 20  # fewer customers with orders: no purchase model is fitted (figures null)
MIN_REPEAT_CUSTOMERS = 10  # fewer customers with 2+ orders: no spend model (CLV null)


@dataclass(frozen=True)
class PurchaseModel:
    r: float
    alpha: float
    a: float
    b: float
    modified: bool  # MBG/NBD when True

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(the customer is still active now | x, t_x, T)."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        ratio = np.exp((self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x)))
        if self.modified:
            return 1.0 / (1.0 + self.a / (self.b + x) * ratio)
        odds = np.where(x > 0, self.a / np.maximum(self.b + x - 1, 1e-12) * ratio, 0.0)
        return 1.0 / (1.0 + odds)

    def expected_purchases(self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Expected purchases in the next t days | x, t_x, T (conditional expectation)."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        power = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
        if self.modified:
            head = (a + b + x) / (a - 1)
            body = 1 - power * special.hyp2f1(r + x, b + x + 1, a + b + x, z)
        else:
            head = (a + b + x - 1) / (a - 1)
            body = 1 - power * special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        return head * body * self.p_alive(x, t_x, T)


def _purchase_ll(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray,
                 modified: bool) -> float:
    r, alpha, a, b = np.exp(params)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a3 = -(r + x) * np.log(alpha + T)
    if modified:
        a2 = special.gammaln(a + b) + special.gammaln(b + x + 1) - special.gammaln(b) - special.gammaln(a + b + x + 1)
        a4 = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
        ll = a1 + a2 + np.logaddexp(a3, a4)
    else:
        a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
        repeat = x > 0
        a4 = np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x)
        ll = a1 + a2 + np.where(repeat, np.logaddexp(a3, a4), a3)
    return -float(np.dot(w, ll)) / float(w.sum())


def _compress(*columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """Identical (x, t_x, T) rows once, with their count as weight: the likelihood is a sum
    over customers, and many share the same figures (one order, whole days)."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return (*unique.T, counts.astype(float))


def fit_purchases(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, modified: bool = True) -> PurchaseModel | None:
    """Maximum likelihood (L-BFGS-B on log-parameters); None with too few customers or a
    failed fit. Times are rescaled so the largest T is 10 while fitting (as lifetimes does),
    which keeps alpha near 1 and the optimiser well conditioned."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) < MIN_CUSTOMERS or not np.any(x > 0) or T.max() <= 0:
        return None
    scale = 10.0 / T.max()
    xs, ts, Ts, w = _compress(x, np.round(t_x, 4) * scale, np.round(T, 4) * scale)
    result = optimize.minimize(_purchase_ll, np.zeros(4), args=(xs, ts, Ts, w, modified), method="L-BFGS-B",
                               bounds=[(-12, 12)] * 4)
    r, alpha, a, b = np.exp(result.x)
    if not np.isfinite(result.fun) or abs(a - 1) < 1e-9:  # the expectation divides by a - 1
        return None
    return PurchaseModel(r=float(r), alpha=float(alpha / scale), a=float(a), b=float(b), modified=modified)


@dataclass(frozen=True)
class SpendModel:
    p: float
    q: float
    v: float

    def expected_average(self, n: np.ndarray, m: np.ndarray) -> np.ndarray:
        """E[average order value | n orders averaging m]: shrinks m towards the population mean."""
        n, m = np.asarray(n, dtype=float), np.asarray(m, dtype=float)
        return (self.p * (self.v + n * m)) / (self.p * n + self.q - 1)


def _spend_ll(params: np.ndarray, n: np.ndarray, m: np.ndarray) -> float:
    p, q, v = np.exp(params)
    ll = (special.gammaln(p * n + q) - special.gammaln(p * n) - special.gammaln(q) + q * np.log(v)
          + (p * n - 1) * np.log(m) + p * n * np.log(n) - (p * n + q) * np.log(v + n * m))
    return -float(ll.mean())


def fit_spend(n: np.ndarray, m: np.ndarray) -> SpendModel | None:
    """Gamma-Gamma on customers with n >= 1 orders averaging m > 0; None with fewer than
    MIN_REPEAT_CUSTOMERS customers of 2+ orders (the spread of one customer's orders is what
    identifies p). Amounts are rescaled to a mean of 1 while fitting (v scales with them)."""
    n, m = np.asarray(n, dtype=float), np.asarray(m, dtype=float)
    keep = (n >= 1) & (m > 0)
    if (keep & (n >= 2)).sum() < MIN_REPEAT_CUSTOMERS:
        return None
    n, m = n[keep], m[keep]
    scale = m.mean()
    result = optimize.minimize(_spend_ll, np.zeros(3), args=(n, m / scale), method="L-BFGS-B", bounds=[(-12, 12)] * 3)
    p, q, v = np.exp(result.x)
    if not np.isfinite(result.fun) or q <= 1:  # the population mean spend p·v/(q-1) is undefined
        return None
    return SpendModel(p=float(p), q=float(q), v=float(v * scale))
