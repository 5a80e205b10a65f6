"""Checking and storing review photos and videos.

The type comes from the bytes (magic numbers), never from the file name or the client's
MIME type. Images are decoded under a pixel limit, re-encoded without metadata (GPS and
other EXIF are dropped) and thumbnailed; what we serve is always our own re-encoding.
Videos are kept as uploaded after their container structure is checked end to end, so
truncated files and files with something appended (polyglots) are refused.
"""

from __future__ import annotations

import io
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps
from pillow_heif import register_heif_opener

from domain.errors import DomainError
from domain.settings import get_settings

register_heif_opener()
Image.MAX_IMAGE_PIXELS = None  # we check the pixel count ourselves, before decoding

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic"}
MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash", b"qt  ", b"3gp4", b"3gp5", b"MSNV"}
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
SCRIPT_MARKERS = (b"<script", b"<html", b"<?php", b"<svg", b"<!doctype")
THUMB_SIZE = (400, 400)
CHUNK = 1024 * 1024


class MediaRejected(DomainError):
    code = "MEDIA_REJECTED"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, "media", code=reason)


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


def media_url(name: str | None) -> str | None:
    return f"{get_settings().media_base_url.rstrip('/')}/{name}" if name else None


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


def _check_no_trailer(data: bytes, container: str) -> None:
    lowered = data[:4096].lower() + data[-4096:].lower()
    if any(marker in lowered for marker in SCRIPT_MARKERS):
        raise MediaRejected("The file also contains markup or script", "MEDIA_POLYGLOT")
    if container == "JPEG" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise MediaRejected("The JPEG is truncated or has data after its end", "MEDIA_CORRUPT")
    if container == "PNG" and not data.endswith(b"IEND\xaeB`\x82"):
        raise MediaRejected("The PNG is truncated or has data after its end", "MEDIA_CORRUPT")
    if container == "WEBP" and struct.unpack("<I", data[4:8])[0] + 8 != len(data):
        raise MediaRejected("The WebP size does not match its header", "MEDIA_CORRUPT")


def process_photo(data: bytes, container: str) -> tuple[bytes, bytes, str, int, int]:
    """Validate and re-encode a photo. Returns (image, thumbnail, extension, width, height)."""
    _check_no_trailer(data, container)
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != container:
                raise MediaRejected("The image content does not match its type", "MEDIA_CORRUPT")
            width, height = img.size
            if width * height > get_settings().photo_max_pixels:
                raise MediaRejected(f"The image is {width}x{height}: too many pixels", "MEDIA_TOO_LARGE")
            img.load()
            img = ImageOps.exif_transpose(img)
            has_alpha = img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info)
            img = img.convert("RGBA" if has_alpha else "RGB")
            out, ext = io.BytesIO(), ("png" if has_alpha else "jpg")
            img.save(out, format="PNG" if has_alpha else "JPEG", quality=88, optimize=True)
            thumb = img.copy()
            thumb.thumbnail(THUMB_SIZE)
            thumb_out = io.BytesIO()
            thumb.convert("RGB").save(thumb_out, format="JPEG", quality=80)
            return out.getvalue(), thumb_out.getvalue(), ext, img.width, img.height
    except MediaRejected:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaRejected(f"The image cannot be decoded ({type(exc).__name__})", "MEDIA_CORRUPT") from None


def _check_iso_boxes(data: bytes) -> None:
    """MP4/MOV: top-level boxes must tile the file exactly and include the movie header."""
    offset, seen = 0, set()
    while offset < len(data):
        if offset + 8 > len(data):
            raise MediaRejected("The video is truncated", "MEDIA_CORRUPT")
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if size == 1:
            if offset + 16 > len(data):
                raise MediaRejected("The video is truncated", "MEDIA_CORRUPT")
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        elif size == 0:
            size = len(data) - offset
        if size < 8 or not all(32 <= b < 127 for b in kind) or offset + size > len(data):
            raise MediaRejected("The video structure is broken or has data appended", "MEDIA_CORRUPT")
        seen.add(kind)
        offset += size
    if not seen & {b"moov", b"moof"}:
        raise MediaRejected("The video has no movie header", "MEDIA_CORRUPT")


def _vint(data: bytes, pos: int) -> tuple[int, int, bool]:
    """An EBML variable-length integer: (value, length, all-ones = unknown size)."""
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8 or pos + length > len(data):
        raise MediaRejected("The video structure is broken", "MEDIA_CORRUPT")
    value = first & ((0x80 >> (length - 1)) - 1)
    for b in data[pos + 1:pos + length]:
        value = (value << 8) | b
    return value, length, value == (1 << (7 * length)) - 1


def _check_webm(data: bytes) -> None:
    """WebM: an EBML header, then one Segment that reaches exactly the end of the file."""
    size, n, _ = _vint(data, 4)  # the EBML header's id is 4 bytes
    pos = 4 + n + size
    if data[pos:pos + 4] != b"\x18\x53\x80\x67":
        raise MediaRejected("The video has no WebM segment", "MEDIA_CORRUPT")
    size, n, unknown = _vint(data, pos + 4)
    if not unknown and pos + 4 + n + size != len(data):
        raise MediaRejected("The video is truncated or has data appended", "MEDIA_CORRUPT")


def process_video(data: bytes, container: str) -> None:
    lowered = data[:4096].lower()
    if any(marker in lowered for marker in SCRIPT_MARKERS):
        raise MediaRejected("The file also contains markup or script", "MEDIA_POLYGLOT")
    if container == "WEBM":
        _check_webm(data)
    else:
        _check_iso_boxes(data)


VIDEO_TYPES = {"MP4": ("video/mp4", "mp4"), "MOV": ("video/quicktime", "mov"), "WEBM": ("video/webm", "webm")}


def check_and_store(data: bytes, kind: str, container: str) -> StoredMedia:
    """Validate, then write under unguessable names. Nothing is written if a check fails."""
    stem = uuid.uuid4().hex
    files = storage()
    if kind == "photo":
        image, thumb, ext, width, height = process_photo(data, container)
        name, thumb_name = f"{stem}.{ext}", f"{stem}-thumb.jpg"
        files.write(name, image)
        files.write(thumb_name, thumb)
        content_type = "image/png" if ext == "png" else "image/jpeg"
        return StoredMedia("photo", content_type, name, thumb_name, width, height, len(image))
    process_video(data, container)
    content_type, ext = VIDEO_TYPES[container]
    name = f"{stem}.{ext}"
    files.write(name, data)
    return StoredMedia("video", content_type, name, None, None, None, len(data))


def remove(stored: StoredMedia) -> None:
    files = storage()
    files.delete(stored.file_name)
    if stored.thumb_name:
        files.delete(stored.thumb_name)


__all__ = ["MediaRejected", "StoredMedia", "check_and_store", "media_url", "read_limited", "remove"]
