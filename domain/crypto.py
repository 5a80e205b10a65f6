"""Encryption at rest for secrets Patron must be able to read back (webhook signing keys).

The key comes from PATRON_SECRET_KEY (a Fernet key: `python -c "from cryptography.fernet
import Fernet; print(Fernet.generate_key().decode())"`). Without it, the embedded default
creates one in data/secret.key on first use; production sets the variable on every process.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
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


# Signed links (one-click unsubscribe, review requests): an HS256 JWT (PyJWT, as member tokens)
# under a key derived from the same secret, so one PATRON_SECRET_KEY serves every process; the
# `k` claim keeps one kind of link from being replayed as another.
MAX_TOKEN_CHARS = 4000


def _mac_key() -> bytes:
    return hashlib.sha256(b"patron signed links v1:" + _key().encode()).digest()


def sign(kind: str, claims: dict[str, Any]) -> str:
    return jwt.encode({"k": kind, **claims}, _mac_key(), algorithm="HS256")


def verify(kind: str, token: str) -> dict[str, Any] | None:
    """The claims of a token this installation signed for `kind`; None for anything else."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        claims = jwt.decode(token, _mac_key(), algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    return claims if claims.get("k") == kind else None
