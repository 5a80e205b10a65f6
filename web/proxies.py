"""Whose X-Forwarded-For is believed: only PATRON_TRUSTED_PROXIES' (default: nobody's).

uvicorn on its own trusts forwarding headers from 127.0.0.1, so any local client (or a
proxy that passes the header through) could pick its own address and dodge the
per-address rate limit. Patron turns uvicorn's handling off and applies the same
middleware inside the app, fed from its own setting, so the app behaves the same
whatever server runs it.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware import Middleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from domain.settings import Settings


def trusted_proxies(settings: Settings) -> list[str]:
    return [item.strip() for item in settings.trusted_proxies.split(",") if item.strip()]


def middleware(settings: Settings) -> list[Middleware]:
    """Rewrite the client address from X-Forwarded-For only for a trusted peer."""
    trusted = trusted_proxies(settings)
    return [Middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)] if trusted else []


def uvicorn_options(host: str, port: int) -> dict[str, Any]:
    """uvicorn.run keyword arguments: its own proxy handling off (the app does it)."""
    return {"host": host, "port": port, "log_level": "info", "proxy_headers": False,
            "forwarded_allow_ips": "", "server_header": False}
