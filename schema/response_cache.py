"""A cache of whole GraphQL responses for callers without a member or admin identity.

Anonymous callers, and each storefront or partner key, get their own entries (the same
query from the same caller gives the same answer until data changes). Answers (queries
only, and only when error-free) are kept while the change tags they read have not moved
(domain/changes.py), or `max_age` seconds at most. The tags are collected while the answer
is computed: `product(externalId:)` depends on that product's tag (its reviews, summary,
media, replies and Q&A), `bayesianAverage` also on every review, `tiers`, `rewards`,
`earningRules` and `subscriptionPlans` on their own tag; any other root field (node,
recommendations, …) depends on every write. A write moves only the tags it names, so a
review of another product or a points change keeps a product page cached.

A member's own queries are kept per member too, when every field they select is the member's
own points, ledger or tier (schema/member_cache.py): they depend on `member:<externalId>`,
`all` and `members`, so only the writes that name that member (or name no member) move
them. Any other member query is never kept (`private` in compute).

Concurrent misses of the same key are coalesced: the first computes, the others wait for
its answer, but only when no write committed since it started (so a caller that saw a
write's answer never waits for a computation that began before it).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension

from domain import changes
from schema.member_cache import reads_only_own_data

PUBLIC_ROLES = frozenset({"anonymous", "storefront", "partner"})
NOT_A_QUERY = re.compile(rb"\b(mutation|subscription)\b")

# Root fields whose resolvers name every tag their whole selection depends on (see the module
# docstring); any other root field makes the answer depend on every write.
TAGGED_ROOT_FIELDS = frozenset({"product", "tiers", "rewards", "earningRules", "subscriptionPlans", "__typename"})


@dataclass(slots=True)
class Entry:
    tags: tuple[str, ...]
    versions: tuple[int, ...]
    expires: float
    body: bytes


class ResponseCache:
    def __init__(self, max_entries: int = 2000, max_age: float = 60.0) -> None:
        self.max_entries, self.max_age = max_entries, max_age
        self._entries: OrderedDict[bytes, Entry] = OrderedDict()
        self._inflight: dict[bytes, tuple[int, asyncio.Future[bytes | None]]] = {}
        self._never: set[bytes] = set()  # private keys whose query reads more than own data

    def never_kept(self, key: bytes) -> bool:
        """A private key seen to read more than the member's own data: answer it uncached."""
        return key in self._never

    @staticmethod
    def key(body: bytes, caller: str) -> bytes | None:
        """None for anything that is not a plain query (mutations are never cached).

        The caller (anonymous, or one API key) is part of the key: a partner's own webhook
        endpoints or a storefront's code lookups must never be served to anyone else."""
        if not body or NOT_A_QUERY.search(body):
            return None
        return hashlib.sha256(caller.encode() + b"\0" + body).digest()

    async def get(self, key: bytes) -> tuple[int, bytes | None]:
        """(the every-write counter now, the cached body when still valid), in one read."""
        hit = self._entries.get(key)
        if hit is None or hit.expires <= time.monotonic():
            (version,) = await changes.versions([changes.ANY])
            return version, None
        now = await changes.versions([changes.ANY, *hit.tags])
        if now[1:] == hit.versions:
            self._entries.move_to_end(key)
            return now[0], hit.body
        return now[0], None

    async def compute(self, key: bytes, version: int, run: Callable[[], Awaitable[bytes | None]],
                      private: bool = False) -> tuple[bytes | None, bool]:
        """Answer a miss: (body, shared). `run` executes the request while read tags are
        collected and returns the body when it may be cached (else None). A `private` (member)
        answer that depends on every write is not kept, nor its key tried again. A miss of a key
        already being computed since the same every-write `version` waits for that answer
        (shared=True); otherwise this call computes, and keeps the answer only when no write
        committed while it ran (its tag versions are then those of the data it read)."""
        inflight = self._inflight.get(key)
        if inflight is not None and inflight[0] == version:
            body = await asyncio.shield(inflight[1])
            if body is not None:
                return body, True
            return await self._run(key, version, run, False, private), False
        return await self._run(key, version, run, inflight is None, private), False

    async def _run(self, key: bytes, version: int, run: Callable[[], Awaitable[bytes | None]],
                   lead: bool, private: bool) -> bytes | None:
        future: asyncio.Future[bytes | None] | None = None
        if lead:
            future = asyncio.get_running_loop().create_future()
            self._inflight[key] = (version, future)
        tags, token = changes.collect()
        body = None
        try:
            body = await run()
        finally:
            changes.stop_collecting(token)
            if future is not None:
                del self._inflight[key]
                future.set_result(body)
        if body is None:
            return None
        if private and changes.ANY in tags:
            if len(self._never) >= self.max_entries:
                self._never.clear()
            self._never.add(key)
            return body
        deps = (changes.ANY,) if changes.ANY in tags else tuple(sorted(tags | {changes.ALL}))
        now = await changes.versions([changes.ANY, *deps])
        if now[0] == version:
            self.put(key, deps, now[1:], body)
        return body

    def put(self, key: bytes, tags: tuple[str, ...], versions: tuple[int, ...], body: bytes) -> None:
        self._entries[key] = Entry(tags, versions, time.monotonic() + self.max_age, body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self._never.clear()


def _root_fields(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    pending = list(operation.selection_set.selections)
    seen: set[str] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, FieldNode):
            names.add(node.name.value)
        elif isinstance(node, InlineFragmentNode):
            pending.extend(node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
            seen.add(node.name.value)
            fragment = fragments.get(node.name.value)
            if fragment is None:
                names.add("")  # unknown: validation refuses it anyway
            else:
                pending.extend(fragment.selection_set.selections)
    return names


class ReadTags(SchemaExtension):
    """While a response-cache collector is open: root fields that do not name their tags
    make the answer depend on every write (changes.ANY); a member's query depends on their
    own tag when it reads only their own data (schema/member_cache.py), else on every write."""

    def on_execute(self):  # noqa: ANN201
        if not changes.collecting():  # not a cached query: nothing to decide
            yield
            return
        ctx = self.execution_context
        document = ctx.graphql_document
        operation = get_operation_ast(document, ctx.operation_name) if document is not None else None
        viewer = getattr(ctx.context, "viewer", None)
        if operation is None:
            changes.reading(changes.ANY)
        else:
            fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
            if viewer is not None and viewer.role == "member":
                if reads_only_own_data(operation, fragments) and viewer.member_external_id:
                    changes.reading(changes.member_tag(viewer.member_external_id), changes.MEMBERS)
                else:
                    changes.reading(changes.ANY)
            elif not _root_fields(operation, fragments) <= TAGGED_ROOT_FIELDS:
                changes.reading(changes.ANY)
        yield
