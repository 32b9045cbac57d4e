"""Reading a transaction log from a CSV file (plain or gzip) for analysts.

Every row must have a customer key, a date and, when an amount column is named, a
non-negative number; the first bad row stops the read with ``line N: column C: reason``
(nothing is silently dropped). Dates may be ISO 8601 (``2017-10-02``, ``2017-10-02 10:56:33``,
``2017-10-02T10:56:33+03:00``, ``20171002``) or ``YYYY/MM/DD``; day-first and month-first
formats such as ``02/10/2017`` are ambiguous and need ``date_format`` (``%d/%m/%Y``). Times
with an offset are converted to UTC; times without one are taken as they are.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from django.utils.translation import gettext as _

from omnicrm.analytics.clv.errors import TransactionLogInvalid

DELIMITERS = (",", ";", "\t", "|")
FALLBACK_FORMATS = ("%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")
AMBIGUOUS = re.compile(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}")


@dataclass(frozen=True)
class TransactionLog:
    customers: npt.NDArray[np.str_]
    dates: npt.NDArray[np.datetime64]
    amounts: npt.NDArray[np.float64] | None
    rows: int


class _LineError(Exception):
    pass


def _parse_known(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    for fmt in FALLBACK_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def parse_date(text: str, date_format: str | None = None) -> datetime:
    """A naive UTC datetime from ``text``; :class:`ValueError` with a readable reason."""
    value = text.strip()
    if not value:
        raise ValueError(_("empty"))
    if date_format:
        try:
            parsed = datetime.strptime(value, date_format)
        except ValueError:
            raise ValueError(
                _("%(value)r does not match the date format %(format)s")
                % {"value": value, "format": date_format}
            ) from None
    else:
        known = _parse_known(value)
        if known is None:
            if AMBIGUOUS.match(value):
                raise ValueError(
                    _(
                        "%(value)r is ambiguous (day or month first?): pass a date format "
                        "such as %%d/%%m/%%Y or %%m/%%d/%%Y"
                    )
                    % {"value": value}
                )
            raise ValueError(
                _("%(value)r is not a date (use ISO 8601, e.g. 2017-10-02)") % {"value": value}
            )
        parsed = known
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _open_text(path: Path) -> io.TextIOBase:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open("r", encoding="utf-8-sig", newline="")  # type: ignore[return-value]


def _delimiter(header_line: str) -> str:
    return max(DELIMITERS, key=header_line.count)


def read_transaction_csv(
    path: str | Path,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str | None = None,
    date_format: str | None = None,
    delimiter: str | None = None,
) -> TransactionLog:
    """Read a CSV whose first line names the columns. Raises :class:`TransactionLogInvalid`
    naming the line and column of the first problem."""
    file_path = Path(path)
    if not file_path.is_file():
        raise TransactionLogInvalid(_("%(path)s: no such file") % {"path": path}, field="file")
    try:
        handle = _open_text(file_path)
        with handle:
            header_line = handle.readline()
            if not header_line.strip():
                raise TransactionLogInvalid(
                    _("line 1: the file is empty; expected a header with column names"),
                    field="file",
                )
            sep = delimiter or _delimiter(header_line)
            header = next(csv.reader([header_line], delimiter=sep))
            header = [h.strip() for h in header]
            wanted = [customer_col, date_col] + ([amount_col] if amount_col else [])
            missing = [c for c in wanted if c not in header]
            if missing:
                raise TransactionLogInvalid(
                    _("line 1: column %(col)s is not in the header (columns: %(cols)s)")
                    % {"col": missing[0], "cols": ", ".join(header)},
                    field=missing[0],
                )
            ci = header.index(customer_col)
            di = header.index(date_col)
            ai = header.index(amount_col) if amount_col else -1
            width = max(ci, di, ai) + 1
            customers: list[str] = []
            dates: list[datetime] = []
            amounts: list[float] = []
            date_cache: dict[str, datetime] = {}
            reader = csv.reader(handle, delimiter=sep)
            column = customer_col
            for row in reader:
                line = reader.line_num + 1  # the header line was read before the reader
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                try:
                    if len(row) < width:
                        column = header[len(row)] if len(row) < len(header) else date_col
                        raise _LineError(
                            _("the row has %(n)d fields, the header %(m)d")
                            % {"n": len(row), "m": len(header)}
                        )
                    column = customer_col
                    key = row[ci].strip()
                    if not key:
                        raise _LineError(_("empty"))
                    column = date_col
                    raw_date = row[di]
                    parsed = date_cache.get(raw_date)
                    if parsed is None:
                        try:
                            parsed = parse_date(raw_date, date_format)
                        except ValueError as exc:
                            raise _LineError(str(exc)) from None
                        date_cache[raw_date] = parsed
                    if amount_col:
                        column = amount_col
                        amounts.append(_amount(row[ai]))
                    customers.append(key)
                    dates.append(parsed)
                except _LineError as exc:
                    raise TransactionLogInvalid(
                        _("line %(line)d: column %(col)s: %(reason)s")
                        % {"line": line, "col": column, "reason": exc},
                        field=column,
                        extra={"line": line},
                    ) from None
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, csv.Error) as exc:
        raise TransactionLogInvalid(
            _("%(path)s: cannot be read as a CSV file: %(error)s") % {"path": path, "error": exc},
            field="file",
        ) from None
    if not customers:
        raise TransactionLogInvalid(_("%(path)s has no data rows") % {"path": path}, field="file")
    return TransactionLog(
        customers=np.array(customers),
        dates=np.array(dates, dtype="datetime64[us]"),
        amounts=np.array(amounts, dtype=np.float64) if amount_col else None,
        rows=len(customers),
    )


def _amount(text: str) -> float:
    value = text.strip()
    if not value:
        raise _LineError(_("empty"))
    try:
        amount = float(value)
    except ValueError:
        raise _LineError(
            _("%(value)r is not a number (use a dot for decimals, no thousands separator)")
            % {"value": value}
        ) from None
    if not np.isfinite(amount):
        raise _LineError(_("%(value)r is not a finite number") % {"value": value})
    if amount < 0:
        raise _LineError(
            _("%(value)s is negative: net refunds against their orders first") % {"value": value}
        )
    return amount
