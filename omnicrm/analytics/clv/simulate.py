"""Customers drawn from the BG/NBD and Gamma-Gamma processes themselves, vectorised.

Used by the tests (parameter recovery, small shops) and the benchmark (a million customers).
For each customer: lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b); the repeat purchase after
which they drop out is K ~ Geometric(p) (K >= 1); the Poisson process would make
N ~ Poisson(lambda T) purchases in (0, T]; so x = min(N, K), and the x-th purchase time is the
x-th of N uniform order statistics on (0, T): t_x = T * Beta(x, N - x + 1).
Spend: nu ~ Gamma(q, rate v), each repeat transaction ~ Gamma(p, rate nu), so the mean of x
transactions is Gamma(p x, rate nu) / x.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnicrm.analytics.clv.summary import FloatArray, IntArray


@dataclass(frozen=True)
class SimulatedCustomers:
    frequency: IntArray
    recency: FloatArray
    age: FloatArray
    monetary_value: FloatArray


def simulate_customers(
    n: int,
    *,
    bgnbd_params: tuple[float, float, float, float],
    gamma_gamma_params: tuple[float, float, float] | None = None,
    age: float | FloatArray,
    rng: np.random.Generator,
) -> SimulatedCustomers:
    r, alpha, a, b = bgnbd_params
    T = np.broadcast_to(np.asarray(age, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    k = rng.geometric(np.clip(p, 1e-300, 1.0))
    purchases = rng.poisson(lam * T)
    x = np.minimum(purchases, k).astype(np.int64)
    t_x = np.zeros(n)
    has = x > 0
    t_x[has] = T[has] * rng.beta(x[has], purchases[has] - x[has] + 1)
    monetary = np.zeros(n)
    if gamma_gamma_params is not None:
        gp, gq, gv = gamma_gamma_params
        nu = rng.gamma(gq, 1.0 / gv, size=n)
        monetary[has] = rng.gamma(gp * x[has], 1.0 / nu[has]) / x[has]
    return SimulatedCustomers(frequency=x, recency=t_x, age=T, monetary_value=monetary)
