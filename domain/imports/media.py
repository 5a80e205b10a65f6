"""Review media given by URL in an import file (`mediaUrls`).

Refused unless PATRON_IMPORT_FETCH_MEDIA=1: the review is imported without it and a warning
says so. When on, each URL goes through the webhooks' SSRF guard (domain/webhooks/ssrf.py:
public addresses only, unless PATRON_WEBHOOK_ALLOWED_HOSTS lists the host), and is fetched
over the pinned client (the connection goes to the address just checked; no redirects, no
proxies), read up to the photo/video size limit and then checked and re-encoded exactly like
an uploaded file (domain/reviews/media.py). Fetching happens before the batch's transaction
(no database lock is held across the network); files of rows that end up not written are
removed after the batch.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass, field

import httpx

from domain.imports import bulk
from domain.reviews import media as media_files
from domain.reviews.media import MediaRejected, StoredMedia
from domain.reviews.models import Review
from domain.settings import get_settings
from domain.webhooks import pinned
from domain.webhooks.ssrf import Blocked, Malformed, check_url

log = logging.getLogger("patron.imports")
OFF = "Media not imported (PATRON_IMPORT_FETCH_MEDIA is off); the review was imported without it"


@dataclass
class Fetched:
    stored: list[StoredMedia] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why a URL was not imported (no URL quoted)


class TooLarge(Exception):
    pass


async def _download(client: httpx.AsyncClient, url: str, limit: int) -> bytes:
    async with client.stream("GET", url) as response:
        if response.status_code != 200:
            raise httpx.HTTPStatusError(f"HTTP {response.status_code}", request=response.request, response=response)
        buffer = io.BytesIO()
        async for chunk in response.aiter_bytes():
            buffer.write(chunk)
            if buffer.tell() > limit:
                raise TooLarge()
        return buffer.getvalue()


async def _one(client: httpx.AsyncClient, url: str, dry_run: bool, limit: int) -> StoredMedia | str | None:
    """The stored file, or why not (a note), or None in a dry run that passed the guard."""
    try:
        target = await check_url(url)
    except Malformed:
        return "Media not imported: the URL is malformed"
    except Blocked:
        return "Media not imported: the URL is not allowed (only http(s) to public internet addresses)"
    if dry_run:
        return None
    try:
        with pinned.pinned(target):
            data = await _download(client, url, limit)
        data, kind, container = media_files.read_limited(io.BytesIO(data))
        return await asyncio.to_thread(media_files.check_and_store, data, kind, container)
    except TooLarge:
        return "Media not imported: the file is larger than the photo/video size limit"
    except MediaRejected as exc:
        return f"Media not imported: {exc.message}"
    except httpx.HTTPStatusError as exc:
        return f"Media not imported: the server answered {exc.response.status_code}"
    except httpx.HTTPError:
        return "Media not imported: the URL could not be fetched"


async def fetch_for(rows: list[tuple[str, list[str]]], dry_run: bool) -> dict[str, Fetched]:
    """(external id, URLs) of a batch's reviews → what was fetched for each one not imported
    before. Empty when fetching is off (write_reviews then warns that media were refused)."""
    settings = get_settings()
    wanted = [(ext, urls) for ext, urls in rows if urls]
    if not settings.import_fetch_media or not wanted:
        return {}
    known = {r[0] for r in await bulk.select_in(Review, ("external_id",), "external_id", [e for e, _ in wanted])}
    limit = max(settings.photo_max_bytes, settings.video_max_bytes)
    most = settings.photos_per_review + settings.videos_per_review
    out: dict[str, Fetched] = {}
    async with pinned.client(settings.webhook_timeout_seconds) as client:
        for ext, urls in wanted:
            if ext in known or ext in out:
                continue
            fetched = out[ext] = Fetched()
            if len(urls) > most:
                fetched.notes.append(f"Media: only the first {most} URLs are imported")
            for url in urls[:most]:
                result = await _one(client, url, dry_run, limit)
                if isinstance(result, str):
                    fetched.notes.append(result)
                elif result is not None:
                    fetched.stored.append(result)
    return out


def discard(fetched: dict[str, Fetched], kept: set[str]) -> None:
    """Remove the files of reviews that were not written (skipped, refused, rolled back)."""
    for ext, item in fetched.items():
        if ext not in kept:
            for stored in item.stored:
                media_files.remove(stored)
