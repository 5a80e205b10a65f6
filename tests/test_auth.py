"""API keys (hashed at rest, shown once, revocable), bootstrap admin key, member JWTs."""

from __future__ import annotations

import time

import jwt

from domain.auth import service as auth
from domain.auth.models import ApiKey
from tests import helpers
from tests.conftest import member_token

CREATE = 'mutation { createApiKey(input: {name: "web", role: STOREFRONT}) { apiKey { keyId role prefix revokedAt } secret errors { code } } }'


async def test_api_key_is_shown_once_stored_hashed_and_revocable(api, admin_token):
    created = (await api.ok(CREATE, token=admin_token))["createApiKey"]
    secret = created["secret"]
    assert secret.startswith("ptn_st_") and created["apiKey"]["role"] == "STOREFRONT"
    row = await ApiKey.get(id=created["apiKey"]["keyId"])
    assert row.key_hash == auth.hash_key(secret) and secret not in (row.key_hash, row.prefix, row.name)
    listed = (await api.ok("{ apiKeys { keyId prefix } }", token=admin_token))["apiKeys"]
    assert "secret" not in str(listed) and secret not in str(listed)
    upsert = 'mutation { upsertMember(input: {externalId: "m1"}) { created } }'
    assert (await api.ok(upsert, token=secret))["upsertMember"]["created"] is True
    revoke = 'mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } errors { code } } }'
    revoked = (await api.ok(revoke, {"id": str(created["apiKey"]["keyId"])}, admin_token))["revokeApiKey"]
    assert revoked["apiKey"]["revokedAt"] is not None
    refused = await api.raw(upsert, token=secret)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    missing = (await api.ok(revoke, {"id": "999999"}, admin_token))["revokeApiKey"]
    assert missing["errors"] == [{"code": "API_KEY_NOT_FOUND"}]


async def test_bootstrap_key_is_created_once_and_first_start_generates_one():
    generated = await auth.ensure_admin_key(None)
    assert generated and generated.startswith("ptn_ad_")
    assert await auth.ensure_admin_key(None) is None  # an admin exists: nothing printed again
    assert await auth.ensure_admin_key("boot-secret-value") is None
    assert await auth.ensure_admin_key("boot-secret-value") is None
    assert await ApiKey.filter(key_hash=auth.hash_key("boot-secret-value"), role="admin").count() == 1
    viewer = await auth.authenticate("Bearer boot-secret-value")
    assert viewer.role == "admin"


async def test_member_jwt_expiry_signature_and_me(api):
    await helpers.member("m1")
    await helpers.member("m2")
    me = await api.ok("{ me { externalId } }", token=member_token("m1"))
    assert me == {"me": {"externalId": "m1"}}
    expired = jwt.encode({"sub": "m1", "exp": int(time.time()) - 10}, "test-member-secret-of-at-least-32-bytes", algorithm="HS256")
    forged = jwt.encode({"sub": "m1", "exp": int(time.time()) + 60}, "another-secret-that-is-32-bytes-long!", algorithm="HS256")
    no_exp = jwt.encode({"sub": "m1"}, "test-member-secret-of-at-least-32-bytes", algorithm="HS256")
    for token in (expired, forged, no_exp):
        response = await api.raw("{ me { externalId } }", token=token)
        assert response.status_code == 401, token
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    other = await api("{ member(externalId: \"m2\") { externalId } }", token=member_token("m1"))
    assert other["data"] == {"member": None} and other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
