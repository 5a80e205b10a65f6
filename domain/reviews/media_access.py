"""Which stored media files may be shown to anyone.

A file is served only while its media row exists and is published, its review is
published (not pending, rejected or deleted), and the review's author has not been
anonymized. Everything else answers 404, whatever is still on disk: a moderation
decision, a deletion or an erasure takes effect on the next request.
"""

from __future__ import annotations

import re

from domain.members.models import Member
from domain.reviews.models import ReviewMedia

# Only the names `check_and_store` writes: 32 hex digits, a known extension.
FILE_NAME = re.compile(r"[0-9a-f]{32}(?:-thumb\.jpg|\.(?:jpg|png|mp4|mov|webm))")
THUMB_TYPE = "image/jpeg"


async def servable_content_type(name: str) -> str | None:
    """The content type to serve `name` with, or None when it must not be served.
    One indexed lookup (plus one by primary key for a member's review)."""
    if not FILE_NAME.fullmatch(name):
        return None
    is_thumb = name.endswith("-thumb.jpg")
    match = {"thumb_name": name} if is_thumb else {"file_name": name}
    row = await ReviewMedia.filter(**match, status="published", review__status="published").values(
        "content_type", "review__member_id")
    if not row:
        return None
    member_id = row[0]["review__member_id"]
    if member_id is not None and not await Member.exists(id=member_id, anonymized_at__isnull=True):
        return None
    return THUMB_TYPE if is_thumb else row[0]["content_type"]
