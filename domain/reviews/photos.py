"""Checking and re-encoding one photo (runs in a budgeted child process).

What we serve is always our own re-encoding: the pixels converted to sRGB and nothing
else. EXIF (GPS), XMP, ICC profiles, JPEG comments and PNG text chunks are never copied:
Pillow would otherwise carry `info["comment"]` and `info["icc_profile"]` (with whatever
bytes follow the profile) into the file it writes.
"""

from __future__ import annotations

import io
import logging
import struct

from PIL import Image, ImageCms, ImageOps
from pillow_heif import register_heif_opener

from domain.reviews.upload_budget import MediaRejected, budget_exceeded

register_heif_opener()
Image.MAX_IMAGE_PIXELS = None  # we check the pixel count ourselves, before decoding

log = logging.getLogger("patron.media")
SCRIPT_MARKERS = (b"<script", b"<html", b"<?php", b"<svg", b"<!doctype")
THUMB_SIZE = (400, 400)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


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


def _to_srgb(img: Image.Image, has_alpha: bool) -> Image.Image:
    """The pixels in sRGB: through the embedded ICC profile when there is a usable one
    (a wide-gamut or CMYK photo keeps its colours), else as they are. The profile itself
    is dropped either way."""
    target = "RGBA" if has_alpha else "RGB"
    icc = img.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if img.mode not in ("RGB", "RGBA", "CMYK", "L"):
                img = img.convert(target)
            converted = ImageCms.profileToProfile(img, source, _SRGB, outputMode=target)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
            log.info("ignoring an unusable ICC profile: %s", exc)  # treated as sRGB, and dropped
    return img.convert(target)


def process_photo(data: bytes, container: str, max_pixels: int, pixels_left: int) -> tuple[bytes, bytes, str, int, int]:
    """Validate and re-encode a photo. Returns (image, thumbnail, extension, width, height).

    `max_pixels` is the per-photo limit, `pixels_left` what the request may still decode."""
    _check_no_trailer(data, container)
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != container:
                raise MediaRejected("The image content does not match its type", "MEDIA_CORRUPT")
            width, height = img.size
            if width * height > max_pixels:
                raise MediaRejected(f"The image is {width}x{height}: too many pixels", "MEDIA_TOO_LARGE")
            if width * height > pixels_left:
                raise budget_exceeded("pixels")
            img.load()
            img = ImageOps.exif_transpose(img)
            has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
            img = _to_srgb(img, has_alpha)
            img.info = {}  # nothing of the original travels into what we write
            out, ext = io.BytesIO(), ("png" if has_alpha else "jpg")
            img.save(out, format="PNG" if has_alpha else "JPEG", quality=88, optimize=True)
            thumb = img.copy()
            thumb.thumbnail(THUMB_SIZE)
            thumb = thumb.convert("RGB")
            thumb.info = {}
            thumb_out = io.BytesIO()
            thumb.save(thumb_out, format="JPEG", quality=80)
            return out.getvalue(), thumb_out.getvalue(), ext, img.width, img.height
    except MediaRejected:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaRejected(f"The image cannot be decoded ({type(exc).__name__})", "MEDIA_CORRUPT") from None
