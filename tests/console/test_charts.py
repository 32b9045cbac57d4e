"""Chart geometry and the console's formatting filters (no database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from omnicrm.analytics.selectors import MonthTotal
from omnicrm.console import charts
from omnicrm.console.templatetags.console import grouped, initials, money, percent


@pytest.mark.parametrize(
    ("maximum", "integer", "step"),
    [
        (0, True, 1),
        (3, True, 1),
        (9, True, 3),
        (10, True, 3),
        (17, True, 5),
        (120, True, 30),
        (4_200_000, False, 1_200_000),
        (245.5, False, 80),
        (0.4, False, 0.1),
    ],
)
def test_nice_step_covers_the_maximum_in_four_round_steps(maximum, integer, step):
    assert charts.nice_step(maximum, integer=integer) == pytest.approx(step)
    assert charts.nice_step(maximum, integer=integer) * charts.TICKS >= maximum


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (950, "950"), (1500, "1.5k"), (12_000, "12k"), (2_250_000, "2.25M"), (0.25, "0.25")],
)
def test_compact_number_abbreviates_axis_labels(value, text):
    with translation.override("en"):
        assert charts.compact_number(value) == text


def test_month_chart_scales_bars_to_orders_and_the_line_to_revenue():
    totals = [
        MonthTotal(date(2025, 11, 1), 6, Decimal("300.00")),
        MonthTotal(date(2025, 12, 1), 0, Decimal("0.00")),
        MonthTotal(date(2026, 1, 1), 12, Decimal("1200.00")),
    ]

    with translation.override("en"):
        chart = charts.month_chart(totals, currency="USD")

    nov, dec, jan = chart.columns
    # Orders axis 0..12 (step 3), revenue axis 0..1200 (step 300).
    assert [t.label for t in chart.order_ticks] == ["0", "3", "6", "9", "12"]
    assert [t.label for t in chart.revenue_ticks] == ["0", "300", "600", "900", "1.2k"]
    assert jan.bar_height == charts.PLOT_HEIGHT
    assert nov.bar_height == charts.PLOT_HEIGHT / 2
    assert dec.bar_height == 0
    assert jan.point_y == chart.plot_top
    assert dec.point_y == chart.plot_bottom
    assert nov.point_y == chart.plot_bottom - charts.PLOT_HEIGHT / 4
    assert chart.line_points == (
        f"{nov.label_x},{nov.point_y} {dec.label_x},{dec.point_y} {jan.label_x},{jan.point_y}"
    )
    # The year is written under the first month and under each January.
    assert [c.show_year for c in chart.columns] == [True, False, True]
    assert (chart.total_orders, chart.total_revenue) == (18, Decimal("1200.00") + 300)
    assert not chart.is_empty


def test_month_chart_labels_every_other_month_beyond_a_year():
    totals = [MonthTotal(date(2024 + i // 12, i % 12 + 1, 1), 1, Decimal(1)) for i in range(24)]

    chart = charts.month_chart(totals, currency="USD")

    assert sum(c.show_label for c in chart.columns) == 12
    assert all(c.bar_x + c.bar_width <= chart.plot_right for c in chart.columns)


def test_month_chart_without_orders_is_empty():
    chart = charts.month_chart([MonthTotal(date(2025, 1, 1), 0, Decimal(0))], currency="")

    assert chart.is_empty


@pytest.mark.parametrize(
    ("language", "amount", "currency", "text"),
    [
        ("en", Decimal("1234.5"), "USD", "1,234.50 USD"),
        ("en", Decimal("1850000"), "VND", "1,850,000 VND"),
        ("en", Decimal("0"), "", "0.00"),
        ("vi", Decimal("1234.5"), "USD", "1.234,50 USD"),
        ("vi", Decimal("1850000"), "VND", "1.850.000 VND"),
        ("zh-hans", Decimal("1850000.5"), "CNY", "1,850,000.50 CNY"),
        ("en", None, "USD", "—"),
    ],
)
def test_money_uses_the_currency_minor_units_and_the_language_separators(
    language, amount, currency, text
):
    with translation.override(language):
        assert money(amount, currency) == text


def test_percent_and_initials():
    with translation.override("en"):
        assert percent(Decimal("0.3333")) == "33.3%"
        assert percent(Decimal("1")) == "100.0%"
    with translation.override("vi"):
        assert grouped(99441) == "99.441"
        assert percent(Decimal("0.125")) == "12,5%"
    assert initials("Đặng Lưu Hà") == "ĐH"
    assert initials("Madonna") == "MA"
    assert initials("") == "?"
