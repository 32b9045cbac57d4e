"""The fit report of ``omnicrm analytics fit-csv``: fitted parameters with intervals,
log-likelihoods, prediction totals and, with a calibration end, the holdout comparison; as
plain data (for ``--json``) and as text lines (for the terminal)."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.utils.translation import gettext as _

from omnicrm.analytics.clv.bgnbd import MIN_REPEAT_BUYERS, ParameterEstimate
from omnicrm.analytics.clv.csvlog import TransactionLog
from omnicrm.analytics.clv.holdout import (
    CalibrationHoldout,
    holdout_table,
    split_calibration_holdout,
)
from omnicrm.analytics.clv.predict import CustomerPredictions, predict_customers
from omnicrm.analytics.clv.rfm import repeat_rates
from omnicrm.analytics.clv.summary import CustomerSummary, summarize_transactions, unit_days

PARAMETER_LEVEL = 0.95


@dataclass(frozen=True)
class FitOptions:
    unit: str = "days"
    calibration_end: str | None = None
    observation_end: str | None = None
    horizon_days: float = 30.0
    clv_months: int = 12
    monthly_discount_rate: float = 0.01
    min_repeat_buyers: int = MIN_REPEAT_BUYERS
    interval_draws: int = 100
    seed: int = 0


@dataclass(frozen=True)
class FitReport:
    data: dict[str, Any]
    predictions: CustomerPredictions
    summary: CustomerSummary
    split: CalibrationHoldout | None


def _estimates(estimates: list[ParameterEstimate]) -> dict[str, dict[str, float]]:
    return {
        e.name: {
            "value": e.value,
            "std_error": e.std_error,
            "ci_low": e.ci_low,
            "ci_high": e.ci_high,
        }
        for e in estimates
    }


def fit_report(log: TransactionLog, options: FitOptions, *, source: str = "") -> FitReport:
    started = time.perf_counter()
    split: CalibrationHoldout | None = None
    if options.calibration_end:
        split = split_calibration_holdout(
            log.customers,
            log.dates,
            log.amounts,
            calibration_end=options.calibration_end,
            observation_end=options.observation_end,
            unit=options.unit,
        )
        summary = split.calibration
    else:
        summary = summarize_transactions(
            log.customers,
            log.dates,
            log.amounts,
            observation_end=options.observation_end,
            unit=options.unit,
        )
    horizon = options.horizon_days / unit_days(options.unit)
    predictions = predict_customers(
        summary,
        horizon=horizon,
        clv_months=options.clv_months,
        monthly_discount_rate=options.monthly_discount_rate,
        min_repeat_buyers=options.min_repeat_buyers,
        interval_draws=options.interval_draws,
        seed=options.seed,
    )
    day = np.asarray(log.dates).astype("datetime64[D]")
    data: dict[str, Any] = {
        "input": {
            "file": source,
            "rows": log.rows,
            "first_date": str(day.min()),
            "last_date": str(day.max()),
            "unit": options.unit,
            "customers": summary.n_customers,
            "repeat_buyers": summary.n_repeat_buyers,
            "observation_end": str(summary.observation_end),
        },
    }
    bg = predictions.bgnbd
    data["bgnbd"] = (
        {
            "fitted": True,
            "parameters": _estimates(bg.estimates(PARAMETER_LEVEL)),
            "confidence_level": PARAMETER_LEVEL,
            "log_likelihood": bg.log_likelihood,
            "customers": bg.n_customers,
            "repeat_buyers": bg.n_repeat_buyers,
            "distinct_histories": bg.n_distinct_rows,
            "iterations": bg.iterations,
        }
        if bg is not None
        else {"fitted": False, "reason": predictions.model_note}
    )
    gg = predictions.gamma_gamma
    if log.amounts is None:
        data["gamma_gamma"] = None
    elif gg is not None:
        data["gamma_gamma"] = {
            "fitted": True,
            "parameters": _estimates(gg.estimates(PARAMETER_LEVEL)),
            "confidence_level": PARAMETER_LEVEL,
            "log_likelihood": gg.log_likelihood,
            "customers": gg.n_customers,
            "population_mean_order_value": gg.population_mean,
            "frequency_spend_correlation": gg.frequency_spend_correlation,
            "iterations": gg.iterations,
        }
    else:
        data["gamma_gamma"] = {"fitted": False, "reason": predictions.spend_note}
    bands, counts = np.unique(predictions.churn_risk, return_counts=True)
    totals: dict[str, Any] = {
        "model": predictions.model,
        "spend_model": predictions.spend_model,
        "horizon_days": options.horizon_days,
        "expected_purchases": float(predictions.expected_purchases.sum()),
        "churn_risk": {str(b): int(c) for b, c in zip(bands, counts, strict=True)},
        "clv_months": options.clv_months,
        "monthly_discount_rate": options.monthly_discount_rate,
        "interval_draws": predictions.interval_draws,
    }
    if predictions.clv is not None:
        totals["clv"] = float(predictions.clv.sum())
    data["predictions"] = totals
    if split is not None:
        if predictions.bgnbd is not None:
            predicted = predictions.bgnbd.expected_purchases(
                split.holdout_length, summary.frequency, summary.recency, summary.age
            )
        else:
            predicted = repeat_rates(summary) * split.holdout_length
        rows = holdout_table(summary.frequency, predicted, split.holdout_purchases)
        data["holdout"] = {
            "calibration_end": str(split.calibration_end),
            "observation_end": str(split.observation_end),
            "length": split.holdout_length,
            "unit": options.unit,
            "model": predictions.model,
            "new_customers_in_holdout": split.new_customers_in_holdout,
            "rows_after_observation_end": split.purchases_after_observation_end,
            "rows": [
                {
                    "group": r.group,
                    "customers": r.customers,
                    "actual": r.actual,
                    "predicted": r.predicted,
                    "actual_mean": r.actual_mean,
                    "predicted_mean": r.predicted_mean,
                }
                for r in rows
            ],
        }
    data["seconds"] = time.perf_counter() - started
    return FitReport(data=data, predictions=predictions, summary=summary, split=split)


def _parameter_lines(block: dict[str, Any]) -> list[str]:
    level = round(block["confidence_level"] * 100)
    return [
        "  "
        + _("%(name)-6s %(value)12.4f   %(level)d%% CI %(low).4f .. %(high)s")
        % {
            "name": name,
            "value": p["value"],
            "level": level,
            "low": p["ci_low"],
            "high": f"{p['ci_high']:.4f}",
        }
        for name, p in block["parameters"].items()
    ]


def report_lines(data: dict[str, Any]) -> list[str]:
    inp = data["input"]
    lines = [
        _(
            "Read %(rows)d rows from %(first)s to %(last)s: %(customers)d customers, "
            "%(repeat)d with a repeat purchase (unit: %(unit)s)."
        )
        % {
            "rows": inp["rows"],
            "first": inp["first_date"],
            "last": inp["last_date"],
            "customers": inp["customers"],
            "repeat": inp["repeat_buyers"],
            "unit": inp["unit"],
        }
    ]
    if "holdout" in data:
        h = data["holdout"]
        lines.append(
            _(
                "Calibration up to %(cal)s, holdout to %(end)s (%(length).2f %(unit)s); "
                "%(new)d customers first seen in the holdout are not compared."
            )
            % {
                "cal": h["calibration_end"],
                "end": h["observation_end"],
                "length": h["length"],
                "unit": h["unit"],
                "new": h["new_customers_in_holdout"],
            }
        )
        if h["rows_after_observation_end"]:
            lines.append(
                _("%(n)d rows after the end of observation were left out.")
                % {"n": h["rows_after_observation_end"]}
            )
    lines.append("")
    bg = data["bgnbd"]
    if bg["fitted"]:
        lines.append(
            _("BG/NBD: %(n)d customers, log-likelihood %(ll).4f")
            % {"n": bg["customers"], "ll": bg["log_likelihood"]}
        )
        lines.extend(_parameter_lines(bg))
    else:
        lines.append(_("BG/NBD not fitted: %(reason)s") % {"reason": bg["reason"]})
        lines.append("  " + _("Predictions use the RFM fallback rules."))
    gg = data["gamma_gamma"]
    if gg is None:
        lines.append(_("Gamma-Gamma: no amount column, spend not modelled."))
    elif gg["fitted"]:
        lines.append(
            _(
                "Gamma-Gamma: %(n)d customers, log-likelihood %(ll).4f, population mean order "
                "value %(mean).2f, frequency/spend correlation %(corr).3f"
            )
            % {
                "n": gg["customers"],
                "ll": gg["log_likelihood"],
                "mean": gg["population_mean_order_value"],
                "corr": gg["frequency_spend_correlation"],
            }
        )
        lines.extend(_parameter_lines(gg))
    else:
        lines.append(_("Gamma-Gamma not fitted: %(reason)s") % {"reason": gg["reason"]})
        lines.append("  " + _("Order values use each customer's average order value."))
    pred = data["predictions"]
    lines.append("")
    lines.append(
        _("Next %(days)g days: %(purchases).1f repeat purchases expected in total (%(model)s).")
        % {
            "days": pred["horizon_days"],
            "purchases": pred["expected_purchases"],
            "model": pred["model"],
        }
    )
    if "clv" in pred:
        lines.append(
            _("CLV over %(months)d months at %(rate)g%% a month: %(clv).2f in total.")
            % {
                "months": pred["clv_months"],
                "rate": pred["monthly_discount_rate"] * 100,
                "clv": pred["clv"],
            }
        )
    lines.append(
        _("Churn risk: %(bands)s.")
        % {"bands": ", ".join(f"{k} {v}" for k, v in sorted(pred["churn_risk"].items()))}
    )
    if "holdout" in data:
        h = data["holdout"]
        lines.append("")
        lines.append(
            _("Holdout: repeat purchases per customer group (calibration repeat purchases)")
        )
        lines.append(
            "  "
            + _("%(g)-6s %(n)9s %(a)9s %(p)10s %(am)12s %(pm)12s")
            % {
                "g": _("group"),
                "n": _("customers"),
                "a": _("actual"),
                "p": _("predicted"),
                "am": _("actual/cust"),
                "pm": _("pred./cust"),
            }
        )
        for r in h["rows"]:
            lines.append(
                f"  {r['group']:<6} {r['customers']:>9d} {r['actual']:>9.0f} "
                f"{r['predicted']:>10.1f} {r['actual_mean']:>12.3f} {r['predicted_mean']:>12.3f}"
            )
    return lines


def write_predictions_csv(report: FitReport, path: str | Path) -> int:
    """One row per customer with every prediction and its interval; returns the row count."""
    p = report.predictions
    s = report.summary
    columns: list[tuple[str, Any]] = [
        ("customer", s.customers),
        ("frequency", s.frequency),
        ("recency", s.recency),
        ("age", s.age),
        ("monetary_value", s.monetary_value if s.has_amounts else None),
        ("expected_purchases", p.expected_purchases),
        ("p_alive", p.p_alive),
        ("p_order_within_horizon", p.p_order_within_horizon),
        ("expected_order_value", p.expected_order_value),
        ("clv", p.clv),
        ("next_order_date", p.next_order_date),
        ("churn_risk", p.churn_risk),
    ]
    for name, interval in p.intervals.items():
        columns.append((f"{name}_low", interval.low))
        columns.append((f"{name}_high", interval.high))
    present = [(n, v) for n, v in columns if v is not None]
    with Path(path).open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([n for n, _v in present])
        for i in range(s.n_customers):
            writer.writerow([_cell(v[i]) for _n, v in present])
    return s.n_customers


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    return str(value)
