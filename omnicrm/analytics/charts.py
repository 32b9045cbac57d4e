"""Geometry of the dashboard's CLV histogram, drawn as inline SVG by a template (no
JavaScript, no chart library, no network), like omnicrm.console.charts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from omnicrm.analytics.reports import Bucket
from omnicrm.console.charts import TICKS, Tick, compact_number, nice_step

WIDTH = 760
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 20, 52
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class Bar:
    bucket: Bucket
    x: float
    y: float
    width: float
    height: float
    label_x: float
    label: str


@dataclass(frozen=True)
class HistogramChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    currency: str
    total: int

    @property
    def is_empty(self) -> bool:
        return self.total == 0


def histogram_chart(buckets: Sequence[Bucket], *, currency: str) -> HistogramChart:
    count = max(len(buckets), 1)
    slot = PLOT_WIDTH / count
    step = nice_step(max((b.customers for b in buckets), default=0), integer=True)
    top = step * TICKS
    baseline = TOP + PLOT_HEIGHT
    bars = []
    for i, bucket in enumerate(buckets):
        height = PLOT_HEIGHT * bucket.customers / top
        low = compact_number(float(bucket.low))
        label = (
            f"{low}+" if bucket.high is None else f"{low}\u2013{compact_number(float(bucket.high))}"
        )
        bars.append(
            Bar(
                bucket=bucket,
                x=round(LEFT + i * slot + slot * 0.1, 2),
                y=round(baseline - height, 2),
                width=round(slot * 0.8, 2),
                height=round(height, 2),
                label_x=round(LEFT + i * slot + slot / 2, 2),
                label=label,
            )
        )
    return HistogramChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=LEFT + PLOT_WIDTH,
        plot_top=TOP,
        plot_bottom=baseline,
        bars=tuple(bars),
        ticks=tuple(
            Tick(y=round(baseline - PLOT_HEIGHT * i / TICKS, 2), label=compact_number(step * i))
            for i in range(TICKS + 1)
        ),
        currency=currency,
        total=sum(b.customers for b in buckets),
    )
