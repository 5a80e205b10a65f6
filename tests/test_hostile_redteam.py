"""The red-team re-run of issue 9 (findings 1-11 of the re-run against main): each test below
failed on the main the re-run tried, and pins the fix at its cause."""

from __future__ import annotations

import pytest

from domain.ledger.models import LedgerEntry
from domain.orders.models import Order
from tests import helpers
from tests.conftest import member_token

MASKED = "Unexpected error."

# --- 1: oversized variables are refused before coercion, for every field ----------------------------

PREVIEW_ALIASES = "query($l: [PreviewLineInput!]!) {" + " ".join(
    f'a{i}: previewEarning(input: {{currency: "KRW", lines: $l}}) {{ points }}' for i in range(10)) + "}"


async def test_a_list_variable_longer_than_any_input_list_is_refused_before_coercion(api):
    # given 101 order lines (one more than any input list may hold) used by ten aliased fields
    lines = [{"sku": f"s{i}", "quantity": 1, "unitPrice": 100} for i in range(101)]
    # when an anonymous caller sends them
    body = await api(PREVIEW_ALIASES, {"l": lines})
    # then one coded error, no data: nothing was coerced or resolved
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"] == "Variable $l: at most 100 items in a list (got 101)"


async def test_a_mutation_list_variable_over_the_cap_changes_nothing(api, admin_token):
    await helpers.member("m1")
    lines = [{"sku": f"s{i}", "quantity": 1, "unitPrice": 100} for i in range(5000)]
    body = await api("""mutation($i: RecordOrderInput!) { recordOrder(input: $i) { errors { code } } }""",
                     {"i": {"externalId": "o1", "memberExternalId": "m1", "currency": "USD",
                            "placedAt": "2026-01-01T00:00:00Z", "lines": lines}}, admin_token)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert "at most 100 items" in body["errors"][0]["message"]
    assert await Order.all().count() == 0


async def test_too_many_values_in_all_variables_are_refused(api):
    # given 100 lines (within the cap) of 100 keys each: over 10,000 values in the request
    lines = [{f"k{k}": 1 for k in range(100)} for _ in range(100)]
    body = await api('query($l: [PreviewLineInput!]!) { previewEarning(input: {currency: "KRW", lines: $l}) '
                     '{ points } }', {"l": lines})
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"] == "Variable values are too many (at most 10000 in all variables)"


async def test_variables_at_the_cap_still_work(api):
    lines = [{"sku": f"s{i}", "quantity": 1, "unitPrice": 100} for i in range(100)]
    data = await api.ok('query($l: [PreviewLineInput!]!) { previewEarning(input: {currency: "KRW", lines: $l}) '
                        '{ points } }', {"l": lines})
    assert data["previewEarning"]["points"] == 0
