"""Per-customer predictions from a summary: the models when they can be fitted, the plain RFM
rules when they cannot, never a NaN.

- expected purchases in the next ``horizon`` and P(alive): BG/NBD;
- chance of ordering within the horizon: BG/NBD (see :func:`bgnbd.probability_order_within`);
- expected order value: Gamma-Gamma;
- CLV over ``clv_months`` months: sum over months i of
  E[purchases in month i] * expected order value / (1 + monthly discount rate)^i, the discrete
  monthly scheme of ``lifetimes.customer_lifetime_value``; a month is 30 days, or 4.345 weeks
  when the unit is weeks (the same constants as ``lifetimes``);
- next order date: the end of observation plus (alpha + T) / (r + x), the expected time between
  orders of an alive customer at its posterior mean rate. Under BG/NBD an alive customer always
  orders again (dropout happens only right after a purchase) and the Poisson clock has no memory,
  so the wait is counted from the end of observation, not from the last order. Read it together
  with P(alive): it is when the customer is due *if* still a customer;
- churn risk: high when P(alive) < 0.3, medium below 0.7, low otherwise. BG/NBD lets customers
  drop out only after a repeat purchase, so one-time buyers always have P(alive) = 1 and a low
  band; for them the chance of ordering within the horizon is the informative number.

Intervals on per-customer predictions come from ``interval_draws`` parameter sets drawn from the
asymptotic normal law of the fitted log-parameters (both models): they show the uncertainty
due to estimating the parameters from this shop's data — wide for a small shop, narrow for a
large one — not the randomness of the customer's own future purchases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.utils.translation import gettext as _

from omnicrm.analytics.clv import bgnbd, gamma_gamma
from omnicrm.analytics.clv.errors import ModelNotFittable, TransactionLogInvalid
from omnicrm.analytics.clv.rfm import rfm_fallback
from omnicrm.analytics.clv.summary import CustomerSummary, FloatArray
from omnicrm.analytics.clv.threads import single_threaded_blas

#: Month length in each unit for the CLV steps (the constants of lifetimes).
MONTH_LENGTH = {"days": 30.0, "weeks": 4.345}
#: P(alive) thresholds of the churn risk bands.
CHURN_LOW_MIN = 0.7
CHURN_MEDIUM_MIN = 0.3
#: Above this many hypergeometric evaluations the number of interval draws is reduced.
INTERVAL_EVAL_BUDGET = 20_000_000
MIN_INTERVAL_DRAWS = 20

MODEL_BGNBD = "bgnbd"
MODEL_FALLBACK = "rfm_fallback"
SPEND_GAMMA_GAMMA = "gamma_gamma"
SPEND_FALLBACK = "average_order_value"
SPEND_NONE = "no_amounts"


@dataclass(frozen=True)
class Interval:
    low: FloatArray
    high: FloatArray


@dataclass(frozen=True)
class CustomerPredictions:
    """Predictions per customer, in the summary's customer order and time unit."""

    customers: npt.NDArray[np.generic]
    unit: str
    horizon: float
    clv_months: int
    monthly_discount_rate: float
    model: str
    model_note: str | None
    spend_model: str
    spend_note: str | None
    expected_purchases: FloatArray
    p_alive: FloatArray | None
    p_order_within_horizon: FloatArray | None
    expected_order_value: FloatArray | None
    clv: FloatArray | None
    next_order_date: npt.NDArray[np.datetime64] | None
    churn_risk: npt.NDArray[np.str_]
    intervals: dict[str, Interval]
    interval_level: float
    interval_draws: int
    interval_note: str | None
    bgnbd: bgnbd.BGNBDFit | None
    gamma_gamma: gamma_gamma.GammaGammaFit | None


def churn_band(p_alive: FloatArray) -> npt.NDArray[np.str_]:
    return np.where(
        p_alive >= CHURN_LOW_MIN, "low", np.where(p_alive >= CHURN_MEDIUM_MIN, "medium", "high")
    ).astype("<U6")


def discounted_purchases(
    params: npt.ArrayLike,
    frequency: FloatArray,
    recency: FloatArray,
    age: FloatArray,
    *,
    months: int,
    month_length: float,
    monthly_discount_rate: float,
) -> FloatArray:
    """sum_i (E[Y(i m)] - E[Y((i-1) m)]) / (1 + d)^i over i = 1..months: CLV per unit of
    order value. One row per draw when ``params`` is an (n, 4) array."""
    cumulative = [
        bgnbd.conditional_expected_purchases(params, i * month_length, frequency, recency, age)
        for i in range(1, months + 1)
    ]
    total = np.zeros_like(cumulative[0]) if cumulative else np.zeros(np.shape(frequency))
    previous = np.zeros_like(total)
    for i, value in enumerate(cumulative, start=1):
        total = total + (value - previous) / (1.0 + monthly_discount_rate) ** i
        previous = value
    return total


def customer_lifetime_value(
    bgnbd_params: npt.ArrayLike,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    order_value: npt.ArrayLike,
    *,
    months: int = 12,
    month_length: float = MONTH_LENGTH["days"],
    monthly_discount_rate: float = 0.01,
) -> FloatArray:
    """Discounted expected spend over ``months`` months (see the module docstring)."""
    per_unit = discounted_purchases(
        bgnbd_params,
        np.asarray(frequency, dtype=np.float64),
        np.asarray(recency, dtype=np.float64),
        np.asarray(age, dtype=np.float64),
        months=months,
        month_length=month_length,
        monthly_discount_rate=monthly_discount_rate,
    )
    return per_unit * np.asarray(order_value, dtype=np.float64)


def _check_options(horizon: float, clv_months: int, monthly_discount_rate: float) -> None:
    if not (np.isfinite(horizon) and horizon > 0):
        raise TransactionLogInvalid(_("The horizon must be a positive number."), field="horizon")
    if clv_months < 1 or clv_months > 600:
        raise TransactionLogInvalid(
            _("The CLV horizon must be between 1 and 600 months."), field="clv_months"
        )
    if not (np.isfinite(monthly_discount_rate) and 0 <= monthly_discount_rate < 1):
        raise TransactionLogInvalid(
            _("The monthly discount rate must be at least 0 and below 1 (0.01 is 1%)."),
            field="discount_rate",
        )


def _all_finite(*arrays: FloatArray | None) -> bool:
    return all(a is None or bool(np.all(np.isfinite(a))) for a in arrays)


@single_threaded_blas
def predict_customers(
    summary: CustomerSummary,
    *,
    horizon: float,
    clv_months: int = 12,
    monthly_discount_rate: float = 0.01,
    min_repeat_buyers: int = bgnbd.MIN_REPEAT_BUYERS,
    interval_draws: int = 100,
    interval_level: float = 0.9,
    seed: int = 0,
) -> CustomerPredictions:
    """Fit BG/NBD (and Gamma-Gamma when the summary has amounts) and predict every customer.

    A model that cannot be fitted (see :class:`ModelNotFittable`) is replaced by the RFM
    fallback, and the reason is kept in ``model_note`` / ``spend_note``."""
    _check_options(horizon, clv_months, monthly_discount_rate)
    month = MONTH_LENGTH[summary.unit]
    x = summary.frequency.astype(np.float64)
    t_x, T = summary.recency, summary.age
    fallback = rfm_fallback(
        summary,
        horizon=horizon,
        clv_months=clv_months,
        month_length=month,
        monthly_discount_rate=monthly_discount_rate,
    )

    bg_fit: bgnbd.BGNBDFit | None = None
    model_note: str | None = None
    try:
        bg_fit = bgnbd.bgnbd_fit(x, t_x, T, min_repeat_buyers=min_repeat_buyers)
    except ModelNotFittable as exc:
        model_note = exc.message

    gg_fit: gamma_gamma.GammaGammaFit | None = None
    spend_note: str | None = None
    if summary.has_amounts:
        try:
            gg_fit = gamma_gamma.gamma_gamma_fit(
                summary.monetary_count, summary.monetary_value, min_customers=min_repeat_buyers
            )
        except ModelNotFittable as exc:
            spend_note = exc.message

    # Distinct (x, t_x, T) rows: every BG/NBD quantity is a function of them only.
    merged = bgnbd.distinct_histories(x, t_x, T)
    if merged is None:
        row_of = np.arange(summary.n_customers)
        dx, dtx, dT = x, t_x, T
    else:
        first, row_of = merged
        dx, dtx, dT = x[first], t_x[first], T[first]

    expected = fallback.expected_purchases
    p_alive: FloatArray | None = None
    p_order: FloatArray | None = None
    per_unit_value: FloatArray | None = None
    next_in = fallback.next_order_in
    churn = fallback.churn_risk
    if bg_fit is not None:
        params = bg_fit.params.as_array()
        m_expected = bgnbd.conditional_expected_purchases(params, horizon, dx, dtx, dT)[row_of]
        m_alive = bgnbd.probability_alive(params, dx, dtx, dT)[row_of]
        m_order = bgnbd.probability_order_within(params, horizon, dx, dtx, dT)[row_of]
        m_next = bgnbd.expected_gap_alive(params, dx, dT)[row_of]
        m_per_unit = discounted_purchases(
            params, dx, dtx, dT,
            months=clv_months, month_length=month, monthly_discount_rate=monthly_discount_rate,
        )[row_of]  # fmt: skip
        if _all_finite(m_expected, m_alive, m_order, m_next, m_per_unit):
            expected, p_alive, p_order, next_in = m_expected, m_alive, m_order, m_next
            per_unit_value = m_per_unit
            churn = churn_band(m_alive)
        else:
            model_note = _("BG/NBD produced a non-finite prediction for this data.")
            bg_fit = None

    order_value: FloatArray | None = fallback.expected_order_value
    if gg_fit is not None:
        m_value = gg_fit.expected_order_value(summary.monetary_count, summary.monetary_value)
        if _all_finite(m_value):
            order_value = m_value
        else:
            spend_note = _("The spend model produced a non-finite prediction for this data.")
            gg_fit = None

    if per_unit_value is None:
        discount = sum((1.0 + monthly_discount_rate) ** -i for i in range(1, clv_months + 1))
        per_unit_value = fallback.rate * month * discount
    clv = per_unit_value * order_value if order_value is not None else None

    next_date = None
    if next_in is not None:
        offset_days = np.rint(next_in * summary.unit_days).astype(np.int64)
        next_date = summary.observation_end + offset_days.astype("timedelta64[D]")

    intervals: dict[str, Interval] = {}
    draws_used = 0
    interval_note: str | None = None
    if interval_draws > 0 and (bg_fit is not None or gg_fit is not None):
        intervals, draws_used, interval_note = _intervals(
            summary,
            bg_fit=bg_fit,
            gg_fit=gg_fit,
            order_value=order_value,
            per_unit_value=per_unit_value,
            distinct=(dx, dtx, dT),
            row_of=row_of,
            horizon=horizon,
            clv_months=clv_months,
            month=month,
            monthly_discount_rate=monthly_discount_rate,
            draws=interval_draws,
            level=interval_level,
            seed=seed,
        )

    return CustomerPredictions(
        customers=summary.customers,
        unit=summary.unit,
        horizon=horizon,
        clv_months=clv_months,
        monthly_discount_rate=monthly_discount_rate,
        model=MODEL_BGNBD if bg_fit is not None else MODEL_FALLBACK,
        model_note=model_note,
        spend_model=(
            SPEND_NONE
            if not summary.has_amounts
            else SPEND_GAMMA_GAMMA
            if gg_fit is not None
            else SPEND_FALLBACK
        ),
        spend_note=spend_note,
        expected_purchases=expected,
        p_alive=p_alive,
        p_order_within_horizon=p_order,
        expected_order_value=order_value,
        clv=clv,
        next_order_date=next_date,
        churn_risk=churn,
        intervals=intervals,
        interval_level=interval_level,
        interval_draws=draws_used,
        interval_note=interval_note,
        bgnbd=bg_fit,
        gamma_gamma=gg_fit,
    )


def _quantiles(samples: FloatArray, level: float) -> Interval:
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return Interval(low=lo, high=hi)


def _intervals(
    summary: CustomerSummary,
    *,
    bg_fit: bgnbd.BGNBDFit | None,
    gg_fit: gamma_gamma.GammaGammaFit | None,
    order_value: FloatArray | None,
    per_unit_value: FloatArray,
    distinct: tuple[FloatArray, FloatArray, FloatArray],
    row_of: npt.NDArray[np.intp],
    horizon: float,
    clv_months: int,
    month: float,
    monthly_discount_rate: float,
    draws: int,
    level: float,
    seed: int,
) -> tuple[dict[str, Interval], int, str | None]:
    rng = np.random.default_rng(seed)
    dx, dtx, dT = distinct
    note: str | None = None
    if bg_fit is not None:
        cost = dx.shape[0] * (clv_months + 1)
        affordable = INTERVAL_EVAL_BUDGET // max(cost, 1)
        if affordable < draws:
            if affordable < MIN_INTERVAL_DRAWS:
                return (
                    {},
                    0,
                    _(
                        "Intervals were skipped: %(rows)d distinct customer histories are too "
                        "many to simulate."
                    )
                    % {"rows": dx.shape[0]},
                )
            note = _("Intervals use %(n)d parameter draws instead of %(asked)d.") % {
                "n": affordable,
                "asked": draws,
            }
            draws = int(affordable)
    out: dict[str, Interval] = {}
    notes = [note] if note else []
    per_unit_draws: FloatArray | None = None
    if bg_fit is not None:
        bg_draws = bg_fit.sample_params(draws, rng)
        expected = bgnbd.conditional_expected_purchases(bg_draws, horizon, dx, dtx, dT)
        alive = bgnbd.probability_alive(bg_draws, dx, dtx, dT)
        per_unit = discounted_purchases(
            bg_draws, dx, dtx, dT,
            months=clv_months, month_length=month, monthly_discount_rate=monthly_discount_rate,
        )  # fmt: skip
        valid = _valid_draws(expected, alive, per_unit)
        if valid.sum() >= MIN_INTERVAL_DRAWS:
            out["expected_purchases"] = _quantiles(expected[valid][:, row_of], level)
            out["p_alive"] = _quantiles(alive[valid][:, row_of], level)
            per_unit_draws = per_unit[valid]
        else:
            notes.append(
                _(
                    "BG/NBD intervals were skipped: too many parameter draws fell outside the "
                    "range where predictions can be computed."
                )
            )
    value_draws: FloatArray | None = None
    if gg_fit is not None:
        gg_draws = gg_fit.sample_params(draws, rng)
        # A draw with q <= 1 has no finite mean order value: it is outside the model.
        gg_draws = gg_draws[gg_draws[:, 1] > 1.0]
        values = gamma_gamma.expected_order_value(
            gg_draws, summary.monetary_count, summary.monetary_value
        )
        valid = _valid_draws(values)
        if valid.sum() >= MIN_INTERVAL_DRAWS:
            value_draws = values[valid]
            out["expected_order_value"] = _quantiles(value_draws, level)
        else:
            notes.append(
                _(
                    "Order value intervals were skipped: too many parameter draws imply an "
                    "infinite mean order value."
                )
            )
    if order_value is not None and (per_unit_draws is not None or value_draws is not None):
        # CLV draws pair both models' draws (or one model's draws with the other's point
        # prediction), a block of customers at a time to bound memory.
        n_pairs = min(d.shape[0] for d in (per_unit_draws, value_draws) if d is not None)
        low = np.empty(summary.n_customers)
        high = np.empty(summary.n_customers)
        block = max(1, 2_000_000 // n_pairs)
        for start in range(0, summary.n_customers, block):
            sl = slice(start, min(start + block, summary.n_customers))
            pu = (
                per_unit_draws[:n_pairs, row_of[sl]]
                if per_unit_draws is not None
                else per_unit_value[None, sl]
            )
            ov = value_draws[:n_pairs, sl] if value_draws is not None else order_value[None, sl]
            q = _quantiles(pu * ov, level)
            low[sl], high[sl] = q.low, q.high
        out["clv"] = Interval(low=low, high=high)
    return out, draws, " ".join(notes) or None


def _valid_draws(*arrays: FloatArray) -> npt.NDArray[np.bool_]:
    """Draws (rows) whose every value is finite and not negative."""
    ok = np.ones(arrays[0].shape[0], dtype=bool)
    for arr in arrays:
        ok &= np.all(np.isfinite(arr) & (arr >= 0), axis=1)
    return ok
