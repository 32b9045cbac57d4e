"""CDNOW, the data set of the BG/NBD paper, read from the files the `lifetimes` package ships
(a test dependency). The files are located without importing lifetimes, so the data does not
depend on lifetimes' own code working with today's pandas and scipy."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from omnicrm.analytics.clv import CalibrationHoldout, split_calibration_holdout

CALIBRATION_END = "1997-09-30"  # week 39 of the paper
OBSERVATION_END = "1998-06-30"  # week 78


def cdnow_dir() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the test extra is not installed: pip install -e '.[test]'")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets"


@dataclass(frozen=True)
class Transactions:
    customers: np.ndarray
    dates: np.ndarray
    amounts: np.ndarray


def load_cdnow_sample() -> Transactions:
    """CDNOW_sample.txt: master id, sample id (1..2357), yyyymmdd, CDs bought, dollars."""
    raw = np.loadtxt(cdnow_dir() / "CDNOW_sample.txt", dtype=str)
    days = raw[:, 2]
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in days], dtype="datetime64[D]")
    return Transactions(
        customers=raw[:, 1].astype(np.int64), dates=dates, amounts=raw[:, 4].astype(float)
    )


@pytest.fixture(scope="session")
def cdnow() -> Transactions:
    return load_cdnow_sample()


@pytest.fixture(scope="session")
def cdnow_split(cdnow: Transactions) -> CalibrationHoldout:
    return split_calibration_holdout(
        cdnow.customers,
        cdnow.dates,
        cdnow.amounts,
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
        unit="weeks",
    )


@pytest.fixture(scope="session")
def cdnow_reference() -> np.ndarray:
    """Hardie's published calibration summary: ID, x, t_x, T (weeks, 2 decimals), zbar."""
    return np.loadtxt(
        cdnow_dir() / "cdnow_customers_summary_with_transactions.csv", delimiter=",", skiprows=1
    )
