"""Per-caller rate limits: 429 with Retry-After (header and GraphQL extensions)."""

from __future__ import annotations

import uuid

from domain.settings import reload_settings
from tests import helpers
from tests.conftest import member_token


async def test_member_token_is_limited_per_minute(api, monkeypatch, admin_token):
    monkeypatch.setenv("PATRON_RATE_LIMIT_MEMBER", "3")
    reload_settings()
    external_id = f"rl-{uuid.uuid4().hex[:8]}"
    await helpers.member(external_id)
    token = member_token(external_id)
    statuses = [(await api.raw("{ me { externalId } }", token=token)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = await api.raw("{ me { externalId } }", token=token)
    assert limited.status_code == 429
    retry = int(limited.headers["retry-after"])
    error = limited.json()["errors"][0]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry} and 1 <= retry <= 60
    # Other callers have their own budget.
    assert (await api.raw("{ tiers { name } }", token=admin_token)).status_code == 200
