"""What a segment rule may name: each field, its type, its operators and extra parameters.

The console's builder, the validator, the compiler and docs/segments.md all read this one
table, so a field is added in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from omnicrm.analytics.models import ChurnRisk, PredictionModel, RFMSegment
from omnicrm.customers.models import ConsentChannel, ConsentStatus
from omnicrm.events.models import SourceChannel

# Field types: how a value is read and which operators make sense.
TEXT = "text"
CHOICE = "choice"
INTEGER = "integer"
NUMBER = "number"  # a float (probabilities, expected purchases)
MONEY = "money"  # a Decimal amount
DATE = "date"
CONSENT = "consent"
BOUGHT = "bought"
EVENT = "event"

# Where the data comes from: decides the compilation, and which segments a customer's
# new order or event can change (everything but the nightly metrics).
SOURCE_PROFILE = "profile"
SOURCE_CONSENT = "consent"
SOURCE_ORDERS = "orders"
SOURCE_EVENTS = "events"
SOURCE_METRICS = "metrics"
ACTIVITY_SOURCES = frozenset({SOURCE_PROFILE, SOURCE_CONSENT, SOURCE_ORDERS, SOURCE_EVENTS})

SET_OPS = ("is_set", "is_not_set")
TEXT_OPS = ("eq", "neq", "in", "not_in", "contains", *SET_OPS)
CHOICE_OPS = ("eq", "neq", "in", "not_in", *SET_OPS)
COMPARE_OPS = ("eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "between")
NUMBER_OPS = (*COMPARE_OPS, *SET_OPS)
DATE_OPS = ("before", "after", "between", "within_last_days", "not_within_last_days", *SET_OPS)
FUTURE_DATE_OPS = (*DATE_OPS, "within_next_days")
CONSENT_OPS = ("eq", "neq", "in", "not_in")
BOUGHT_OPS = ("eq", "neq", "in", "not_in")
EVENT_OPS = ("did", "did_not")

OPERATOR_LABELS: dict[str, Promise] = {
    "eq": _("is"),
    "neq": _("is not"),
    "in": _("is one of"),
    "not_in": _("is none of"),
    "contains": _("contains"),
    "gt": _("greater than"),
    "gte": _("at least"),
    "lt": _("less than"),
    "lte": _("at most"),
    "between": _("between"),
    "is_set": _("is known"),
    "is_not_set": _("is unknown"),
    "before": _("before"),
    "after": _("after"),
    "within_last_days": _("in the last N days"),
    "not_within_last_days": _("more than N days ago"),
    "within_next_days": _("in the next N days"),
    "did": _("did"),
    "did_not": _("did not do"),
}

# Labels of the same operators for bought conditions, where "is" reads badly.
BOUGHT_LABELS: dict[str, Promise] = {
    "eq": _("bought"),
    "neq": _("did not buy"),
    "in": _("bought any of"),
    "not_in": _("bought none of"),
}

GROUP_LABELS: dict[str, Promise] = {
    SOURCE_PROFILE: _("Profile"),
    SOURCE_CONSENT: _("Consent"),
    SOURCE_ORDERS: _("Orders"),
    SOURCE_EVENTS: _("Events"),
    SOURCE_METRICS: _("RFM and predictions"),
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: Promise
    type: str
    source: str
    ops: tuple[str, ...]
    choices: tuple[str, ...] = ()
    # Optional parameters: within_days (a time window), min_times, channel.
    params: tuple[str, ...] = ()
    # The column: on Customer for profile fields, on CustomerMetrics for metrics.
    column: str = ""
    nullable: bool = True


def _profile(name: str, label: Promise, type_: str, nullable: bool = False) -> FieldSpec:
    ops = TEXT_OPS if type_ == TEXT else DATE_OPS
    return FieldSpec(name, label, type_, SOURCE_PROFILE, ops, column=name, nullable=nullable)


def _consent(channel: str, label: Promise) -> FieldSpec:
    return FieldSpec(
        f"consent_{channel}",
        label,
        CONSENT,
        SOURCE_CONSENT,
        CONSENT_OPS,
        choices=tuple(ConsentStatus.values),
        column=channel,
    )


def _metric(
    name: str, label: Promise, type_: str, choices: tuple[str, ...] = (), ops: tuple = ()
) -> FieldSpec:
    default_ops = {CHOICE: CHOICE_OPS, DATE: DATE_OPS}.get(type_, NUMBER_OPS)
    return FieldSpec(
        name, label, type_, SOURCE_METRICS, ops or default_ops, choices=choices, column=name
    )


FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        _profile("name", _("Name"), TEXT),
        _profile("email", _("Email"), TEXT),
        _profile("country", _("Country (ISO code)"), TEXT),
        _profile("city", _("City"), TEXT),
        _profile("language", _("Language"), TEXT),
        _profile("created_at", _("Profile created"), DATE),
        _profile("first_seen_at", _("First seen"), DATE, nullable=True),
        _profile("last_seen_at", _("Last seen"), DATE, nullable=True),
        _consent(ConsentChannel.EMAIL, _("Email marketing consent")),
        _consent(ConsentChannel.SMS, _("SMS consent")),
        _consent(ConsentChannel.PUSH, _("Push consent")),
        _consent(ConsentChannel.PHONE, _("Phone consent")),
        _consent(ConsentChannel.TRACKING, _("Tracking consent")),
        FieldSpec(
            "order_count",
            _("Number of orders"),
            INTEGER,
            SOURCE_ORDERS,
            COMPARE_OPS,
            params=("within_days",),
            nullable=False,
        ),
        FieldSpec(
            "total_spent",
            _("Total spent"),
            MONEY,
            SOURCE_ORDERS,
            COMPARE_OPS,
            params=("within_days",),
            nullable=False,
        ),
        FieldSpec(
            "last_order_at",
            _("Last order"),
            DATE,
            SOURCE_ORDERS,
            DATE_OPS,
            params=("within_days",),
        ),
        FieldSpec(
            "first_order_at",
            _("First order"),
            DATE,
            SOURCE_ORDERS,
            DATE_OPS,
            params=("within_days",),
        ),
        FieldSpec(
            "bought_category",
            _("Bought from category"),
            BOUGHT,
            SOURCE_ORDERS,
            BOUGHT_OPS,
            params=("within_days", "min_times"),
        ),
        FieldSpec(
            "bought_product",
            _("Bought product (SKU)"),
            BOUGHT,
            SOURCE_ORDERS,
            BOUGHT_OPS,
            params=("within_days", "min_times"),
        ),
        FieldSpec(
            "event",
            _("Event"),
            EVENT,
            SOURCE_EVENTS,
            EVENT_OPS,
            params=("within_days", "min_times", "channel"),
        ),
        _metric("rfm_segment", _("RFM segment"), CHOICE, tuple(RFMSegment.values)),
        _metric("rfm_r", _("RFM recency score (1-5)"), INTEGER),
        _metric("rfm_f", _("RFM frequency score (1-5)"), INTEGER),
        _metric("rfm_m", _("RFM monetary score (1-5)"), INTEGER),
        _metric("p_alive", _("Probability still a customer"), NUMBER),
        _metric("p_order_30d", _("Probability of an order in 30 days"), NUMBER),
        _metric("expected_purchases_30d", _("Expected orders in 30 days"), NUMBER),
        _metric("clv_12m", _("Predicted value, 12 months"), MONEY),
        _metric("churn_risk", _("Churn risk"), CHOICE, tuple(ChurnRisk.values)),
        _metric("next_order_at", _("Expected next order"), DATE, ops=FUTURE_DATE_OPS),
        _metric("model", _("Prediction model"), CHOICE, tuple(PredictionModel.values)),
    )
}

EVENT_CHANNELS = tuple(SourceChannel.values)
PARAM_LABELS: dict[str, Promise] = {
    "within_days": _("in the last (days)"),
    "min_times": _("at least (times)"),
    "channel": _("channel"),
}
