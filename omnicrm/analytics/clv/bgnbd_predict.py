"""BG/NBD predictions for a customer history (x, t_x, T): P(alive), the expected number of
purchases in the next t (equation 10 of the paper, with the Gaussian hypergeometric function
and its fallbacks), the chance of ordering within t and the expected gap between orders.

Every function takes ``params`` = (r, alpha, a, b) or an (n, 4) array of parameter draws (one
output row per draw), so the same code gives point predictions and their intervals.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
from scipy import integrate, special

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

#: Node counts of the two Gauss-Jacobi rules whose agreement validates the first fallback.
GAUSS_JACOBI_NODES = (32, 64)
#: At most this many customer rows per call go to the slow adaptive quadrature; beyond it
#: the parameters are too far outside the usual range to be worth predicting with.
QUADRATURE_MAX_ROWS = 2000
#: Half-width of the band around a = 1 (a removable singularity of equation 10) that is
#: evaluated by averaging the two sides.
A_ONE_EPS = 1e-5


def _params(params: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(r, alpha, a, b) from a length-4 vector or an (n, 4) array of draws; draws come out
    as (n, 1) columns so they broadcast against a row of customers."""
    p = np.asarray(params, dtype=np.float64)
    if p.ndim == 1:
        return p[0], p[1], p[2], p[3]  # type: ignore[return-value]
    return p[:, 0:1], p[:, 1:2], p[:, 2:3], p[:, 3:4]


def probability_alive(
    params: ArrayLike, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> FloatArray:
    """P(alive | x, t_x, T), equation (11) of the paper, as a logistic of a log-odds so
    that it is exact in both tails. Customers without a repeat purchase are alive with
    probability 1 under BG/NBD (dropout happens only right after a repeat purchase)."""
    r, alpha, a, b = _params(params)
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    T = np.asarray(age, dtype=np.float64)
    log_odds_dead = (
        np.log(a)
        - np.log(b + np.maximum(x, 1) - 1)
        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )
    return np.where(x > 0, special.expit(-log_odds_dead), 1.0)


def probability_order_within(
    params: ArrayLike, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> FloatArray:
    """P(at least one purchase in (T, T + t] | x, t_x, T). An alive customer cannot drop out
    before their next purchase, which comes after an Exponential(lambda) wait with lambda's
    posterior Gamma(r + x, alpha + T); hence P(alive) * (1 - ((alpha+T)/(alpha+T+t))^(r+x))."""
    r, alpha, _a, _b = _params(params)
    x = np.asarray(frequency, dtype=np.float64)
    T = np.asarray(age, dtype=np.float64)
    tt = np.asarray(t, dtype=np.float64)
    no_order = np.exp(-(r + x) * np.log1p(tt / (alpha + T)))
    return probability_alive(params, frequency, recency, age) * (1.0 - no_order)


def expected_gap_alive(params: ArrayLike, frequency: ArrayLike, age: ArrayLike) -> FloatArray:
    """(alpha + T) / (r + x): the reciprocal of an alive customer's expected purchase rate
    E[lambda | x, T] = (r + x) / (alpha + T), i.e. the expected time between orders."""
    r, alpha, _a, _b = _params(params)
    x = np.asarray(frequency, dtype=np.float64)
    T = np.asarray(age, dtype=np.float64)
    return (alpha + T) / (r + x)


def _hyp2f1_part(
    r: FloatArray, alpha: FloatArray, a: FloatArray, b: FloatArray,
    t: FloatArray, x: FloatArray, T: FloatArray,
) -> FloatArray:  # fmt: skip
    """(a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)],
    z = t/(alpha+T+t), computed in Euler's transformed form
    (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose first two parameters do not grow with x
    (the untransformed series overflows for frequent buyers over long horizons).
    Non-finite where scipy's hyp2f1 fails or c = a+b+x-1 <= 0."""
    c = a + b + x - 1.0
    z = t / (alpha + T + t)
    with np.errstate(all="ignore"):
        f = special.hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        g = np.exp((a - 1.0) * np.log1p(-z)) * f
        out = c / (a - 1.0) * (1.0 - g)
    return np.where(c > 0, out, np.nan)


def _gauss_jacobi_part(
    r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """E_p[(1 - (1 + p t/(alpha+T))^-(r+x)) / p], p ~ Beta(a, b + x), by Gauss-Jacobi rules of
    32 and 64 nodes (the Beta weight is built into the rule, so a very concentrated Beta is
    handled exactly); NaN where the two rules disagree beyond 1e-9 relative."""
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        for xv in np.unique(x):
            rows = x == xv
            k = (t[rows] / (alpha + T[rows]))[:, None]
            values = []
            for n in GAUSS_JACOBI_NODES:
                y, w = special.roots_jacobi(n, b + xv - 1.0, a - 1.0)
                p = (1.0 + y) / 2.0
                g = -np.expm1(-(r + xv) * np.log1p(p[None, :] * k)) / p[None, :]
                values.append(np.einsum("ij,j->i", g, w) / w.sum())
            coarse, fine = values
            agree = np.isfinite(fine) & (np.abs(coarse - fine) <= 1e-9 * np.abs(fine))
            out[rows] = np.where(agree, fine, np.nan)
    return out


def _quadrature_part(
    r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """The same quantity as :func:`_hyp2f1_part` as E_p[(1 - (1 + p t/(alpha+T))^-(r+x)) / p]
    with p ~ Beta(a, b + x) (the posterior of the dropout probability of an alive customer).
    First by Gauss-Jacobi rules (fast, exact for a concentrated Beta), then, for the rows
    where they do not agree (a boundary layer near p = 0 when a is small), by adaptive
    quadrature with the Beta weight's endpoint singularities handled exactly (QUADPACK's
    QAWS, about a millisecond per row, at most ``QUADRATURE_MAX_ROWS`` rows). NaN where
    neither converges."""
    out = _gauss_jacobi_part(r, alpha, a, b, t, x, T)
    todo = np.flatnonzero(~np.isfinite(out))
    if todo.shape[0] > QUADRATURE_MAX_ROWS:
        return out
    for i in todo:
        k = float(t[i] / (alpha + T[i]))
        s = r + float(x[i])
        beta_b = b + float(x[i]) - 1.0
        if not (np.isfinite(k) and np.isfinite(s) and a - 1.0 > -1.0 and beta_b > -1.0):
            continue

        def g(p: float, k: float = k, s: float = s) -> float:
            return float(-np.expm1(-s * np.log1p(p * k)) / p) if p > 0 else s * k

        with warnings.catch_warnings():
            warnings.simplefilter("error", integrate.IntegrationWarning)
            try:
                value, _err = integrate.quad(
                    g, 0.0, 1.0, weight="alg", wvar=(a - 1.0, beta_b),
                    limit=100, epsabs=0.0, epsrel=1e-10,
                )  # fmt: skip
            except (integrate.IntegrationWarning, ValueError):
                continue  # stays NaN: the caller treats the prediction as not computable
        with np.errstate(all="ignore"):
            out[i] = value * np.exp(-special.betaln(a, b + float(x[i])))
    return out


def conditional_expected_purchases(
    params: ArrayLike, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected repeat purchases in the next t, equation (10) of the
    paper. ``params`` is (r, alpha, a, b), giving an array shaped like the customers, or an
    (n, 4) array of draws, giving an (n, customers) array.

    Numerical range: the Gaussian hypergeometric function is evaluated in Euler's transformed
    form (see :func:`_hyp2f1_part`); a = 1 is a removable singularity, evaluated as the mean of
    a = 1 -/+ 1e-5; wherever ``scipy.special.hyp2f1`` still returns a non-finite or negative
    value, or c = a + b + x - 1 <= 0 (only possible when a + b <= 1), or a and b are so large
    that it gives up (a dropout probability nearly the same for everyone), the expectation of a
    single parameter set is computed by quadrature over the dropout probability instead (see
    :func:`_quadrature_part`). Entries that still cannot be computed, and any such entry of a
    draw, come out as NaN for the caller to refuse or drop.
    """
    p = np.asarray(params, dtype=np.float64)
    draws = p.reshape(-1, 4)
    x, t_x, T, tt = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (frequency, recency, age, t))
    )
    shape = x.shape
    x, t_x, T, tt = (v.reshape(1, -1) for v in (x, t_x, T, tt))
    r, alpha, a, b = (draws[:, i : i + 1] for i in range(4))

    near_one = np.abs(a - 1.0) < A_ONE_EPS
    if np.any(near_one):
        lo = _hyp2f1_part(r, alpha, np.where(near_one, 1.0 - A_ONE_EPS, a), b, tt, x, T)
        hi = _hyp2f1_part(r, alpha, np.where(near_one, 1.0 + A_ONE_EPS, a), b, tt, x, T)
        part = np.where(near_one, (lo + hi) / 2.0, hi)
    else:
        part = _hyp2f1_part(r, alpha, a, b, tt, x, T)
    part = np.where(tt == 0, 0.0, part)

    bad = ~np.isfinite(part) | (part < -1e-9)
    if bad.any():
        if p.ndim == 1:
            rows = bad[0]
            part[0, rows] = _quadrature_part(
                float(r[0, 0]), float(alpha[0, 0]), float(a[0, 0]), float(b[0, 0]),
                tt[0, rows], x[0, rows], T[0, rows],
            )  # fmt: skip
        else:
            # Draws (intervals) get the vectorised Gauss-Jacobi rules only, never the slow
            # adaptive quadrature: what stays NaN makes the caller drop that draw.
            for i in np.flatnonzero(bad.any(axis=1)):
                rows = bad[i]
                part[i, rows] = _gauss_jacobi_part(
                    float(r[i, 0]), float(alpha[i, 0]), float(a[i, 0]), float(b[i, 0]),
                    tt[0, rows], x[0, rows], T[0, rows],
                )  # fmt: skip
    part = np.maximum(part, 0.0)  # rounding can leave -1e-17 for tiny horizons
    result = part * probability_alive(draws, x, t_x, T)
    return result.reshape(shape) if p.ndim == 1 else result.reshape((draws.shape[0], *shape))
