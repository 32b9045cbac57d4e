"""BG/NBD: the beta-geometric / negative binomial model of repeat buying.

Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
Pareto/NBD Model", Marketing Science 24(2). While a customer is alive, purchases arrive as a
Poisson process with rate lambda ~ Gamma(r, alpha); after each repeat purchase the customer
drops out with probability p ~ Beta(a, b). The data per customer is (x, t_x, T): repeat purchases,
time of the last one and age, all measured from the first purchase.

Fitting is maximum likelihood on the log-parameters (see :mod:`.fitting`) with the *analytic*
gradient of the log-likelihood (equation 6 of the paper, written with ``gammaln``/``betaln`` and
a log-sum-exp so that it stays finite for any x). Predictions for a history are in
:mod:`.bgnbd_predict`. Identical (x, t_x, T) rows are fitted once with a weight, and every
term that depends on x only (``gammaln(r + x)``, ``betaln(a, b + x)`` and their derivatives) is
computed once per distinct x. The inverse Hessian (observed information) gives standard errors
and confidence intervals, which are computed on the log scale so that they stay positive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from django.utils.translation import gettext as _
from scipy import special

from omnicrm.analytics.clv.bgnbd_predict import (
    conditional_expected_purchases,
    expected_gap_alive,
    probability_alive,
    probability_order_within,
)
from omnicrm.analytics.clv.errors import ModelNotFittable, TransactionLogInvalid
from omnicrm.analytics.clv.fitting import (
    LOG_BOUND,
    ParameterEstimate,
    difference_hessian,
    dot,
    information_inverse,
    maximize_log_likelihood,
    parameter_estimates,
)
from omnicrm.analytics.clv.summary import weighted_sum
from omnicrm.analytics.clv.threads import single_threaded_blas

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

__all__ = [
    "MIN_REPEAT_BUYERS",
    "PARAM_NAMES",
    "BGNBDFit",
    "BGNBDParams",
    "ParameterEstimate",
    "bgnbd_fit",
    "bgnbd_log_likelihood",
    "conditional_expected_purchases",
    "distinct_histories",
    "expected_gap_alive",
    "probability_alive",
    "probability_order_within",
]

PARAM_NAMES = ("r", "alpha", "a", "b")
#: Below this many customers with a repeat purchase, the dropout process (a, b) is not
#: identified well enough to be worth reporting; callers fall back to the RFM rules.
MIN_REPEAT_BUYERS = 20


@dataclass
class _Data:
    """Distinct (x, t_x, T) rows with weights, split into non-repeaters and repeaters."""

    weight_total: float
    x_values: FloatArray  # distinct x
    x_weight: FloatArray  # total weight per distinct x
    # customers with x = 0: only T matters
    zero_T: FloatArray
    zero_w: FloatArray
    # customers with x > 0
    rep_x: FloatArray
    rep_wx: FloatArray  # weight * x
    rep_x_values: FloatArray  # distinct x among them
    rep_x_index: npt.NDArray[np.intp]
    rep_tx: FloatArray
    rep_T: FloatArray
    rep_w: FloatArray
    n_rows: int = field(default=0)


def _validated(
    frequency: ArrayLike, recency: ArrayLike, age: ArrayLike, weights: ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    x = np.asarray(frequency, dtype=np.float64).ravel()
    t_x = np.asarray(recency, dtype=np.float64).ravel()
    T = np.asarray(age, dtype=np.float64).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not (x.shape == t_x.shape == T.shape == w.shape):
        raise TransactionLogInvalid(
            _("frequency, recency, age and weights must have the same length."), field="frequency"
        )
    if x.shape[0] == 0:
        raise TransactionLogInvalid(_("There are no customers to fit."), field="frequency")
    finite = np.isfinite(x) & np.isfinite(t_x) & np.isfinite(T) & np.isfinite(w)
    if not finite.all():
        raise TransactionLogInvalid(
            _("Customer %(i)d has a missing or infinite value.") % {"i": int(np.argmin(finite))},
            field="frequency",
        )
    bad = (
        (x < 0)
        | (x != np.floor(x))
        | (t_x < 0)
        | (t_x > T)
        | (w < 0)
        | ((x == 0) & (t_x != 0))
        | ((x > 0) & (t_x <= 0))
    )
    if bad.any():
        i = int(np.argmax(bad))
        raise TransactionLogInvalid(
            _(
                "Customer %(i)d has frequency %(x)s, recency %(tx)s and age %(T)s: frequency "
                "must be a whole number >= 0, 0 < recency <= age for repeat buyers and "
                "recency = 0 otherwise."
            )
            % {"i": i, "x": x[i], "tx": t_x[i], "T": T[i]},
            field="frequency",
        )
    return x, t_x, T, w


def _integer_index(x: FloatArray) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """Distinct values of a whole-number array and each row's index among them, in O(n)
    (a bincount and a lookup table instead of a sort)."""
    xi = x.astype(np.int64)
    present = np.flatnonzero(np.bincount(xi))
    lookup = np.zeros(int(xi.max()) + 1 if xi.shape[0] else 1, dtype=np.intp)
    lookup[present] = np.arange(present.shape[0])
    return present.astype(np.float64), lookup[xi]


def distinct_histories(
    x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None:
    """(first row of each distinct (x, t_x, T), distinct index of every row), or None when
    the ages are mostly distinct (continuous times), where merging would not pay.

    Summaries built from purchase days repeat a lot (CDNOW: 2,357 customers, 1,016 distinct
    histories); every BG/NBD quantity is a function of the history only."""
    n = T.shape[0]
    probe = T if n <= 40_000 else T[np.random.default_rng(0).choice(n, 40_000, replace=False)]
    if np.unique(probe).shape[0] > probe.shape[0] // 4:
        return None
    T_values, T_index = np.unique(T, return_inverse=True)
    tx_values, tx_index = np.unique(t_x, return_inverse=True)
    x_index = _integer_index(x)[1]
    # An exact integer key per row (< 2^63 for any realistic cardinalities).
    key = (x_index.astype(np.int64) * tx_values.shape[0] + tx_index) * T_values.shape[0] + T_index
    keys, inverse = np.unique(key, return_inverse=True)
    first = np.zeros(keys.shape[0], dtype=np.intp)
    first[inverse[::-1]] = np.arange(inverse.shape[0])[::-1]
    return first, inverse.astype(np.intp)


def _aggregate(x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray) -> _Data:
    """Merge identical (x, t_x, T) rows into one weighted row (see :func:`distinct_histories`)."""
    merged = distinct_histories(x, t_x, T)
    if merged is None:
        ux, utx, uT, uw = x, t_x, T, w
    else:
        first, inverse = merged
        uw = weighted_sum(inverse, w, first.shape[0])
        ux, utx, uT = x[first], t_x[first], T[first]
    keep = uw > 0
    if not keep.all():
        ux, utx, uT, uw = ux[keep], utx[keep], uT[keep], uw[keep]
    x_values, x_index = _integer_index(ux)
    x_weight = weighted_sum(x_index, uw, x_values.shape[0])
    rep = ux > 0
    zero = ~rep
    rep_x_values, rep_x_index = _integer_index(ux[rep])
    return _Data(
        weight_total=float(uw.sum()),
        x_values=x_values,
        x_weight=x_weight,
        zero_T=uT[zero],
        zero_w=uw[zero],
        rep_x=ux[rep],
        rep_wx=ux[rep] * uw[rep],
        rep_x_values=rep_x_values,
        rep_x_index=rep_x_index,
        rep_tx=utx[rep],
        rep_T=uT[rep],
        rep_w=uw[rep],
        n_rows=int(ux.shape[0]),
    )


def _ll_and_grad(params: FloatArray, d: _Data) -> tuple[float, FloatArray]:
    """Total log-likelihood and its gradient with respect to (r, alpha, a, b).

    With B(a, b + x) / B(a, b) = G(b + x) G(a + b) / (G(b) G(a + b + x)) (G = Gamma), every
    term in x alone goes through one ``gammaln`` and one ``digamma`` call on the distinct x."""
    r, alpha, a, b = (float(v) for v in params)
    W = d.weight_total
    xv, xw = d.x_values, d.x_weight
    m = xv.shape[0]
    args = np.concatenate((r + xv, b + xv, a + b + xv, (r, b, a + b)))
    lg = special.gammaln(args)
    dg = special.digamma(args)
    log_alpha = np.log(alpha)
    ll = float(
        xw @ (lg[:m] + lg[m : 2 * m] - lg[2 * m : 3 * m])
        - W * (lg[3 * m] + lg[3 * m + 1] - lg[3 * m + 2])
        + W * r * log_alpha
    )
    psi_abx = dg[2 * m : 3 * m]
    psi_ab = dg[3 * m + 2]
    g_r = float(xw @ dg[:m]) - W * dg[3 * m] + W * log_alpha
    g_alpha = W * r / alpha
    g_a = -float(xw @ psi_abx) + W * psi_ab
    g_b = float(xw @ (dg[m : 2 * m] - psi_abx)) - W * (dg[3 * m + 1] - psi_ab)

    # Non-repeaters: log L = ... - r log(alpha + T).
    if d.zero_w.shape[0]:
        log_aT0 = np.log(alpha + d.zero_T)
        sum_log = dot(d.zero_w, log_aT0)
        ll -= r * sum_log
        g_r -= sum_log
        g_alpha -= r * dot(d.zero_w, 1.0 / (alpha + d.zero_T))

    # Repeaters: log L = ... - (r+x) log(alpha+T) + softplus(dlt) with
    # dlt = log a - log(b+x-1) + (r+x) (log(alpha+T) - log(alpha+t_x)): the log-sum-exp of the
    # paper's two terms, finite for any x.
    if d.rep_w.shape[0]:
        w, wx = d.rep_w, d.rep_wx
        # Written with in-place operations: at a million customers every pass over memory
        # counts, and this function runs a dozen times per fit.
        inv_aT = d.rep_T + alpha
        log_aT = np.log(inv_aT)
        np.reciprocal(inv_aT, out=inv_aT)
        inv_atx = d.rep_tx + alpha
        diff = np.log(inv_atx)
        np.reciprocal(inv_atx, out=inv_atx)
        np.subtract(log_aT, diff, out=diff)  # log(alpha+T) - log(alpha+t_x) >= 0
        rx = d.rep_x + r
        bx1 = b + d.rep_x_values - 1.0  # distinct x of the repeaters
        dlt = np.multiply(rx, diff)
        dlt += (np.log(a) - np.log(bx1))[d.rep_x_index]
        # softplus(dlt) = max(dlt, 0) + log(1 + e) and its derivative, the logistic function
        # s = 1/2 + sign(dlt) (1/(1 + e) - 1/2), from one e = exp(-|dlt|) (np.exp and np.log
        # are vectorised, log1p and np.where are slow; the absolute error is below 1e-16).
        e = np.abs(dlt)
        np.negative(e, out=e)
        np.exp(e, out=e)
        e += 1.0
        sum_w_softplus = dot(w, np.maximum(dlt, 0.0)) + dot(w, np.log(e))
        np.reciprocal(e, out=e)
        e -= 0.5
        s = np.sign(dlt)
        s *= e
        s += 0.5
        ws = np.multiply(w, s, out=s)
        sum_w_log_aT = dot(w, log_aT)
        ll += sum_w_softplus - r * sum_w_log_aT - dot(wx, log_aT)
        g_r += dot(ws, diff) - sum_w_log_aT
        np.subtract(inv_aT, inv_atx, out=inv_atx)
        inv_atx *= rx
        g_alpha += dot(ws, inv_atx) - r * dot(w, inv_aT) - dot(wx, inv_aT)
        g_a += float(ws.sum()) / a
        ws_by_x = weighted_sum(d.rep_x_index, ws, bx1.shape[0])
        g_b -= float(ws_by_x @ (1.0 / bx1))

    return ll, np.array([g_r, g_alpha, g_a, g_b])


def bgnbd_log_likelihood(
    params: tuple[float, float, float, float] | FloatArray,
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """The total log-likelihood of the data at ``params`` = (r, alpha, a, b)."""
    x, t_x, T, w = _validated(frequency, recency, age, weights)
    return _ll_and_grad(np.asarray(params, dtype=np.float64), _aggregate(x, t_x, T, w))[0]


def _objective(phi: FloatArray, d: _Data) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood and gradient in log-parameters (O(1) in size, so the
    optimiser's tolerances mean the same thing for 50 customers and for a million)."""
    theta = np.exp(phi)
    ll, g = _ll_and_grad(theta, d)
    if not np.isfinite(ll) or not np.all(np.isfinite(g)):
        # Steers the line search back from a region where the likelihood underflows.
        return 1e300, np.zeros(4)
    return -ll / d.weight_total, -(g * theta) / d.weight_total


def _hessian(phi: FloatArray, d: _Data) -> FloatArray:
    """Hessian of the mean negative log-likelihood in log-parameters, by differencing the
    analytic gradient (4 extra gradient evaluations)."""
    return difference_hessian(_objective, phi, d)


@dataclass(frozen=True)
class BGNBDParams:
    r: float
    alpha: float
    a: float
    b: float

    def as_array(self) -> FloatArray:
        return np.array([self.r, self.alpha, self.a, self.b])


@dataclass(frozen=True)
class BGNBDFit:
    """A fitted BG/NBD model. Times are in the unit of the data it was fitted on."""

    params: BGNBDParams
    log_likelihood: float
    #: Covariance of the log-parameters (inverse observed information).
    log_covariance: FloatArray
    n_customers: int
    n_repeat_buyers: int
    n_distinct_rows: int
    iterations: int

    def estimates(self, level: float = 0.95) -> list[ParameterEstimate]:
        return parameter_estimates(PARAM_NAMES, self.params.as_array(), self.log_covariance, level)

    def sample_params(self, n: int, rng: np.random.Generator) -> FloatArray:
        """``n`` parameter sets drawn from the asymptotic normal law of the log-parameters,
        shape (n, 4): the basis of the intervals on per-customer predictions."""
        phi = np.log(self.params.as_array())
        return np.exp(rng.multivariate_normal(phi, self.log_covariance, size=n))

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
    ) -> FloatArray:
        return conditional_expected_purchases(self.params.as_array(), t, frequency, recency, age)

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> FloatArray:
        return probability_alive(self.params.as_array(), frequency, recency, age)

    def expected_purchases_new_customer(self, t: ArrayLike) -> FloatArray:
        """E[X(t)]: repeat purchases in the first t after a customer's first purchase."""
        t_arr = np.asarray(t, dtype=np.float64)
        zero = np.zeros_like(t_arr)
        return conditional_expected_purchases(self.params.as_array(), t_arr, zero, zero, zero)


@single_threaded_blas
def bgnbd_fit(
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
) -> BGNBDFit:
    """Maximum-likelihood BG/NBD fit. Raises :class:`ModelNotFittable` when the data cannot
    support the model (too few repeat buyers, an estimate on the edge of the parameter space,
    a singular information matrix)."""
    x, t_x, T, w = _validated(frequency, recency, age, weights)
    n_customers = float(w.sum())
    n_repeat = float(w[x > 0].sum())
    if n_repeat < max(min_repeat_buyers, 1):
        raise ModelNotFittable(
            _(
                "BG/NBD needs at least %(min)d customers with a repeat purchase; this data has "
                "%(n)d."
            )
            % {"min": max(min_repeat_buyers, 1), "n": int(n_repeat)},
            extra={"repeat_buyers": int(n_repeat)},
        )
    if n_repeat == n_customers:
        raise ModelNotFittable(
            _(
                "Every customer has a repeat purchase, so nothing tells how many never come "
                "back: BG/NBD cannot be fitted."
            )
        )
    if not np.any(T > 0):
        raise ModelNotFittable(_("Every customer is zero days old: there is no time to model."))
    d = _aggregate(x, t_x, T, w)

    rate = dot(x, w) / max(dot(T, w), 1e-12)
    phi0 = np.clip(np.log([1.0, 1.0 / max(rate, 1e-6), 1.0, 1.0]), -LOG_BOUND + 1, LOG_BOUND - 1)

    def subsample(rows: npt.NDArray[np.intp]) -> _Data:
        return _aggregate(x[rows], t_x[rows], T[rows], w[rows])

    phi, hess, iterations = maximize_log_likelihood(
        _objective, _hessian, phi0, d, rows=x.shape[0], subsample=subsample, distinct_rows=d.n_rows
    )
    at_bound = np.abs(phi) >= LOG_BOUND - 1e-3
    if at_bound.any():
        names = ", ".join(n for n, hit in zip(PARAM_NAMES, at_bound, strict=True) if hit)
        raise ModelNotFittable(
            _(
                "BG/NBD could not be fitted: the estimate of %(names)s runs off to the edge of "
                "the parameter space (the data shows too little repeat buying or dropout)."
            )
            % {"names": names}
        )
    covariance = information_inverse(hess * d.weight_total, "BG/NBD", PARAM_NAMES)
    ll, _grad = _ll_and_grad(np.exp(phi), d)
    return BGNBDFit(
        params=BGNBDParams(*(float(v) for v in np.exp(phi))),
        log_likelihood=float(ll),
        log_covariance=covariance,
        n_customers=round(n_customers),
        n_repeat_buyers=round(n_repeat),
        n_distinct_rows=d.n_rows,
        iterations=iterations,
    )
