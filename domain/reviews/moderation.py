"""Automatic moderation of shopper text: profanity, links, and personal data.

A rule that fires holds the text for a person (pending) with a reason code the author
sees. A low rating is never a reason: negative reviews are published like any other.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from domain.settings import get_settings

REASONS = ("PROFANITY", "PERSONAL_DATA", "LINK", "SPAM", "OFF_TOPIC", "OTHER")

# A deliberately small built-in list (English and Korean); brands extend it with
# PATRON_PROFANITY_EXTRA. Matching is on whole words after normalisation.
BUILTIN_PROFANITY = {
    "fuck", "fucking", "shit", "bitch", "asshole", "bastard", "cunt", "motherfucker", "dickhead",
    "씨발", "시발", "씨팔", "개새끼", "병신", "좆", "지랄", "니미", "썅", "개새",
}

URL_RE = re.compile(r"(https?://|www\.)\S+|\b[a-z0-9-]+\.(com|net|org|io|co|kr|shop|ly|me)\b", re.IGNORECASE)
EMAIL_RE = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
# International numbers, Korean mobile (010-1234-5678), US (555) 123-4567 ...: 9+ digits.
PHONE_RE = re.compile(r"(?:\+?\d[\s().-]*){9,}")
WORD_RE = re.compile(r"[\w']+", re.UNICODE)


@dataclass(frozen=True)
class Finding:
    reason: str
    note: str


def _profanity() -> set[str]:
    extra = {w.strip().lower() for w in get_settings().profanity_extra.split(",") if w.strip()}
    return BUILTIN_PROFANITY | extra


def check_text(*parts: str | None) -> Finding | None:
    """The first rule that fires on the text, or None when it is clean."""
    text = unicodedata.normalize("NFKC", " ".join(p for p in parts if p))
    lowered = text.lower()
    words = set(WORD_RE.findall(lowered))
    bad = _profanity()
    hits = words & bad
    # Korean words take particles (씨발아), so Hangul entries also match inside a word.
    hits |= {w for w in bad if not w.isascii() and w in lowered}
    if hits:
        return Finding("PROFANITY", "Contains words from the profanity list")
    if EMAIL_RE.search(text):
        return Finding("PERSONAL_DATA", "Contains an e-mail address")
    if PHONE_RE.search(text):
        return Finding("PERSONAL_DATA", "Contains a phone number")
    if URL_RE.search(text):
        return Finding("LINK", "Contains a link")
    return None
