"""Checking and storing review photos and videos.

The type comes from the bytes (magic numbers), never from the file name or the client's
MIME type. Every check of the content runs in a budgeted child process
(upload_budget.py): photos are decoded under a pixel limit, converted to sRGB and
re-encoded without any metadata, and thumbnailed (photos.py), so what we serve is always
our own re-encoding; videos are proven playable by FFmpeg and proven to hold nothing but
what their container declares (video_probe.py), then kept as uploaded.
"""

from __future__ import annotations

import io
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from domain.reviews.media_access import preview_token
from domain.reviews.photos import process_photo
from domain.reviews.upload_budget import MediaRejected, UploadBudget, run_limited
from domain.reviews.video_probe import probe_video
from domain.settings import get_settings

MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash", b"qt  ", b"3gp4", b"3gp5", b"MSNV"}
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
CHUNK = 1024 * 1024


@dataclass
class StoredMedia:
    kind: str  # photo | video
    content_type: str
    file_name: str
    thumb_name: str | None
    width: int | None
    height: int | None
    size: int


def sniff(head: bytes) -> tuple[str, str] | None:
    """(kind, container) from the first bytes, or None for anything we do not take."""
    if head.startswith(b"\xff\xd8\xff"):
        return "photo", "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "photo", "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "photo", "WEBP"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in HEIF_BRANDS:
            return "photo", "HEIF"
        if brand in MP4_BRANDS:
            return "video", "MOV" if brand == b"qt  " else "MP4"
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:
        return "video", "WEBM"
    return None


class LocalStorage:
    """Media on local disk; an S3-compatible adapter can implement the same three methods."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / name

    def write(self, name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.path(name).write_bytes(data)

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)


def storage() -> LocalStorage:
    return LocalStorage(get_settings().media_dir)


def media_url(name: str | None, preview: bool = False) -> str | None:
    """The public URL of a stored file; `preview` adds a short-lived token that lets a
    moderator or the author see it while it is not public (media_access.py)."""
    if not name:
        return None
    url = f"{get_settings().media_base_url.rstrip('/')}/{name}"
    return f"{url}?preview={preview_token(name)}" if preview else url


EXTENSIONS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heic": "HEIF", "heif": "HEIF",
              "mp4": "MP4", "m4v": "MP4", "mov": "MOV", "qt": "MOV", "webm": "WEBM"}
MIME_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/heic": "HEIF",
              "image/heif": "HEIF", "video/mp4": "MP4", "video/quicktime": "MOV", "video/webm": "WEBM"}


def _declared_mismatch(container: str, filename: str | None, client_type: str | None) -> bool:
    """A file whose name or declared type says something else than its bytes is refused:
    the bytes decide what a file is, and a disguised file is a red flag, not a convenience."""
    ext = (filename or "").rsplit(".", 1)[-1].lower() if filename and "." in filename else None
    claims = [EXTENSIONS.get(ext or ""), MIME_TYPES.get((client_type or "").split(";")[0].strip().lower())]
    return any(claim is not None and claim != container for claim in claims)


def read_limited(stream: BinaryIO, filename: str | None = None, client_type: str | None = None) -> tuple[bytes, str, str]:
    """Read an upload, refusing it as soon as it passes its type's size limit."""
    settings = get_settings()
    if stream.seekable():
        # One uploaded file may fill several variables (the multipart spec maps a form field to
        # a list of paths; extract-files sends a repeated File once): each use reads it whole.
        stream.seek(0)
    head = stream.read(64)
    found = sniff(head)
    if found is None:
        raise MediaRejected("Only JPEG, PNG, WebP or HEIC photos and MP4, MOV or WebM videos", "UNSUPPORTED_MEDIA")
    kind, container = found
    if _declared_mismatch(container, filename, client_type):
        raise MediaRejected(f"The file's name or type does not match its content ({container})", "UNSUPPORTED_MEDIA")
    limit = settings.photo_max_bytes if kind == "photo" else settings.video_max_bytes
    buffer = io.BytesIO()
    buffer.write(head)
    while chunk := stream.read(CHUNK):
        buffer.write(chunk)
        if buffer.tell() > limit:
            raise MediaRejected(f"A {kind} may be at most {limit // (1024 * 1024)} MB", "MEDIA_TOO_LARGE")
    return buffer.getvalue(), kind, container


VIDEO_TYPES = {"MP4": ("video/mp4", "mp4"), "MOV": ("video/quicktime", "mov"), "WEBM": ("video/webm", "webm")}


def new_budget() -> UploadBudget:
    """What one request may spend on checking its files (settings PATRON_UPLOAD_*)."""
    settings = get_settings()
    return UploadBudget(seconds=settings.upload_seconds_per_request, pixels=settings.upload_pixels_per_request)


def _store_photo(data: bytes, container: str, budget: UploadBudget, stem: str) -> StoredMedia:
    settings = get_settings()
    image, thumb, ext, width, height = run_limited(
        process_photo, (data, container, settings.photo_max_pixels, budget.pixels), budget)
    budget.spend_pixels(width * height)
    name, thumb_name = f"{stem}.{ext}", f"{stem}-thumb.jpg"
    files = storage()
    files.write(name, image)
    files.write(thumb_name, thumb)
    content_type = "image/png" if ext == "png" else "image/jpeg"
    return StoredMedia("photo", content_type, name, thumb_name, width, height, len(image))


def _store_video(data: bytes, container: str, budget: UploadBudget, stem: str) -> StoredMedia:
    """Written under a hidden name first (the probe reads a file, as FFmpeg does), renamed
    into place only once it passed; the hidden name is never served."""
    content_type, ext = VIDEO_TYPES[container]
    files = storage()
    name, pending = f"{stem}.{ext}", f".upload-{stem}"
    files.write(pending, data)
    try:
        facts = run_limited(probe_video, (str(files.path(pending)), container,
                                          float(get_settings().video_max_seconds)), budget)
        os.replace(files.path(pending), files.path(name))
    finally:
        files.delete(pending)
    return StoredMedia("video", content_type, name, None, facts.width, facts.height, len(data))


def check_and_store(data: bytes, kind: str, container: str, budget: UploadBudget | None = None) -> StoredMedia:
    """Validate, then write under unguessable names. Nothing is written if a check fails.
    Blocking (a child process does the work): call it from a worker thread."""
    budget = budget or new_budget()
    stem = uuid.uuid4().hex
    if kind == "photo":
        return _store_photo(data, container, budget, stem)
    return _store_video(data, container, budget, stem)


def remove(stored: StoredMedia) -> None:
    files = storage()
    files.delete(stored.file_name)
    if stored.thumb_name:
        files.delete(stored.thumb_name)


def delete_files(names: list[str]) -> None:
    files = storage()
    for name in names:
        files.delete(name)


__all__ = ["MediaRejected", "StoredMedia", "UploadBudget", "check_and_store", "delete_files", "media_url", "new_budget",
           "read_limited", "remove"]
