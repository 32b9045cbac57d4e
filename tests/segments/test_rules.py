"""Every field and operator compiled to SQL and checked against the hand-built shop."""

from __future__ import annotations

from typing import Any

import pytest

from omnicrm.catalog.models import Product
from omnicrm.customers.models import Customer
from omnicrm.orders.models import OrderLine
from omnicrm.segments import rules as rules_module
from omnicrm.segments.rules import RuleError, rules_compile, rules_sources, rules_validate
from tests.factories import CategoryFactory, ProductFactory
from tests.segments.conftest import NOW, Shop

NAMES = {"Đặng Lưu Hà": "ha", "Trần Bình": "binh", "Chen Wei": "chen", "Dana Smith": "dana"}


def matching(rules: dict[str, Any]) -> set[str]:
    qs = rules_compile(rules, now=NOW).queryset()
    return {NAMES[name] for name in qs.values_list("name", flat=True)}


def cond(field: str, op: str, value: Any = None, **params: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"field": field, "op": op, **params}
    if value is not None:
        node["value"] = value
    return node


CASES = [
    # profile text
    (cond("country", "eq", "vn"), {"ha", "binh"}),
    (cond("country", "neq", "VN"), {"chen", "dana"}),
    (cond("country", "in", ["CN", "US"]), {"chen", "dana"}),
    (cond("country", "not_in", ["CN", "US"]), {"ha", "binh"}),
    (cond("name", "contains", "smith"), {"dana"}),
    (cond("email", "eq", "HA@example.com"), {"ha"}),
    (cond("email", "contains", ".cn"), {"chen"}),
    (cond("city", "is_set"), {"ha", "binh", "chen"}),
    (cond("city", "is_not_set"), {"dana"}),
    (cond("language", "in", "vi, zh"), {"ha", "binh", "chen"}),
    # profile dates (created 500/400/300/200 days before NOW)
    (cond("created_at", "before", "2025-06-01"), {"ha", "binh"}),
    (cond("created_at", "after", "2025-06-01"), {"chen", "dana"}),
    (cond("created_at", "between", ["2025-03-01", "2025-09-01"]), {"binh", "chen"}),
    (cond("created_at", "within_last_days", 350), {"chen", "dana"}),
    (cond("created_at", "not_within_last_days", 450), {"ha"}),
    (cond("last_seen_at", "within_last_days", 7), {"ha", "chen"}),
    (cond("first_seen_at", "is_not_set"), {"dana"}),
    (cond("first_seen_at", "is_set"), {"ha", "binh", "chen"}),
    # consent
    (cond("consent_email", "eq", "granted"), {"ha"}),
    (cond("consent_email", "neq", "granted"), {"binh", "chen", "dana"}),
    (cond("consent_email", "eq", "unknown"), {"chen", "dana"}),
    (cond("consent_email", "in", ["granted", "unknown"]), {"ha", "chen", "dana"}),
    (cond("consent_email", "not_in", ["withdrawn"]), {"ha", "chen", "dana"}),
    (cond("consent_sms", "eq", "granted"), {"dana"}),
    # order aggregates: ha 3 orders (30), binh 1 (50, the canceled one does not count),
    # chen none, dana 1 (12.50)
    (cond("order_count", "eq", 0), {"chen"}),
    (cond("order_count", "eq", 1), {"binh", "dana"}),
    (cond("order_count", "neq", 1), {"ha", "chen"}),
    (cond("order_count", "in", [0, 3]), {"ha", "chen"}),
    (cond("order_count", "not_in", [0, 3]), {"binh", "dana"}),
    (cond("order_count", "gt", 1), {"ha"}),
    (cond("order_count", "gte", 1), {"ha", "binh", "dana"}),
    (cond("order_count", "lt", 2), {"binh", "chen", "dana"}),
    (cond("order_count", "lte", 0), {"chen"}),
    (cond("order_count", "between", [1, 2]), {"binh", "dana"}),
    (cond("order_count", "between", [0, 1]), {"binh", "chen", "dana"}),
    (cond("order_count", "gte", 2, within_days=30), {"ha"}),
    (cond("order_count", "eq", 0, within_days=30), {"binh", "chen", "dana"}),
    (cond("total_spent", "gte", "30"), {"ha", "binh"}),
    (cond("total_spent", "lt", 20), {"chen", "dana"}),
    (cond("total_spent", "eq", "12.5"), {"dana"}),
    (cond("total_spent", "between", [10, 40]), {"ha", "dana"}),
    (cond("total_spent", "gt", 0, within_days=120), {"ha", "dana"}),
    (cond("last_order_at", "within_last_days", 30), {"ha"}),
    (cond("last_order_at", "not_within_last_days", 90), {"binh", "dana"}),
    (cond("last_order_at", "before", "2026-03-01"), {"binh"}),
    (cond("last_order_at", "after", "2026-03-01"), {"ha", "dana"}),
    (cond("last_order_at", "is_not_set"), {"chen"}),
    (cond("last_order_at", "is_set", within_days=150), {"ha", "dana"}),
    (cond("first_order_at", "between", ["2026-03-01", "2026-05-10"]), {"ha", "dana"}),
    # bought: arabica (ha x3, dana x1; binh's arabica order was canceled), robusta (binh)
    (cond("bought_category", "eq", "arabica"), {"ha", "dana"}),
    (cond("bought_category", "eq", "coffee"), {"ha", "binh", "dana"}),
    (cond("bought_category", "neq", "arabica"), {"binh", "chen"}),
    (cond("bought_category", "in", ["robusta", "arabica"], within_days=90), {"ha"}),
    (cond("bought_category", "not_in", ["robusta"]), {"ha", "chen", "dana"}),
    (cond("bought_category", "eq", "arabica", min_times=2), {"ha"}),
    (cond("bought_category", "eq", "arabica", min_times=3, within_days=30), set()),
    (cond("bought_product", "eq", "ROB-500"), {"binh"}),
    (cond("bought_product", "not_in", ["ARA-500"]), {"binh", "chen"}),
    # events
    (cond("event", "did", "Product Viewed"), {"ha", "chen"}),
    (cond("event", "did", "Product Viewed", min_times=2), {"ha"}),
    (cond("event", "did", "Product Viewed", channel="ios"), {"chen"}),
    (cond("event", "did", "Cart Viewed", within_days=30), set()),
    (cond("event", "did_not", "Product Viewed", within_days=30), {"binh", "dana"}),
    # RFM and predictions (chen has no metrics row; dana's row has no scores)
    (cond("rfm_segment", "eq", "champions"), {"ha"}),
    (cond("rfm_segment", "neq", "champions"), {"binh", "chen", "dana"}),
    (cond("rfm_segment", "in", ["champions", "at_risk"]), {"ha", "binh"}),
    (cond("rfm_segment", "not_in", ["at_risk"]), {"ha", "chen", "dana"}),
    (cond("rfm_segment", "is_set"), {"ha", "binh"}),
    (cond("rfm_segment", "is_not_set"), {"chen", "dana"}),
    (cond("rfm_r", "gte", 3), {"ha"}),
    (cond("rfm_m", "between", [3, 5]), {"ha", "binh"}),
    (cond("rfm_f", "neq", 5), {"binh", "chen", "dana"}),
    (cond("rfm_f", "in", [1, 2]), {"binh"}),
    (cond("p_alive", "gt", 0.7), {"ha"}),
    (cond("p_alive", "lte", "0.3"), {"binh"}),
    (cond("p_alive", "lt", 0.95), {"ha", "binh"}),
    (cond("p_alive", "is_not_set"), {"chen", "dana"}),
    (cond("p_alive", "eq", 0.3), {"binh"}),
    (cond("p_alive", "not_in", [0.3]), {"ha", "chen", "dana"}),
    (cond("p_order_30d", "gte", 0.5), {"ha"}),
    (cond("expected_purchases_30d", "gt", 1), {"ha"}),
    (cond("clv_12m", "gte", "100"), {"ha"}),
    (cond("clv_12m", "eq", "15.5"), {"binh"}),
    (cond("clv_12m", "is_set"), {"ha", "binh"}),
    (cond("churn_risk", "eq", "high"), {"binh"}),
    (cond("churn_risk", "is_not_set"), {"chen", "dana"}),
    (cond("next_order_at", "within_next_days", 30), {"ha"}),
    (cond("next_order_at", "after", "2026-07-01"), {"binh"}),
    (cond("next_order_at", "before", "2026-07-01"), {"ha"}),
    (cond("next_order_at", "within_last_days", 30), set()),
    (cond("next_order_at", "not_within_last_days", 1), set()),
    (cond("model", "eq", "bgnbd"), {"ha", "binh"}),
]


@pytest.mark.parametrize(("condition", "expected"), CASES, ids=lambda c: str(c))
def test_each_operator_selects_exactly_the_expected_customers(shop: Shop, condition, expected):
    assert matching({"all": [condition]}) == expected


def test_every_operator_of_every_field_is_exercised():
    from omnicrm.segments.fields import FIELDS

    covered = {(c["field"], c["op"]) for c, _ in CASES}
    # Every operator appears for at least one field of each kind of data.
    ops_by_source: dict[str, set[str]] = {}
    for spec in FIELDS.values():
        ops_by_source.setdefault(spec.source, set()).update(spec.ops)
    for source, ops in ops_by_source.items():
        seen = {op for field, op in covered if FIELDS[field].source == source}
        assert ops <= seen, f"{source}: untested {sorted(ops - seen)}"


def test_groups_combine_with_and_or_and_nest(shop: Shop):
    rules = {
        "any": [
            {
                "all": [
                    cond("bought_category", "eq", "arabica", within_days=90),
                    cond("order_count", "gte", 2),
                    cond("country", "eq", "VN"),
                ]
            },
            cond(
                "p_alive",
                "gt",
                0.2,
            ),
        ]
    }
    assert matching(rules) == {"ha", "binh"}
    assert matching({"all": [cond("country", "eq", "VN"), {"any": []}]}) == set()
    assert matching({"any": [cond("country", "eq", "CN"), {"all": []}]}) == shop.everyone
    assert matching({"all": []}) == shop.everyone
    assert matching({}) == shop.everyone


def test_merged_and_erased_profiles_are_never_members(shop: Shop):
    Customer.objects.filter(pk=shop.dana.pk).update(erased_at=NOW)
    Customer.objects.filter(pk=shop.chen.pk).update(merged_into=shop.ha, merged_at=NOW)

    assert matching({"all": []}) == {"ha", "binh"}


def test_a_category_without_products_was_bought_by_nobody(shop: Shop):
    # The category's products are named in the query; none at all must still mean nobody
    # (and "did not buy" everyone), also inside groups.
    CategoryFactory(slug="tea", name="Tea")

    assert matching({"all": [cond("bought_category", "eq", "tea")]}) == set()
    assert matching({"all": [cond("bought_category", "neq", "tea")]}) == shop.everyone
    assert matching(
        {"any": [cond("bought_category", "eq", "tea"), cond("country", "eq", "CN")]}
    ) == {"chen"}
    assert matching(
        {"all": [cond("bought_category", "not_in", ["tea"]), cond("country", "eq", "VN")]}
    ) == {"ha", "binh"}


def test_a_category_of_many_products_reads_them_through_a_subquery(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(rules_module, "MAX_INLINE_PRODUCTS", 1)
    ProductFactory(sku="ARA-1K", category=shop.arabica)

    assert matching({"all": [cond("bought_category", "eq", "coffee")]}) == {"ha", "binh", "dana"}
    assert matching({"all": [cond("bought_category", "eq", "arabica", min_times=2)]}) == {"ha"}
    assert matching({"all": [cond("bought_category", "neq", "arabica")]}) == {"binh", "chen"}


def test_a_category_condition_names_its_products_so_the_database_can_estimate_them(shop: Shop):
    # Through a join to products PostgreSQL guesses a category's share of the lines from
    # the average product and, for a shop's staple, probed orders once per line (seconds at
    # 5M orders); with the ids in the query it reads each product's own share.
    compiled = rules_compile(
        {"all": [cond("bought_category", "eq", "coffee", within_days=90)]}, now=NOW
    )
    sql, params = compiled.queryset().query.sql_with_params()
    assert "catalog_product" not in sql
    coffee_products = Product.objects.filter(category__in=[shop.arabica, shop.robusta])
    assert set(coffee_products.values_list("pk", flat=True)) <= set(params)


def test_a_product_condition_follows_the_product_through_a_sku_change(shop: Shop):
    # While every line has its product the count reads the product index alone.
    compiled = rules_compile({"all": [cond("bought_product", "eq", "ROB-500")]}, now=NOW)
    assert '"sku"' not in compiled.queryset().query.sql_with_params()[0]
    Product.objects.filter(sku="ARA-500").update(sku="ARA-500-V2")
    # A line whose product was deleted (or was never in the catalog) keeps its own SKU.
    OrderLine.objects.filter(order__customer__email="binh@example.com").update(product=None)

    assert matching({"all": [cond("bought_product", "eq", "ARA-500-V2")]}) == {"ha", "dana"}
    assert matching({"all": [cond("bought_product", "eq", "ARA-500")]}) == set()
    assert matching({"all": [cond("bought_product", "eq", "ROB-500")]}) == {"binh"}
    assert matching(
        {"all": [cond("bought_product", "in", ["ARA-500-V2", "ROB-500"], min_times=3)]}
    ) == {"ha"}
    # The re-check of one customer (a subquery, not the ids) agrees.
    ha = Customer.objects.get(email="ha@example.com")
    rules = {"all": [cond("bought_product", "eq", "ARA-500-V2")]}
    assert rules_compile(rules, now=NOW, customer_id=ha.pk).queryset().exists()


def test_order_conditions_of_one_group_and_window_read_each_customers_orders_once(shop: Shop):
    rules = {
        "all": [
            cond("total_spent", "gte", 20),
            cond("last_order_at", "not_within_last_days", 30),
            cond("country", "eq", "VN"),
        ]
    }

    assert matching(rules) == {"binh"}
    sql, _params = rules_compile(rules, now=NOW).queryset().query.sql_with_params()
    assert sql.count('FROM "orders_order"') == 1
    # Another window is another look at the orders; both must hold.
    rules["all"].append(cond("order_count", "gte", 1, within_days=10))
    assert matching(rules) == set()
    sql, _params = rules_compile(rules, now=NOW).queryset().query.sql_with_params()
    assert sql.count('FROM "orders_order"') == 2
    # A count that holds at zero keeps its own NOT EXISTS form and still merges nothing wrong.
    fewer_than_two = {"all": [cond("total_spent", "gte", 20), cond("order_count", "lt", 2)]}
    assert matching(fewer_than_two) == {"binh"}


def test_segment_counts_on_postgresql_run_without_jit_and_with_hash_memory(shop: Shop):
    from django.db import connection

    from omnicrm.segments.rules import segment_query_settings

    if connection.vendor != "postgresql":
        pytest.skip("session settings of PostgreSQL; this run is on " + connection.vendor)
    with segment_query_settings(), connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone()[0] == "64MB"
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == "1.1"


def test_a_count_preview_is_a_single_query(shop: Shop, django_assert_num_queries):
    rules = {
        "all": [
            cond("bought_category", "eq", "arabica", within_days=90, min_times=2),
            cond("order_count", "lt", 5),
            cond("event", "did_not", "Cart Viewed"),
            cond("consent_email", "eq", "unknown"),
            cond("p_alive", "gt", 0.5),
        ]
    }
    compiled = rules_compile(rules, now=NOW)  # reads the category tree once
    with django_assert_num_queries(1):
        assert compiled.queryset().count() == 0


def test_validation_names_the_bad_condition_by_its_path(shop: Shop):
    rules = {
        "all": [
            cond("country", "eq", "VN"),
            cond("city", "eq", "Hanoi"),
            {"any": [cond("order_count", "gtt", 2)]},
        ]
    }
    with pytest.raises(RuleError) as error:
        rules_validate(rules)
    assert error.value.field == "rules.all[2].any[0]"
    assert error.value.message.startswith(
        "rules.all[2].any[0]: unknown operator 'gtt' for field order_count"
    )
    assert error.value.status == 422


@pytest.mark.parametrize(
    ("rules", "path", "fragment"),
    [
        ({"all": [cond("shoe_size", "eq", 3)]}, "rules.all[0]", "unknown field 'shoe_size'"),
        ({"all": [cond("order_count", "gte", "two")]}, "rules.all[0]", "whole number"),
        ({"all": [cond("p_alive", "between", [0.9, 0.1])]}, "rules.all[0]", "low value first"),
        ({"all": [cond("created_at", "before", "31/12/2025")]}, "rules.all[0]", "YYYY-MM-DD"),
        ({"all": [cond("country", "eq", "VN", within_days=3)]}, "rules.all[0]", "no within_days"),
        ({"any": [cond("bought_category", "eq", "tea")]}, "rules.any[0]", "no category"),
        ({"all": [cond("event", "did", "X", channel="fax")]}, "rules.all[0]", "unknown channel"),
        ({"all": [cond("churn_risk", "eq", "extreme")]}, "rules.all[0]", "'extreme' is not"),
        ({"all": [cond("order_count", "in", [])]}, "rules.all[0]", "list of 1 to"),
        ({"all": [{"field": "country", "op": "eq"}]}, "rules.all[0]", "a value is needed"),
        ({"all": [cond("event", "did", "X", within_days=0)]}, "rules.all[0]", "within_days"),
        ({"all": [], "any": []}, "rules", "exactly one key"),
        ({"all": "country"}, "rules.all", "a group holds a list"),
        ({"all": [[1]]}, "rules.all[0]", "JSON object"),
        (
            {"all": [{"all": [{"any": [{"field": "x"}]}]}]},
            "rules.all[0].all[0].any[0]",
            "unknown field",
        ),
    ],
)
def test_invalid_rules_are_refused_with_their_path(shop: Shop, rules, path, fragment):
    with pytest.raises(RuleError) as error:
        rules_validate(rules)
    assert error.value.field == path
    assert fragment in error.value.message


def test_validation_cleans_values_and_reports_sources(shop: Shop):
    clean = rules_validate(
        {
            "any": [
                cond("country", "in", "vn, us"),
                cond("total_spent", "gte", 10),
                cond("rfm_r", "eq", "4"),
                cond("p_alive", "gt", "0.5"),
            ]
        }
    )
    assert clean == {
        "any": [
            cond("country", "in", ["VN", "US"]),
            cond("total_spent", "gte", "10"),
            cond("rfm_r", "eq", 4),
            cond("p_alive", "gt", 0.5),
        ]
    }
    assert rules_sources(clean) == {"profile", "orders", "metrics"}
