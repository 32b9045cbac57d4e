"""Maximum-likelihood machinery shared by the BG/NBD and Gamma-Gamma fitters.

Both fitters minimise the mean negative log-likelihood over log-parameters with an analytic
gradient: L-BFGS-B to get close, Newton steps on a Hessian obtained by differencing the gradient
to land on the optimum to machine precision, and that Hessian's inverse (the observed
information) for standard errors and intervals on the log scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from django.utils.translation import gettext as _
from scipy import optimize, special

from omnicrm.analytics.clv.errors import ModelNotFittable

FloatArray = npt.NDArray[np.float64]

#: The optimiser works on log-parameters inside these bounds; an estimate that ends on one
#: means the data cannot pin the parameter down.
LOG_BOUND = 18.0
#: A fit whose log-parameter standard error exceeds this (a 95% interval wider than a factor
#: of e^(2 * 1.96 * 4) ~ 6,600) is reported as not fittable rather than with absurd intervals.
MAX_LOG_STD_ERROR = 4.0
#: Above this many rows to evaluate, the optimum is approached from a subsample's (see
#: :func:`maximize_log_likelihood`).
WARM_START_ROWS = 200_000
SUBSAMPLE_ROWS = 100_000
#: Newton polishing stops when every log-parameter moves less than this.
NEWTON_TOL = 1e-10


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


def dot(u: FloatArray, v: FloatArray) -> float:
    """Inner product without BLAS: OpenBLAS threads its dot for long vectors, and on a
    machine whose other cores are busy the threads' hand-offs cost milliseconds per call."""
    return float(np.einsum("i,i->", u, v))


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
