from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import translation

from omnicrm.catalog.models import Category, Product
from omnicrm.core.errors import ValidationFailed
from omnicrm.core.models import AuditLog
from omnicrm.customers.models import Address, Consent, ConsentEvent, Customer, Identity
from omnicrm.importers.generic.fields import contains_card_number
from omnicrm.importers.services import csv_import
from omnicrm.orders.models import Order, OrderLine, Payment
from tests.factories import CustomerFactory, IdentityFactory, ProductFactory

pytestmark = pytest.mark.django_db

ORDER_HEADER = (
    "order_id,customer_email,placed_at,status,channel,currency,sku,quantity,unit_price,shipping,"
    "payment_method,payment_token,payment_brand,payment_last4"
)


def run(kind: str, path, **options):
    return csv_import(kind=kind, path=path, progress=False, **options)


def messages(result) -> list[str]:
    return [str(error) for error in result.errors]


# Customers


CUSTOMERS = """
external_id,email,name,phone,language,country,city,region,postal_code,address_line1,marketing_consent
shop:1,Ha.Dang@Example.com,Đặng Lưu Hà,+84 912 345 678,vi,VN,Hà Nội,Hà Nội,10000,1 Hàng Bạc,granted
shop:2,not-an-email,Bad Email,,en,US,New York,,,,
shop:3,bob@example.com,Bob,,en,USA,New York,,,,
shop:4,lan@example.com,"Lan
Anh",,vi,VN,Huế,,,,withdrawn
,,No Key,,en,GB,London,,,,
shop:6,HA.DANG@example.com,Copy,,vi,VN,,,,,
shop:7,mai@example.com,Mai,0912345678,vi,VN,Đà Nẵng,,,,maybe
"""


def test_customer_rows_are_checked_one_by_one_with_file_line_numbers(write_csv):
    path = write_csv("customers.csv", CUSTOMERS)

    result = run("customers", path)

    assert messages(result) == [
        "line 3: field email: 'not-an-email' is not a valid email address",
        "line 4: field country: 'USA' is not a two-letter ISO 3166 country code",
        "line 7: field email: give an email or an external_id to identify the customer",
        "line 8: field email: same customer as line 2",
        "line 9: field marketing_consent: 'maybe' is not one of granted, withdrawn",
    ]
    assert (result.rows, result.applied, result.rejected) == (7, 2, 5)
    assert set(Customer.objects.values_list("name", flat=True)) == {"Đặng Lưu Hà", "Lan\nAnh"}


def test_customer_rows_become_profiles_with_identities_address_and_consent(write_csv):
    path = write_csv("customers.csv", CUSTOMERS)

    run("customers", path)

    ha = Identity.objects.get(kind="external", value="shop:1").customer
    assert (ha.email, ha.phone, ha.language, ha.country, ha.city) == (
        "ha.dang@example.com",
        "+84912345678",
        "vi",
        "VN",
        "Hà Nội",
    )
    assert sorted(ha.identities.values_list("kind", "value")) == [
        ("email", "ha.dang@example.com"),
        ("external", "shop:1"),
        ("phone", "+84912345678"),
    ]
    address = ha.addresses.get()
    assert (
        address.line1,
        address.city,
        address.region,
        address.postal_code,
        address.is_default,
    ) == (
        "1 Hàng Bạc",
        "Hà Nội",
        "Hà Nội",
        "10000",
        True,
    )
    assert Consent.objects.get(customer=ha).status == "granted"
    lan = Identity.objects.get(value="lan@example.com").customer
    assert Consent.objects.get(customer=lan).status == "withdrawn"
    assert ConsentEvent.objects.filter(source="csv import").count() == 2


def test_a_blank_cell_keeps_the_stored_value_and_a_filled_one_updates_it(write_csv):
    run("customers", write_csv("first.csv", CUSTOMERS))
    ha = Identity.objects.get(value="shop:1").customer
    stamp = ha.updated_at

    result = run(
        "customers",
        write_csv(
            "second.csv",
            """
            external_id,email,name,city,marketing_consent
            shop:1,,,Hải Phòng,granted
        """,
        ),
    )

    ha.refresh_from_db()
    assert result.updated["customers"] == 1
    assert (ha.name, ha.email, ha.city) == ("Đặng Lưu Hà", "ha.dang@example.com", "Hải Phòng")
    assert ha.updated_at > stamp
    assert result.updated["consents"] == 0
    assert ConsentEvent.objects.filter(customer=ha).count() == 1


def test_an_identity_of_another_customer_rejects_the_row(write_csv):
    other = CustomerFactory(email="taken@example.com")
    IdentityFactory(customer=other, kind="email", value="taken@example.com")
    IdentityFactory(customer=other, kind="phone", value="+84999999999")

    result = run(
        "customers",
        write_csv(
            "c.csv",
            """
            external_id,email,phone
            shop:9,taken@example.com,
            shop:10,new@example.com,+84 999 999 999
        """,
        ),
    )

    assert messages(result) == ["line 3: field phone: +84999999999 belongs to another customer"]
    # shop:9 is the same person as the owner of the email: the external id joins them.
    assert Identity.objects.get(value="shop:9").customer == other
    assert not Identity.objects.filter(value="new@example.com").exists()


def test_reimporting_the_same_customers_changes_nothing(write_csv):
    path = write_csv("customers.csv", CUSTOMERS)
    run("customers", path)
    before = {
        model.__name__: sorted(model.objects.values_list())
        for model in (Customer, Identity, Address, Consent)
    }

    again = run("customers", path)

    after = {
        model.__name__: sorted(model.objects.values_list())
        for model in (Customer, Identity, Address, Consent)
    }
    assert after == before
    assert sum(again.created.values()) == sum(again.updated.values()) == 0
    assert AuditLog.objects.filter(action="import.csv.customers").count() == 1


def test_a_header_the_importer_cannot_read_applies_nothing(write_csv):
    result = run(
        "customers",
        write_csv(
            "c.csv",
            """
            email,colour,email
            a@example.com,red,b@example.com
        """,
        ),
    )

    assert [str(e)[:40] for e in result.errors] == [
        "line 1: field colour: unknown column; th",
        "line 1: field email: the column appears ",
    ]
    assert (result.rows, result.rejected, Customer.objects.count()) == (1, 1, 0)


# Products


def test_products_are_upserted_by_sku_with_their_category(write_csv):
    path = write_csv(
        "products.csv",
        """
        sku,title,price,currency,category,category_name,stock,is_active,attributes
        ARA-250,Cầu Đất 250 g,6.50,USD,coffee-beans,Coffee beans,40,true,"{""origin"": ""Cầu Đất""}"
        ROB-500,Robusta 500 g,7.999,USD,coffee-beans,,10,yes,
        MOKA-3,Moka pot,24.90,USD,brewing,,x,true,
        GIFT,Gift box,45,VND,gifts,,1,true,[1]
        NEW,,5.00,USD,,,,,
    """,
    )

    result = run("products", path)

    assert messages(result) == [
        "line 3: field price: 7.999 has more decimals than USD allows (2)",
        "line 4: field stock: 'x' is not a whole number",
        'line 5: field attributes: must be a JSON object such as {"origin": "Dalat"}',
        "line 6: field title: is required for a new product",
    ]
    product = Product.objects.get(sku="ARA-250")
    assert (product.title, product.price, product.currency, product.stock, product.attributes) == (
        "Cầu Đất 250 g",
        Decimal("6.50"),
        "USD",
        40,
        {"origin": "Cầu Đất"},
    )
    assert product.category.name == "Coffee beans"
    assert Product.objects.count() == 1
    assert Category.objects.count() == 1


def test_a_product_file_with_only_some_columns_updates_only_those(write_csv):
    product = ProductFactory(
        sku="ARA-250", title="Arabica", price=Decimal("6.50"), currency="USD", stock=3
    )

    run("products", write_csv("p.csv", "sku,stock\nARA-250,12\n"))

    product.refresh_from_db()
    assert (product.title, product.price, product.stock) == ("Arabica", Decimal("6.50"), 12)


# Orders


ORDERS = f"""
{ORDER_HEADER}
A-1,ha@example.com,2024-05-01T09:30:00+07:00,delivered,web,USD,ARA-250,2,6.50,2.00,credit_card,tok_abc,visa,4242
A-1,ha@example.com,2024-05-01T09:30:00+07:00,delivered,web,USD,MOKA-3,1,24.90,0,credit_card,tok_abc,visa,4242
A-2,lan@example.com,2024-05-02T10:00:00Z,delivered,app,USD,ARA-250,1,6.50,0,,,,
A-2,lan@example.com,2024-05-02T10:00:00Z,delivered,app,USD,MOKA-3,0,24.90,0,,,,
A-3,b@ex.vn,2024-05-03T10:00Z,shipped,,USD,ARA-250,1,6.50,0,credit_card,3782 822463 10005,amex,0005
A-4,mai@example.com,2024-05-04 10:00,delivered,store,USD,ARA-250,1,6.50,0,cash,,,
A-5,ha@example.com,2024-05-05T08:00:00Z,delivered,store,USD,ARA-250,3,6.50,0,cash,,,
A-6,tuan@example.com,2024-05-06T08:00:00Z,pending,voice,USD,ARA-250,1,6.50,0,debit_card,tok_x,visa,4111111111111111
A-5,ha@example.com,2024-05-05T08:00:00Z,delivered,store,USD,UNKNOWN-SKU,1,1.00,0,cash,,,
A-7,vy@example.com,2024-05-07T08:00:00Z,delivered,web,USD,ARA-250,1,6.50,0,,,,
A-7,vy@example.com,2024-05-07T08:00:00Z,canceled,web,USD,MOKA-3,1,24.90,0,,,,
"""


@pytest.fixture
def catalog():
    ProductFactory(sku="ARA-250", title="Arabica 250 g", price=Decimal("6.50"), currency="USD")
    ProductFactory(sku="MOKA-3", title="Moka pot", price=Decimal("24.90"), currency="USD")


def test_a_bad_row_rejects_its_whole_order_and_every_row_is_accounted_for(write_csv, catalog):
    result = run("orders", write_csv("orders.csv", ORDERS))

    assert messages(result) == [
        "line 4: field order_id: not applied: line 5 of order A-2 has an error",
        "line 5: field quantity: must be 1 or more",
        "line 6: field payment_token: looks like a full card number; card numbers are never "
        "stored, give the payment provider's token and the last 4 digits instead",
        "line 7: field placed_at: '2024-05-04 10:00' has no time zone; add Z or an offset "
        "such as +07:00",
        "line 9: field payment_last4: looks like a full card number; give only the last 4 digits",
        "line 11: field order_id: not applied: line 12 of order A-7 has an error",
        "line 12: field status: differs from line 11 of the same order",
    ]
    assert (result.rows, result.applied, result.rejected) == (11, 4, 7)
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["A-1", "A-5"]
    assert not Payment.objects.filter(token__contains="4111").exists()
    assert not Payment.objects.filter(last4__in=["1111", "0005"]).exists()


def test_good_orders_get_lines_totals_payment_and_customers(write_csv, catalog):
    run("orders", write_csv("orders.csv", ORDERS))

    a1 = Order.objects.get(external_id="A-1")
    assert a1.placed_at == datetime(2024, 5, 1, 2, 30, tzinfo=UTC)
    assert (a1.status, a1.channel, a1.currency) == ("delivered", "web", "USD")
    assert (a1.subtotal, a1.shipping_total, a1.discount_total, a1.total) == (
        Decimal("37.90"),
        Decimal("2.00"),
        Decimal("0.00"),
        Decimal("39.90"),
    )
    assert list(
        a1.lines.values_list("line_number", "sku", "title", "quantity", "unit_price", "total")
    ) == [
        (1, "ARA-250", "Arabica 250 g", 2, Decimal("6.50"), Decimal("13.00")),
        (2, "MOKA-3", "Moka pot", 1, Decimal("24.90"), Decimal("24.90")),
    ]
    payment = a1.payments.get()
    assert (payment.method, payment.amount, payment.token, payment.brand, payment.last4) == (
        "credit_card",
        Decimal("39.90"),
        "tok_abc",
        "visa",
        "4242",
    )
    # A-5's rows are not next to each other; they still make one order.
    a5 = Order.objects.get(external_id="A-5")
    assert list(a5.lines.values_list("sku", "product__sku")) == [
        ("ARA-250", "ARA-250"),
        ("UNKNOWN-SKU", None),
    ]
    assert a5.customer == a1.customer
    assert Identity.objects.get(kind="email", value="ha@example.com").customer == a1.customer
    assert Customer.objects.count() == 1


def test_unknown_skus_are_kept_and_reported_as_a_note(write_csv, catalog):
    result = run("orders", write_csv("orders.csv", ORDERS))

    assert result.notes == [
        "1 lines name 1 SKUs not in the catalog (UNKNOWN-SKU); they are kept without a product"
    ]


def test_dry_run_reports_the_same_and_writes_nothing(write_csv, catalog):
    path = write_csv("orders.csv", ORDERS)

    dry = run("orders", path, dry_run=True)

    assert (Order.objects.count(), OrderLine.objects.count(), Customer.objects.count()) == (0, 0, 0)
    assert AuditLog.objects.filter(action__startswith="import.csv").count() == 0
    real = run("orders", path)
    assert messages(dry) == messages(real)
    assert (dry.applied, dry.rejected, dry.created) == (real.applied, real.rejected, real.created)


def test_reimporting_orders_changes_nothing_and_a_changed_file_updates(write_csv, catalog):
    path = write_csv("orders.csv", ORDERS)
    run("orders", path)
    before = {
        model.__name__: sorted(model.objects.values_list())
        for model in (Order, OrderLine, Payment, Customer)
    }

    again = run("orders", path)

    after = {
        model.__name__: sorted(model.objects.values_list())
        for model in (Order, OrderLine, Payment, Customer)
    }
    assert after == before
    assert sum(again.created.values()) == sum(again.updated.values()) == 0

    changed = run(
        "orders",
        write_csv(
            "changed.csv",
            f"""
            {ORDER_HEADER}
            A-1,ha@example.com,2024-05-01T09:30:00+07:00,delivered,web,USD,ARA-250,3,6.50,2.00,credit_card,tok_abc,visa,4242
        """,
        ),
    )

    a1 = Order.objects.get(external_id="A-1")
    assert changed.updated == {"orders": 1, "order_lines": 2, "payments": 1}
    assert list(a1.lines.values_list("sku", "quantity")) == [("ARA-250", 3)]
    assert (a1.total, a1.payments.get().amount) == (Decimal("21.50"), Decimal("21.50"))


def test_an_order_whose_email_and_external_id_are_two_people_is_rejected(write_csv, catalog):
    one, two = CustomerFactory(), CustomerFactory()
    IdentityFactory(customer=one, kind="external", value="pos:1")
    IdentityFactory(customer=two, kind="email", value="two@example.com")

    result = run(
        "orders",
        write_csv(
            "o.csv",
            """
            order_id,customer_external_id,customer_email,placed_at,status,currency,sku,quantity,unit_price
            B-1,pos:1,two@example.com,2024-01-01T00:00:00Z,delivered,USD,ARA-250,1,6.50
            B-2,pos:1,,2024-01-02T00:00:00Z,delivered,USD,ARA-250,1,6.50
        """,
        ),
    )

    assert messages(result) == [
        "line 2: field customer_email: two@example.com belongs to another customer than "
        "customer_external_id pos:1"
    ]
    assert Order.objects.get(external_id="B-2").customer == one


def test_a_discount_larger_than_the_order_is_rejected(write_csv, catalog):
    result = run(
        "orders",
        write_csv(
            "o.csv",
            """
            order_id,customer_email,placed_at,status,currency,sku,quantity,unit_price,discount
            C-1,a@example.com,2024-01-01T00:00:00Z,delivered,USD,ARA-250,1,6.50,10
        """,
        ),
    )

    assert messages(result) == [
        "line 2: field discount: is larger than the order's lines plus shipping"
    ]
    assert Order.objects.count() == 0


def test_an_orders_file_without_a_required_column_applies_nothing(write_csv):
    result = run(
        "orders",
        write_csv("o.csv", "order_id,customer_email,placed_at,status,currency,sku,quantity\n"),
    )

    assert messages(result) == ["line 1: field unit_price: required column is missing"]


def test_missing_file_and_unknown_kind_are_refused():
    with pytest.raises(ValidationFailed) as err:
        csv_import(kind="orders", path="/nonexistent/orders.csv", progress=False)
    assert (err.value.field, err.value.message) == ("file", "/nonexistent/orders.csv is not a file")
    with pytest.raises(ValidationFailed) as err:
        csv_import(kind="invoices", path="/nonexistent/orders.csv", progress=False)
    assert err.value.field == "kind"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4111 1111 1111 1111", True),
        ("4111-1111-1111-1111", True),
        ("tok_4111111111111111", True),
        ("378282246310005", True),
        ("4111111111111112", False),
        ("tok_abcdefghijklmnop", False),
        ("4242", False),
        ("123456789012345678901234", False),
    ],
)
def test_card_numbers_are_recognized_by_length_and_luhn(value, expected):
    assert contains_card_number(value) is expected


def test_command_lists_rejected_rows_and_exits_non_zero(write_csv, catalog):
    path = write_csv("orders.csv", ORDERS)
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as failure:
        call_command(
            "import", "csv", "--kind", "orders", str(path), "--no-progress", stdout=out, stderr=err
        )

    assert failure.value.returncode == 1
    assert str(failure.value) == "7 rows were rejected (listed above as line, field and reason)"
    assert "line 5: field quantity: must be 1 or more" in err.getvalue().splitlines()
    assert "4 rows applied, 7 rejected" in out.getvalue()


def test_command_succeeds_quietly_on_a_clean_file(write_csv, catalog):
    row = "D-1,d@example.com,2024-01-01T00:00:00Z,delivered,web,USD,ARA-250,1,6.50,0,,,,"
    path = write_csv("orders.csv", f"{ORDER_HEADER}\n{row}\n")
    out = StringIO()

    call_command(
        "import", "csv", "--kind", "orders", str(path), "--no-progress", "--dry-run", stdout=out
    )

    assert "nothing was written. 1 rows would be applied, 0 rejected." in out.getvalue()
    assert Order.objects.count() == 0


def test_reasons_are_given_in_the_active_language(write_csv):
    path = write_csv("c.csv", "email,country\nnot-an-email,VN\nha@example.com,Vietnam\n")

    with translation.override("vi"):
        vietnamese = messages(run("customers", path))
    with translation.override("zh-hans"):
        chinese = messages(run("customers", path))

    assert vietnamese == [
        "line 2: field email: 'not-an-email' không phải là địa chỉ email hợp lệ",
        "line 3: field country: 'Vietnam' không phải là mã quốc gia ISO 3166 gồm hai chữ cái",
    ]
    assert chinese[0] == "line 2: field email: 'not-an-email' 不是有效的电子邮件地址"


def test_cells_seen_before_are_still_checked_for_each_row_and_currency(write_csv, catalog):
    # Prices, statuses and channels are remembered once checked; a remembered value must
    # not let a bad one through, nor one that is fine in another currency only.
    path = write_csv(
        "orders.csv",
        f"""
        {ORDER_HEADER}
        C-1,ha@example.com,2024-05-01T09:30:00Z,delivered,web,USD,ARA-250,1,6.50,0,,,,
        C-2,lan@example.com,2024-05-01T09:30:00Z,delivered,web,VND,ARA-250,1,6.50,0,,,,
        C-3,vy@example.com,2024-05-01T09:30:00Z,delivred,web,USD,ARA-250,1,6.50,0,,,,
        C-4,mai@example.com,2024-05-01T09:30:00Z,DELIVERED,web,USD,ARA-250,1,6.5x,0,,,,
        C-5,tuan@example.com,2024-05-01T09:30:00Z,delivered,web,USD,ARA-250,1,6.50,0,,,,
        """,
    )

    result = run("orders", path)

    assert messages(result) == [
        "line 3: field unit_price: 6.50 has more decimals than VND allows (0)",
        "line 4: field status: 'delivred' is not one of canceled, confirmed, delivered, "
        "packed, pending, processing, returned, shipped, unavailable",
        "line 5: field unit_price: '6.5x' is not a number",
    ]
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["C-1", "C-5"]


ROWS_OF_TWO_ORDERS = [
    "D-1,ha@example.com,2024-05-01T09:30:00Z,delivered,web,USD,ARA-250,1,6.50,0,,,,,{title}",
    "",
    "D-2,lan@example.com,2024-05-02T10:00:00Z,delivered,app,USD,ARA-250,2,6.50,0,,,,,",
    "D-1,ha@example.com,2024-05-01T09:30:00Z,delivered,web,USD,MOKA-3,1,24.90,0,,,,,",
    "D-3,vy@example.com,2024-05-03T10:00:00Z,delivered,app,USD,ARA-250,0,6.50,0,,,,,",
]


@pytest.mark.parametrize(
    ("title", "newline", "bad_line"),
    [
        ("Arabica", "\n", 6),
        ("Arabica", "\r\n", 6),
        ('"Arabica, ground\nfine"', "\n", 7),  # quoted: the csv module reads the file
    ],
)
def test_rows_of_an_order_anywhere_in_the_file_are_applied_together(
    tmp_path, catalog, title, newline, bad_line
):
    path = tmp_path / "orders.csv"
    text = newline.join([f"{ORDER_HEADER},title", *ROWS_OF_TWO_ORDERS]).format(title=title)
    path.write_text(text + newline, encoding="utf-8", newline="")

    result = run("orders", path)

    assert messages(result) == [f"line {bad_line}: field quantity: must be 1 or more"]
    assert (result.rows, result.applied, result.rejected) == (4, 3, 1)
    d1 = Order.objects.get(external_id="D-1")
    assert list(d1.lines.values_list("sku", "title")) == [
        ("ARA-250", title.strip('"')),
        ("MOKA-3", "Moka pot"),
    ]
    assert d1.total == Decimal("31.40")


def test_the_first_pass_reads_plain_files_like_the_csv_module(tmp_path):
    from omnicrm.importers.generic.rows import CsvFile

    path = tmp_path / "plain.csv"
    path.write_text(
        "a,b,c\r\n x ,1,2\r\n\r\nshort\r\n,,\r\ny,3\r\n  \r\nx,4,5", encoding="utf-8", newline=""
    )
    csv_file = CsvFile(path, known=("a", "b", "c"), required=())
    for index in (0, 1, 2):
        plain = csv_file._plain_column(index)
        assert plain is not None
        assert [cell.strip() for cell in plain] == [cell.strip() for cell in csv_file.column(index)]
    assert csv_file.last_records(0) == ({"x": 6, "short": 2, "": 5, "y": 4}, 6)
    assert csv_file.count() == 6

    quoted = tmp_path / "quoted.csv"
    quoted.write_text('a,b\n"x\ny",1\nx,2\n', encoding="utf-8")
    csv_file = CsvFile(quoted, known=("a", "b"), required=())
    assert csv_file._plain_column(0) is None
    assert csv_file.last_records(0) == ({"x\ny": 1, "x": 2}, 2)


def _sampled_rows(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        return cursor.fetchone()[0]


def test_an_import_that_grows_a_table_refreshes_its_planner_statistics(write_csv):
    """Without it the first queries after a big import plan for the old, small table
    (until autovacuum gets round to it, or never where it is off)."""
    if connection.vendor != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    header = "external_id,email,name\n"
    many = "".join(f"shop:{i},c{i}@example.com,C {i}\n" for i in range(120))
    run("customers", write_csv("many.csv", header + many))

    assert _sampled_rows("customers_customer") == 120
    assert _sampled_rows("customers_identity") == 240

    # Ten more rows are under the threshold (50 + a tenth of the table): no new sample.
    few = "".join(f"shop:{i},c{i}@example.com,C {i}\n" for i in range(120, 130))
    run("customers", write_csv("few.csv", header + few))

    assert Customer.objects.count() == 130
    assert _sampled_rows("customers_customer") == 120
