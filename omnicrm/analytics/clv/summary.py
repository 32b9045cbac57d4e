"""Per-customer sufficient statistics of a transaction log (the "RFM summary").

BG/NBD and Gamma-Gamma never look at individual orders: for each customer they need

- ``frequency`` x: the number of *repeat* purchase days (purchase days after the first one);
- ``recency`` t_x: the time from the first purchase day to the last one (0 when x = 0);
- ``age`` T: the time from the first purchase day to the end of observation;
- ``monetary_value``: the mean value of the repeat purchase days with a positive total, and
  ``monetary_count``, how many such days there were (the x of the spend model).

Purchases on the same calendar day are collapsed into one transaction whose value is the day's
total, as in the BG/NBD paper's CDNOW data and in ``lifetimes`` (``freq="D"``). Times are counted
in whole days and expressed in a unit: days (default) or weeks (7 days, the unit of the paper).

The first purchase never counts towards the spend model: it is often discounted or different in
kind (the paper and ``lifetimes`` do the same). Zero-value days (a free sample, a fully
discounted order) are purchases for BG/NBD but are left out of the spend model, since the
Gamma-Gamma model describes positive amounts only. Negative amounts are refused: net refunds
against their orders before fitting.

Everything is vectorised (``np.unique`` on a combined customer/day key, ``np.bincount``), so a
log of a million customers is summarised in about a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from django.utils.translation import gettext as _

from omnicrm.analytics.clv.errors import TransactionLogInvalid

#: Length of each supported time unit in days.
UNITS: dict[str, int] = {"days": 1, "weeks": 7}

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CustomerSummary:
    """Sufficient statistics per customer, customers sorted by key."""

    customers: npt.NDArray[Any]
    frequency: IntArray
    recency: FloatArray
    age: FloatArray
    monetary_value: FloatArray
    monetary_count: IntArray
    first_purchase: npt.NDArray[np.datetime64]
    last_purchase: npt.NDArray[np.datetime64]
    #: Sum of every purchase day's total, the first one included.
    total_spend: FloatArray
    #: Number of purchase days with a positive total, the first one included.
    paid_days: IntArray
    observation_end: np.datetime64
    unit: str
    has_amounts: bool

    @property
    def n_customers(self) -> int:
        return int(self.customers.shape[0])

    @property
    def n_repeat_buyers(self) -> int:
        return int(np.count_nonzero(self.frequency))

    @property
    def unit_days(self) -> int:
        return UNITS[self.unit]


def weighted_sum(index: npt.ArrayLike, weights: npt.ArrayLike | None, n: int) -> FloatArray:
    """Sum of ``weights`` per value of ``index`` in 0..n-1 (a typed ``np.bincount``)."""
    return np.asarray(np.bincount(index, weights=weights, minlength=n), dtype=np.float64)


def unit_days(unit: str) -> int:
    """Days in ``unit``; a clear error for anything but days and weeks."""
    try:
        return UNITS[unit]
    except KeyError:
        raise TransactionLogInvalid(
            _("Unknown time unit %(unit)s: use one of %(units)s.")
            % {"unit": unit, "units": ", ".join(UNITS)},
            field="unit",
        ) from None


def to_days(values: npt.ArrayLike, *, field: str) -> IntArray:
    """Day numbers (days since 1970-01-01) of datetimes or dates, refusing missing values.
    Aware datetimes count by their UTC day; naive ones are taken as UTC."""
    arr = np.asarray(values)
    if arr.dtype == object:
        # Aware datetimes (as the ORM returns them) go to naive UTC, which numpy expects.
        arr = np.array(
            [
                v.astimezone(UTC).replace(tzinfo=None)
                if isinstance(v, datetime) and v.tzinfo is not None
                else v
                for v in arr.ravel()
            ],
            dtype=object,
        ).reshape(arr.shape)
    if arr.dtype.kind != "M":
        try:
            arr = arr.astype("datetime64[us]")
        except (TypeError, ValueError) as exc:
            raise TransactionLogInvalid(
                _("%(field)s must be dates or datetimes: %(error)s")
                % {"field": field, "error": exc},
                field=field,
            ) from None
    missing = np.isnat(arr)
    if missing.any():
        raise TransactionLogInvalid(
            _("%(field)s has a missing date at position %(index)d.")
            % {"field": field, "index": int(np.argmax(missing))},
            field=field,
        )
    return arr.astype("datetime64[D]").astype(np.int64)


def day_number(value: Any, *, field: str) -> int:
    return int(to_days(np.asarray([value]), field=field)[0])


def validated_log(
    customers: Sequence[Any] | npt.ArrayLike,
    dates: Sequence[Any] | npt.ArrayLike,
    amounts: Sequence[float] | npt.ArrayLike | None,
) -> tuple[npt.NDArray[Any], IntArray, FloatArray | None]:
    """Checks a transaction log and returns (customer keys, day numbers, amounts)."""
    keys = np.asarray(customers)
    if keys.ndim != 1:
        raise TransactionLogInvalid(_("customers must be a flat list of keys."), field="customer")
    if keys.shape[0] == 0:
        raise TransactionLogInvalid(_("The transaction log is empty."), field="customer")
    days = to_days(dates, field="date")
    if days.shape != keys.shape:
        raise TransactionLogInvalid(
            _("customers and dates have different lengths (%(a)d and %(b)d).")
            % {"a": keys.shape[0], "b": days.shape[0]},
            field="date",
        )
    values: FloatArray | None = None
    if amounts is not None:
        values = np.asarray(amounts, dtype=np.float64)
        if values.shape != keys.shape:
            raise TransactionLogInvalid(
                _("customers and amounts have different lengths (%(a)d and %(b)d).")
                % {"a": keys.shape[0], "b": values.shape[0]},
                field="amount",
            )
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            index = int(np.argmax(bad))
            raise TransactionLogInvalid(
                _(
                    "amount at position %(index)d is %(value)s: amounts must be finite and not "
                    "negative (net refunds against their orders first)."
                )
                % {"index": index, "value": values[index]},
                field="amount",
            )
    return keys, days, values


def summarize_days(
    cust: IntArray,
    n_customers: int,
    days: IntArray,
    amounts: FloatArray | None,
    *,
    end_day: int,
    unit: str,
    keys: npt.NDArray[Any],
) -> CustomerSummary:
    """The summary of an already validated log whose customers are indices 0..n-1, each with
    at least one purchase on or before ``end_day``."""
    scale = float(unit_days(unit))
    d0 = int(days.min())
    span = int(days.max()) - d0 + 1
    # One key per (customer, day): sorting it orders purchase days by customer, then by day.
    pair_keys, pair_of_row = np.unique(cust * span + (days - d0), return_inverse=True)
    pair_cust = pair_keys // span
    pair_day = pair_keys % span + d0
    day_total = (
        weighted_sum(pair_of_row, amounts, pair_keys.shape[0])
        if amounts is not None
        else np.zeros(pair_keys.shape[0])
    )
    n_days = np.bincount(pair_cust, minlength=n_customers)
    first_pos = np.concatenate(([0], np.cumsum(n_days)[:-1]))
    first_day = pair_day[first_pos]
    last_day = pair_day[first_pos + n_days - 1]

    is_repeat = np.ones(pair_keys.shape[0], dtype=bool)
    is_repeat[first_pos] = False
    positive = day_total > 0
    spend_days = is_repeat & positive
    monetary_count = np.bincount(pair_cust[spend_days], minlength=n_customers)
    monetary_sum = weighted_sum(pair_cust[spend_days], day_total[spend_days], n_customers)
    monetary_value = np.divide(
        monetary_sum,
        monetary_count,
        out=np.zeros(n_customers),
        where=monetary_count > 0,
    )
    return CustomerSummary(
        customers=keys,
        frequency=(n_days - 1).astype(np.int64),
        recency=(last_day - first_day) / scale,
        age=(end_day - first_day) / scale,
        monetary_value=monetary_value,
        monetary_count=monetary_count.astype(np.int64),
        first_purchase=first_day.astype("datetime64[D]"),
        last_purchase=last_day.astype("datetime64[D]"),
        total_spend=weighted_sum(pair_cust, day_total, n_customers),
        paid_days=np.bincount(pair_cust[positive], minlength=n_customers).astype(np.int64),
        observation_end=np.datetime64(end_day, "D"),
        unit=unit,
        has_amounts=amounts is not None,
    )


def summarize_transactions(
    customers: Sequence[Any] | npt.ArrayLike,
    dates: Sequence[Any] | npt.ArrayLike,
    amounts: Sequence[float] | npt.ArrayLike | None = None,
    *,
    observation_end: Any = None,
    unit: str = "days",
) -> CustomerSummary:
    """Summarise a transaction log: one row per order (or order line) with a customer key,
    a date (naive datetimes are taken as they are, in UTC) and optionally an amount.

    ``observation_end`` defaults to the last day of the log; a purchase after it is an error
    (use :func:`omnicrm.analytics.clv.holdout.split_calibration_holdout` to cut a log at a date).
    """
    keys, days, values = validated_log(customers, dates, amounts)
    unit_days(unit)
    end_day = (
        int(days.max())
        if observation_end is None
        else day_number(observation_end, field="observation_end")
    )
    late = days > end_day
    if late.any():
        raise TransactionLogInvalid(
            _("The purchase at position %(index)d is after the end of observation %(end)s.")
            % {"index": int(np.argmax(late)), "end": np.datetime64(end_day, "D")},
            field="observation_end",
        )
    unique_keys, cust = np.unique(keys, return_inverse=True)
    return summarize_days(
        cust.astype(np.int64),
        unique_keys.shape[0],
        days,
        values,
        end_day=end_day,
        unit=unit,
        keys=unique_keys,
    )
