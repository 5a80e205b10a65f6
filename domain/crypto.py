"""Encryption at rest for secrets Patron must be able to read back (webhook signing keys).

The key comes from PATRON_SECRET_KEY (a Fernet key: `python -c "from cryptography.fernet
import Fernet; print(Fernet.generate_key().decode())"`). Without it, the embedded default
creates one in data/secret.key on first use; production sets the variable on every process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from domain.settings import get_settings


@lru_cache(maxsize=1)
def _key() -> str:
    settings = get_settings()
    key = settings.secret_key
    if not key:
        path = Path(settings.secret_key_file)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(Fernet.generate_key().decode())
            path.chmod(0o600)
        key = path.read_text().strip()
    return key


@lru_cache(maxsize=1)
def _fernet() -> Fernet:
    return Fernet(_key().encode())


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


# Signed links (one-click unsubscribe, review requests): HMAC-SHA256 with a key derived from
# the same secret, so one PATRON_SECRET_KEY serves every process. A token is
# base64url(JSON claims) "." base64url(MAC); `kind` keeps one kind of link from being replayed
# as another.
MAX_TOKEN_CHARS = 4000


def _mac_key() -> bytes:
    return hashlib.sha256(b"patron signed links v1:" + _key().encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(kind: str, claims: dict[str, Any]) -> str:
    body = _b64(json.dumps({"k": kind, **claims}, separators=(",", ":"), sort_keys=True).encode())
    return body + "." + _b64(hmac.new(_mac_key(), body.encode(), hashlib.sha256).digest())


def verify(kind: str, token: str) -> dict[str, Any] | None:
    """The claims of a token this installation signed for `kind`; None for anything else."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1 or not token.isascii():
        return None
    body, mac = token.split(".")
    expected = _b64(hmac.new(_mac_key(), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        claims = json.loads(_unb64(body))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) and claims.get("k") == kind else None
