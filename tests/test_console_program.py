"""The console's Program page over HTTP: tiers, earning rules, rewards and plans as the API shows
them, a live previewEarning example, and switching an earning rule off or on (updateEarningRule:
owners and admins; another role's post is the API's 403 and changes nothing)."""

from __future__ import annotations

import pytest

from domain.rules.models import EarningRule
from domain.staff.models import StaffAudit
from schema.common import global_id
from tests import helpers
from tests.test_console import csrf_of, make_staff, sign_in


@pytest.fixture(autouse=True)
def english(client):
    client.headers["accept-language"] = "en"


async def test_owner_reads_the_program_previews_an_order_and_switches_a_rule_off(client):
    await helpers.tiers_bronze_silver_gold()
    rule = await helpers.order_rule(currency="USD")
    await make_staff("owner")
    await sign_in(client, "owner@brand.example")
    page = await client.get("/console/program", params={"price": "2500", "quantity": "3", "currency": "USD"})
    assert page.status_code == 200
    assert "This order would earn 75 points." in page.text  # 1 point per 100 minor units of 7,500
    assert "<td>Silver</td>" in page.text and "spend $500.00" in page.text and "× 1.5" in page.text
    assert "1 point per 100" in page.text
    rule_id = global_id("EarningRule", rule)
    switched = await client.post("/console/program/rules", data={"csrf": csrf_of(page), "rule": rule_id,
                                                                  "active": "false"})
    assert switched.headers["location"] == "/console/program?done=rule"
    assert (await EarningRule.get(id=rule)).active is False
    after = await client.get("/console/program", params={"price": "2500", "quantity": "3", "currency": "USD",
                                                         "done": "rule"})
    assert "The earning rule is saved." in after.text and "This order would earn 0 points." in after.text
    assert 'aria-label="Switch on: 1 point per 100"' in after.text  # an admin still sees the inactive rule
    assert await StaffAudit.filter(action="rule.inactive", detail=rule_id).count() == 1


async def test_a_marketer_reads_the_program_but_cannot_switch_a_rule(client):
    rule = await helpers.order_rule(currency="USD")
    await make_staff("marketer")
    await sign_in(client, "marketer@brand.example")
    page = await client.get("/console/program")
    assert page.status_code == 200 and "1 point per 100" in page.text and "Switch off" not in page.text
    refused = await client.post("/console/program/rules", data={"csrf": csrf_of(page),
                                                                 "rule": global_id("EarningRule", rule), "active": "false"})
    assert refused.status_code == 403
    assert (await EarningRule.get(id=rule)).active is True


async def test_a_bad_example_is_explained(client):
    await make_staff("owner")
    await sign_in(client, "owner@brand.example")
    page = await client.get("/console/program", params={"quantity": "two"})
    assert page.status_code == 200 and 'role="alert"' in page.text and "give a whole quantity and price" in page.text
    refused = await client.get("/console/program", params={"quantity": "2000000"})  # the API allows 1,000,000
    assert refused.status_code == 400 and "quantity" in refused.text
