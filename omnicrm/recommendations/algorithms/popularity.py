"""Non-personalized scores: Bayesian average rating and trending velocity."""

from __future__ import annotations

import numpy as np


def bayesian_average(
    rating_sum: np.ndarray, rating_count: np.ndarray, *, prior_mean: float, prior_count: float
) -> np.ndarray:
    """(sum + prior_mean * prior_count) / (count + prior_count), per item.

    Each item starts with ``prior_count`` imaginary ratings of ``prior_mean`` (typically the
    shop-wide mean), so one lone 5-star review cannot top the list. An item without ratings
    gets the prior mean (or NaN when ``prior_count`` is 0).
    """
    if prior_count < 0:
        raise ValueError("prior_count must be >= 0")
    s = np.asarray(rating_sum, dtype=np.float64)
    c = np.asarray(rating_count, dtype=np.float64)
    denom = c + prior_count
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, (s + prior_mean * prior_count) / denom, np.nan)


def trending_scores(
    recent: np.ndarray, earlier: np.ndarray, *, recent_days: float, earlier_days: float
) -> np.ndarray:
    """Velocity: how far the recent count is above what the earlier rate predicts.

    expected = earlier x recent_days / earlier_days (the earlier daily rate carried over the
    recent window), score = (recent - expected) / sqrt(expected + 1): a Poisson z-score
    smoothed by +1 so an item going from 0 to 1 sale is not infinitely "hot". It rewards
    both acceleration and volume (20 sales up from 10 beats 2 up from 0). Items at or below
    their usual pace score <= 0 and should not be shown as trending.
    """
    if recent_days <= 0 or earlier_days <= 0:
        raise ValueError("recent_days and earlier_days must be > 0")
    r = np.asarray(recent, dtype=np.float64)
    e = np.asarray(earlier, dtype=np.float64)
    expected = e * (recent_days / earlier_days)
    return (r - expected) / np.sqrt(expected + 1.0)
