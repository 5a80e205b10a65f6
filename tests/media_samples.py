"""Real media bytes made in the test: images with Pillow, genuine tiny videos encoded with
PyAV (FFmpeg), and the hostile variants built from them."""

from __future__ import annotations

import functools
import io
import struct
import zlib

import av
import numpy as np
from PIL import Image, ImageCms


def jpeg(width: int = 64, height: int = 48, gps: bool = False, color=(200, 30, 30), comment: bytes | None = None) -> bytes:
    img = Image.new("RGB", (width, height), color)
    out = io.BytesIO()
    extra = {"comment": comment} if comment else {}
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x8825] = {1: "N", 2: (37.0, 33.0, 0.0), 3: "E", 4: (126.0, 58.0, 0.0)}  # GPS IFD
        img.save(out, format="JPEG", exif=exif, **extra)
    else:
        img.save(out, format="JPEG", **extra)
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


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_metadata(marker: bytes, mode: str = "RGB") -> bytes:
    """A PNG with an iCCP chunk (a real sRGB profile followed by `marker` bytes) and
    tEXt/iTXt chunks carrying `marker`: what a re-encoder must not copy."""
    out = io.BytesIO()
    Image.new(mode, (40, 30), (10, 120, 200, 255)[:len(mode)]).save(out, format="PNG")
    plain = out.getvalue()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes() + marker * 4
    chunks = (_png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(icc))
              + _png_chunk(b"tEXt", b"Comment\x00" + marker)
              + _png_chunk(b"iTXt", b"Description\x00\x00\x00\x00\x00" + marker))
    ihdr_end = 8 + 25  # signature + IHDR chunk
    return plain[:ihdr_end] + chunks + plain[ihdr_end:]


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset, size) of an MP4's top-level boxes (32-bit sizes, as our samples have)."""
    found, offset = [], 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        found.append((kind, offset, size))
        offset += size
    return found


@functools.cache
def video(container: str = "mp4", codec: str = "mpeg4", frames: int = 10, rate: int = 10, pix_fmt: str = "yuv420p") -> bytes:
    """A genuine, playable video of `frames / rate` seconds (64x48), encoded by FFmpeg."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as movie:
        stream = movie.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (i * 25) % 256, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                movie.mux(packet)
        for packet in stream.encode():
            movie.mux(packet)
    return out.getvalue()


def mp4() -> bytes:
    return video("mp4", "mpeg4")


def webm() -> bytes:
    return video("webm", "vp8")


ZIP = b"PK\x03\x04" + bytes(26) + b"evil.txt" + b"PK\x01\x02" + bytes(42) + b"PK\x05\x06" + bytes(18)
HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"


def _unknown_size(data: bytearray, element_id: bytes) -> None:
    """Rewrite the size of the first `element_id` element to "unknown" (all value bits set)."""
    at = data.index(element_id) + len(element_id)
    length = 1
    while not data[at] & (0x80 >> (length - 1)):
        length += 1
    data[at:at + length] = bytes([(0xFF >> length) | (0x80 >> (length - 1))]) + b"\xff" * (length - 1)


def webm_unknown_size_segment(appended: bytes) -> bytes:
    """The WebM with its Segment size rewritten to "unknown" (as browsers record), then
    `appended` after it: a player stops at what it knows; the bytes stay in the file."""
    data = bytearray(webm())
    _unknown_size(data, b"\x18\x53\x80\x67")
    return bytes(data) + appended


def webm_unknown_sizes() -> bytes:
    """Segment and Cluster of unknown size, as MediaRecorder writes a live recording."""
    data = bytearray(webm())
    _unknown_size(data, b"\x18\x53\x80\x67")
    _unknown_size(data, b"\x1f\x43\xb6\x75")
    return bytes(data)


def mp4_with_final_free_box(payload: bytes) -> bytes:
    return mp4() + _box(b"free", payload)


def mp4_with_html_after_4k() -> bytes:
    """HTML in a padding box placed after 4 KB of zero padding (past a 4 KB sniff window)."""
    return mp4() + _box(b"free", bytes(5000)) + _box(b"skip", HTML)


def mp4_with_data_inside_mdat(payload: bytes) -> bytes:
    """`payload` appended inside the media data box: no sample points at it."""
    data = mp4()
    kind, offset, size = next(b for b in boxes(data) if b[0] == b"mdat")
    grown = _box(b"mdat", data[offset + 8:offset + size] + payload)
    # mdat is before moov in our samples: sample offsets stay valid, moov moves along.
    return data[:offset] + grown + data[offset + size:]


def mp4_with_empty_moov_and_arbitrary_box() -> bytes:
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    return ftyp + _box(b"moov", b"") + _box(b"mdat", bytes(64)) + _box(b"junk", ZIP)


def mp4_with_html_in_file_type_box() -> bytes:
    """Compatible "brands" that spell a page (after 4 KB of them, past a 4 KB sniff window)."""
    data = mp4()
    kind, offset, size = boxes(data)[0]
    page = b"isom" + bytes(4) + b"iso2" * 1100 + HTML + bytes(-len(HTML) % 4)
    return _box(b"ftyp", page) + data[size:]


def mp4_with_empty_moov_and_zip_mdat() -> bytes:
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    return ftyp + _box(b"moov", b"") + _box(b"mdat", ZIP)


def mp4_of_tiny_boxes(count: int) -> bytes:
    """A file type box, a movie box and `count` empty 8-byte boxes: every box well formed,
    each one costing the walk time (the issue's 190 MB of them cost 15.9 s CPU)."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    return ftyp + _box(b"moov", _box(b"mvhd", bytes(100))) + _box(b"free", b"") * count


def burn_cpu() -> None:
    """A media check that never ends (run in a worker to test the budget)."""
    while True:
        pass


def answer() -> int:
    return 42
