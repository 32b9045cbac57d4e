from __future__ import annotations

import numpy as np

from omnicrm.analytics.clv import rfm_scores, summarize_transactions
from omnicrm.analytics.clv.rfm import repeat_rates, rfm_fallback


def five_customers():
    # customer k (1..5) buys k times, every 10 days, ending k days before Feb 29; the order
    # value grows with k
    customers, dates, amounts = [], [], []
    for k in range(1, 6):
        last = np.datetime64("2024-02-29") - np.timedelta64(k, "D")
        for j in range(k):
            customers.append(f"k{k}")
            dates.append(last - np.timedelta64(10 * j, "D"))
            amounts.append(10.0 * k)
    return summarize_transactions(customers, np.array(dates), amounts)


def test_rfm_scores_rank_recency_frequency_and_value_into_quintiles():
    s = five_customers()
    scores = rfm_scores(s)
    assert s.customers.tolist() == ["k1", "k2", "k3", "k4", "k5"]
    assert scores.recency_days.tolist() == [0, 1, 2, 3, 4]
    assert scores.purchase_days.tolist() == [1, 2, 3, 4, 5]
    assert scores.average_order_value.tolist() == [10.0, 20.0, 30.0, 40.0, 50.0]
    assert scores.r.tolist() == [5, 4, 3, 2, 1]  # the most recent scores highest
    assert scores.f.tolist() == [1, 2, 3, 4, 5]
    assert scores.m.tolist() == [1, 2, 3, 4, 5]
    assert scores.codes() == ["511", "422", "333", "244", "155"]


def test_ties_share_a_score():
    s = summarize_transactions(
        ["a", "b", "c", "d"], np.array(["2024-01-01"] * 4, "datetime64[D]"), [5.0] * 4
    )
    scores = rfm_scores(s)
    assert scores.f.tolist() == [3, 3, 3, 3]
    assert scores.r.tolist() == [3, 3, 3, 3]


def test_fallback_rates_pool_the_base_for_one_time_buyers():
    s = five_customers()
    rates = repeat_rates(s)
    # k1 bought once: the pooled rate, 10 repeat purchases over 0+1+2+3+4 ... days of age
    pooled = s.frequency.sum() / s.age.sum()
    assert rates[0] == pooled
    assert np.allclose(rates[1:], s.frequency[1:] / s.age[1:])


def test_fallback_churn_is_how_overdue_the_customer_is():
    # given: four customers with a 10-day rhythm, silent for 5, 15 and 30 days, and a
    # one-time buyer silent for 25 days (the base's usual gap is 10 days)
    customers = ["a", "a", "b", "b", "c", "c", "d"]
    dates = np.array(
        [
            "2024-02-05", "2024-02-15",  # a: 5 days before the end
            "2024-01-26", "2024-02-05",  # b: 15 days
            "2024-01-11", "2024-01-21",  # c: 30 days
            "2024-01-26",                # d: one purchase, 25 days
        ],
        "datetime64[D]",
    )  # fmt: skip
    s = summarize_transactions(customers, dates, observation_end="2024-02-20")

    # when
    fallback = rfm_fallback(
        s, horizon=30.0, clv_months=1, month_length=30.0, monthly_discount_rate=0.0
    )

    # then: overdue ratios 0.5, 1.5, 3 and 2.5
    assert fallback.churn_risk.tolist() == ["low", "medium", "high", "high"]
    assert np.allclose(fallback.rate, [1 / 15, 1 / 25, 1 / 40, 3 / (15 + 25 + 40 + 25)])
    assert fallback.expected_order_value is None and fallback.clv is None
