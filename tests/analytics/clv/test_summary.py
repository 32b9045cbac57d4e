from __future__ import annotations

import numpy as np
import pytest

from omnicrm.analytics.clv import TransactionLogInvalid, summarize_transactions

from .conftest import CALIBRATION_END


def test_same_day_purchases_collapse_and_the_first_purchase_is_not_repeat_spend():
    # given: "a" buys twice on Jan 1, once on Jan 3 (zero value) and once on Jan 11;
    # "b" buys once on Jan 5
    customers = ["a", "a", "a", "a", "b"]
    dates = np.array(
        ["2024-01-01T09:00", "2024-01-01T18:30", "2024-01-03", "2024-01-11", "2024-01-05"],
        dtype="datetime64[m]",
    )
    amounts = [10.0, 5.0, 0.0, 30.0, 7.0]

    # when
    s = summarize_transactions(customers, dates, amounts, observation_end="2024-01-21")

    # then
    assert s.customers.tolist() == ["a", "b"]
    assert s.frequency.tolist() == [2, 0]  # Jan 3 and Jan 11 after the first day
    assert s.recency.tolist() == [10.0, 0.0]
    assert s.age.tolist() == [20.0, 16.0]
    # repeat spend: only Jan 11 (Jan 3 was free); the first day's 15.0 is not repeat spend
    assert s.monetary_value.tolist() == [30.0, 0.0]
    assert s.monetary_count.tolist() == [1, 0]
    assert s.total_spend.tolist() == [45.0, 7.0]
    assert s.paid_days.tolist() == [2, 1]
    assert s.first_purchase.astype(str).tolist() == ["2024-01-01", "2024-01-05"]
    assert s.last_purchase.astype(str).tolist() == ["2024-01-11", "2024-01-05"]
    assert str(s.observation_end) == "2024-01-21"
    assert s.n_repeat_buyers == 1


def test_weeks_divide_day_counts_by_seven():
    s = summarize_transactions(
        [1, 1], np.array(["2024-01-01", "2024-01-15"], dtype="datetime64[D]"), unit="weeks"
    )
    assert s.frequency.tolist() == [1]
    assert s.recency.tolist() == [2.0]
    assert s.age.tolist() == [2.0]
    assert not s.has_amounts


def test_observation_end_defaults_to_the_last_purchase_day():
    s = summarize_transactions(["x", "y"], np.array(["2024-03-01", "2024-03-04"], "datetime64[D]"))
    assert s.age.tolist() == [3.0, 0.0]


def test_cdnow_summary_matches_the_published_calibration_summary(cdnow, cdnow_reference):
    # given: the 2,357 CDNOW customers cut at the end of week 39
    cal = cdnow.dates <= np.datetime64(CALIBRATION_END)

    # when
    s = summarize_transactions(
        cdnow.customers[cal],
        cdnow.dates[cal],
        cdnow.amounts[cal],
        observation_end=CALIBRATION_END,
        unit="weeks",
    )

    # then: x exactly, t_x and T to the published 2 decimals, zbar to its rounding
    ref = cdnow_reference
    assert s.customers.tolist() == ref[:, 0].astype(int).tolist()
    assert s.frequency.tolist() == ref[:, 1].astype(int).tolist()
    assert np.array_equal(np.round(s.recency, 2), ref[:, 2])
    assert np.array_equal(np.round(s.age, 2), ref[:, 3])
    assert np.max(np.abs(s.monetary_value - ref[:, 4])) <= 0.005 + 1e-9
    assert s.n_repeat_buyers == 946


@pytest.mark.parametrize(
    ("customers", "dates", "amounts", "field", "fragment"),
    [
        ([], np.array([], "datetime64[D]"), None, "customer", "empty"),
        (["a", "b"], np.array(["2024-01-01"], "datetime64[D]"), None, "date", "different"),
        (["a"], np.array(["NaT"], "datetime64[D]"), None, "date", "missing date at position 0"),
        (["a", "b"], np.array(["2024-01-01"] * 2, "datetime64[D]"), [1.0, -2.0], "amount", "-2"),
        (["a"], np.array(["2024-01-01"], "datetime64[D]"), [float("nan")], "amount", "finite"),
        (["a"], np.array(["2024-01-01"], "datetime64[D]"), [1.0, 2.0], "amount", "different"),
    ],
)
def test_bad_logs_are_refused_with_the_field_named(customers, dates, amounts, field, fragment):
    with pytest.raises(TransactionLogInvalid) as err:
        summarize_transactions(customers, dates, amounts)
    assert err.value.field == field
    assert fragment in err.value.message


def test_a_purchase_after_the_observation_end_is_refused():
    with pytest.raises(TransactionLogInvalid) as err:
        summarize_transactions(
            ["a", "a"],
            np.array(["2024-01-01", "2024-02-01"], "datetime64[D]"),
            observation_end="2024-01-31",
        )
    assert err.value.field == "observation_end"
    assert "position 1" in err.value.message


def test_unknown_unit_is_refused():
    with pytest.raises(TransactionLogInvalid) as err:
        summarize_transactions(["a"], np.array(["2024-01-01"], "datetime64[D]"), unit="months")
    assert err.value.field == "unit"


def test_python_datetimes_are_accepted():
    from datetime import datetime

    s = summarize_transactions(["a", "a"], [datetime(2024, 1, 1, 23, 59), datetime(2024, 1, 2)])
    assert s.frequency.tolist() == [1]
    assert s.recency.tolist() == [1.0]


def test_aware_datetimes_count_by_their_utc_day():
    from datetime import UTC, datetime, timedelta, timezone

    # 23:30 on Jan 1 in New York is Jan 2 in UTC, the same day as the second order
    new_york = timezone(timedelta(hours=-5))
    s = summarize_transactions(
        ["a", "a"],
        [datetime(2024, 1, 1, 23, 30, tzinfo=new_york), datetime(2024, 1, 2, 8, tzinfo=UTC)],
    )
    assert s.frequency.tolist() == [0]
    assert s.first_purchase.astype(str).tolist() == ["2024-01-02"]
