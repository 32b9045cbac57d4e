"""Random rule trees over a small random shop: the compiled SQL selects exactly the
customers that a plain Python reading of the same rules selects."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnicrm.analytics.models import CustomerMetrics
from omnicrm.customers.models import Consent
from omnicrm.orders.models import REVENUE_STATUSES
from omnicrm.segments.rules import rules_compile
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory
from tests.segments.conftest import NOW, make_event, make_order

COUNTRIES = ["VN", "US", "CN"]
CITIES = ["Hanoi", "Hue", "Boston", ""]
EVENTS = ["Product Viewed", "Cart Viewed"]
CHANNELS = ["web", "ios"]
SEGMENTS = ["champions", "at_risk", ""]
P_VALUES = [None, 0.1, 0.3, 0.5, 0.9]
TOTALS = ["10.00", "12.50", "20.00"]
WINDOWS = [None, 30, 90]
DAYS = [1, 10, 45, 100, 200]


def _build(seed: int) -> list[dict[str, Any]]:
    """Write a random shop and return each customer's facts as plain Python data."""
    rng = random.Random(seed)
    coffee = CategoryFactory(slug="coffee")
    categories = {
        "arabica": CategoryFactory(slug="arabica", parent=coffee),
        "robusta": CategoryFactory(slug="robusta", parent=coffee),
        "tea": CategoryFactory(slug="tea"),
    }
    products = {
        slug: ProductFactory(sku=f"SKU-{slug}", category=c) for slug, c in categories.items()
    }
    people = []
    for i in range(24):
        customer = CustomerFactory(
            name=f"P{i}", country=rng.choice(COUNTRIES), city=rng.choice(CITIES)
        )
        orders = []
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            slug = rng.choice(list(products))
            status = rng.choice(["delivered", "delivered", "confirmed", "canceled"])
            days = rng.choice(DAYS)
            total = rng.choice(TOTALS)
            make_order(customer, products=[products[slug]], days=days, status=status, total=total)
            orders.append({"slug": slug, "status": status, "days": days, "total": Decimal(total)})
        events = []
        for _ in range(rng.choice([0, 1, 2, 3])):
            name, days, channel = rng.choice(EVENTS), rng.choice(DAYS), rng.choice(CHANNELS)
            make_event(customer, name, days=days, channel=channel)
            events.append({"name": name, "days": days, "channel": channel})
        consent = rng.choice(["unknown", "granted", "withdrawn"])
        if consent != "unknown":
            Consent.objects.create(
                customer=customer, channel="email", status=consent, changed_at=NOW
            )
        metrics = None
        if rng.random() < 0.75:
            metrics = {
                "p_alive": rng.choice(P_VALUES),
                "rfm_segment": rng.choice(SEGMENTS),
                "rfm_r": rng.choice([None, 1, 3, 5]),
            }
            CustomerMetrics.objects.create(customer=customer, computed_at=NOW, **metrics)
        people.append(
            {
                "pk": customer.pk,
                "country": customer.country,
                "city": customer.city,
                "orders": orders,
                "events": events,
                "consent_email": consent,
                "metrics": metrics or {},
            }
        )
    return people


# --- the plain Python reading of a rule tree ---------------------------------------------------

PARENTS = {"arabica": "coffee", "robusta": "coffee", "tea": None, "coffee": None}


def _in_category(slug: str, wanted: list[str]) -> bool:
    while slug:
        if slug in wanted:
            return True
        slug = PARENTS[slug]
    return False


def _start(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)


def _compare(op: str, actual: Any, value: Any) -> bool:
    if op == "is_set":
        return actual is not None
    if op == "is_not_set":
        return actual is None
    if op == "neq":
        return actual is None or actual != value
    if op == "not_in":
        return actual is None or actual not in value
    if actual is None:
        return False
    return {
        "eq": lambda: actual == value,
        "in": lambda: actual in value,
        "gt": lambda: actual > value,
        "gte": lambda: actual >= value,
        "lt": lambda: actual < value,
        "lte": lambda: actual <= value,
        "between": lambda: value[0] <= actual <= value[1],
        "before": lambda: actual < _start(value),
        "after": lambda: actual >= _start(value) + timedelta(days=1),
        "within_last_days": lambda: NOW - timedelta(days=value) <= actual <= NOW,
        "not_within_last_days": lambda: actual < NOW - timedelta(days=value),
    }[op]()


def _when(days: int) -> datetime:
    return NOW - timedelta(days=days)


def _holds(node: dict[str, Any], person: dict[str, Any]) -> bool:
    if "all" in node:
        return all(_holds(item, person) for item in node["all"])
    if "any" in node:
        return any(_holds(item, person) for item in node["any"])
    field, op, value = node["field"], node["op"], node.get("value")
    window = node.get("within_days")
    orders = [
        o
        for o in person["orders"]
        if o["status"] in REVENUE_STATUSES and (window is None or o["days"] <= window)
    ]
    if field == "country" or field == "city":
        actual = person[field]
        if op in ("is_set", "is_not_set"):
            return (actual != "") == (op == "is_set")
        if op == "contains":
            return value.lower() in actual.lower()
        return _compare(op, actual, value)
    if field == "consent_email":
        return _compare(op, person["consent_email"], value)
    if field == "order_count":
        return _compare(op, len(orders), value)
    if field == "total_spent":
        as_decimal = [Decimal(v) for v in value] if isinstance(value, list) else Decimal(value)
        return _compare(op, sum((o["total"] for o in orders), Decimal(0)), as_decimal)
    if field == "last_order_at":
        last = _when(min(o["days"] for o in orders)) if orders else None
        return _compare(op, last, value)
    if field == "bought_category":
        wanted = value if isinstance(value, list) else [value]
        hits = sum(1 for o in orders if _in_category(o["slug"], wanted))
        bought = hits >= node.get("min_times", 1)
        return bought if op in ("eq", "in") else not bought
    if field == "event":
        hits = sum(
            1
            for e in person["events"]
            if e["name"] == value
            and (window is None or e["days"] <= window)
            and node.get("channel") in (None, e["channel"])
        )
        did = hits >= node.get("min_times", 1)
        return did if op == "did" else not did
    metric = person["metrics"].get(field)
    if field == "rfm_segment":
        metric = metric or None
        if op == "is_set":
            return metric is not None
    return _compare(op, metric, value)


# --- random trees --------------------------------------------------------------------------------


def _leaf(field: str, ops: list[str], values: st.SearchStrategy, **params: st.SearchStrategy):
    def build(op: str, value: Any, extra: dict[str, Any]) -> dict[str, Any]:
        node = {"field": field, "op": op, **{k: v for k, v in extra.items() if v is not None}}
        if op not in ("is_set", "is_not_set"):
            node["value"] = value
        return node

    def value_for(op: str) -> st.SearchStrategy:
        if op in ("in", "not_in"):
            return st.lists(values, min_size=1, max_size=3)
        if op == "between":
            return st.lists(values, min_size=2, max_size=2).map(sorted)
        return values

    return st.sampled_from(ops).flatmap(
        lambda op: st.builds(build, st.just(op), value_for(op), st.fixed_dictionaries(params))
    )


NUMBER_OPS = ["eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "between"]
DATE_OPS = ["within_last_days", "not_within_last_days", "is_set", "is_not_set"]

conditions = st.one_of(
    _leaf("country", ["eq", "neq", "in", "not_in"], st.sampled_from(COUNTRIES)),
    _leaf("city", ["eq", "contains", "is_set", "is_not_set"], st.sampled_from(["Hanoi", "H"])),
    _leaf(
        "consent_email",
        ["eq", "neq", "in", "not_in"],
        st.sampled_from(["granted", "withdrawn", "unknown"]),
    ),
    _leaf("order_count", NUMBER_OPS, st.integers(0, 3), within_days=st.sampled_from(WINDOWS)),
    _leaf(
        "total_spent",
        NUMBER_OPS,
        st.sampled_from(["0", "10", "22.5", "40"]),
        within_days=st.sampled_from(WINDOWS),
    ),
    _leaf(
        "last_order_at",
        DATE_OPS,
        st.sampled_from([20, 60, 150]),
        within_days=st.sampled_from(WINDOWS),
    ),
    _leaf(
        "last_order_at",
        ["before", "after"],
        st.sampled_from(["2026-01-01", "2026-05-01", "2026-06-10"]),
    ),
    _leaf(
        "bought_category",
        ["eq", "neq", "in", "not_in"],
        st.sampled_from(["arabica", "coffee", "tea"]),
        within_days=st.sampled_from(WINDOWS),
        min_times=st.sampled_from([None, 2]),
    ),
    _leaf(
        "event",
        ["did", "did_not"],
        st.sampled_from(EVENTS),
        within_days=st.sampled_from(WINDOWS),
        min_times=st.sampled_from([None, 2]),
        channel=st.sampled_from([None, "ios"]),
    ),
    _leaf("p_alive", [*NUMBER_OPS, "is_set", "is_not_set"], st.sampled_from([0.1, 0.3, 0.9])),
    _leaf(
        "rfm_segment",
        ["eq", "neq", "in", "not_in", "is_set", "is_not_set"],
        st.sampled_from(["champions", "at_risk"]),
    ),
    _leaf("rfm_r", [*NUMBER_OPS, "is_set", "is_not_set"], st.integers(1, 5)),
)

trees = st.recursive(
    conditions,
    lambda children: st.builds(
        lambda key, items: {key: items},
        st.sampled_from(["all", "any"]),
        st.lists(children, min_size=0, max_size=3),
    ),
    max_leaves=6,
).map(lambda node: node if ("all" in node or "any" in node) else {"all": [node]})


@pytest.mark.parametrize("seed", [7])
def test_random_rule_trees_match_a_plain_python_evaluation(db, seed):
    people = _build(seed)

    @settings(
        max_examples=120,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(trees)
    def check(rules: dict[str, Any]) -> None:
        expected = {p["pk"] for p in people if _holds(rules, p)}
        got = set(rules_compile(rules, now=NOW).queryset().values_list("pk", flat=True))
        assert got == expected, rules
        # The per-customer form (the re-check after an order) agrees person by person.
        for person in people[:4]:
            one = rules_compile(rules, now=NOW, customer_id=person["pk"]).queryset().exists()
            assert one == (person["pk"] in expected), (rules, person)

    check()
