"""A cache of whole GraphQL responses for callers without a member or admin identity.

Anonymous callers, and each storefront or partner key, get their own entries (the same
query from the same caller gives the same answer until data changes). Answers (queries
only, and only when error-free) are kept until the next committed write anywhere
(domain/changes.py), or `max_age` seconds at most. This is what lets a product
page be served faster than a hand-written endpoint that queries the database each time.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict

from domain import changes

PUBLIC_ROLES = frozenset({"anonymous", "storefront", "partner"})
NOT_A_QUERY = re.compile(rb"\b(mutation|subscription)\b")


class ResponseCache:
    def __init__(self, max_entries: int = 2000, max_age: float = 60.0) -> None:
        self.max_entries, self.max_age = max_entries, max_age
        self._entries: OrderedDict[bytes, tuple[int, float, bytes]] = OrderedDict()

    @staticmethod
    def key(body: bytes, caller: str) -> bytes | None:
        """None for anything that is not a plain query (mutations are never cached).

        The caller (anonymous, or one API key) is part of the key: a partner's own webhook
        endpoints or a storefront's code lookups must never be served to anyone else."""
        if not body or NOT_A_QUERY.search(body):
            return None
        return hashlib.sha256(caller.encode() + b"\0" + body).digest()

    async def get(self, key: bytes) -> tuple[int, bytes | None]:
        version = await changes.current()
        hit = self._entries.get(key)
        if hit and hit[0] == version and hit[1] > time.monotonic():
            self._entries.move_to_end(key)
            return version, hit[2]
        return version, None

    def put(self, key: bytes, version: int, body: bytes) -> None:
        self._entries[key] = (version, time.monotonic() + self.max_age, body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
