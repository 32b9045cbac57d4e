"""Named RFM segments from the recency (R) and frequency (F) quintile scores.

The segment depends on R and F only (the usual "RF grid"); the monetary score M is stored
and shown beside it but does not move anyone between segments, so the grid in the console and
the segment names always agree. The table, rows R = 5 (bought most recently) down to R = 1:

    R \\ F   1               2                 3                 4            5
    5       new             potential_loyalist potential_loyalist champions  champions
    4       promising       potential_loyalist potential_loyalist loyal      loyal
    3       about_to_sleep  about_to_sleep    need_attention    loyal        loyal
    2       hibernating     hibernating       at_risk           at_risk      cannot_lose
    1       lost            lost              at_risk           at_risk      cannot_lose

docs/predictions.md explains each name to shop owners.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from omnicrm.analytics.models import RFMSegment

S = RFMSegment
#: SEGMENT_GRID[r - 1][f - 1] is the segment of a customer scored R = r, F = f.
SEGMENT_GRID: tuple[tuple[str, ...], ...] = (
    (S.LOST, S.LOST, S.AT_RISK, S.AT_RISK, S.CANNOT_LOSE),
    (S.HIBERNATING, S.HIBERNATING, S.AT_RISK, S.AT_RISK, S.CANNOT_LOSE),
    (S.ABOUT_TO_SLEEP, S.ABOUT_TO_SLEEP, S.NEED_ATTENTION, S.LOYAL, S.LOYAL),
    (S.PROMISING, S.POTENTIAL_LOYALIST, S.POTENTIAL_LOYALIST, S.LOYAL, S.LOYAL),
    (S.NEW, S.POTENTIAL_LOYALIST, S.POTENTIAL_LOYALIST, S.CHAMPIONS, S.CHAMPIONS),
)
_GRID = np.array([[str(value) for value in row] for row in SEGMENT_GRID])


def rfm_segment(r: int, f: int) -> str:
    """The segment slug of one customer's R and F scores (1..5 each)."""
    if not (1 <= r <= 5 and 1 <= f <= 5):
        raise ValueError(f"RFM scores must be 1..5, got R={r} F={f}")
    return str(SEGMENT_GRID[r - 1][f - 1])


def rfm_segments(r: npt.ArrayLike, f: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """The segment slugs of arrays of R and F scores, vectorized."""
    r_idx = np.asarray(r, dtype=np.int64) - 1
    f_idx = np.asarray(f, dtype=np.int64) - 1
    if r_idx.size and (r_idx.min() < 0 or r_idx.max() > 4 or f_idx.min() < 0 or f_idx.max() > 4):
        raise ValueError("RFM scores must be 1..5")
    return _GRID[r_idx, f_idx]


def score_edges(values: npt.ArrayLike, scores: npt.ArrayLike) -> list[float | None]:
    """The smallest value that earned each score 2..5 (scores rise with the value), so that a
    customer refreshed on their own later is scored against the same distribution. None for
    a score nobody earned (JSON has no infinity)."""
    v = np.asarray(values, dtype=np.float64)
    s = np.asarray(scores, dtype=np.int64)
    edges: list[float | None] = []
    for score in range(2, 6):
        chosen = v[s >= score]
        edges.append(float(chosen.min()) if chosen.size else None)
    return edges


def score_with_edges(value: float, edges: Sequence[float | None]) -> int:
    """The score 1..5 of a value given the edges of :func:`score_edges`."""
    return 1 + sum(1 for edge in edges if edge is not None and value >= edge)
