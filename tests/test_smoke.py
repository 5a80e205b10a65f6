import os

from domain.settings import reload_settings


async def test_health_and_ready(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert ready.json()["checks"]["database"] == "ok"
    if os.environ.get("REDIS_URL"):
        assert ready.json()["checks"]["redis"] == "ok"


async def test_not_ready_when_redis_is_unreachable(client, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    reload_settings()
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "ok" and ready.json()["checks"]["redis"] != "ok"
