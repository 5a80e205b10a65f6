"""Delivery logs are kept `PATRON_WEBHOOK_LOG_RETENTION_DAYS`: the request and response
excerpts carry event data (member data for endpoints allowed to receive it), so they are
blanked once older than that. The delivery rows stay (status, attempts, timings), so the
dashboard's history and counts are unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.db import write_transaction
from domain.settings import get_settings
from domain.webhooks.models import WebhookDelivery


async def blank_old_excerpts(now: datetime) -> int:
    """Blank the excerpts of deliveries created before the retention window; returns how many."""
    cutoff = now - timedelta(days=get_settings().webhook_log_retention_days)
    async with write_transaction():
        old = WebhookDelivery.filter(created_at__lt=cutoff).exclude(request_excerpt__isnull=True, response_excerpt__isnull=True)
        return await old.update(request_excerpt=None, response_excerpt=None)
