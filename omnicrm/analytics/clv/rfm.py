"""RFM scores and the plain RFM-based predictions used when a model cannot be fitted.

RFM scores rank customers into ``bins`` equal groups (quintiles by default) on
- Recency: days since the last purchase (more recent scores higher);
- Frequency: number of purchase days;
- Monetary: average value of a purchase day with a positive total.
Ties get the same score (average rank), so a shop where everybody bought once has F = 1..5
collapsed to one value instead of arbitrary splits.

The fallback predictions (documented in docs/predictions.md) need nothing but arithmetic and
are flagged as such wherever they are shown:
- purchase rate: a repeat buyer's own repeat purchases per unit of time since their first
  purchase, x / T; anyone else gets the pooled rate of the whole base, sum(x) / sum(T);
- expected purchases in a horizon h: rate * h;
- expected order value: the customer's own average positive order value, else the average
  over all positive orders of the base;
- CLV: rate * month * order value per month, discounted monthly like the model's;
- next order: one expected gap 1 / rate after the end of observation (none when nobody has
  ever bought twice);
- churn risk: how overdue the customer is: the time since their last purchase, T - t_x, in
  units of their usual gap between purchases, t_x / x (for one-time buyers the base's usual
  gap, sum(t_x) / sum(x)): below 1 low, below 2 medium, else high (everyone high when nobody
  has ever bought twice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from omnicrm.analytics.clv.summary import CustomerSummary, FloatArray, IntArray

#: Overdue ratios separating the churn bands of the fallback.
OVERDUE_MEDIUM = 1.0
OVERDUE_HIGH = 2.0


@dataclass(frozen=True)
class RFMScores:
    recency_days: IntArray
    purchase_days: IntArray
    average_order_value: FloatArray
    r: IntArray
    f: IntArray
    m: IntArray

    def codes(self) -> list[str]:
        """The usual three-digit cell name, e.g. "545"."""
        return [f"{r}{f}{m}" for r, f, m in zip(self.r, self.f, self.m, strict=True)]


def _score(values: npt.NDArray[np.float64], bins: int) -> IntArray:
    # Mid-rank percentiles: n distinct values spread evenly over 1..bins, and a block of ties
    # lands on the score of its middle.
    ranks = stats.rankdata(values, method="average")
    mid = (ranks - 0.5) / values.shape[0]
    return (np.floor(mid * bins) + 1).clip(1, bins).astype(np.int64)


def average_order_value(summary: CustomerSummary) -> FloatArray:
    """Average value of a customer's positive purchase days, first one included (0 if none)."""
    return np.divide(
        summary.total_spend,
        summary.paid_days,
        out=np.zeros(summary.n_customers),
        where=summary.paid_days > 0,
    )


def rfm_scores(summary: CustomerSummary, *, bins: int = 5) -> RFMScores:
    recency_days = (summary.observation_end - summary.last_purchase).astype(np.int64)
    purchase_days = summary.frequency + 1
    aov = average_order_value(summary)
    return RFMScores(
        recency_days=recency_days,
        purchase_days=purchase_days,
        average_order_value=aov,
        r=_score(-recency_days.astype(np.float64), bins),
        f=_score(purchase_days.astype(np.float64), bins),
        m=_score(aov, bins),
    )


@dataclass(frozen=True)
class FallbackPredictions:
    rate: FloatArray
    expected_purchases: FloatArray
    expected_order_value: FloatArray | None
    clv: FloatArray | None
    #: Time from the end of observation to the next expected order, None if nobody repeats.
    next_order_in: FloatArray | None
    churn_risk: npt.NDArray[np.str_]


def repeat_rates(summary: CustomerSummary) -> FloatArray:
    x = summary.frequency.astype(np.float64)
    T = summary.age
    total_T = float(T.sum())
    pooled = float(x.sum()) / total_T if total_T > 0 else 0.0
    own = (x > 0) & (T > 0)
    return np.where(own, x / np.where(own, T, 1.0), pooled)


def overdue_ratio(summary: CustomerSummary) -> FloatArray:
    """Time since the last purchase in units of the customer's usual gap between purchases
    (the base's usual gap for one-time buyers); 0 when nobody has bought twice."""
    x = summary.frequency.astype(np.float64)
    total_x = float(x.sum())
    if total_x == 0:
        return np.zeros(summary.n_customers)
    pooled_gap = float(summary.recency.sum()) / total_x
    own = x > 0
    gap = np.where(own, summary.recency / np.where(own, x, 1.0), pooled_gap)
    return (summary.age - summary.recency) / gap


def rfm_fallback(
    summary: CustomerSummary,
    *,
    horizon: float,
    clv_months: int,
    month_length: float,
    monthly_discount_rate: float,
) -> FallbackPredictions:
    rate = repeat_rates(summary)
    aov: FloatArray | None = None
    clv: FloatArray | None = None
    if summary.has_amounts:
        paid = summary.paid_days > 0
        total_paid = int(summary.paid_days.sum())
        pooled_aov = float(summary.total_spend.sum()) / total_paid if total_paid else 0.0
        aov = np.where(paid, average_order_value(summary), pooled_aov)
        discount = sum((1.0 + monthly_discount_rate) ** -i for i in range(1, clv_months + 1))
        clv = rate * month_length * aov * discount
    any_rate = bool(np.any(rate > 0))
    overdue = overdue_ratio(summary)
    churn = np.where(
        overdue < OVERDUE_MEDIUM, "low", np.where(overdue < OVERDUE_HIGH, "medium", "high")
    )
    if not any_rate:
        churn = np.full(summary.n_customers, "high")
    return FallbackPredictions(
        rate=rate,
        expected_purchases=rate * horizon,
        expected_order_value=aov,
        clv=clv,
        next_order_in=1.0 / rate if any_rate else None,
        churn_risk=churn.astype("<U6"),
    )
