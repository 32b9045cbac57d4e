"""Console pages of segments: permissions, the builder's htmx round trips, the live count,
saving, the segment page, export and static lists."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from omnicrm.segments import services
from omnicrm.segments.models import Segment, SegmentMembership
from tests.segments.conftest import Shop

HX = {"HX-Request": "true", "HX-Target": "builder"}


def builder_post(**fields: str) -> dict[str, str]:
    data = {"name": "Arabica fans", "description": "", "kind": "dynamic", "r:0:group": "all"}
    data.update(fields)
    return data


@pytest.mark.parametrize(
    ("role", "status"),
    [("nobody", 403), ("support_agent", 403), ("marketer", 200), ("analyst", 200), ("admin", 200)],
)
def test_who_may_open_the_segment_pages(shop: Shop, login_as, role, status):
    client = login_as(role)
    assert client.get("/segments/").status_code == status
    assert client.get("/segments/new/").status_code == status


def test_analysts_build_but_do_not_delete(shop: Shop, login_as):
    segment = services.segment_create(name="Vietnam", rules={"all": []})
    analyst = login_as("analyst")

    page = analyst.get(f"/segments/{segment.public_id}/").content.decode()
    refused = analyst.post(f"/segments/{segment.public_id}/delete/")

    assert "Export CSV" in page and "Delete" not in page
    assert refused.status_code == 403
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_the_navigation_offers_segments_to_marketers_only(shop: Shop, login_as):
    assert 'href="/segments/"' in login_as("marketer").get("/customers/").content.decode()
    assert 'href="/segments/"' not in login_as("support_agent").get("/customers/").content.decode()


def test_the_list_costs_the_same_queries_for_one_or_many_segments(shop: Shop, login_as):
    client = login_as("marketer")
    services.segment_create(name="One", rules={"all": []})
    with CaptureQueriesContext(connection) as one:
        assert client.get("/segments/").status_code == 200
    for i in range(5):
        services.segment_create(name=f"More {i}", kind="static")
    with CaptureQueriesContext(connection) as six:
        response = client.get("/segments/")
    assert len(six) == len(one)
    assert response.content.decode().count('href="/segments/seg_') == 6


def test_adding_a_condition_returns_the_builder_with_a_new_row(shop: Shop, login_as):
    client = login_as("marketer")
    data = builder_post(
        **{
            "r:0.0:field": "country",
            "r:0.0:op": "eq",
            "r:0.0:value": "VN",
            "action": "add-group:0",
        }
    )

    response = client.post("/segments/new/", data, headers=HX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="builder"')
    assert 'name="r:0.1:group"' in html  # the new group ...
    assert 'name="r:0.1.0:field"' in html  # ... with its first condition
    assert 'value="VN"' in html
    assert response["HX-Trigger-After-Settle"] == "rules-changed"


def test_changing_the_field_offers_its_operators_and_value_widget(shop: Shop, login_as):
    client = login_as("marketer")
    data = builder_post(
        **{
            "r:0.0:field": "bought_category",
            "r:0.0:op": "contains",
            "r:0.0:value": "",
            "action": "rerender",
        }
    )

    html = client.post("/segments/new/", data, headers=HX).content.decode()

    assert '<option value="eq" selected>bought</option>' in html
    assert '<option value="arabica"' in html  # the category menu
    assert 'name="r:0.0:within_days"' in html and 'name="r:0.0:min_times"' in html


def test_removing_a_condition(shop: Shop, login_as):
    client = login_as("marketer")
    data = builder_post(
        **{
            "r:0.0:field": "country",
            "r:0.0:op": "eq",
            "r:0.0:value": "VN",
            "r:0.1:field": "city",
            "r:0.1:op": "eq",
            "r:0.1:value": "Hanoi",
            "action": "remove:0.0",
        }
    )

    html = client.post("/segments/new/", data, headers=HX).content.decode()

    assert 'name="r:0.1:field"' not in html
    assert 'value="Hanoi"' in html and 'value="VN"' not in html


def test_the_live_count_follows_the_form(shop: Shop, login_as):
    client = login_as("analyst")
    data = builder_post(
        **{
            "r:0.0:field": "bought_category",
            "r:0.0:op": "eq",
            "r:0.0:value": "arabica",
            "r:0.1:group": "any",
            "r:0.1.0:field": "order_count",
            "r:0.1.0:op": "gte",
            "r:0.1.0:value": "2",
            "r:0.1.1:field": "p_alive",
            "r:0.1.1:op": "gt",
            "r:0.1.1:value": "0.95",
        }
    )

    response = client.post("/segments/preview/", data, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert '<span class="kpi-value" id="preview-count">1</span>' in html
    assert "Đặng Lưu Hà" in html


def test_the_live_count_explains_a_bad_condition(shop: Shop, login_as):
    client = login_as("marketer")
    data = builder_post(**{"r:0.0:field": "order_count", "r:0.0:op": "gte", "r:0.0:value": "a"})

    html = client.post("/segments/preview/", data).content.decode()

    assert "rules.all[0]: value must be a whole number for field order_count" in html


def test_saving_creates_the_segment_or_shows_the_bad_condition(shop: Shop, login_as):
    client = login_as("marketer")
    bad = builder_post(
        **{
            "r:0.0:field": "country",
            "r:0.0:op": "eq",
            "r:0.0:value": "VN",
            "r:0.1:field": "created_at",
            "r:0.1:op": "before",
            "r:0.1:value": "",
            "action": "save",
        }
    )
    refused = client.post("/segments/new/", bad)
    assert refused.status_code == 422
    html = refused.content.decode()
    assert 'class="rule-row has-error" data-path="0.1"' in html
    assert Segment.objects.count() == 0

    good = dict(bad, **{"r:0.1:value": "2026-01-01"})
    saved = client.post("/segments/new/", good)

    segment = Segment.objects.get()
    assert saved.status_code == 302
    assert saved["Location"] == f"/segments/{segment.public_id}/"
    assert segment.rules == {
        "all": [
            {"field": "country", "op": "eq", "value": "VN"},
            {"field": "created_at", "op": "before", "value": "2026-01-01"},
        ]
    }


def test_editing_loads_the_rules_into_the_builder(shop: Shop, login_as):
    segment = services.segment_create(
        name="Likely",
        rules={
            "any": [
                {"field": "p_alive", "op": "between", "value": [0.5, 1]},
                {
                    "field": "event",
                    "op": "did",
                    "value": "Product Viewed",
                    "within_days": 7,
                    "channel": "web",
                },
            ]
        },
    )

    html = login_as("marketer").get(f"/segments/{segment.public_id}/edit/").content.decode()

    assert '<option value="any" selected>' in html
    assert 'name="r:0.0:value2" value="1"' in html
    assert 'name="r:0.1:within_days" value="7"' in html
    assert '<option value="web" selected>web</option>' in html


def test_the_segment_page_refreshes_and_exports(shop: Shop, login_as):
    segment = services.segment_create(
        name="Vietnam", rules={"all": [{"field": "country", "op": "eq", "value": "VN"}]}
    )
    client = login_as("marketer")

    refreshed = client.post(f"/segments/{segment.public_id}/refresh/", follow=True)
    export = client.get(f"/segments/{segment.public_id}/export.csv")

    html = refreshed.content.decode()
    assert "Refreshed: 2 entered, 0 left, 2 members." in html
    assert 'id="member-table"' in html and "Trần Bình" in html
    assert 'id="history-table"' in html
    assert export["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["customer_id", "name", "email"]
    assert sorted(r[2] for r in rows[1:]) == ["binh@example.com", "ha@example.com"]


def test_export_neutralizes_spreadsheet_formulas(shop: Shop, login_as):
    shop.ha.name = "=HYPERLINK(1)"
    shop.ha.save()
    segment = services.segment_create(name="Hà", kind="static")
    services.segment_members_add(segment=segment, customer_ids=[shop.ha.public_id])

    export = login_as("marketer").get(f"/segments/{segment.public_id}/export.csv")

    assert "'=HYPERLINK(1)" in b"".join(export.streaming_content).decode("utf-8-sig")


def test_static_list_upload_reports_unknown_lines(shop: Shop, login_as):
    segment = services.segment_create(name="VIP", kind="static")
    client = login_as("marketer")
    upload = SimpleUploadedFile(
        "vip.csv", b"email\nha@example.com\nghost@example.com\n", content_type="text/csv"
    )

    page = client.post(
        f"/segments/{segment.public_id}/members/",
        {"action": "upload", "file": upload},
        follow=True,
    ).content.decode()

    assert "1 added, 0 already members, 1 not found." in page
    assert "Line 3: ghost@example.com — no customer has this email" in page
    removed = client.post(
        f"/segments/{segment.public_id}/members/",
        {"action": "remove", "customers": shop.ha.public_id},
    )
    assert removed.status_code == 302
    assert not SegmentMembership.objects.filter(segment=segment).exists()


def test_unknown_segment_is_a_404_page(shop: Shop, login_as):
    assert login_as("marketer").get("/segments/seg_nope/").status_code == 404


@pytest.mark.parametrize(
    ("language", "phrases"),
    [
        ("vi", ["Phân khúc mới", "Tất cả điều kiện", "+ Điều kiện", "Quốc gia (mã ISO)"]),
        ("zh-hans", ["新建分群", "满足全部条件", "+ 条件", "客户分群"]),
    ],
)
def test_the_builder_speaks_vietnamese_and_chinese(shop: Shop, login_as, language, phrases):
    client = login_as("marketer")
    client.cookies["django_language"] = language

    html = client.get("/segments/new/").content.decode()
    error = client.post(
        "/segments/preview/",
        builder_post(**{"r:0.0:field": "order_count", "r:0.0:op": "gte", "r:0.0:value": "x"}),
    ).content.decode()

    for phrase in phrases:
        assert phrase in html
    expected = {"vi": "giá trị phải là số nguyên", "zh-hans": "的值必须是整数"}[language]
    assert expected in error
