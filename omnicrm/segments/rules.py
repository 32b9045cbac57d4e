"""Segment rules: validation of the JSON tree and its compilation to ONE Django Q over Customer.

A tree is a group ``{"all": [...]}`` or ``{"any": [...]}`` whose items are groups or
conditions ``{"field": ..., "op": ..., "value": ..., "within_days": N, "min_times": K,
"channel": C}`` (the parameters only where the field takes them, see fields.py). An empty
``all`` matches everyone, an empty ``any`` nobody.

Compilation never loops over customers: profile fields are columns; metrics, orders, bought
items, events and consent are uncorrelated ``pk IN (SELECT customer_id ... [GROUP BY ...
HAVING ...])`` subqueries, which both SQLite and PostgreSQL evaluate once (PostgreSQL as a
hashed subplan, also under OR). Order aggregates beside other conditions of an "all" group
are correlated instead, so they are only probed for the customers the others let through.
A condition that holds for a customer without any row (``order_count < 2``, ``did_not``,
``p_alive is_not_set``) is compiled as ``NOT IN`` the customers for whom it fails, so nobody
is lost for having no orders or no predictions yet.

Semantics worth knowing (docs/segments.md says them in plain words):
- orders count when they are confirmed or later and not canceled/returned (REVENUE_STATUSES);
- an unknown value (no prediction yet, no order) fails every comparison, passes
  ``is_not_set``, ``neq`` and ``not_in``;
- dates are whole UTC days for before/after/between; "in the last N days" is the N*24
  hours before now (a future date is not in it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from omnicrm.analytics.models import CustomerMetrics
from omnicrm.catalog.models import Category, Product
from omnicrm.core.errors import ValidationFailed
from omnicrm.customers.models import Consent, ConsentStatus, Customer
from omnicrm.events.models import Event
from omnicrm.orders.models import REVENUE_STATUSES, Order, OrderLine
from omnicrm.segments import fields as F
from omnicrm.segments.fields import FIELDS, FieldSpec

MAX_DEPTH = 6
MAX_CONDITIONS = 100
MAX_LIST = 500
MAX_DAYS = 36500
GROUP_KEYS = ("all", "any")
CONDITION_KEYS = frozenset({"field", "op", "value", "within_days", "min_times", "channel"})
NO_VALUE_OPS = frozenset({"is_set", "is_not_set"})
DAY_OPS = frozenset({"within_last_days", "not_within_last_days", "within_next_days"})
LIST_OPS = frozenset({"in", "not_in"})


class RuleError(ValidationFailed):
    """A rule tree is invalid; ``field`` is the path of the bad node (``rules.all[2]``)."""

    code = "invalid_rule"

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}", field=path)
        self.path = path
        self.reason = message


# --- validation ---------------------------------------------------------------------------


def _number(value: Any, spec: FieldSpec, path: str) -> int | float | str:
    """A number as stored in JSON: int for integer fields, a decimal string for money (exact),
    a float otherwise. Numeric strings are accepted (forms send text)."""
    if isinstance(value, bool):
        raise RuleError(path, _("value must be a number, not true/false"))
    if spec.type == F.INTEGER:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise RuleError(
            path, _("value must be a whole number for field %(field)s") % {"field": spec.name}
        )
    try:
        number = Decimal(str(value).strip()) if isinstance(value, int | float | str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise RuleError(
            path, _("value must be a number for field %(field)s") % {"field": spec.name}
        )
    if spec.type == F.MONEY:
        return str(number)
    return float(number)


def _day(value: Any, path: str) -> str:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            pass
    raise RuleError(path, _("value must be a date written YYYY-MM-DD, got %(v)r") % {"v": value})


def _whole(value: Any, path: str, *, name: str, minimum: int = 1) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_DAYS:
        raise RuleError(
            path,
            _("%(name)s must be a whole number from %(min)s to %(max)s")
            % {"name": name, "min": minimum, "max": MAX_DAYS},
        )
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise RuleError(path, _("value must be a non-empty text"))
    return str(value).strip()


def _choice(value: Any, spec: FieldSpec, path: str) -> str:
    text = _text(value, path)
    if text not in spec.choices:
        raise RuleError(
            path,
            _("%(value)r is not a value of %(field)s; use one of %(choices)s")
            % {"value": text, "field": spec.name, "choices": ", ".join(spec.choices)},
        )
    return text


def _scalar(value: Any, spec: FieldSpec, op: str, path: str) -> Any:
    if spec.type in (F.INTEGER, F.NUMBER, F.MONEY):
        return _number(value, spec, path)
    if spec.type in (F.CHOICE, F.CONSENT):
        return _choice(value, spec, path)
    text = _text(value, path)
    if spec.name == "country":
        return text.upper()
    if spec.name == "email" and op != "contains":
        return text.lower()
    return text


def _value(spec: FieldSpec, op: str, value: Any, path: str) -> Any:
    if op in NO_VALUE_OPS:
        return None
    if op in DAY_OPS:
        return _whole(value, path, name=_("the number of days"))
    if op in LIST_OPS:
        items = value if isinstance(value, list) else None
        if isinstance(value, str):
            items = [part for part in value.split(",") if part.strip()]
        if not items or len(items) > MAX_LIST:
            raise RuleError(path, _("value must be a list of 1 to %(n)s values") % {"n": MAX_LIST})
        return [_scalar(item, spec, op, path) for item in items]
    if op == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise RuleError(path, _("between needs a list of two values [low, high]"))
        low: Any
        high: Any
        if spec.type == F.DATE:
            low, high = _day(value[0], path), _day(value[1], path)
        else:
            low, high = _number(value[0], spec, path), _number(value[1], spec, path)
        if Decimal(str(low)) > Decimal(str(high)) if spec.type != F.DATE else low > high:
            raise RuleError(path, _("between needs the low value first"))
        return [low, high]
    if spec.type == F.DATE:
        return _day(value, path)
    if spec.type == F.EVENT:
        return _text(value, path)[:200]
    return _scalar(value, spec, op, path)


def _condition(node: dict[str, Any], path: str) -> dict[str, Any]:
    unknown = sorted(set(node) - CONDITION_KEYS)
    if unknown:
        raise RuleError(path, _("unknown key %(key)r in a condition") % {"key": unknown[0]})
    name = node.get("field")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise RuleError(path, _("unknown field %(field)r") % {"field": name})
    op = node.get("op")
    if op not in spec.ops:
        raise RuleError(
            path,
            _("unknown operator %(op)r for field %(field)s; use one of %(ops)s")
            % {"op": op, "field": spec.name, "ops": ", ".join(spec.ops)},
        )
    clean: dict[str, Any] = {"field": spec.name, "op": op}
    if op not in NO_VALUE_OPS:
        if "value" not in node:
            raise RuleError(path, _("a value is needed for %(op)s") % {"op": op})
        clean["value"] = _value(spec, op, node["value"], path)
    for param in ("within_days", "min_times", "channel"):
        raw = node.get(param)
        if raw in (None, ""):
            continue
        if param not in spec.params:
            raise RuleError(
                path, _("field %(field)s takes no %(param)s") % {"field": spec.name, "param": param}
            )
        if param == "channel":
            if raw not in F.EVENT_CHANNELS:
                raise RuleError(
                    path,
                    _("unknown channel %(c)r; use one of %(all)s")
                    % {"c": raw, "all": ", ".join(F.EVENT_CHANNELS)},
                )
            clean[param] = raw
        else:
            clean[param] = _whole(raw, path, name=param)
    if spec.name == "bought_category":
        slugs = clean["value"] if isinstance(clean["value"], list) else [clean["value"]]
        known = set(Category.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        missing = [slug for slug in slugs if slug not in known]
        if missing:
            raise RuleError(path, _("no category with slug %(slug)r") % {"slug": missing[0]})
    return clean


def _node(node: Any, path: str, depth: int, counter: list[int]) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise RuleError(path, _("expected a group or a condition (a JSON object)"))
    keys = [key for key in GROUP_KEYS if key in node]
    if not keys:
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            raise RuleError(path, _("at most %(n)s conditions") % {"n": MAX_CONDITIONS})
        return _condition(node, path)
    if len(keys) > 1 or len(node) > 1:
        raise RuleError(path, _("a group has exactly one key, all or any"))
    if depth >= MAX_DEPTH:
        raise RuleError(path, _("groups nest at most %(n)s deep") % {"n": MAX_DEPTH})
    key = keys[0]
    items = node[key]
    if not isinstance(items, list):
        raise RuleError(f"{path}.{key}", _("a group holds a list"))
    return {
        key: [_node(item, f"{path}.{key}[{i}]", depth + 1, counter) for i, item in enumerate(items)]
    }


def rules_validate(rules: Any, *, path: str = "rules") -> dict[str, Any]:
    """The cleaned tree (values coerced, emails lowercased, countries uppercased), or a
    RuleError naming the first bad node by its path."""
    if rules in (None, {}):
        return {"all": []}
    tree = _node(rules, path, 0, [0])
    if "field" in tree:
        # A bare condition at the top is a one-condition group.
        return {"all": [tree]}
    return tree


def rules_sources(rules: dict[str, Any]) -> set[str]:
    """The data sources a (validated) tree reads: profile, consent, orders, events, metrics."""
    found: set[str] = set()
    for key in GROUP_KEYS:
        for item in rules.get(key, []):
            found |= rules_sources(item)
    if "field" in rules:
        found.add(FIELDS[rules["field"]].source)
    return found


# --- compilation --------------------------------------------------------------------------


def _start_of(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def _typed(spec: FieldSpec, value: Any) -> Any:
    if spec.type == F.MONEY:
        return _decimal(value)
    return value


def _date_q(column: str, op: str, value: Any, now: datetime) -> Q:
    if op == "before":
        return Q(**{f"{column}__lt": _start_of(value)})
    if op == "after":
        return Q(**{f"{column}__gte": _start_of(value) + timedelta(days=1)})
    if op == "between":
        return Q(
            **{
                f"{column}__gte": _start_of(value[0]),
                f"{column}__lt": _start_of(value[1]) + timedelta(days=1),
            }
        )
    if op == "within_last_days":
        return Q(**{f"{column}__gte": now - timedelta(days=value), f"{column}__lte": now})
    if op == "not_within_last_days":
        return Q(**{f"{column}__lt": now - timedelta(days=value)})
    if op == "within_next_days":
        return Q(**{f"{column}__gte": now, f"{column}__lt": now + timedelta(days=value)})
    raise AssertionError(op)


def _compare_q(column: str, op: str, value: Any) -> Q:
    if op == "eq":
        return Q(**{column: value})
    if op == "neq":
        return ~Q(**{column: value})
    if op == "in":
        return Q(**{f"{column}__in": value})
    if op == "not_in":
        return ~Q(**{f"{column}__in": value})
    if op in ("gt", "gte", "lt", "lte"):
        return Q(**{f"{column}__{op}": value})
    if op == "between":
        return Q(**{f"{column}__gte": value[0], f"{column}__lte": value[1]})
    if op == "contains":
        return Q(**{f"{column}__icontains": value})
    raise AssertionError(op)


def _typed_value(spec: FieldSpec, value: Any) -> Any:
    if isinstance(value, list):
        return [_typed(spec, item) for item in value]
    return _typed(spec, value)


def _profile_q(spec: FieldSpec, op: str, value: Any, now: datetime) -> Q:
    column = spec.column
    if spec.type == F.DATE:
        if op in NO_VALUE_OPS:
            return Q(**{f"{column}__isnull": op == "is_not_set"})
        return _date_q(column, op, value, now)
    # Text columns are never NULL; unknown is the empty string.
    if op == "is_set":
        return ~Q(**{column: ""})
    if op == "is_not_set":
        return Q(**{column: ""})
    return _compare_q(column, op, value)


def _metric_q(spec: FieldSpec, op: str, value: Any, now: datetime, only: int | None) -> Q:
    """RFM and predictions as ``pk [NOT] IN (SELECT customer_id FROM metrics WHERE ...)``:
    cheaper than joining a million metrics rows to a million customers, and a customer
    without a metrics row simply has every value unknown."""
    metrics: QuerySet[Any] = CustomerMetrics.objects.order_by()
    if only is not None:
        metrics = metrics.filter(customer_id=only)
    column = spec.column
    if spec.type == F.CHOICE:
        # Unknown is "" (or no row); "known" means one of the choices.
        known = Q(**{f"{column}__in": list(spec.choices)})
    else:
        known = Q(**{f"{column}__isnull": False})
    if op in NO_VALUE_OPS:
        holds = known
    elif op == "neq":
        holds = Q(**{column: _typed_value(spec, value)})
    elif op == "not_in":
        holds = Q(**{f"{column}__in": _typed_value(spec, value)})
    elif spec.type == F.DATE:
        holds = _date_q(column, op, value, now)
    else:
        holds = _compare_q(column, op, _typed_value(spec, value))
    # neq, not_in and is_not_set hold for unknown values: select who fails them, negated.
    negate = op in ("neq", "not_in", "is_not_set")
    return _in_customers(metrics.filter(holds), column="customer_id", negate=negate)


def _in_customers(subquery: QuerySet, *, column: str, negate: bool) -> Q:
    condition = Q(pk__in=subquery.values(column))
    return ~condition if negate else condition


def _revenue_orders(within_days: int | None, now: datetime, only: int | None) -> QuerySet[Order]:
    orders = Order.objects.filter(customer__isnull=False, status__in=REVENUE_STATUSES)
    if only is not None:
        orders = orders.filter(customer_id=only)
    if within_days:
        orders = orders.filter(placed_at__gte=now - timedelta(days=within_days))
    return orders.order_by()


_AGGREGATES = {
    "order_count": lambda: Count("*"),
    "total_spent": lambda: Sum("total"),
    "last_order_at": lambda: Max("placed_at"),
    "first_order_at": lambda: Min("placed_at"),
}


def _holds_at_zero(op: str, value: Any) -> bool:
    """Whether a count/sum condition holds for a customer with no orders (value 0)."""
    zero = Decimal(0)
    if op == "eq":
        return _decimal(value) == zero
    if op == "neq":
        return _decimal(value) != zero
    if op == "in":
        return any(_decimal(v) == zero for v in value)
    if op == "not_in":
        return all(_decimal(v) != zero for v in value)
    if op == "gt":
        return zero > _decimal(value)
    if op == "gte":
        return zero >= _decimal(value)
    if op == "lt":
        return zero < _decimal(value)
    if op == "lte":
        return zero <= _decimal(value)
    if op == "between":
        return _decimal(value[0]) <= zero <= _decimal(value[1])
    raise AssertionError(op)


def _aggregate_q(alias: str, spec: FieldSpec, op: str, value: Any, now: datetime) -> Q:
    """The comparison of one order aggregate, annotated as `alias`, with the condition."""
    if spec.type == F.DATE:
        return _date_q(alias, op, value, now)
    return _compare_q(alias, op, _typed_value(spec, value))


def _orders_q(
    spec: FieldSpec, cond: dict[str, Any], now: datetime, only: int | None, correlated: bool
) -> Q:
    op, value = cond["op"], cond.get("value")
    orders = _revenue_orders(cond.get("within_days"), now, only)
    if op in NO_VALUE_OPS:
        # last/first order known <=> at least one counted order in the window.
        return _in_customers(orders, column="customer_id", negate=op == "is_not_set")
    if correlated:
        # Beside other conditions of an "all" group the database evaluates this last, only
        # for the customers the others let through: one index probe each (the
        # order_revenue_by_customer index) beats aggregating every order of the shop.
        orders = orders.filter(customer_id=OuterRef("pk"))
    per_customer = orders.values("customer_id").annotate(v=_AGGREGATES[spec.name]())
    if correlated:
        if spec.type != F.DATE and _holds_at_zero(op, value):
            fails = ~_compare_q("v", op, _typed_value(spec, value))
            return ~Q(Exists(per_customer.filter(fails)))
        return Q(Exists(per_customer.filter(_aggregate_q("v", spec, op, value, now))))
    if spec.type == F.DATE:
        # A customer without orders has no date: every date comparison fails for them.
        return _in_customers(
            per_customer.filter(_date_q("v", op, value, now)), column="customer_id", negate=False
        )
    typed = _typed_value(spec, value)
    if _holds_at_zero(op, value):
        # Customers without orders pass: select those who fail instead, and negate.
        failing = per_customer.filter(~_compare_q("v", op, typed))
        return _in_customers(failing, column="customer_id", negate=True)
    return _in_customers(
        per_customer.filter(_compare_q("v", op, typed)), column="customer_id", negate=False
    )


def _category_ids(slugs: list[str]) -> list[int]:
    """The categories named and every category below them (Coffee includes Arabica)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent, []).append(pk)
    found = list(Category.objects.filter(slug__in=slugs).values_list("pk", flat=True))
    result: set[int] = set()
    while found:
        pk = found.pop()
        if pk not in result:
            result.add(pk)
            found.extend(children.get(pk, []))
    return sorted(result)


# Up to this many products, a category condition names its products in the query itself.
MAX_INLINE_PRODUCTS = 2000


def _category_products_q(slugs: list[str], *, inline: bool) -> Q:
    """Order lines of the products of these categories, as ``product_id IN (1, 2, ...)``.

    Written through the join to products, PostgreSQL can only guess how many lines a category
    has (its products' average share): for a shop's staple (9% of all lines in 36 products)
    it guessed 13 times too few and probed orders once per line, three seconds at 5M orders.
    With the ids in the query it reads each product's share from the column's statistics and
    hashes the join. A category of more products than that (rare, and then near the average)
    keeps a subquery, and so does the re-check of one customer (``inline`` false), whose few
    lines need no estimate and which then costs no extra query.
    """
    products = Product.objects.filter(category_id__in=_category_ids(slugs)).order_by()
    if not inline:
        return Q(product_id__in=products.values("pk"))
    ids = list(products.values_list("pk", flat=True)[: MAX_INLINE_PRODUCTS + 1])
    if len(ids) > MAX_INLINE_PRODUCTS:
        return Q(product_id__in=products.values("pk"))
    return Q(product_id__in=sorted(ids))


def _sku_products_q(skus: list[str], *, inline: bool) -> Q:
    """Order lines of the products that carry these SKUs in the catalog now, and lines
    without a product (deleted since, or imported under a SKU the catalog did not know)
    that kept one of these SKUs.

    Not the SKU each line kept: that column has no index, so every count read all of the
    shop's lines (three seconds at 8M lines), while the product column is indexed. It also
    means what a marketer picking a product expects: a product whose SKU was renamed is
    still the product its buyers bought.
    """
    products = Product.objects.filter(sku__in=skus).order_by()
    orphans = Q(product_id__isnull=True, sku__in=skus)
    if not inline:
        return Q(product_id__in=products.values("pk")) | orphans
    by_product = Q(product_id__in=sorted(products.values_list("pk", flat=True)))
    # Usually no line without a product has these SKUs; leaving the branch out then lets
    # the count read the (product, order) index alone, never the lines themselves.
    if OrderLine.objects.filter(orphans).exists():
        return by_product | orphans
    return by_product


def _bought_q(spec: FieldSpec, cond: dict[str, Any], now: datetime, only: int | None) -> Q:
    op, value = cond["op"], cond["value"]
    items = value if isinstance(value, list) else [value]
    lines: QuerySet[Any] = OrderLine.objects.filter(
        order__customer__isnull=False, order__status__in=REVENUE_STATUSES
    ).order_by()
    if only is not None:
        lines = lines.filter(order__customer_id=only)
    if spec.name == "bought_category":
        lines = lines.filter(_category_products_q(items, inline=only is None))
    else:
        lines = lines.filter(_sku_products_q(items, inline=only is None))
    if cond.get("within_days"):
        lines = lines.filter(order__placed_at__gte=now - timedelta(days=cond["within_days"]))
    min_times = cond.get("min_times") or 1
    if min_times > 1:
        lines = (
            lines.values("order__customer_id")
            .annotate(n=Count("order_id", distinct=True))
            .filter(n__gte=min_times)
        )
    return _in_customers(lines, column="order__customer_id", negate=op in ("neq", "not_in"))


def _event_q(cond: dict[str, Any], now: datetime, only: int | None) -> Q:
    events: QuerySet[Any] = Event.objects.filter(
        customer__isnull=False, event=cond["value"]
    ).order_by()
    if only is not None:
        events = events.filter(customer_id=only)
    if cond.get("within_days"):
        events = events.filter(timestamp__gte=now - timedelta(days=cond["within_days"]))
    if cond.get("channel"):
        events = events.filter(channel=cond["channel"])
    min_times = cond.get("min_times") or 1
    if min_times > 1:
        events = events.values("customer_id").annotate(n=Count("id")).filter(n__gte=min_times)
    return _in_customers(events, column="customer_id", negate=cond["op"] == "did_not")


def _consent_q(spec: FieldSpec, op: str, value: Any, only: int | None) -> Q:
    wanted = set(value if isinstance(value, list) else [value])
    if op in ("neq", "not_in"):
        wanted = set(ConsentStatus.values) - wanted
    consents = Consent.objects.filter(channel=spec.column).order_by()
    if only is not None:
        consents = consents.filter(customer_id=only)
    if ConsentStatus.UNKNOWN in wanted:
        # No consent row means "not asked": select the customers with another status.
        others = sorted(set(ConsentStatus.values) - wanted)
        return _in_customers(consents.filter(status__in=others), column="customer_id", negate=True)
    return _in_customers(
        consents.filter(status__in=sorted(wanted)), column="customer_id", negate=False
    )


def _condition_q(
    cond: dict[str, Any], now: datetime, only: int | None, correlated: bool = False
) -> Q:
    spec = FIELDS[cond["field"]]
    op, value = cond["op"], cond.get("value")
    if spec.source == F.SOURCE_PROFILE:
        return _profile_q(spec, op, value, now)
    if spec.source == F.SOURCE_METRICS:
        return _metric_q(spec, op, value, now, only)
    if spec.source == F.SOURCE_CONSENT:
        return _consent_q(spec, op, value, only)
    if spec.source == F.SOURCE_EVENTS:
        return _event_q(cond, now, only)
    if spec.type == F.BOUGHT:
        return _bought_q(spec, cond, now, only)
    return _orders_q(spec, cond, now, only, correlated and only is None)


# Explicit "everyone" and "nobody": an empty Q() would vanish when OR-ed with another Q.
_EVERYONE = Q(pk__isnull=False)
_NOBODY = Q(pk__isnull=True)


def _mergeable(item: dict[str, Any]) -> bool:
    """An order aggregate that, beside others, is a plain EXISTS over the customer's
    orders: it fails for a customer without orders (see _orders_q)."""
    if "field" not in item:
        return False
    spec = FIELDS[item["field"]]
    if spec.source != F.SOURCE_ORDERS or spec.type == F.BOUGHT or item["op"] in NO_VALUE_OPS:
        return False
    return spec.type == F.DATE or not _holds_at_zero(item["op"], item.get("value"))


def _merged_order_conditions(
    items: list[dict[str, Any]], now: datetime
) -> tuple[list[Q], list[dict[str, Any]]]:
    """Order aggregates of one "all" group over the same window, as one EXISTS with all of
    their comparisons (and the items left).

    "total spent at least 300 and last order more than 180 days ago" is then one look at
    each customer's orders instead of two: both aggregates come from the same group of
    rows, so requiring both of one group is the same as requiring each of its own.
    """
    windows: dict[int | None, list[dict[str, Any]]] = {}
    for item in items:
        if _mergeable(item):
            windows.setdefault(item.get("within_days"), []).append(item)
    merged: list[Q] = []
    taken: set[int] = set()
    for within_days, conditions in windows.items():
        if len(conditions) < 2:
            continue
        orders = _revenue_orders(within_days, now, None).filter(customer_id=OuterRef("pk"))
        per_customer = orders.values("customer_id").annotate(
            **{f"v{i}": _AGGREGATES[c["field"]]() for i, c in enumerate(conditions)}
        )
        holds = Q()
        for i, c in enumerate(conditions):
            holds &= _aggregate_q(f"v{i}", FIELDS[c["field"]], c["op"], c["value"], now)
        merged.append(Q(Exists(per_customer.filter(holds))))
        taken.update(id(c) for c in conditions)
    return merged, [item for item in items if id(item) not in taken]


def _tree_q(node: dict[str, Any], now: datetime, only: int | None) -> Q:
    if "field" in node:
        return _condition_q(node, now, only)
    items = node["all"] if "all" in node else node["any"]
    if not items:
        return _EVERYONE if "all" in node else _NOBODY
    # Order aggregates among other conditions of an "all" group are correlated subqueries
    # (see _orders_q); alone or under "any" they are computed once for everyone.
    correlated = "all" in node and len(items) > 1
    merged: list[Q] = []
    if correlated and only is None:
        merged, items = _merged_order_conditions(items, now)
    children = merged + [
        _condition_q(item, now, only, correlated) if "field" in item else _tree_q(item, now, only)
        for item in items
    ]
    result = children[0]
    for child in children[1:]:
        result = result & child if "all" in node else result | child
    return result


# A hashed subquery must fit in PostgreSQL's hash memory (work_mem x hash_mem_multiplier);
# one that does not is re-scanned for every customer, which turns a second into hours. 64 MB
# holds the ids of a few million customers. Parallel workers would each rebuild the hashes.
# JIT compiling is off: these plans pass its cost threshold at a million customers, but they
# run a few simple expressions per row, and compiling them (0.2-0.6 s measured) is most of
# what JIT would add to a one-second count.
# Random page reads are priced as on an SSD or a cached database (1.1, the usual setting
# there, instead of the spinning-disk default 4): otherwise the planner reads all 5M orders
# to find the 189k that hold some product's lines, where looking them up by key takes
# 0.3 s less.
PG_SETTINGS = (
    "SET LOCAL work_mem = '64MB'",
    "SET LOCAL max_parallel_workers_per_gather = 0",
    "SET LOCAL jit = off",
    "SET LOCAL random_page_cost = 1.1",
)


def segment_query_settings_apply() -> None:
    """Inside a transaction: give segment queries the PostgreSQL settings they need."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for statement in PG_SETTINGS:
                cursor.execute(statement)


@contextmanager
def segment_query_settings() -> Iterator[None]:
    """Run segment queries with PG_SETTINGS (a transaction on PostgreSQL; nothing on
    SQLite, where a transaction would take the write lock)."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        segment_query_settings_apply()
        yield


@dataclass(frozen=True)
class CompiledRules:
    rules: dict[str, Any]
    q: Q
    now: datetime

    def queryset(self) -> QuerySet[Customer]:
        return segment_base_customers().filter(self.q)

    def count(self) -> int:
        """The live count: one query."""
        with segment_query_settings():
            return self.queryset().count()


def segment_base_customers() -> QuerySet[Customer]:
    """Who can be in a segment at all: live profiles (not merged away, not erased)."""
    return Customer.objects.filter(merged_into__isnull=True, erased_at__isnull=True)


def rules_compile(
    rules: Any, *, now: datetime | None = None, customer_id: int | None = None
) -> CompiledRules:
    """Validate ``rules`` and build the one Q that selects its customers at ``now``.

    With ``customer_id`` the Q answers for that customer only, and every subquery is
    narrowed to their rows (index lookups), so the re-check after an order costs
    milliseconds whatever the size of the shop.
    """
    clean = rules_validate(rules)
    moment = now or timezone.now()
    q = _tree_q(clean, moment, customer_id)
    if customer_id is not None:
        q &= Q(pk=customer_id)
    return CompiledRules(rules=clean, q=q, now=moment)
