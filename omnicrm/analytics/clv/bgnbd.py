"""BG/NBD: the beta-geometric / negative binomial model of repeat buying.

Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
Pareto/NBD Model", Marketing Science 24(2). While a customer is alive, purchases arrive as a
Poisson process with rate lambda ~ Gamma(r, alpha); after each repeat purchase the customer
drops out with probability p ~ Beta(a, b). The data per customer is (x, t_x, T): repeat purchases,
time of the last one and age, all measured from the first purchase.

Fitting is maximum likelihood on the log-parameters with L-BFGS-B and the *analytic* gradient of
the log-likelihood (equation 6 of the paper, written with ``gammaln``/``betaln`` and a
log-sum-exp so that it stays finite for any x), followed by Newton steps on the Hessian obtained
by differencing that gradient. Identical (x, t_x, T) rows are fitted once with a weight, and every
term that depends on x only (``gammaln(r + x)``, ``betaln(a, b + x)`` and their derivatives) is
computed once per distinct x. The inverse Hessian (observed information) gives standard errors
and confidence intervals, which are computed on the log scale so that they stay positive.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from django.utils.translation import gettext as _
from scipy import integrate, optimize, special

from omnicrm.analytics.clv.errors import ModelNotFittable, TransactionLogInvalid
from omnicrm.analytics.clv.summary import weighted_sum
from omnicrm.analytics.clv.threads import single_threaded_blas

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

PARAM_NAMES = ("r", "alpha", "a", "b")
#: Below this many customers with a repeat purchase, the dropout process (a, b) is not
#: identified well enough to be worth reporting; callers fall back to the RFM rules.
MIN_REPEAT_BUYERS = 20
#: The optimiser works on log-parameters inside these bounds; an estimate that ends on one
#: means the data cannot pin the parameter down.
LOG_BOUND = 18.0
#: A fit whose log-parameter standard error exceeds this (a 95% interval wider than a factor
#: of e^(2 * 1.96 * 4) ~ 6,600) is reported as not fittable rather than with absurd intervals.
MAX_LOG_STD_ERROR = 4.0
#: Above this many customers the optimum is approached from a subsample's (see
#: :func:`maximize_log_likelihood`).
WARM_START_ROWS = 200_000
SUBSAMPLE_ROWS = 100_000
#: Newton polishing stops when every log-parameter moves less than this.
NEWTON_TOL = 1e-10
#: Node counts of the two Gauss-Jacobi rules whose agreement validates the first fallback.
GAUSS_JACOBI_NODES = (32, 64)
#: At most this many customer rows per call go to the slow adaptive quadrature; beyond it
#: the parameters are too far outside the usual range to be worth predicting with.
QUADRATURE_MAX_ROWS = 2000
#: Half-width of the band around a = 1 (a removable singularity of equation 10) that is
#: evaluated by averaging the two sides.
A_ONE_EPS = 1e-5


@dataclass(frozen=True)
class ParameterEstimate:
    """A fitted parameter with its standard error and a confidence interval."""

    name: str
    value: float
    std_error: float
    ci_low: float
    ci_high: float


def parameter_estimates(
    names: tuple[str, ...], values: FloatArray, log_covariance: FloatArray, level: float
) -> list[ParameterEstimate]:
    """Estimates with delta-method standard errors and intervals from the log scale."""
    z = float(special.ndtri(0.5 + level / 2))
    log_se = np.sqrt(np.diag(log_covariance))
    return [
        ParameterEstimate(
            name=name,
            value=float(value),
            std_error=float(value * se),
            ci_low=float(value * np.exp(-z * se)),
            ci_high=float(value * np.exp(z * se)),
        )
        for name, value, se in zip(names, values, log_se, strict=True)
    ]


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


def dot(u: FloatArray, v: FloatArray) -> float:
    """Inner product without BLAS: OpenBLAS threads its dot for long vectors, and on a
    machine whose other cores are busy the threads' hand-offs cost milliseconds per call."""
    return float(np.einsum("i,i->", u, v))


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


def difference_hessian(
    objective: Callable[[FloatArray, Any], tuple[float, FloatArray]],
    phi: FloatArray,
    data: Any,
    step: float = 1e-6,
) -> FloatArray:
    """Forward differences of an analytic gradient, symmetrised: accurate to ~1e-6 relative,
    plenty for Newton steps and standard errors."""
    n = phi.shape[0]
    g0 = objective(phi, data)[1]
    hess = np.empty((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = step
        hess[:, j] = (objective(phi + e, data)[1] - g0) / step
    return (hess + hess.T) / 2


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


def _quasi_newton(
    objective: Callable[[FloatArray, Any], tuple[float, FloatArray]],
    hessian: Callable[[FloatArray, Any], FloatArray],
    phi0: FloatArray,
    data: Any,
) -> tuple[FloatArray, FloatArray, int]:
    result = optimize.minimize(
        objective,
        phi0,
        args=(data,),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-LOG_BOUND, LOG_BOUND)] * phi0.shape[0],
        options={"maxiter": 2000, "ftol": 1e-10, "gtol": 1e-6},
    )
    phi, hess, steps = newton_polish(objective, hessian, result.x, data)
    return phi, hess, int(result.nit) + steps


def maximize_log_likelihood(
    objective: Callable[[FloatArray, Any], tuple[float, FloatArray]],
    hessian: Callable[[FloatArray, Any], FloatArray],
    phi0: FloatArray,
    data: Any,
    *,
    rows: int,
    subsample: Callable[[npt.NDArray[np.intp]], Any],
    distinct_rows: int | None = None,
) -> tuple[FloatArray, FloatArray, int]:
    """The maximum-likelihood log-parameters, the Hessian of the mean negative log-likelihood
    there, and the iterations taken.

    Up to ``WARM_START_ROWS`` rows to evaluate (``distinct_rows``, default ``rows``):
    L-BFGS-B then Newton polishing. Beyond: the same on a
    random subsample of ``SUBSAMPLE_ROWS`` customers, whose estimate is within a fraction of a
    standard error of the full one, then Newton steps on the full data with the subsample's
    Hessian (each costs one full evaluation and gains about two digits), and the Hessian of the
    full data at the optimum for the intervals. The answer is the full-data optimum either way
    (the same log-likelihood to machine precision); only the route is cheaper."""
    if (rows if distinct_rows is None else distinct_rows) > WARM_START_ROWS:
        picked = np.random.default_rng(0).choice(rows, size=SUBSAMPLE_ROWS, replace=False)
        phi_sub, hess_sub, sub_iterations = _quasi_newton(
            objective, hessian, phi0, subsample(np.sort(picked))
        )
        phi, steps, converged = _chord_newton(objective, phi_sub, hess_sub, data)
        if converged:
            return phi, hessian(phi, data), sub_iterations + steps
        phi0 = phi
    return _quasi_newton(objective, hessian, phi0, data)


def _chord_newton(
    objective: Callable[[FloatArray, Any], tuple[float, FloatArray]],
    phi: FloatArray,
    hess: FloatArray,
    data: Any,
    max_steps: int = 40,
) -> tuple[FloatArray, int, bool]:
    """Newton steps with a fixed Hessian, each halved until it does not raise the objective."""
    f, g = objective(phi, data)
    try:
        factor = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return phi, 0, False
    for step in range(1, max_steps + 1):
        delta = -factor @ g
        if not np.all(np.isfinite(delta)):
            return phi, step, False
        for _halving in range(20):
            candidate = np.clip(phi + delta, -LOG_BOUND, LOG_BOUND)
            f_new, g_new = objective(candidate, data)
            if f_new <= f + 4 * np.finfo(float).eps * abs(f):
                break
            delta = delta / 2
        else:
            return phi, step, False
        phi, f, g = candidate, f_new, g_new
        if np.max(np.abs(delta)) < NEWTON_TOL:
            return phi, step, True
    return phi, max_steps, False


def newton_polish(
    objective: Callable[[FloatArray, Any], tuple[float, FloatArray]],
    hessian: Callable[[FloatArray, Any], FloatArray],
    phi: FloatArray,
    data: Any,
    max_steps: int = 10,
) -> tuple[FloatArray, FloatArray, int]:
    """Newton steps from the quasi-Newton solution with the Hessian taken there once (the
    solution is so close to the optimum that the Hessian barely changes), each step accepted
    only when it does not raise the objective: the optimum to machine precision, so published
    estimates reproduce to their last digit whatever the quasi-Newton stopping rule did.
    Returns the point, the Hessian (reused for the confidence intervals) and the steps taken."""
    f, g = objective(phi, data)
    hess = hessian(phi, data)
    steps = 0
    for _step in range(max_steps):
        try:
            delta = -np.linalg.solve(hess, g)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(delta)):
            break
        candidate = np.clip(phi + delta, -LOG_BOUND, LOG_BOUND)
        f_new, g_new = objective(candidate, data)
        if not f_new <= f + 4 * np.finfo(float).eps * abs(f):
            break
        phi, f, g = candidate, f_new, g_new
        steps += 1
        if np.max(np.abs(delta)) < NEWTON_TOL:
            break
    return phi, hess, steps


def information_inverse(hess: FloatArray, model: str, names: tuple[str, ...]) -> FloatArray:
    """Covariance of the log-parameters from the Hessian of the total negative
    log-likelihood; a clear error when it is singular (parameters not identified)."""
    try:
        eigenvalues = np.linalg.eigvalsh(hess)
        if not np.all(np.isfinite(eigenvalues)) or eigenvalues.min() <= 0:
            raise np.linalg.LinAlgError
        covariance = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        raise ModelNotFittable(
            _(
                "%(model)s could not be fitted: the likelihood is flat in some direction, so "
                "the parameters are not identified by this data."
            )
            % {"model": model}
        ) from None
    covariance = (covariance + covariance.T) / 2
    log_se = np.sqrt(np.diag(covariance))
    if not np.all(np.isfinite(log_se)) or log_se.max() > MAX_LOG_STD_ERROR:
        raise ModelNotFittable(
            _(
                "%(model)s could not be fitted: the data leaves %(name)s almost undetermined "
                "(standard error of its logarithm %(se).3g)."
            )
            % {
                "model": model,
                "name": names[int(np.nanargmax(log_se))],
                "se": float(np.nanmax(log_se)),
            }
        )
    return covariance


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
