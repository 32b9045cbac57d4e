from __future__ import annotations

import numpy as np
import pytest

from omnicrm.analytics.clv import (
    TransactionLogInvalid,
    bgnbd_fit,
    holdout_table,
    split_calibration_holdout,
)


def test_split_counts_holdout_purchase_days_of_calibration_customers_only():
    # given: "a" buys before and twice on one day after the cut; "b" only before;
    # "c" first buys after the cut
    customers = ["a", "a", "a", "a", "b", "c"]
    dates = np.array(
        ["2024-01-01", "2024-01-10", "2024-02-05", "2024-02-05", "2024-01-20", "2024-02-10"],
        "datetime64[D]",
    )
    amounts = [10.0, 20.0, 5.0, 6.0, 8.0, 9.0]

    # when
    split = split_calibration_holdout(
        customers, dates, amounts, calibration_end="2024-01-31", observation_end="2024-03-01"
    )

    # then
    cal = split.calibration
    assert cal.customers.tolist() == ["a", "b"]
    assert cal.frequency.tolist() == [1, 0]
    assert cal.age.tolist() == [30.0, 11.0]
    assert split.holdout_purchases.tolist() == [1, 0]  # two orders on Feb 5 are one purchase
    assert split.holdout_spend.tolist() == [11.0, 0.0]
    assert split.holdout_length == 30.0
    assert split.new_customers_in_holdout == 1
    assert str(split.calibration_end) == "2024-01-31"


def test_cdnow_holdout_actuals(cdnow_split):
    assert cdnow_split.holdout_length == 39.0  # weeks 40 to 78
    assert cdnow_split.calibration.n_customers == 2357
    assert int(cdnow_split.holdout_purchases.sum()) == 1882
    assert cdnow_split.new_customers_in_holdout == 0


def test_cdnow_holdout_table_by_calibration_frequency(cdnow_split):
    # given: the model fitted on weeks 1-39
    s = cdnow_split.calibration
    fit = bgnbd_fit(s.frequency, s.recency, s.age)
    predicted = fit.expected_purchases(cdnow_split.holdout_length, s.frequency, s.recency, s.age)

    # when
    rows = holdout_table(s.frequency, predicted, cdnow_split.holdout_purchases)

    # then: one row per x = 0..6, 7+ and a total, as in the paper's conditional expectations
    assert [r.group for r in rows] == ["0", "1", "2", "3", "4", "5", "6", "7+", "total"]
    assert [r.customers for r in rows] == [1411, 439, 214, 100, 62, 38, 29, 64, 2357]
    assert [int(r.actual) for r in rows] == [334, 306, 298, 156, 157, 112, 112, 407, 1882]
    assert [round(r.predicted_mean, 3) for r in rows] == [
        0.225, 0.523, 1.044, 1.520, 2.164, 2.654, 3.504, 6.157, 0.701
    ]  # fmt: skip
    assert rows[-1].predicted == pytest.approx(sum(r.predicted for r in rows[:-1]), rel=1e-12)


def test_empty_groups_are_left_out_but_the_total_stays():
    rows = holdout_table([0, 0, 9], [0.1, 0.2, 3.0], [0, 1, 2])
    assert [(r.group, r.customers, r.actual) for r in rows] == [
        ("0", 2, 1.0),
        ("7+", 1, 2.0),
        ("total", 3, 3.0),
    ]
    assert rows[0].predicted_mean == pytest.approx(0.15)


@pytest.mark.parametrize(
    ("calibration_end", "observation_end", "fragment"),
    [
        ("2024-03-01", "2024-03-01", "must be before"),
        ("2023-12-01", None, "No purchase is on or before"),
    ],
)
def test_impossible_cuts_are_refused(calibration_end, observation_end, fragment):
    dates = np.array(["2024-01-01", "2024-02-01"], "datetime64[D]")
    with pytest.raises(TransactionLogInvalid) as err:
        split_calibration_holdout(
            ["a", "a"], dates, calibration_end=calibration_end, observation_end=observation_end
        )
    assert fragment in err.value.message


def test_rows_after_the_observation_end_are_left_out_and_counted():
    dates = np.array(["2024-01-01", "2024-01-20", "2024-02-10", "2024-03-05"], "datetime64[D]")
    split = split_calibration_holdout(
        ["a", "a", "a", "b"],
        dates,
        calibration_end="2024-01-31",
        observation_end="2024-02-29",
    )
    assert split.calibration.customers.tolist() == ["a"]
    assert split.holdout_purchases.tolist() == [1]
    assert split.purchases_after_observation_end == 1
    assert split.new_customers_in_holdout == 0
