"""Gamma-Gamma model of the value of a customer's transactions.

Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis",
Journal of Marketing Research 42(4), and Fader & Hardie (2013), "The Gamma-Gamma Model of
Monetary Value". Each transaction of a customer is worth z ~ Gamma(p, nu); across customers
nu ~ Gamma(q, gamma). A customer with x positive repeat transactions of mean value m has the
likelihood

    G(px + q) / (G(px) G(q)) * gamma^q x^(px) m^(px - 1) / (gamma + x m)^(px + q)

and an expected transaction value E[Z | x, m] = p (gamma + x m) / (px + q - 1), a weighted
average of the population mean p gamma / (q - 1) and the customer's own mean m.

Only positive repeat transactions enter (the summary sets them apart): zero-value orders are
outside the model's support and the first purchase is left out as in the paper. The model
assumes spend is independent of purchase frequency;
:attr:`GammaGammaFit.frequency_spend_correlation` reports the correlation in the data so an
analyst can check it.

Fitting mirrors the BG/NBD fitter: L-BFGS-B on log-parameters with the analytic gradient, Newton
polishing, intervals from the inverse observed information on the log scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.utils.translation import gettext as _
from scipy import special

from omnicrm.analytics.clv.bgnbd import MIN_REPEAT_BUYERS
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

PARAM_NAMES = ("p", "q", "v")


@dataclass
class _Data:
    """Customers with x > 0 and m > 0; sums over customers that share an x are kept per
    distinct x, so the gamma functions are evaluated once per x, not once per customer."""

    x: FloatArray
    m: FloatArray
    w: FloatArray
    xm: FloatArray  # x * m per customer
    x_values: FloatArray  # distinct x
    x_index: npt.NDArray[np.intp]
    x_weight: FloatArray  # sum of w per distinct x
    x_wlog_m: FloatArray  # sum of w log m per distinct x
    weight_total: float


def _ll_and_grad(params: FloatArray, d: _Data) -> tuple[float, FloatArray]:
    """Total log-likelihood and gradient with respect to (p, q, v); v is the paper's gamma."""
    p, q, v = (float(t) for t in params)
    xv, Wx, W = d.x_values, d.x_weight, d.weight_total
    k = xv.shape[0]
    pxv = p * xv
    args = np.concatenate((pxv + q, pxv, (q,)))
    lg = special.gammaln(args)
    dg = special.digamma(args)
    vxm = v + d.xm
    n_x = xv.shape[0]
    A = weighted_sum(d.x_index, d.w * np.log(vxm), n_x)  # sum w log(v+xm)
    B = weighted_sum(d.x_index, d.w / vxm, n_x)  # sum w / (v+xm)
    log_x = np.log(xv)
    log_v = np.log(v)
    ll = float(
        Wx @ (lg[:k] - lg[k : 2 * k] + pxv * log_x) + (pxv - 1.0) @ d.x_wlog_m - (pxv + q) @ A
    ) + W * (q * log_v - lg[2 * k])
    g_p = float(xv @ (Wx * (dg[:k] - dg[k : 2 * k] + log_x) + d.x_wlog_m - A))
    g_q = float(Wx @ dg[:k] - A.sum()) + W * (log_v - dg[2 * k])
    g_v = W * q / v - float((pxv + q) @ B)
    return ll, np.array([g_p, g_q, g_v])


def _objective(phi: FloatArray, d: _Data) -> tuple[float, FloatArray]:
    theta = np.exp(phi)
    ll, g = _ll_and_grad(theta, d)
    if not np.isfinite(ll) or not np.all(np.isfinite(g)):
        return 1e300, np.zeros(3)
    return -ll / d.weight_total, -(g * theta) / d.weight_total


def _hessian(phi: FloatArray, d: _Data) -> FloatArray:
    return difference_hessian(_objective, phi, d)


def _data(
    frequency: npt.ArrayLike, monetary_value: npt.ArrayLike, weights: npt.ArrayLike | None
) -> _Data:
    x = np.asarray(frequency, dtype=np.float64).ravel()
    m = np.asarray(monetary_value, dtype=np.float64).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not (x.shape == m.shape == w.shape):
        raise TransactionLogInvalid(
            _("frequency, monetary value and weights must have the same length."),
            field="monetary_value",
        )
    bad = ~np.isfinite(x) | ~np.isfinite(m) | ~np.isfinite(w) | (x < 0) | (m < 0) | (w < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise TransactionLogInvalid(
            _(
                "Customer %(i)d has frequency %(x)s and monetary value %(m)s: both must be "
                "finite and not negative."
            )
            % {"i": i, "x": x[i], "m": m[i]},
            field="monetary_value",
        )
    keep = (x > 0) & (m > 0) & (w > 0)
    x, m, w = x[keep], m[keep], w[keep]
    x_values, x_index = np.unique(x, return_inverse=True)
    return _Data(
        x=x,
        m=m,
        w=w,
        xm=x * m,
        x_values=x_values,
        x_index=x_index,
        x_weight=weighted_sum(x_index, w, x_values.shape[0]),
        x_wlog_m=weighted_sum(x_index, w * np.log(m), x_values.shape[0]),
        weight_total=float(w.sum()),
    )


def gamma_gamma_log_likelihood(
    params: tuple[float, float, float] | FloatArray,
    frequency: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> float:
    """Total log-likelihood at ``params`` = (p, q, v) of the customers with x > 0 and m > 0."""
    return _ll_and_grad(
        np.asarray(params, dtype=np.float64), _data(frequency, monetary_value, weights)
    )[0]


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float

    def as_array(self) -> FloatArray:
        return np.array([self.p, self.q, self.v])


@dataclass(frozen=True)
class GammaGammaFit:
    """A fitted spend model; amounts are in the currency of the data."""

    params: GammaGammaParams
    log_likelihood: float
    log_covariance: FloatArray
    #: Customers used: those with at least one positive repeat transaction.
    n_customers: int
    iterations: int
    #: Pearson correlation of x and m among those customers (the model assumes none).
    frequency_spend_correlation: float

    def estimates(self, level: float = 0.95) -> list[ParameterEstimate]:
        return parameter_estimates(PARAM_NAMES, self.params.as_array(), self.log_covariance, level)

    def sample_params(self, n: int, rng: np.random.Generator) -> FloatArray:
        phi = np.log(self.params.as_array())
        return np.exp(rng.multivariate_normal(phi, self.log_covariance, size=n))

    @property
    def population_mean(self) -> float:
        """Expected transaction value of a customer with no positive repeat transaction."""
        return self.params.p * self.params.v / (self.params.q - 1.0)

    def expected_order_value(
        self, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
    ) -> FloatArray:
        return expected_order_value(self.params.as_array(), frequency, monetary_value)


def expected_order_value(
    params: npt.ArrayLike, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
) -> FloatArray:
    """E[Z | x, m] = p (v + x m) / (p x + q - 1); x = 0 gives the population mean. ``params``
    is (p, q, v) or an (n, 3) array of draws (one output row per draw). Needs q > 1."""
    prm = np.asarray(params, dtype=np.float64)
    draws = prm.reshape(-1, 3)
    p, q, v = (draws[:, i : i + 1] for i in range(3))
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    shape = np.broadcast_shapes(x.shape, m.shape)
    x = np.broadcast_to(x, shape).reshape(1, -1)
    m = np.where(x > 0, np.broadcast_to(m, shape).reshape(1, -1), 0.0)
    out = p * (v + x * m) / (p * x + q - 1.0)
    return out.reshape(shape) if prm.ndim == 1 else out.reshape((draws.shape[0], *shape))


@single_threaded_blas
def gamma_gamma_fit(
    frequency: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    min_customers: int = MIN_REPEAT_BUYERS,
) -> GammaGammaFit:
    """Maximum-likelihood fit on the customers with a positive repeat transaction (others are
    ignored: x = 0 or m = 0 carry no information on spend). Raises :class:`ModelNotFittable`
    when fewer than ``min_customers`` remain, when every such customer spends the same (the
    spread cannot be estimated), or when q <= 1 (the mean spend would be infinite)."""
    d = _data(frequency, monetary_value, weights)
    if d.weight_total < max(min_customers, 1):
        raise ModelNotFittable(
            _(
                "The spend model needs at least %(min)d customers with a repeat purchase of "
                "positive value; this data has %(n)d."
            )
            % {"min": max(min_customers, 1), "n": int(d.weight_total)},
            extra={"spend_customers": int(d.weight_total)},
        )
    if np.ptp(d.m) == 0:
        raise ModelNotFittable(
            _(
                "Every repeat buyer has the same average order value, so the spread of spend "
                "across customers cannot be estimated."
            )
        )
    mean = dot(d.w, d.m) / d.weight_total
    phi0 = np.log([1.0, 2.0, mean])
    x_all = np.asarray(frequency, dtype=np.float64).ravel()
    m_all = np.asarray(monetary_value, dtype=np.float64).ravel()
    keep = (x_all > 0) & (m_all > 0)
    x_kept, m_kept = x_all[keep], m_all[keep]
    w_kept = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()[keep]

    def subsample(rows: npt.NDArray[np.intp]) -> _Data:
        return _data(x_kept[rows], m_kept[rows], None if w_kept is None else w_kept[rows])

    phi, hess, iterations = maximize_log_likelihood(
        _objective, _hessian, phi0, d, rows=x_kept.shape[0], subsample=subsample
    )
    at_bound = np.abs(phi) >= LOG_BOUND - 1e-3
    if at_bound.any():
        names = ", ".join(n for n, hit in zip(PARAM_NAMES, at_bound, strict=True) if hit)
        raise ModelNotFittable(
            _(
                "The spend model could not be fitted: the estimate of %(names)s runs off to "
                "the edge of the parameter space."
            )
            % {"names": names}
        )
    covariance = information_inverse(hess * d.weight_total, "Gamma-Gamma", PARAM_NAMES)
    theta = np.exp(phi)
    if theta[1] <= 1.0:
        raise ModelNotFittable(
            _(
                "The spend model estimates q = %(q).3f <= 1: order values are so spread out "
                "that the average order value has no finite expectation."
            )
            % {"q": theta[1]}
        )
    ll, _grad = _ll_and_grad(theta, d)
    corr = float(np.corrcoef(d.x, d.m)[0, 1]) if np.ptp(d.x) > 0 and np.ptp(d.m) > 0 else 0.0
    return GammaGammaFit(
        params=GammaGammaParams(*(float(t) for t in theta)),
        log_likelihood=float(ll),
        log_covariance=covariance,
        n_customers=round(d.weight_total),
        iterations=iterations,
        frequency_spend_correlation=corr,
    )
