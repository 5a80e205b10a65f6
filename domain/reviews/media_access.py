"""Which stored media files may be shown, and to whom.

A file is served to anyone only while its media row exists and is published, its review
is published (not pending, rejected or deleted), and the review's author has not been
anonymized. Everything else answers 404, whatever is still on disk: a moderation
decision, a deletion or an erasure takes effect on the next request.

Moderators and authors must still see media that is not public (the moderation queue, a
pending review): the URLs GraphQL gives them outside public pages carry a preview token
(the file name and an expiry, encrypted and authenticated with PATRON_SECRET_KEY), valid
PREVIEW_SECONDS, for that one file only.
"""

from __future__ import annotations

import re

from cryptography.fernet import InvalidToken

from domain import clock, crypto
from domain.members.models import Member
from domain.reviews.models import ReviewMedia

# Only the names `check_and_store` writes: 32 hex digits, a known extension.
FILE_NAME = re.compile(r"[0-9a-f]{32}(?:-thumb\.jpg|\.(?:jpg|png|mp4|mov|webm))")
THUMB_TYPE = "image/jpeg"


def _by_name(name: str) -> tuple[bool, dict[str, str]]:
    is_thumb = name.endswith("-thumb.jpg")
    return is_thumb, ({"thumb_name": name} if is_thumb else {"file_name": name})


async def servable_content_type(name: str) -> str | None:
    """The content type to serve `name` with to anyone, or None when it must not be served.
    One indexed lookup (plus one by primary key for a member's review)."""
    if not FILE_NAME.fullmatch(name):
        return None
    is_thumb, match = _by_name(name)
    row = await ReviewMedia.filter(**match, status="published", review__status="published").values(
        "content_type", "review__member_id")
    if not row:
        return None
    member_id = row[0]["review__member_id"]
    if member_id is not None and not await Member.exists(id=member_id, anonymized_at__isnull=True):
        return None
    return THUMB_TYPE if is_thumb else row[0]["content_type"]


async def preview_content_type(name: str) -> str | None:
    """For a valid preview token: the content type while a media row still names the file
    (whatever its state; an erased member's rows are gone, so their files stay unreachable)."""
    if not FILE_NAME.fullmatch(name):
        return None
    is_thumb, match = _by_name(name)
    row = await ReviewMedia.filter(**match).first().values("content_type")
    if not row:
        return None
    return THUMB_TYPE if is_thumb else row["content_type"]


PREVIEW_SECONDS = 3600


def preview_token(name: str) -> str:
    expires = int(clock.now().timestamp()) + PREVIEW_SECONDS
    return crypto.encrypt(f"{name}|{expires}")


def preview_allowed(name: str, token: str | None) -> bool:
    """Whether `token` was issued by us for `name` and has not expired."""
    if not token or len(token) > 500:
        return False
    try:
        signed_name, _, expires = crypto.decrypt(token).partition("|")
    except (InvalidToken, ValueError, TypeError):
        return False
    return signed_name == name and expires.isdigit() and int(expires) >= clock.now().timestamp()
