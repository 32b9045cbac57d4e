"""From arrays of orders and order lines to the per-customer metrics rows: no database here.

Inputs are plain numpy arrays (one entry per order, one per order line) so that the whole
base is handled by vectorized operations; the only Python loops are over output rows when
they are turned into values for the database writer.

Figures and their fallbacks (docs/predictions.md explains them to shop owners):
- order aggregates: every revenue-status order counts in ``order_count``; ``revenue`` sums the
  orders in the shop's main currency (orders in other currencies are purchases too, but their
  amounts are left out: adding up currencies means nothing);
- RFM quintiles over buyers (see omnicrm.analytics.clv.rfm), named by
  omnicrm.analytics.rfm_segments; customers without orders get no scores;
- predictions from omnicrm.analytics.clv.predict_customers: BG/NBD + Gamma-Gamma when they
  can be fitted, the RFM fallback otherwise (the reason is kept in the run's report);
- category reorder: a customer's expected orders in the next 30 days times the share of
  their orders that contained the category; the probability of at least one such order is
  P(order within 30 days) times that share under BG/NBD, and 1 - exp(-expected) (a Poisson
  count) under the fallback;
- category affinity: the share of the customer's spend on each of the shop's top categories;
- seasonality: the customer's orders counted by month of year (January first).
A value that is not finite is stored as NULL (and counted in the report), never NaN.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from django.utils.translation import gettext as _

from omnicrm.analytics.clv import (
    CustomerPredictions,
    bgnbd,
    gamma_gamma,
    predict_customers,
    rfm_scores,
)
from omnicrm.analytics.clv.predict import (
    MODEL_BGNBD,
    MONTH_LENGTH,
    churn_band,
    discounted_purchases,
)
from omnicrm.analytics.clv.summary import CustomerSummary, summarize_days
from omnicrm.analytics.rfm_segments import rfm_segments, score_edges

HORIZON_DAYS = 30.0
CLV_MONTHS = 12
MONTHLY_DISCOUNT_RATE = 0.01
INTERVAL_DRAWS = 50
TOP_CATEGORIES = 8
#: Next order dates further out than this are not shown (the customer is most likely gone).
NEXT_ORDER_MAX_DAYS = 5 * 365
#: The largest amount a money column (14 digits, 2 places) can hold.
MONEY_MAX = 10**12 - 1
SECONDS_PER_DAY = 86_400

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass
class OrderArrays:
    """One entry per revenue order of a known customer."""

    customer: IntArray
    #: Seconds since the epoch (UTC), microsecond precision.
    placed: FloatArray
    #: Total in minor units of 1/100 (cents), 0 for orders in another currency.
    cents: IntArray

    @classmethod
    def empty(cls) -> OrderArrays:
        return cls(customer=np.zeros(0, np.int64), placed=np.zeros(0), cents=np.zeros(0, np.int64))


@dataclass
class LineArrays:
    """One entry per order line of a revenue order with a categorized product."""

    customer: IntArray
    order: IntArray
    category: IntArray
    cents: IntArray

    @classmethod
    def empty(cls) -> LineArrays:
        zero = np.zeros(0, np.int64)
        return cls(customer=zero, order=zero, category=zero, cents=zero)


@dataclass
class Computed:
    """Every column of every customer's metrics row, as arrays aligned with ``customers``."""

    customers: IntArray
    buyer: npt.NDArray[np.bool_]
    order_count: IntArray
    revenue_cents: IntArray
    first_order: FloatArray
    last_order: FloatArray
    recency_days: IntArray
    rfm_r: IntArray
    rfm_f: IntArray
    rfm_m: IntArray
    segment: npt.NDArray[np.str_]
    expected_30d: FloatArray
    p_alive: FloatArray | None
    p_order_30d: FloatArray | None
    order_value: FloatArray | None
    clv: FloatArray | None
    next_order_day: IntArray | None
    churn: npt.NDArray[np.str_]
    intervals: dict[str, tuple[FloatArray, FloatArray]]
    top_category: IntArray
    affinity: list[str]
    seasonality: list[str]
    reorders: ReorderArrays
    model: str
    model_note: str
    spend_model: str
    spend_note: str
    interval_note: str
    parameters: dict[str, Any]
    non_finite: dict[str, int] = field(default_factory=dict)


@dataclass
class ReorderArrays:
    customer: IntArray
    category: IntArray
    expected: FloatArray
    probability: FloatArray


def summarize_orders(
    orders: OrderArrays, *, as_of_day: int
) -> tuple[CustomerSummary | None, IntArray]:
    """The BG/NBD summary of the buyers (sorted by customer id) and each order's buyer index."""
    if orders.customer.size == 0:
        return None, np.zeros(0, np.int64)
    buyers, index = np.unique(orders.customer, return_inverse=True)
    days = np.floor(orders.placed / SECONDS_PER_DAY).astype(np.int64)
    summary = summarize_days(
        index.astype(np.int64),
        buyers.shape[0],
        days,
        orders.cents.astype(np.float64) / 100.0,
        end_day=as_of_day,
        unit="days",
        keys=buyers,
    )
    return summary, index.astype(np.int64)


def _finite(name: str, values: FloatArray | None, counts: dict[str, int]) -> FloatArray | None:
    if values is None:
        return None
    bad = ~np.isfinite(values)
    if bad.any():
        counts[name] = int(bad.sum())
        values = np.where(bad, np.nan, values)
    return values


def compute_metrics(
    *,
    customers: IntArray,
    orders: OrderArrays,
    lines: LineArrays,
    as_of: float,
    min_repeat_buyers: int,
    interval_draws: int = INTERVAL_DRAWS,
) -> Computed:
    """Every customer's row (``customers`` sorted ascending). Orders of customers not in
    ``customers`` must have been dropped by the caller."""
    n = customers.shape[0]
    as_of_day = math.floor(as_of / SECONDS_PER_DAY)
    summary, order_buyer = summarize_orders(orders, as_of_day=as_of_day)
    nan = np.full(n, np.nan)
    out = Computed(
        customers=customers,
        buyer=np.zeros(n, bool),
        order_count=np.zeros(n, np.int64),
        revenue_cents=np.zeros(n, np.int64),
        first_order=nan.copy(),
        last_order=nan.copy(),
        recency_days=np.zeros(n, np.int64),
        rfm_r=np.zeros(n, np.int64),
        rfm_f=np.zeros(n, np.int64),
        rfm_m=np.zeros(n, np.int64),
        segment=np.full(n, "", dtype="<U20"),
        expected_30d=np.zeros(n),
        p_alive=None,
        p_order_30d=None,
        order_value=None,
        clv=None,
        next_order_day=None,
        churn=np.full(n, "", dtype="<U6"),
        intervals={},
        top_category=np.zeros(n, np.int64),
        affinity=["{}"] * n,
        seasonality=["[]"] * n,
        reorders=ReorderArrays(
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
        ),
        model="",
        model_note="",
        spend_model="",
        spend_note="",
        interval_note="",
        parameters={},
    )
    if summary is None:
        out.model_note = _("There are no orders yet: nothing to fit.")
        return out

    pos = np.searchsorted(customers, summary.customers)
    nb = summary.n_customers
    out.buyer[pos] = True
    out.order_count[pos] = np.bincount(order_buyer, minlength=nb)
    out.revenue_cents[pos] = np.bincount(order_buyer, weights=orders.cents, minlength=nb).astype(
        np.int64
    )
    order_sort = np.lexsort((orders.placed, order_buyer))
    counts = np.bincount(order_buyer, minlength=nb)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sorted_placed = orders.placed[order_sort]
    out.first_order[pos] = sorted_placed[starts]
    out.last_order[pos] = sorted_placed[starts + counts - 1]

    rfm = rfm_scores(summary)
    out.recency_days[pos] = rfm.recency_days
    out.rfm_r[pos], out.rfm_f[pos], out.rfm_m[pos] = rfm.r, rfm.f, rfm.m
    out.segment[pos] = rfm_segments(rfm.r, rfm.f)

    predictions = predict_customers(
        summary,
        horizon=HORIZON_DAYS,
        clv_months=CLV_MONTHS,
        monthly_discount_rate=MONTHLY_DISCOUNT_RATE,
        min_repeat_buyers=min_repeat_buyers,
        interval_draws=interval_draws,
    )
    _store_predictions(out, predictions, pos, as_of_day=as_of_day)
    out.parameters = run_parameters(summary, predictions, rfm)

    month = orders.placed.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64) % 12
    by_month = np.bincount(order_buyer * 12 + month, minlength=nb * 12).reshape(nb, 12)
    seasonality = [json.dumps(row) for row in by_month.tolist()]
    for i, p in enumerate(pos.tolist()):
        out.seasonality[p] = seasonality[i]

    out.parameters["top_categories"] = _store_categories(out, lines, summary, predictions, pos)
    return out


def _store_predictions(
    out: Computed, predictions: CustomerPredictions, pos: IntArray, *, as_of_day: int
) -> None:
    n = out.customers.shape[0]
    bad = out.non_finite

    def spread(name: str, values: FloatArray | None) -> FloatArray | None:
        checked = _finite(name, values, bad)
        if checked is None:
            return None
        full = np.full(n, np.nan)
        full[pos] = checked
        return full

    expected = spread("expected_purchases_30d", predictions.expected_purchases)
    assert expected is not None
    # Not nullable: a non-finite expectation (never seen) is stored as 0 and counted.
    out.expected_30d = np.where(np.isfinite(expected), expected, 0.0)
    out.p_alive = spread("p_alive", predictions.p_alive)
    out.p_order_30d = spread("p_order_30d", predictions.p_order_within_horizon)
    out.order_value = spread("expected_order_value", predictions.expected_order_value)
    out.clv = spread("clv_12m", predictions.clv)
    for key, name in (("expected_purchases", "expected_purchases_30d"), ("clv", "clv_12m")):
        interval = predictions.intervals.get(key)
        if interval is not None:
            low = spread(f"{name}_low", interval.low)
            high = spread(f"{name}_high", interval.high)
            assert low is not None and high is not None
            out.intervals[name] = (low, high)
    if predictions.next_order_date is not None:
        days = np.full(n, -1, np.int64)
        next_days = predictions.next_order_date.astype("datetime64[D]").astype(np.int64)
        days[pos] = np.where(next_days - as_of_day <= NEXT_ORDER_MAX_DAYS, next_days, -1)
        out.next_order_day = days
    out.churn[pos] = predictions.churn_risk
    out.model = predictions.model
    out.model_note = predictions.model_note or ""
    out.spend_model = predictions.spend_model
    out.spend_note = predictions.spend_note or ""
    out.interval_note = predictions.interval_note or ""


def run_parameters(
    summary: CustomerSummary, predictions: CustomerPredictions, rfm: Any
) -> dict[str, Any]:
    """What a later single-customer refresh needs to score one customer like this run did."""
    x = summary.frequency.astype(np.float64)
    total_t = float(summary.age.sum())
    total_x = float(x.sum())
    paid = int(summary.paid_days.sum())
    params: dict[str, Any] = {
        "model": predictions.model,
        "spend_model": predictions.spend_model,
        "horizon_days": HORIZON_DAYS,
        "clv_months": CLV_MONTHS,
        "monthly_discount_rate": MONTHLY_DISCOUNT_RATE,
        "pooled_rate": total_x / total_t if total_t > 0 else 0.0,
        "pooled_gap": float(summary.recency.sum()) / total_x if total_x > 0 else None,
        "pooled_order_value": float(summary.total_spend.sum()) / paid if paid else 0.0,
        "rfm_edges": {
            "r": score_edges(-rfm.recency_days.astype(np.float64), rfm.r),
            "f": score_edges(rfm.purchase_days, rfm.f),
            "m": score_edges(rfm.average_order_value, rfm.m),
        },
    }
    if predictions.bgnbd is not None:
        params["bgnbd"] = [float(v) for v in predictions.bgnbd.params.as_array()]
    if predictions.gamma_gamma is not None:
        params["gamma_gamma"] = [float(v) for v in predictions.gamma_gamma.params.as_array()]
    return params


def _store_categories(
    out: Computed,
    lines: LineArrays,
    summary: CustomerSummary,
    predictions: CustomerPredictions,
    pos: IntArray,
) -> list[int]:
    """Fill the reorder forecast, top category and affinity; returns the shop's top
    categories (ids, largest spend first) that the affinity is measured over."""
    if lines.customer.size == 0:
        return []
    buyer_of = np.searchsorted(summary.customers, lines.customer)
    known = (buyer_of < summary.n_customers) & (
        summary.customers[np.minimum(buyer_of, summary.n_customers - 1)] == lines.customer
    )
    if not known.all():
        lines = LineArrays(
            lines.customer[known], lines.order[known], lines.category[known], lines.cents[known]
        )
        buyer_of = buyer_of[known]
        if lines.customer.size == 0:
            return []
    categories, cat_index = np.unique(lines.category, return_inverse=True)
    n_cat = categories.shape[0]
    pair = buyer_of * n_cat + cat_index
    pair_keys, pair_of_line = np.unique(pair, return_inverse=True)
    pair_spend = np.bincount(pair_of_line, weights=lines.cents, minlength=pair_keys.shape[0])
    # Orders that contained the category: distinct (order, category) per pair.
    _, first_line = np.unique(lines.order * n_cat + cat_index, return_index=True)
    oc_pair = np.searchsorted(pair_keys, buyer_of[first_line] * n_cat + cat_index[first_line])
    pair_orders = np.bincount(oc_pair, minlength=pair_keys.shape[0])
    pair_buyer = pair_keys // n_cat
    pair_cat = pair_keys % n_cat

    order_count = out.order_count[pos][pair_buyer]
    share = np.minimum(pair_orders / np.maximum(order_count, 1), 1.0)
    expected_all = np.where(
        np.isfinite(predictions.expected_purchases), predictions.expected_purchases, 0.0
    )
    expected = np.maximum(expected_all[pair_buyer] * share, 0.0)
    if predictions.model == MODEL_BGNBD and predictions.p_order_within_horizon is not None:
        probability = predictions.p_order_within_horizon[pair_buyer] * share
    else:
        probability = 1.0 - np.exp(-expected)
    probability = np.clip(np.where(np.isfinite(probability), probability, 0.0), 0.0, 1.0)
    out.reorders = ReorderArrays(
        customer=summary.customers[pair_buyer].astype(np.int64),
        category=categories[pair_cat].astype(np.int64),
        expected=expected,
        probability=probability,
    )

    # Top category per customer: the largest spend (ties: the lowest category id).
    order = np.lexsort((pair_cat, -pair_spend, pair_buyer))
    first = np.ones(order.shape[0], bool)
    first[1:] = pair_buyer[order][1:] != pair_buyer[order][:-1]
    top_pairs = order[first]
    out.top_category[pos[pair_buyer[top_pairs]]] = categories[pair_cat[top_pairs]]

    # Affinity over the shop's top categories by spend.
    cat_spend = np.bincount(cat_index, weights=lines.cents, minlength=n_cat)
    top = np.argsort(-cat_spend, kind="stable")[:TOP_CATEGORIES]
    in_top = np.isin(pair_cat, top)
    buyer_spend = np.bincount(pair_buyer, weights=pair_spend, minlength=summary.n_customers)
    shares = np.round(pair_spend / np.maximum(buyer_spend[pair_buyer], 1.0), 4)
    rows: dict[int, dict[str, float]] = {}
    for b, c, s in zip(
        pair_buyer[in_top].tolist(),
        categories[pair_cat[in_top]].tolist(),
        shares[in_top].tolist(),
        strict=True,
    ):
        rows.setdefault(b, {})[str(c)] = s
    for b, mapping in rows.items():
        out.affinity[int(pos[b])] = json.dumps(mapping)
    return [int(v) for v in categories[top].tolist()]


def predict_one(
    summary: CustomerSummary, parameters: dict[str, Any]
) -> dict[str, float | int | str | None]:
    """Predictions for the customers of ``summary`` with a previous run's fitted parameters
    (no fitting): BG/NBD and Gamma-Gamma when that run used them, else the RFM fallback with
    that run's pooled figures. Returns the first customer's values."""
    horizon = float(parameters.get("horizon_days", HORIZON_DAYS))
    months = int(parameters.get("clv_months", CLV_MONTHS))
    rate_d = float(parameters.get("monthly_discount_rate", MONTHLY_DISCOUNT_RATE))
    month = MONTH_LENGTH["days"]
    x = summary.frequency.astype(np.float64)
    t_x, T = summary.recency, summary.age
    aov = np.divide(
        summary.total_spend,
        summary.paid_days,
        out=np.full(summary.n_customers, float(parameters.get("pooled_order_value") or 0.0)),
        where=summary.paid_days > 0,
    )
    result: dict[str, float | int | str | None] = {}
    if parameters.get("gamma_gamma"):
        value = gamma_gamma.expected_order_value(
            parameters["gamma_gamma"], summary.monetary_count, summary.monetary_value
        )
    else:
        value = aov
    if parameters.get("bgnbd"):
        prm = np.asarray(parameters["bgnbd"], dtype=np.float64)
        expected = bgnbd.conditional_expected_purchases(prm, horizon, x, t_x, T)
        alive = bgnbd.probability_alive(prm, x, t_x, T)
        p_order = bgnbd.probability_order_within(prm, horizon, x, t_x, T)
        gap = bgnbd.expected_gap_alive(prm, x, T)
        per_unit = discounted_purchases(
            prm, x, t_x, T, months=months, month_length=month, monthly_discount_rate=rate_d
        )
        result.update(
            model=MODEL_BGNBD,
            p_alive=float(alive[0]),
            p_order_30d=float(p_order[0]),
            churn_risk=str(churn_band(alive)[0]),
        )
    else:
        pooled = float(parameters.get("pooled_rate") or 0.0)
        own = (x > 0) & (T > 0)
        rate = np.where(own, x / np.where(own, T, 1.0), pooled)
        expected = rate * horizon
        gap = np.where(rate > 0, 1.0 / np.where(rate > 0, rate, 1.0), np.inf)
        discount = sum((1.0 + rate_d) ** -i for i in range(1, months + 1))
        per_unit = rate * month * discount
        pooled_gap = parameters.get("pooled_gap")
        if pooled_gap:
            usual = t_x[0] / x[0] if x[0] > 0 else float(pooled_gap)
            overdue = (T[0] - t_x[0]) / usual if usual > 0 else 0.0
            churn = "low" if overdue < 1 else "medium" if overdue < 2 else "high"
        else:
            churn = "high"
        result.update(model="rfm_fallback", p_alive=None, p_order_30d=None, churn_risk=churn)
    result["expected_purchases_30d"] = float(expected[0])
    result["expected_order_value"] = float(value[0])
    result["clv_12m"] = float(per_unit[0] * value[0])
    result["next_order_in_days"] = float(gap[0])
    return result
