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


def _purchase_ll(params: np.ndarray, ux: np.ndarray, inv: np.ndarray, x: np.ndarray, t_x: np.ndarray,
                 T: np.ndarray, w: np.ndarray, modified: bool) -> tuple[float, np.ndarray]:
    """Weighted mean negative log-likelihood and its gradient in the log-parameters. The
    gamma-function terms depend on x only: computed once per distinct x (`ux`; `inv` maps
    rows to it), the rest per row. With L = log(e^A3 + e^A4), s3 and s4 are the shares of
    the two terms (softmax), which is all the gradient of L needs."""
    r, alpha, a, b = np.exp(params)
    shift = 1 if modified else 0  # MBG/NBD: b + x + 1 where BG/NBD has b + x
    per_x = (special.gammaln(r + ux) - special.gammaln(r) + special.gammaln(a + b) + special.gammaln(b + ux + shift)
             - special.gammaln(b) - special.gammaln(a + b + ux + shift))
    db_x = special.digamma(a + b) + special.digamma(b + ux + shift) - special.digamma(b) - special.digamma(
        a + b + ux + shift)
    da_x = special.digamma(a + b) - special.digamma(a + b + ux + shift)
    dr_x = special.digamma(r + ux) - special.digamma(r)
    b_x = b + ux if modified else np.where(ux > 0, b + ux - 1, 1.0)
    log_alpha_T, log_alpha_t = np.log(alpha + T), np.log(alpha + t_x)
    a3 = -(r + x) * log_alpha_T
    a4 = (np.log(a) - np.log(b_x))[inv] - (r + x) * log_alpha_t
    if not modified:  # no repeat order: no second term
        a4 = np.where(x > 0, a4, -np.inf)
    tail = np.logaddexp(a3, a4)
    s3, s4 = np.exp(a3 - tail), np.exp(a4 - tail)
    ll = per_x[inv] + r * np.log(alpha) + tail
    grad = np.array([
        r * np.dot(w, dr_x[inv] + np.log(alpha) - s3 * log_alpha_T - s4 * log_alpha_t),
        alpha * np.dot(w, r / alpha - (r + x) * (s3 / (alpha + T) + s4 / (alpha + t_x))),
        a * np.dot(w, da_x[inv] + s4 / a),
        b * np.dot(w, db_x[inv] - s4 / b_x[inv]),
    ])
    total = float(w.sum())
    return -float(np.dot(w, ll)) / total, -grad / total


def _compress(*columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """Identical rows once, with their count as weight: the likelihood is a sum over
    customers, and many share the same figures (one order, the same day)."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return (*unique.T, counts.astype(float))


def fit_purchases(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, modified: bool = True,
                  resolution: float = 1.0) -> PurchaseModel | None:
    """Maximum likelihood (L-BFGS-B on log-parameters); None with too few customers or a
    failed fit. Times are rescaled so the largest T is 10 while fitting (as lifetimes does),
    which keeps alpha near 1 and the optimiser well conditioned; t_x and T are first rounded
    to `resolution` (one day in the job) so customers with the same figures count once."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) < MIN_CUSTOMERS or not np.any(x > 0) or T.max() <= 0:
        return None
    scale = 10.0 / T.max()
    xs, ts, Ts, w = _compress(x, np.round(t_x / resolution) * resolution * scale,
                              np.round(T / resolution) * resolution * scale)
    ux, inv = np.unique(xs, return_inverse=True)
    result = optimize.minimize(_purchase_ll, np.zeros(4), args=(ux, inv, xs, ts, Ts, w, modified), jac=True,
                               method="L-BFGS-B", bounds=[(-12, 12)] * 4)
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


def _spend_ll(params: np.ndarray, un: np.ndarray, inv: np.ndarray, n: np.ndarray, log_m: np.ndarray,
             m: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood and gradient in the log-parameters; terms of n alone per distinct n."""
    p, q, v = np.exp(params)
    per_n = special.gammaln(p * un + q) - special.gammaln(p * un) - special.gammaln(q) + p * un * np.log(un)
    psi_n = special.digamma(p * un + q)
    dp_n = un * (psi_n - special.digamma(p * un) + np.log(un))
    log_vm = np.log(v + n * m)
    ll = per_n[inv] + q * np.log(v) + (p * n - 1) * log_m - (p * n + q) * log_vm
    grad = np.array([
        p * np.sum(dp_n[inv] + n * log_m - n * log_vm),
        q * np.sum(psi_n[inv] - special.digamma(q) + np.log(v) - log_vm),
        v * np.sum(q / v - (p * n + q) / (v + n * m)),
    ])
    return -float(ll.mean()), -grad / len(n)


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
    m = m / scale
    un, inv = np.unique(n, return_inverse=True)
    result = optimize.minimize(_spend_ll, np.zeros(3), args=(un, inv, n, np.log(m), m), jac=True, method="L-BFGS-B",
                               bounds=[(-12, 12)] * 3)
    p, q, v = np.exp(result.x)
    if not np.isfinite(result.fun) or q <= 1:  # the population mean spend p·v/(q-1) is undefined
        return None
    return SpendModel(p=float(p), q=float(q), v=float(v * scale))
