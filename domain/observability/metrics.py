"""The Prometheus metrics Patron exports on /metrics/ (job metrics live in domain/jobs.py).

Label values are bounded: operation names pass `operation_label`, error codes come from the
code base, outcomes from a fixed set.
"""

from __future__ import annotations

import re
import threading

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
REQUEST_SECONDS = Histogram(
    "patron_graphql_request_duration_seconds", "GraphQL HTTP request latency",
    ["operation", "status"], buckets=LATENCY_BUCKETS)
GRAPHQL_ERRORS = Counter("patron_graphql_errors_total", "GraphQL errors sent, by extensions.code", ["code"])
DB_POOL = Gauge("patron_db_pool_connections",
                "PostgreSQL pool connections (size: open, idle: free, max: the cap); read on scrape", ["state"])
OUTBOX_DEPTH = Gauge("patron_webhook_outbox_depth",
                     "Webhook deliveries waiting to be sent (pending or in flight); counted on scrape")
LEGACY_INT_IDS = Counter(
    "patron_legacy_int_ids_total",
    "Arguments that named an object by its deprecated integer id instead of its global ID", ["type"])
SUBSCRIPTION_SOCKETS = Gauge("patron_subscription_sockets", "Open GraphQL WebSocket connections")
WEBHOOK_DELIVERIES = Counter(
    "patron_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (succeeded, retry, failed, not_sent)", ["outcome"])
WEBHOOK_ATTEMPT_SECONDS = Histogram(
    "patron_webhook_attempt_duration_seconds", "Duration of one webhook HTTP attempt", buckets=LATENCY_BUCKETS)
WEBHOOK_FIRST_ATTEMPT_DELAY = Histogram(
    "patron_webhook_first_attempt_delay_seconds", "From the event's creation to its first delivery attempt",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600))

# --- operation names: a bounded label -----------------------------------------------------------

MAX_OPERATION_NAMES = 200
_IDENTIFIER = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
_seen: set[str] = set()
_lock = threading.Lock()


def operation_label(name: object) -> str:
    """The operation's name when it is a GraphQL identifier of ≤ 64 characters, else
    "anonymous"; past MAX_OPERATION_NAMES distinct names, new ones count as "other"."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        return "anonymous"
    with _lock:
        if name in _seen:
            return name
        if len(_seen) >= MAX_OPERATION_NAMES:
            return "other"
        _seen.add(name)
        return name


def delivery_outcome(status: str) -> str:
    """A delivery's status after an attempt → the outcome label."""
    return {"succeeded": "succeeded", "pending": "retry", "failed": "failed", "fenced": "fenced"}.get(status, "other")
