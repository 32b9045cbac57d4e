from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnicrm.analytics.clv import (
    TransactionLogInvalid,
    customer_lifetime_value,
    predict_customers,
    summarize_transactions,
)
from omnicrm.analytics.clv.predict import CHURN_LOW_MIN, CHURN_MEDIUM_MIN, churn_band
from omnicrm.analytics.clv.simulate import simulate_customers
from omnicrm.analytics.clv.summary import CustomerSummary
from omnicrm.core.errors import ApplicationError


def summary_of(sim, *, unit="days", end="2024-12-31") -> CustomerSummary:
    """A CustomerSummary holding simulated histories (times in whole days)."""
    n = sim.frequency.shape[0]
    age = np.rint(sim.age).astype(np.int64)
    recency = np.minimum(np.rint(sim.recency).astype(np.int64), age)
    recency = np.where(sim.frequency > 0, np.maximum(recency, 1), 0)
    end_day = np.datetime64(end, "D")
    first = end_day - age.astype("timedelta64[D]")
    return CustomerSummary(
        customers=np.array([f"c{i:05d}" for i in range(n)]),
        frequency=sim.frequency,
        recency=recency.astype(float),
        age=age.astype(float),
        monetary_value=sim.monetary_value,
        monetary_count=sim.frequency.copy(),
        first_purchase=first,
        last_purchase=first + recency.astype("timedelta64[D]"),
        total_spend=sim.monetary_value * sim.frequency + 20.0,
        paid_days=sim.frequency + 1,
        observation_end=end_day,
        unit=unit,
        has_amounts=True,
    )


def test_cdnow_predictions_match_lifetimes_clv_and_the_documented_rules(cdnow_split):
    # given
    s = cdnow_split.calibration

    # when: 39 weeks ahead, CLV over 12 months at 1% a month
    p = predict_customers(s, horizon=39.0, clv_months=12, monthly_discount_rate=0.01)

    # then
    assert p.model == "bgnbd" and p.spend_model == "gamma_gamma"
    assert p.model_note is None and p.spend_note is None
    bg, gg = p.bgnbd, p.gamma_gamma
    x, t_x, T = s.frequency, s.recency, s.age
    assert np.allclose(p.expected_purchases, bg.expected_purchases(39.0, x, t_x, T), rtol=1e-12)
    assert np.allclose(p.p_alive, bg.p_alive(x, t_x, T), rtol=1e-12)
    aov = gg.expected_order_value(s.monetary_count, s.monetary_value)
    assert np.allclose(p.expected_order_value, aov, rtol=1e-12)
    lifetimes = pytest.importorskip("lifetimes")
    import pandas as pd

    theirs = lifetimes.BetaGeoFitter()
    theirs.params_ = pd.Series(bg.params.as_array(), index=["r", "alpha", "a", "b"])
    theirs.predict = theirs.conditional_expected_number_of_purchases_up_to_time
    idx = pd.RangeIndex(s.n_customers)
    their_spend = lifetimes.GammaGammaFitter()
    their_spend.params_ = pd.Series(gg.params.as_array(), index=["p", "q", "v"])
    their_clv = their_spend.customer_lifetime_value(
        theirs,
        pd.Series(x, index=idx),
        pd.Series(t_x, index=idx),
        pd.Series(T, index=idx),
        pd.Series(s.monetary_value, index=idx),
        time=12,
        discount_rate=0.01,
        freq="W",
    )
    assert np.allclose(p.clv, their_clv.values, rtol=1e-9)
    # next order: (alpha + T) / (r + x) weeks after the end of observation, in whole days
    r, alpha = bg.params.r, bg.params.alpha
    gap_days = np.rint((alpha + T) / (r + x) * 7).astype(int)
    expected_dates = np.datetime64("1997-09-30") + gap_days.astype("timedelta64[D]")
    assert np.array_equal(p.next_order_date, expected_dates)
    # chance of ordering within 39 weeks: alive, and the next purchase comes in time
    p_order = p.p_alive * (1 - ((alpha + T) / (alpha + T + 39.0)) ** (r + x))
    assert np.allclose(p.p_order_within_horizon, p_order, rtol=1e-12)
    assert np.all(p.p_order_within_horizon <= p.p_alive)
    assert np.array_equal(p.churn_risk, churn_band(p.p_alive))
    assert {str(b) for b in np.unique(p.churn_risk)} == {"low", "medium", "high"}


def test_cdnow_intervals_surround_the_point_predictions(cdnow_split):
    p = predict_customers(cdnow_split.calibration, horizon=39.0, interval_draws=100, seed=1)
    assert p.interval_draws == 100 and p.interval_level == 0.9
    assert set(p.intervals) == {"expected_purchases", "p_alive", "expected_order_value", "clv"}
    for name, point in [
        ("expected_purchases", p.expected_purchases),
        ("p_alive", p.p_alive),
        ("expected_order_value", p.expected_order_value),
        ("clv", p.clv),
    ]:
        interval = p.intervals[name]
        assert np.all(np.isfinite(interval.low)) and np.all(np.isfinite(interval.high))
        assert np.all(interval.low <= interval.high)
        inside = (interval.low <= point * (1 + 1e-9)) & (point <= interval.high * (1 + 1e-9))
        assert inside.mean() > 0.97, name


def test_churn_bands_follow_the_documented_thresholds():
    bands = churn_band(np.array([1.0, CHURN_LOW_MIN, 0.69, CHURN_MEDIUM_MIN, 0.29, 0.0]))
    assert bands.tolist() == ["low", "low", "medium", "medium", "high", "high"]


def test_clv_discounts_monthly_increments():
    # given: a customer whose expected purchases grow over two 30-day months
    params = np.array([0.5, 10.0, 0.8, 2.5])
    x, t_x, T = np.array([3.0]), np.array([50.0]), np.array([60.0])
    from omnicrm.analytics.clv import conditional_expected_purchases

    e30 = conditional_expected_purchases(params, 30.0, x, t_x, T)
    e60 = conditional_expected_purchases(params, 60.0, x, t_x, T)

    # when
    clv = customer_lifetime_value(
        params, x, t_x, T, [40.0], months=2, month_length=30.0, monthly_discount_rate=0.02
    )

    # then
    assert clv[0] == pytest.approx(40 * (e30[0] / 1.02 + (e60[0] - e30[0]) / 1.02**2), rel=1e-12)


def test_a_small_shop_with_50_repeat_buyers_still_gets_model_predictions_with_intervals():
    # given: 150 customers, about 50 of whom bought again
    rng = np.random.default_rng(42)
    sim = simulate_customers(
        150,
        bgnbd_params=(0.3, 60.0, 0.8, 2.5),
        gamma_gamma_params=(6.0, 4.0, 60.0),
        age=rng.uniform(200, 365, 150),
        rng=rng,
    )
    s = summary_of(sim)
    assert 45 <= s.n_repeat_buyers <= 60

    # when
    p = predict_customers(s, horizon=30.0)

    # then: both models fitted, with wide but finite intervals
    assert p.model == "bgnbd" and p.spend_model == "gamma_gamma"
    for est in p.bgnbd.estimates() + p.gamma_gamma.estimates():
        assert np.isfinite(est.ci_low) and np.isfinite(est.ci_high) and est.ci_low < est.ci_high
    assert set(p.intervals) == {"expected_purchases", "p_alive", "expected_order_value", "clv"}
    for arr in (p.expected_purchases, p.p_alive, p.clv, p.intervals["clv"].high):
        assert np.all(np.isfinite(arr))


def test_a_tiny_log_falls_back_to_the_rfm_rules_and_says_why():
    # given: three customers; "a" bought on days 0, 10 and 20; "b" on 0 and 30; "c" once
    dates = np.array(
        ["2024-01-01", "2024-01-11", "2024-01-21", "2024-01-01", "2024-01-31", "2024-01-16"],
        "datetime64[D]",
    )
    s = summarize_transactions(
        ["a", "a", "a", "b", "b", "c"],
        dates,
        [10.0, 20.0, 30.0, 50.0, 0.0, 40.0],
        observation_end="2024-01-31",
    )

    # when
    p = predict_customers(s, horizon=30.0, clv_months=1, monthly_discount_rate=0.0)

    # then: flagged, with the reason, and the documented arithmetic
    assert p.model == "rfm_fallback" and p.bgnbd is None
    assert "at least 20" in p.model_note
    assert p.spend_model == "average_order_value" and "positive value" in p.spend_note
    assert p.p_alive is None and p.intervals == {}
    pooled = 3 / (30 + 30 + 15)  # 3 repeat purchases over 75 customer-days
    rates = np.array([2 / 30, 1 / 30, pooled])
    assert np.allclose(p.expected_purchases, rates * 30)
    assert np.allclose(p.expected_order_value, [20.0, 50.0, 40.0])  # zero-value day left out
    assert np.allclose(p.clv, rates * 30 * np.array([20.0, 50.0, 40.0]))
    assert p.next_order_date.astype(str).tolist() == ["2024-02-15", "2024-03-01", "2024-02-25"]
    # overdue: a silent 10 days with a 10-day rhythm (1.0), b just bought (0), c silent 15
    # days against the base's usual gap of 50/3 days (0.9)
    assert p.churn_risk.tolist() == ["medium", "low", "low"]


def test_nobody_repeating_gives_zero_predictions_not_nan():
    s = summarize_transactions(
        ["a", "b", "c"],
        np.array(["2024-01-01", "2024-01-05", "2024-01-09"], "datetime64[D]"),
        [10.0, 0.0, 5.0],
    )
    p = predict_customers(s, horizon=30.0)
    assert p.model == "rfm_fallback" and "has 0" in p.model_note
    assert p.expected_purchases.tolist() == [0.0, 0.0, 0.0]
    assert p.clv.tolist() == [0.0, 0.0, 0.0]
    assert p.next_order_date is None
    assert p.churn_risk.tolist() == ["high", "high", "high"]


def test_one_customer_gets_the_fallback():
    s = summarize_transactions(["only"], np.array(["2024-05-01"], "datetime64[D]"), [12.5])
    p = predict_customers(s, horizon=30.0)
    assert p.model == "rfm_fallback"
    assert p.expected_purchases.tolist() == [0.0]
    assert p.expected_order_value.tolist() == [12.5]


def test_all_zero_amounts_keep_the_purchase_model_and_zero_value():
    rng = np.random.default_rng(8)
    sim = simulate_customers(
        400, bgnbd_params=(0.8, 60.0, 0.8, 2.5), age=rng.uniform(200, 365, 400), rng=rng
    )
    base = summary_of(sim)
    s = CustomerSummary(
        **{
            **base.__dict__,
            "monetary_value": np.zeros(400),
            "monetary_count": np.zeros(400, dtype=np.int64),
            "total_spend": np.zeros(400),
            "paid_days": np.zeros(400, dtype=np.int64),
        }
    )
    p = predict_customers(s, horizon=30.0)
    assert p.model == "bgnbd"
    assert p.spend_model == "average_order_value" and "has 0" in p.spend_note
    assert p.clv.tolist() == [0.0] * 400


def test_without_amounts_there_is_no_value_prediction():
    s = summarize_transactions(["a", "a"], np.array(["2024-01-01", "2024-01-09"], "datetime64[D]"))
    p = predict_customers(s, horizon=7.0)
    assert p.spend_model == "no_amounts"
    assert p.expected_order_value is None and p.clv is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"horizon": 0.0}, "horizon"),
        ({"horizon": 30.0, "clv_months": 0}, "clv_months"),
        ({"horizon": 30.0, "monthly_discount_rate": 1.5}, "discount_rate"),
    ],
)
def test_bad_options_are_refused(kwargs, field):
    s = summarize_transactions(["a"], np.array(["2024-01-01"], "datetime64[D]"))
    with pytest.raises(TransactionLogInvalid) as err:
        predict_customers(s, **kwargs)
    assert err.value.field == field


logs = st.lists(
    st.tuples(
        st.integers(0, 12),  # customer
        st.integers(0, 120),  # day
        st.sampled_from([0.0, 0.01, 1.0, 9.99, 250.0, 1e6]),  # amount
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=logs, min_repeat=st.sampled_from([1, 2, 20]), unit=st.sampled_from(["days", "weeks"]))
def test_random_small_logs_give_finite_predictions_or_a_clear_error(log, min_repeat, unit):
    customers = np.array([f"c{c}" for c, _d, _a in log])
    dates = np.datetime64("2024-01-01") + np.array([d for _c, d, _a in log]).astype(
        "timedelta64[D]"
    )
    amounts = [a for _c, _d, a in log]
    try:
        s = summarize_transactions(customers, dates, amounts, unit=unit)
        p = predict_customers(
            s, horizon=4.0, min_repeat_buyers=min_repeat, interval_draws=30, seed=0
        )
    except ApplicationError as exc:
        assert exc.message
        return
    arrays = [p.expected_purchases, p.expected_order_value, p.clv]
    arrays += [p.p_alive, p.p_order_within_horizon] if p.p_alive is not None else []
    arrays += [i.low for i in p.intervals.values()] + [i.high for i in p.intervals.values()]
    for arr in arrays:
        assert np.all(np.isfinite(arr))
        assert np.all(arr >= 0)
    assert set(p.churn_risk.tolist()) <= {"low", "medium", "high"}
    if p.next_order_date is not None:
        assert not np.any(np.isnat(p.next_order_date))
