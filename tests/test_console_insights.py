"""The console's Insights page over HTTP: programInsights KPI cards and server-drawn SVG charts
(one point per interval of the period, readable without JavaScript), RFM segment sizes, for the
marketer role (insights:read) and owners; other roles are refused. The browser test is in
tests/test_console_browser.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from domain import clock
from tests import helpers
from tests.test_console import make_staff, sign_in

T0 = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def english(client):
    client.headers["accept-language"] = "en"


def chart(html: str, chart_id: str) -> str:
    return re.search(rf'<svg id="{chart_id}".*?</svg>', html, re.S).group(0)


async def _orders() -> None:
    clock.set_now(T0 - timedelta(days=3))
    await helpers.member("m1", email="ann@shop.example")
    await helpers.order("A-1", "m1", amount=12_000, currency="KRW")
    await helpers.order("A-2", "m1", amount=8_000, currency="KRW")
    clock.set_now(T0)
    await helpers.order("A-3", "m1", amount=30_000, currency="KRW")


async def test_marketer_lands_on_insights_with_kpis_and_one_chart_point_per_day(client):
    await _orders()
    await make_staff("marketer")
    signed = await sign_in(client, "marketer@brand.example")
    assert signed.headers["location"] == "/console/insights"
    page = await client.get("/console/insights", params={"from": "2026-05-04", "to": "2026-05-10",
                                                         "currency": "KRW", "interval": "DAY"})
    assert page.status_code == 200
    assert '<div class="kpi" id="kpi-orders"><dt>Orders</dt><dd>3</dd></div>' in page.text
    assert '<div class="kpi" id="kpi-revenue"><dt>Revenue</dt><dd>₩50,000</dd></div>' in page.text
    revenue = chart(page.text, "chart-revenue")
    assert revenue.count("<circle") == 7 and 'role="img"' in revenue
    assert "<title>May 7, 2026: ₩20,000</title>" in revenue and "<title>May 10, 2026: ₩30,000</title>" in revenue
    assert "<title>May 4, 2026: ₩0</title>" in revenue
    orders = chart(page.text, "chart-orderCount")
    assert "<title>May 7, 2026: 2</title>" in orders
    assert "May 7, 2026: ₩20,000" in revenue.split("<desc")[1].split("</desc>")[0]  # the figures in words
    weekly = await client.get("/console/insights", params={"from": "2026-04-01", "to": "2026-05-31",
                                                           "currency": "KRW", "interval": "MONTH"})
    assert chart(weekly.text, "chart-revenue").count("<circle") == 2
    rfm = chart(page.text, "chart-rfm")
    assert rfm.count("<rect") == 11 and "Champions" in rfm  # every segment listed, 0 before the nightly job


async def test_the_default_period_is_the_last_30_days_in_the_insights_currency(client):
    clock.set_now(T0)
    await make_staff("owner")
    await sign_in(client, "owner@brand.example")
    page = await client.get("/console/insights")
    assert 'value="2026-04-11"' in page.text and 'value="2026-05-10"' in page.text and 'value="USD"' in page.text
    assert chart(page.text, "chart-newMembers").count("<circle") == 30


async def test_a_period_the_api_refuses_is_explained(client):
    await make_staff("marketer")
    await sign_in(client, "marketer@brand.example")
    page = await client.get("/console/insights", params={"from": "2026-05-10", "to": "2026-05-01"})
    assert page.status_code == 400 and 'role="alert"' in page.text and "must not be before" in page.text
    assert "<svg" not in page.text


async def test_roles_without_insights_read_are_refused(client):
    for role in ("moderator", "support", "viewer"):
        await make_staff(role)
        client.cookies.clear()
        await sign_in(client, f"{role}@brand.example")
        assert (await client.get("/console/insights")).status_code == 403, role


async def test_insights_in_korean(client):
    clock.set_now(T0)
    await make_staff("marketer")
    await sign_in(client, "marketer@brand.example")
    page = await client.get("/console/insights", headers={"accept-language": "ko"})
    assert '<html lang="ko">' in page.text and "RFM 세그먼트별 회원 수" in page.text and "매출" in page.text
