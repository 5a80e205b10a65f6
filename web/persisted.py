"""Persisted queries: Apollo's Automatic Persisted Queries (APQ) and trusted documents.

The wire protocol is Apollo's (what `createPersistedQueryLink` and `@urql/exchange-persisted`
speak): a request names its document by `extensions.persistedQuery = {version: 1, sha256Hash}`
and may leave `query` out.

- hash only, known        → the stored text is put back into the request, which then runs as usual;
- hash only, unknown      → 200 `PersistedQueryNotFound` / PERSISTED_QUERY_NOT_FOUND (the client
                            retries with the text);
- hash and text           → the hash must be the SHA-256 of the text (else 400
                            `provided sha does not match query`), the text is stored, and it runs.

Trusted documents (PATRON_TRUSTED_DOCUMENTS=allow|require) are a manifest of `{hash: text}`
loaded at start: their hashes resolve without any registration. In `require` mode nothing is
registered and an unknown hash is refused with PERSISTED_QUERY_NOT_IN_LIST; a document sent as
text is checked at validation (schema/trusted.py), so multipart and WebSocket requests are held
to the same list.

Resolution happens before the response cache sees the request, so the cache keys (and its
"never a mutation" rule) apply to the resolved text, not to a bare hash.
This module knows nothing of Patron's domain: the store and the manifest are handed in.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

import orjson

from web.request_data import BadRequest, decode_json

HASH = re.compile(r"[0-9a-f]{64}")
MODES = ("off", "allow", "require")


class Store(Protocol):
    async def get(self, digest: str) -> str | None: ...

    async def put(self, digest: str, text: str) -> None: ...


@dataclass
class PersistedQueryError(Exception):
    """A refusal of the protocol: an HTTP status, Apollo's message and a code."""

    status: int
    message: str
    code: str


# Apollo Server's answers (status, message, code); its hash mismatch has no code of its own
# (INTERNAL_SERVER_ERROR), so Apollo Router's PERSISTED_QUERY_HASH_MISMATCH is used instead.
NOT_FOUND = (200, "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
NOT_SUPPORTED = (200, "PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED")
MISMATCH = (400, "provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH")
NOT_IN_LIST_MESSAGE = ("This server runs only trusted documents (PATRON_TRUSTED_DOCUMENTS=require); "
                       "this document is not in its manifest")
NOT_IN_LIST = (200, NOT_IN_LIST_MESSAGE, "PERSISTED_QUERY_NOT_IN_LIST")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class ManifestError(ValueError):
    """A manifest Patron must not start with; the message is one line naming the problem."""


def load_manifest(path: str) -> dict[str, str]:
    """`{"<sha256>": "<document>"}` (GraphQL Codegen's client preset with hashAlgorithm sha256,
    Relay's persistConfig with algorithm SHA256), or Apollo's persisted query manifest
    (`{"format": "apollo-persisted-query-manifest", "operations": [{"id", "body"}]}`).
    Every hash is checked against its document."""
    try:
        with open(path, "rb") as fh:
            raw = decode_json(fh.read())
    except OSError as exc:
        raise ManifestError(f"cannot read the trusted documents manifest {path}: {exc.strerror}") from None
    except BadRequest as exc:
        raise ManifestError(f"trusted documents manifest {path} is not JSON: {exc}") from None
    if isinstance(raw, dict) and raw.get("format") == "apollo-persisted-query-manifest":
        operations = raw.get("operations")
        if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
            raise ManifestError(f"trusted documents manifest {path}: `operations` must be a list of objects")
        raw = {o.get("id"): o.get("body") for o in operations}
    if not isinstance(raw, dict) or not raw:
        raise ManifestError(f'trusted documents manifest {path} must be a non-empty JSON object {{"<sha256>": "<document>"}}')
    for digest, text in raw.items():
        if not isinstance(digest, str) or not isinstance(text, str):
            raise ManifestError(f"trusted documents manifest {path}: entry {digest!r} must map a hash to a document text")
        if sha256_hex(text) != digest:
            raise ManifestError(
                f"trusted documents manifest {path}: {digest[:80]!r} is not the SHA-256 of its document "
                "(GraphQL Codegen: persistedDocuments.hashAlgorithm 'sha256'; Relay: persistConfig.algorithm 'SHA256')")
    return raw


@dataclass
class PersistedQueries:
    """What a request's `extensions.persistedQuery` resolves to."""

    store: Store | None  # None: APQ registration is off (PATRON_APQ_MAX_DOCUMENTS=0)
    mode: str = "off"
    manifest: Mapping[str, str] = field(default_factory=dict)
    max_document_bytes: int = 65536

    async def resolve(self, params: Any) -> str | None:
        """The text to run in place of a missing `query`, or None when the request carries no
        persisted query or already has its text. Raises PersistedQueryError or BadRequest."""
        if not isinstance(params, dict) or params.get("extensions") is None:
            return None
        extensions = params["extensions"]
        if not isinstance(extensions, dict):
            raise BadRequest("`extensions` must be a JSON object")
        persisted = extensions.get("persistedQuery")
        if persisted is None:
            return None
        if not isinstance(persisted, dict):
            raise BadRequest("`extensions.persistedQuery` must be a JSON object")
        version = persisted.get("version")
        if type(version) is not int or version != 1:  # JSON true or 1.0 is not version 1
            raise PersistedQueryError(400, "Unsupported persisted query version", "BAD_REQUEST")
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or not HASH.fullmatch(digest):
            raise BadRequest("`extensions.persistedQuery.sha256Hash` must be 64 lowercase hex digits")
        query = params.get("query")
        if query not in (None, ""):
            if not isinstance(query, str):
                return None  # the view refuses a non-string query itself
            if sha256_hex(query) != digest:
                raise PersistedQueryError(*MISMATCH)
            await self._register(digest, query)
            return None
        return await self._lookup(digest)

    async def _lookup(self, digest: str) -> str:
        if self.mode != "off" and digest in self.manifest:
            return self.manifest[digest]
        if self.mode == "require":
            raise PersistedQueryError(*NOT_IN_LIST)
        if self.store is None:
            raise PersistedQueryError(*NOT_SUPPORTED)
        text = await self.store.get(digest)
        if text is None:
            raise PersistedQueryError(*NOT_FOUND)
        return text

    async def _register(self, digest: str, text: str) -> None:
        """Only in APQ's open modes: `require` runs the manifest and nothing else. A document
        over the size cap still runs; it is just not kept (the client keeps sending its text)."""
        if self.mode == "require" or self.store is None or digest in self.manifest:
            return
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            return  # a lone surrogate: never kept, so every stored text encodes anywhere
        if size <= self.max_document_bytes:
            await self.store.put(digest, text)

    async def resolve_body(self, body: bytes) -> bytes:
        """A JSON POST body with the persisted document's text put in (unchanged otherwise)."""
        if b"persistedQuery" not in body:
            return body  # the common case costs no JSON decoding
        try:
            params = decode_json(body)
        except BadRequest:
            return body  # the view answers malformed JSON with its own 400
        text = await self.resolve(params)
        if text is None:
            return body
        try:
            return orjson.dumps({**params, "query": text})
        except orjson.JSONEncodeError:  # a lone surrogate in the variables: escaped, the view judges it
            return json.dumps({**params, "query": text}, ensure_ascii=True).encode()

    async def resolve_query_string(self, query_string: bytes) -> bytes:
        """The same for a GET request's `?extensions=…`."""
        if b"persistedQuery" not in query_string:
            return query_string
        try:
            pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, encoding="utf-8",
                              errors="strict")
        except (UnicodeDecodeError, ValueError):
            return query_string  # the view refuses it
        params: dict[str, Any] = dict(pairs)
        if "extensions" not in params:
            return query_string
        params["extensions"] = decode_json(params["extensions"])
        text = await self.resolve(params)
        if text is None:
            return query_string
        kept = [(k, v) for k, v in pairs if k != "query"]
        return urlencode([*kept, ("query", text)]).encode("ascii")
