"""The plain-language explanation of one customer's predictions on Customer 360, e.g.
"Hà buys about every 40 days. 92% likely still a customer. Expected 2.1 orders in the next
30 days, about 185,000 VND each. 12-month value 4.2M VND. Next order expected around 12 Dec."
Every sentence goes through gettext; numbers are formatted for the active language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from omnicrm.analytics.models import CustomerMetrics, PredictionModel
from omnicrm.console.charts import compact_number
from omnicrm.console.templatetags.console import format_number, money


@dataclass(frozen=True)
class Explanation:
    sentences: tuple[str, ...]
    fallback: bool


def usual_gap_days(metrics: CustomerMetrics) -> int | None:
    """Average days between the first and the last order, for customers with two or more."""
    if metrics.order_count < 2 or not metrics.first_order_at or not metrics.last_order_at:
        return None
    span = (metrics.last_order_at - metrics.first_order_at).total_seconds() / 86_400
    return max(1, round(span / (metrics.order_count - 1)))


def _short_money(amount: object, currency: str) -> str:
    value = float(amount)  # type: ignore[arg-type]
    if abs(value) >= 1_000_000:
        return f"{compact_number(value)} {currency}".strip()
    return money(amount, currency)  # type: ignore[arg-type]


def explain_predictions(
    metrics: CustomerMetrics, *, name: str, now: datetime | None = None
) -> Explanation:
    who = name or _("This customer")
    sentences: list[str] = []
    if metrics.order_count == 0:
        return Explanation(
            sentences=(_("%(name)s has not ordered yet.") % {"name": who},), fallback=False
        )
    gap = usual_gap_days(metrics)
    if gap is not None:
        sentences.append(
            ngettext(
                "%(name)s buys about every %(days)d day.",
                "%(name)s buys about every %(days)d days.",
                gap,
            )
            % {"name": who, "days": gap}
        )
    elif metrics.recency_days is not None:
        sentences.append(
            ngettext(
                "%(name)s has ordered once, %(days)d day ago.",
                "%(name)s has ordered once, %(days)d days ago.",
                metrics.recency_days,
            )
            % {"name": who, "days": metrics.recency_days}
        )
    if metrics.p_alive is not None:
        sentences.append(
            _("%(percent)s%% likely still a customer.")
            % {"percent": format_number(round(metrics.p_alive * 100))}
        )
    expected = format_number(round(metrics.expected_purchases_30d, 1), decimal_pos=1)
    if metrics.expected_order_value is not None:
        sentences.append(
            _("Expected %(orders)s orders in the next 30 days, about %(value)s each.")
            % {
                "orders": expected,
                "value": _short_money(metrics.expected_order_value, metrics.currency),
            }
        )
    else:
        sentences.append(
            _("Expected %(orders)s orders in the next 30 days.") % {"orders": expected}
        )
    if metrics.clv_12m is not None:
        sentences.append(
            _("12-month value %(value)s.")
            % {"value": _short_money(metrics.clv_12m, metrics.currency)}
        )
    if metrics.next_order_at is not None:
        sentences.append(
            _("Next order expected around %(date)s.")
            % {"date": formats.date_format(metrics.next_order_at, "j M Y")}
        )
    return Explanation(
        sentences=tuple(sentences), fallback=metrics.model == PredictionModel.RFM_FALLBACK
    )
