"""Calibration/holdout check: fit on the log up to a date, predict the period after it, compare.

The customers are those who bought at least once by the calibration end. For each of them the
holdout actual is the number of purchase days in (calibration end, observation end] — every
purchase after the first is a repeat purchase, so this is directly comparable with
E[Y(t) | x, t_x, T] for t = the holdout length. Customers whose first purchase falls in the
holdout are counted but not compared (the models predict only known customers' repeat buying).

The comparison table groups customers by calibration repeat purchases 0, 1, ..., 6 and 7+,
as the conditional-expectation figure of the BG/NBD paper does, with a total row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from django.utils.translation import gettext as _

from omnicrm.analytics.clv.errors import TransactionLogInvalid
from omnicrm.analytics.clv.summary import (
    CustomerSummary,
    FloatArray,
    IntArray,
    day_number,
    summarize_days,
    unit_days,
    validated_log,
    weighted_sum,
)

#: Customers with this many calibration repeat purchases or more share the last group.
TOP_GROUP = 7


@dataclass(frozen=True)
class CalibrationHoldout:
    """A log cut at ``calibration_end``: the calibration summary and, per calibration customer
    (in the summary's order), what happened afterwards."""

    calibration: CustomerSummary
    holdout_purchases: IntArray
    holdout_spend: FloatArray
    #: Length of the holdout period in the summary's unit.
    holdout_length: float
    calibration_end: np.datetime64
    observation_end: np.datetime64
    new_customers_in_holdout: int
    #: Log rows after ``observation_end``, left out of both periods.
    purchases_after_observation_end: int = 0


def split_calibration_holdout(
    customers: Sequence[Any] | npt.ArrayLike,
    dates: Sequence[Any] | npt.ArrayLike,
    amounts: Sequence[float] | npt.ArrayLike | None = None,
    *,
    calibration_end: Any,
    observation_end: Any = None,
    unit: str = "days",
) -> CalibrationHoldout:
    """Split a transaction log at ``calibration_end`` (that day belongs to the calibration
    period). ``observation_end`` defaults to the last day of the log; rows after it are left
    out and counted in ``purchases_after_observation_end``."""
    keys, days, values = validated_log(customers, dates, amounts)
    scale = float(unit_days(unit))
    cal_day = day_number(calibration_end, field="calibration_end")
    end_day = (
        int(days.max())
        if observation_end is None
        else day_number(observation_end, field="observation_end")
    )
    if cal_day >= end_day:
        raise TransactionLogInvalid(
            _(
                "The calibration end %(cal)s must be before the end of observation %(end)s, "
                "so that there is a holdout period to compare with."
            )
            % {"cal": np.datetime64(cal_day, "D"), "end": np.datetime64(end_day, "D")},
            field="calibration_end",
        )
    # Purchases after the end of observation are outside the experiment: they are left out
    # and counted, so the report can say so.
    observed = days <= end_day
    after_end = int((~observed).sum())
    if after_end:
        keys, days = keys[observed], days[observed]
        values = None if values is None else values[observed]
    in_cal = days <= cal_day
    if not in_cal.any():
        raise TransactionLogInvalid(
            _("No purchase is on or before the calibration end %(cal)s.")
            % {"cal": np.datetime64(cal_day, "D")},
            field="calibration_end",
        )
    unique_keys, cust = np.unique(keys, return_inverse=True)
    cust = cust.astype(np.int64)
    cal_ids = np.unique(cust[in_cal])
    position = np.full(unique_keys.shape[0], -1, dtype=np.int64)
    position[cal_ids] = np.arange(cal_ids.shape[0])

    summary = summarize_days(
        position[cust[in_cal]],
        cal_ids.shape[0],
        days[in_cal],
        None if values is None else values[in_cal],
        end_day=cal_day,
        unit=unit,
        keys=unique_keys[cal_ids],
    )

    later = ~in_cal & (position[cust] >= 0)
    hold_pos = position[cust[later]]
    hold_days = days[later]
    span = end_day - int(days.min()) + 1
    # Distinct (customer, day) pairs: several orders on one day are one purchase.
    pairs = np.unique(hold_pos * span + (hold_days - int(days.min())))
    holdout_purchases = np.bincount(pairs // span, minlength=cal_ids.shape[0]).astype(np.int64)
    holdout_spend = (
        weighted_sum(hold_pos, values[later], cal_ids.shape[0])
        if values is not None
        else np.zeros(cal_ids.shape[0])
    )
    return CalibrationHoldout(
        calibration=summary,
        holdout_purchases=holdout_purchases,
        holdout_spend=holdout_spend,
        holdout_length=(end_day - cal_day) / scale,
        calibration_end=np.datetime64(cal_day, "D"),
        observation_end=np.datetime64(end_day, "D"),
        new_customers_in_holdout=int(unique_keys.shape[0] - cal_ids.shape[0]),
        purchases_after_observation_end=after_end,
    )


@dataclass(frozen=True)
class HoldoutRow:
    """Predicted against actual repeat purchases in the holdout for one group of customers."""

    group: str
    customers: int
    actual: float
    predicted: float

    @property
    def actual_mean(self) -> float:
        return self.actual / self.customers if self.customers else 0.0

    @property
    def predicted_mean(self) -> float:
        return self.predicted / self.customers if self.customers else 0.0


def holdout_table(
    calibration_frequency: npt.ArrayLike,
    predicted: npt.ArrayLike,
    actual: npt.ArrayLike,
    *,
    top_group: int = TOP_GROUP,
) -> list[HoldoutRow]:
    """Rows for calibration frequency 0 .. top_group-1, ``top_group``+ and the total. Groups
    nobody falls in are left out, except the total."""
    x = np.asarray(calibration_frequency, dtype=np.int64)
    pred = np.asarray(predicted, dtype=np.float64)
    act = np.asarray(actual, dtype=np.float64)
    group = np.minimum(x, top_group)
    counts = np.bincount(group, minlength=top_group + 1)
    pred_sum = weighted_sum(group, pred, top_group + 1)
    act_sum = weighted_sum(group, act, top_group + 1)
    rows = [
        HoldoutRow(
            group=f"{g}+" if g == top_group else str(g),
            customers=int(counts[g]),
            actual=float(act_sum[g]),
            predicted=float(pred_sum[g]),
        )
        for g in range(top_group + 1)
        if counts[g]
    ]
    rows.append(
        HoldoutRow(
            group="total",
            customers=int(x.shape[0]),
            actual=float(act.sum()),
            predicted=float(pred.sum()),
        )
    )
    return rows
