from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import datetime
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from omnicrm.analytics.clv import TransactionLogInvalid
from omnicrm.analytics.clv.csvlog import parse_date, read_transaction_csv

from .conftest import CALIBRATION_END


def run(*args: str) -> str:
    out = StringIO()
    call_command("analytics", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def cdnow_csv(tmp_path, cdnow):
    path = tmp_path / "cdnow.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("customer;day;dollars\n")
        for c, d, a in zip(cdnow.customers, cdnow.dates.astype(str), cdnow.amounts, strict=True):
            f.write(f"{c};{d.replace('-', '')};{a}\n")
    return path


def test_fit_csv_reproduces_the_cdnow_paper_and_writes_the_holdout_table(tmp_path, cdnow_csv):
    # given: CDNOW as a gzipped, semicolon-separated CSV with yyyymmdd dates
    out_json = tmp_path / "report.json"
    out_csv = tmp_path / "predictions.csv"

    # when
    text = run(
        "fit-csv",
        str(cdnow_csv),
        "--customer-col", "customer",
        "--date-col", "day",
        "--amount-col", "dollars",
        "--unit", "weeks",
        "--calibration-end", CALIBRATION_END,
        "--json", str(out_json),
        "--predictions", str(out_csv),
        "--interval-draws", "40",
    )  # fmt: skip

    # then: parameters, log-likelihoods and holdout on screen and in the JSON
    report = json.loads(out_json.read_text())
    bg = report["bgnbd"]
    assert {k: round(v["value"], 3) for k, v in bg["parameters"].items()} == {
        "r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426
    }  # fmt: skip
    assert round(bg["log_likelihood"], 1) == -9582.4
    assert bg["parameters"]["r"]["ci_low"] < 0.243 < bg["parameters"]["r"]["ci_high"]
    gg = report["gamma_gamma"]
    assert {k: round(v["value"], 2) for k, v in gg["parameters"].items()} == {
        "p": 6.25, "q": 3.74, "v": 15.44
    }  # fmt: skip
    assert report["input"] == {
        "file": str(cdnow_csv),
        "rows": 6919,
        "first_date": "1997-01-01",
        "last_date": "1998-06-30",
        "unit": "weeks",
        "customers": 2357,
        "repeat_buyers": 946,
        "observation_end": "1997-09-30",
    }
    holdout = report["holdout"]
    assert holdout["length"] == 39.0
    assert [r["group"] for r in holdout["rows"]] == [
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7+",
        "total",
    ]
    assert holdout["rows"][-1]["actual"] == 1882
    assert round(holdout["rows"][-1]["predicted"], 1) == 1653.4
    assert "r            0.2426   95% CI 0.2192 .. 0.2685" in text
    assert "BG/NBD: 2357 customers, log-likelihood -9582.4292" in text
    assert "  total       2357      1882     1653.4        0.798        0.701" in text
    lines = out_csv.read_text().splitlines()
    assert len(lines) == 2358
    assert lines[0].startswith("customer,frequency,recency,age,monetary_value,expected_purchases,")
    assert lines[1].startswith("1,2,30.4286,38.8571,22.345,")


def test_fit_csv_without_amounts_or_holdout(tmp_path):
    path = tmp_path / "log.csv"
    rows = ["id,when"] + [f"c{i % 30},2024-01-{1 + i % 28:02d}" for i in range(200)]
    path.write_text("\n".join(rows) + "\n")
    out_json = tmp_path / "r.json"
    text = run(
        "fit-csv", str(path), "--customer-col", "id", "--date-col", "when", "--json", str(out_json)
    )
    report = json.loads(out_json.read_text())
    assert report["gamma_gamma"] is None
    assert "holdout" not in report
    assert "Gamma-Gamma: no amount column, spend not modelled." in text
    assert report["input"]["customers"] == 30


def test_a_small_log_reports_the_fallback_instead_of_failing(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("c,d,a\nx,2024-01-01,10\nx,2024-01-15,12\ny,2024-01-03,8\n")
    text = run("fit-csv", str(path), "--customer-col", "c", "--date-col", "d", "--amount-col", "a")
    assert "BG/NBD not fitted: BG/NBD needs at least 20 customers" in text
    assert "Predictions use the RFM fallback rules." in text


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (
            "c,d,a\nx,2024-01-01,10\ny,2024-13-01,3\n",
            [],
            "line 3: column d: '2024-13-01' is not a date",
        ),
        ("c,d,a\nx,2024-01-01,10\ny,2024-01-02,-3\n", [], "line 3: column a: -3 is negative"),
        ("c,d,a\nx,2024-01-01,10\n,2024-01-02,3\n", [], "line 3: column c: empty"),
        ("c,d,a\nx,2024-01-01,1,5\ny,2024-01-02\n", [], "line 3: column a: the row has 2 fields"),
        ("c,d,a\nx,01/02/2024,10\n", [], "line 2: column d: '01/02/2024' is ambiguous"),
        ("c,d,a\nx,2024-01-01,ten\n", [], "line 2: column a: 'ten' is not a number"),
        ("c,d\nx,2024-01-01\n", [], "line 1: column a is not in the header (columns: c, d)"),
        ("c,d,a\nx,2024-01-01,1\n", ["--calibration-end", "2023-01-01"], "No purchase is on"),
    ],
)
def test_bad_input_names_the_line_and_column(tmp_path, content, args, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(CommandError) as err:
        run(
            "fit-csv",
            str(path),
            "--customer-col",
            "c",
            "--date-col",
            "d",
            "--amount-col",
            "a",
            *args,
        )
    assert message in str(err.value)
    assert str(err.value).startswith(str(path))


def test_a_bad_row_exits_non_zero_from_the_command_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("c,d\nx,2024-01-01\ny,yesterday\n")
    result = subprocess.run(
        [sys.executable, "-m", "omnicrm", "analytics", "fit-csv", str(path),
         "--customer-col", "c", "--date-col", "d"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "line 3: column d: 'yesterday' is not a date" in result.stderr


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError) as err:
        run("fit-csv", str(tmp_path / "nope.csv"), "--customer-col", "c", "--date-col", "d")
    assert "no such file" in str(err.value)


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("2017-10-02", None, datetime(2017, 10, 2)),
        ("2017-10-02 10:56:33", None, datetime(2017, 10, 2, 10, 56, 33)),
        ("2017-10-02T23:30:00-03:00", None, datetime(2017, 10, 3, 2, 30)),
        ("2017-10-02T10:00:00Z", None, datetime(2017, 10, 2, 10, 0)),
        ("20171002", None, datetime(2017, 10, 2)),
        ("2017/10/02", None, datetime(2017, 10, 2)),
        ("02/10/2017", "%d/%m/%Y", datetime(2017, 10, 2)),
    ],
)
def test_dates_in_common_formats(text, fmt, expected):
    assert parse_date(text, fmt) == expected


def test_reader_keeps_every_row_and_parses_amounts(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('\ufeffcustomer,date,amount\n"a, b",2024-01-01,1.5\nc,2024-01-02,0\n\n')
    log = read_transaction_csv(path, customer_col="customer", date_col="date", amount_col="amount")
    assert log.rows == 2
    assert log.customers.tolist() == ["a, b", "c"]
    assert log.amounts.tolist() == [1.5, 0.0]
    assert log.dates.astype("datetime64[D]").astype(str).tolist() == ["2024-01-01", "2024-01-02"]


def test_reader_refuses_a_file_without_rows(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("customer,date\n")
    with pytest.raises(TransactionLogInvalid) as err:
        read_transaction_csv(path, customer_col="customer", date_col="date")
    assert "has no data rows" in err.value.message


def test_summary_from_the_reader_equals_the_in_memory_summary(tmp_path, cdnow_csv, cdnow):
    from omnicrm.analytics.clv import summarize_transactions

    log = read_transaction_csv(cdnow_csv, customer_col="customer", date_col="day")
    a = summarize_transactions(log.customers.astype(int), log.dates, unit="weeks")
    b = summarize_transactions(cdnow.customers, cdnow.dates, unit="weeks")
    assert np.array_equal(a.frequency, b.frequency) and np.array_equal(a.age, b.age)
