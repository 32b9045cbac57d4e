"""Geometry of the dashboard's orders-and-revenue chart, drawn as inline SVG by a template.

Python computes every coordinate; the template only writes them out, so the chart needs
no JavaScript, no chart library and no network, and its labels go through gettext.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from omnicrm.analytics.selectors import MonthTotal
from omnicrm.console.templatetags.console import format_number

WIDTH = 760
HEIGHT = 300
LEFT, RIGHT, TOP, BOTTOM = 52, 76, 30, 48
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
TICKS = 4
MAX_LABELS = 12


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Column:
    """One month: its bar (orders), its line point (revenue) and its hover area."""

    month: date
    order_count: int
    revenue: Decimal
    slot_x: float
    slot_width: float
    bar_x: float
    bar_y: float
    bar_width: float
    bar_height: float
    label_x: float
    point_y: float
    show_label: bool
    show_year: bool


@dataclass(frozen=True)
class MonthChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    columns: tuple[Column, ...]
    order_ticks: tuple[Tick, ...]
    revenue_ticks: tuple[Tick, ...]
    line_points: str
    area_points: str
    currency: str
    total_orders: int
    total_revenue: Decimal

    @property
    def plot_height(self) -> int:
        return self.plot_bottom - self.plot_top

    @property
    def is_empty(self) -> bool:
        return self.total_orders == 0


def nice_step(maximum: float, *, integer: bool) -> float:
    """A round tick step (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten) so
    TICKS steps cover maximum without leaving much of the plot empty."""
    if maximum <= 0:
        return 1.0
    raw = maximum / TICKS
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        step = multiple * magnitude
        if integer and step < 1:
            continue
        if integer and step != int(step):
            continue
        if raw <= step:
            return step
    return 10 * magnitude


def compact_number(value: float) -> str:
    """Axis labels: 950, 1.5k, 12k, 2.25M (localized decimal separator)."""
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return _trimmed(value / threshold) + suffix
    return _trimmed(value)


def _trimmed(value: float) -> str:
    rounded = round(value, 2)
    if rounded == int(rounded):
        return format_number(int(rounded))
    places = 1 if round(rounded, 1) == rounded else 2
    return format_number(rounded, decimal_pos=places)


def month_chart(totals: Sequence[MonthTotal], *, currency: str) -> MonthChart:
    count = max(len(totals), 1)
    slot = PLOT_WIDTH / count
    bar_width = min(slot * 0.58, 38.0)
    order_step = nice_step(max((t.order_count for t in totals), default=0), integer=True)
    revenue_step = nice_step(
        float(max((t.revenue for t in totals), default=Decimal(0))), integer=False
    )
    order_top = order_step * TICKS
    revenue_top = revenue_step * TICKS
    baseline = TOP + PLOT_HEIGHT
    every = math.ceil(count / MAX_LABELS)

    columns = []
    for index, total in enumerate(totals):
        slot_x = LEFT + index * slot
        bar_height = PLOT_HEIGHT * total.order_count / order_top
        columns.append(
            Column(
                month=total.month,
                order_count=total.order_count,
                revenue=total.revenue,
                slot_x=round(slot_x, 2),
                slot_width=round(slot, 2),
                bar_x=round(slot_x + (slot - bar_width) / 2, 2),
                bar_y=round(baseline - bar_height, 2),
                bar_width=round(bar_width, 2),
                bar_height=round(bar_height, 2),
                label_x=round(slot_x + slot / 2, 2),
                point_y=round(baseline - PLOT_HEIGHT * float(total.revenue) / revenue_top, 2),
                show_label=index % every == 0,
                show_year=index == 0 or total.month.month == 1,
            )
        )
    line = " ".join(f"{c.label_x},{c.point_y}" for c in columns)
    area = ""
    if columns:
        area = f"{columns[0].label_x},{baseline} {line} {columns[-1].label_x},{baseline}"
    return MonthChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=LEFT + PLOT_WIDTH,
        plot_top=TOP,
        plot_bottom=baseline,
        columns=tuple(columns),
        order_ticks=tuple(
            Tick(
                y=round(baseline - PLOT_HEIGHT * i / TICKS, 2), label=compact_number(order_step * i)
            )
            for i in range(TICKS + 1)
        ),
        revenue_ticks=tuple(
            Tick(
                y=round(baseline - PLOT_HEIGHT * i / TICKS, 2),
                label=compact_number(revenue_step * i),
            )
            for i in range(TICKS + 1)
        ),
        line_points=line,
        area_points=area,
        currency=currency,
        total_orders=sum(t.order_count for t in totals),
        total_revenue=sum((t.revenue for t in totals), Decimal(0)),
    )
