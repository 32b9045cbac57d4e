"""The console speaks English, Vietnamese and Simplified Chinese."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from omnicrm.console.templatetags.console import ago

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "lang_attribute", "phrases"),
    [
        ("en", "en", ["Customers", "Search by name, email, phone or customer id"]),
        ("vi", "vi", ["Khách hàng", "Tìm theo tên, email, số điện thoại hoặc mã khách hàng"]),
        ("zh-hans", "zh-hans", ["客户", "按姓名、电子邮件、电话或客户 ID 搜索"]),
    ],
)
def test_language_switch_translates_the_console(
    coffee, login_as, language, lang_attribute, phrases
):
    client = login_as("support_agent")

    switched = client.post(
        reverse("console:set_language"),
        {"language": language},
        headers={"Referer": "http://testserver/customers/?q=L%C6%B0u"},
    )
    response = client.get(reverse("console:customer_list"))

    assert switched.status_code == 302
    assert switched.url == "http://testserver/customers/?q=L%C6%B0u"
    html = response.content.decode()
    assert f'<html lang="{lang_attribute}">' in html
    for phrase in phrases:
        assert phrase in html


def test_vietnamese_pages_group_money_and_dates_the_vietnamese_way(coffee, login_as):
    client = login_as("marketer")
    client.cookies["django_language"] = "vi"

    response = client.get(reverse("console:customer_detail", args=[coffee.ha.public_id]))

    html = response.content.decode()
    assert "1.975.000" in html  # Hà's lifetime revenue in VND
    assert "Doanh thu trọn đời" in html
    assert "Đơn hàng" in html


@pytest.mark.parametrize(
    ("delta", "en", "vi"),
    [
        (timedelta(seconds=20), "just now", "vừa xong"),
        (timedelta(minutes=5), "5 minutes ago", "5 phút trước"),
        (timedelta(hours=1), "1 hour ago", "1 giờ trước"),
        (timedelta(hours=30), "yesterday", "hôm qua"),
        (timedelta(days=41), "41 days ago", "41 ngày trước"),
        (timedelta(days=120), "4 months ago", "4 tháng trước"),
        (timedelta(days=800), "2 years ago", "2 năm trước"),
        (-timedelta(days=3), "in 3 days", "sau 3 ngày"),
    ],
)
def test_ago_says_how_long_ago_in_each_language(delta, en, vi):
    now = timezone.now()

    with translation.override("en"):
        assert ago(now - delta, now) == en
    with translation.override("vi"):
        assert ago(now - delta, now) == vi
