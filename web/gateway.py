"""The federation gateway's identity: a shared secret in the `Patron-Gateway-Secret` header.

A supergraph gateway forwards its client's own `Authorization` (which decides every
permission, as for a direct call) and adds this header; with it, its requests may run
documents outside the trusted documents manifest (the gateway writes its subgraph fetches
itself) and read `_service` whatever PATRON_INTROSPECTION says. Nothing else changes: limits,
cost, permissions and rate limits apply as to any request."""

from __future__ import annotations

import hmac

GATEWAY_HEADER = "patron-gateway-secret"


def from_gateway(given: str | None, secret: str | None) -> bool | None:
    """True for the configured secret, False without the header, None for a wrong one (the
    request is refused: a misconfigured gateway must fail loudly, not silently lose access)."""
    if given is None:
        return False
    if not secret:
        return None
    # Header values arrive as latin-1 text; compared in constant time.
    return True if hmac.compare_digest(given.encode("latin-1", "replace"), secret.encode("utf-8")) else None
