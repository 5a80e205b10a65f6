"""Real media bytes made in the test: images with Pillow, minimal MP4 and WebM containers."""

from __future__ import annotations

import io
import struct

from PIL import Image


def jpeg(width: int = 64, height: int = 48, gps: bool = False, color=(200, 30, 30)) -> bytes:
    img = Image.new("RGB", (width, height), color)
    out = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x8825] = {1: "N", 2: (37.0, 33.0, 0.0), 3: "E", 4: (126.0, 58.0, 0.0)}  # GPS IFD
        img.save(out, format="JPEG", exif=exif)
    else:
        img.save(out, format="JPEG")
    return out.getvalue()


def png(width: int = 32, height: int = 32, mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format="PNG")
    return out.getvalue()


def huge_png() -> bytes:
    """12,000 x 12,000 pixels in a few kilobytes: a decompression bomb."""
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, format="PNG")
    return out.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4() -> bytes:
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    moov = _box(b"moov", _box(b"mvhd", bytes(100)))
    mdat = _box(b"mdat", bytes(256))
    return ftyp + moov + mdat


def _ebml_size(n: int) -> bytes:
    assert n < 127  # one-byte sizes are all these samples need
    return bytes([0x80 | n])


def webm() -> bytes:
    doctype = b"\x42\x82" + _ebml_size(4) + b"webm"
    header = b"\x1a\x45\xdf\xa3" + _ebml_size(len(doctype)) + doctype
    segment_body = b"\x15\x49\xa9\x66" + _ebml_size(3) + b"\x00\x00\x00"  # an Info element
    return header + b"\x18\x53\x80\x67" + _ebml_size(len(segment_body)) + segment_body
