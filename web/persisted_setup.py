"""Builds Patron's persisted-query handling from the settings (web/persisted.py is generic)."""

from __future__ import annotations

from domain import changes, redis_client
from domain.settings import Settings
import strawberry

from schema import trusted
from schema.limits import limit_errors
from web.persisted import MODES, ManifestError, PersistedQueries, Store, load_manifest
from web.persisted_store import MemoryStore, RedisStore


def _redis_failed(settings: Settings, what: str, exc: BaseException) -> None:
    redis_client.failed(settings.redis_url or "", what, exc)


def persisted_queries(settings: Settings, schema: strawberry.Schema) -> PersistedQueries:
    """Raises ManifestError (one line) on a bad mode or manifest: the server must not start."""
    mode = settings.trusted_documents
    if mode not in MODES:
        raise ManifestError(f"PATRON_TRUSTED_DOCUMENTS must be one of {', '.join(MODES)}, not {mode!r}")
    manifest: dict[str, str] = {}
    if mode != "off":
        if not settings.trusted_documents_manifest:
            raise ManifestError(f"PATRON_TRUSTED_DOCUMENTS={mode} needs PATRON_TRUSTED_DOCUMENTS_MANIFEST (a JSON file)")
        manifest = load_manifest(settings.trusted_documents_manifest)
    trusted.configure(schema._schema, mode, manifest, limit_errors)
    store: Store | None = None
    if settings.apq_max_documents > 0:
        store = MemoryStore(settings.apq_max_documents)
        if settings.redis_url:
            store = RedisStore(settings.apq_max_documents, settings.apq_ttl_seconds, changes._usable,
                               lambda what, exc: _redis_failed(settings, what, exc), redis_client.FAILURES)
    return PersistedQueries(store, mode, manifest, settings.apq_max_document_bytes)
