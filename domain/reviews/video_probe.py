"""Proving an upload is a playable video and nothing else (runs in a budgeted child process).

Two checks, both needed:

1. The container, walked by us: every byte belongs to an element the format declares.
   MP4/MOV: the top-level boxes (and the children of `moov`) tile the file exactly, only
   known box types, padding boxes (`free`/`skip`/`wide`) hold only zero bytes, and every
   byte of `mdat` not referenced by a sample is zero. WebM: one EBML header and one
   Segment; the Segment's children are known Matroska elements up to its declared end,
   which is the end of the file (or, for an unknown-size Segment as browsers record it,
   up to the end of the file). So a ZIP or an HTML page cannot ride along in a padding
   box, an unknown box, unreferenced media data, a Void element or after the Segment.
2. The streams, read by FFmpeg (PyAV) with the demuxer forced to the container we
   sniffed (no probing, local file only): at least one video stream with a codec browsers
   play, its first frame decodes, and the duration is > 0 and within the limit.

The walks stop after MAX_ELEMENTS elements, so a file of millions of 8-byte boxes costs
microseconds, not seconds.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import BinaryIO

import av

from domain.reviews.upload_budget import MediaRejected

MAX_ELEMENTS = 200_000
VIDEO_CODECS = {"h264", "hevc", "vp8", "vp9", "av1", "mpeg4"}
AUDIO_CODECS = {"aac", "mp3", "opus", "vorbis", "alac", "ac3", "eac3", "flac", "pcm_s16le", "pcm_s16be", "pcm_s24le"}
# Top-level boxes of a movie file (ISO/IEC 14496-12 and QuickTime); anything else is refused.
ISO_TOP_LEVEL = {b"ftyp", b"styp", b"moov", b"mdat", b"moof", b"mfra", b"sidx", b"free", b"skip", b"wide"}
ISO_MOOV_CHILDREN = {b"mvhd", b"trak", b"udta", b"meta", b"mvex", b"iods", b"free", b"skip", b"wide"}
ISO_PADDING = {b"free", b"skip", b"wide"}
# Matroska ids (without the length marker bits stripped: the raw bytes).
EBML_HEADER = 0x1A45DFA3
SEGMENT = 0x18538067
CLUSTER = 0x1F43B675
VOID, CRC32 = 0xEC, 0xBF
ATTACHMENTS = 0x1941A469
SEGMENT_CHILDREN = {0x114D9B74, 0x1549A966, 0x1654AE6B, CLUSTER, 0x1C53BB6B, 0x1043A770, 0x1254C367, VOID, CRC32}
# What an unknown-size Cluster may hold: Timestamp, SilentTracks, Position, PrevSize,
# SimpleBlock, BlockGroup, EncryptedBlock, Void, CRC-32.
CLUSTER_CHILDREN = {0xE7, 0x5854, 0xA7, 0xAB, 0xA3, 0xA0, 0xAF, VOID, CRC32}
DEMUXERS = {"MP4": "mov", "MOV": "mov", "WEBM": "matroska"}
BRAND = re.compile(rb"[A-Za-z0-9 ]{4}")
MAX_FTYP_PAYLOAD = 8 + 4 * 32  # major brand, minor version, up to 32 compatible brands
SCRIPT_MARKERS = (b"<script", b"<html", b"<?php", b"<svg", b"<!doctype")
CHUNK = 1024 * 1024


@dataclass
class VideoFacts:
    codec: str
    width: int
    height: int
    seconds: float


def _corrupt(message: str) -> MediaRejected:
    return MediaRejected(message, "MEDIA_CORRUPT")


def _foreign(message: str) -> MediaRejected:
    return MediaRejected(message, "MEDIA_POLYGLOT")


def _all_zero(fh: BinaryIO, start: int, length: int) -> bool:
    fh.seek(start)
    while length > 0:
        chunk = fh.read(min(CHUNK, length))
        if not chunk or chunk.count(0) != len(chunk):
            return False
        length -= len(chunk)
    return True


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def tick(self) -> None:
        self.count += 1
        if self.count > MAX_ELEMENTS:
            raise _corrupt(f"The video has more than {MAX_ELEMENTS} container elements")


# --- MP4 / MOV -------------------------------------------------------------------------


def _iso_boxes(fh: BinaryIO, start: int, end: int, counter: _Counter) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes tiling [start, end) exactly."""
    boxes, offset = [], start
    while offset < end:
        counter.tick()
        fh.seek(offset)
        header = fh.read(16)
        if len(header) < 8 or offset + 8 > end:
            raise _corrupt("The video is truncated")
        size, kind = struct.unpack(">I4s", header[:8])
        payload = offset + 8
        if size == 1:
            if len(header) < 16:
                raise _corrupt("The video is truncated")
            size, payload = struct.unpack(">Q", header[8:16])[0], offset + 16
        elif size == 0:
            size = end - offset  # "to the end of the file"
        if size < payload - offset or offset + size > end:
            raise _corrupt("The video structure is broken, truncated or has data appended")
        boxes.append((kind, payload, offset + size))
        offset += size
    return boxes


def _check_brands(fh: BinaryIO, start: int, end: int) -> None:
    """The file type box holds brands (four letters, digits or spaces), a handful of them:
    not a place for text."""
    fh.seek(start)
    payload = fh.read(min(end - start, MAX_FTYP_PAYLOAD + 1))
    if len(payload) < 8 or len(payload) > MAX_FTYP_PAYLOAD or len(payload) % 4:
        raise _corrupt("The video's file type box is malformed")
    brands = [payload[i:i + 4] for i in range(8, len(payload), 4)] + [payload[:4]]
    if not all(BRAND.fullmatch(brand) for brand in brands):
        raise _foreign("The video's file type box holds something else than brands")


def _check_iso(fh: BinaryIO, file_size: int) -> list[tuple[int, int]]:
    """Walk an MP4/MOV; returns the payload ranges of its `mdat` boxes."""
    counter = _Counter()
    boxes = _iso_boxes(fh, 0, file_size, counter)
    kinds = [kind for kind, _, _ in boxes]
    if kinds[0] not in (b"ftyp", b"styp"):
        raise _corrupt("The video does not start with a file type box")
    _check_brands(fh, boxes[0][1], boxes[0][2])
    unknown = [kind for kind in kinds if kind not in ISO_TOP_LEVEL]
    if unknown:
        raise _foreign(f"The video holds a box the format does not define here ({unknown[0]!r})")
    if kinds.count(b"moov") != 1:
        raise _corrupt("The video needs exactly one movie header")
    for kind, payload, end in boxes:
        if kind in ISO_PADDING and not _all_zero(fh, payload, end - payload):
            raise _foreign("The video hides data in a padding box")
        if kind == b"moov":
            for child, child_payload, child_end in _iso_boxes(fh, payload, end, counter):
                if child not in ISO_MOOV_CHILDREN:
                    raise _foreign(f"The movie header holds an unexpected box ({child!r})")
                if child in ISO_PADDING and not _all_zero(fh, child_payload, child_end - child_payload):
                    raise _foreign("The video hides data in a padding box")
    return [(payload, end) for kind, payload, end in boxes if kind == b"mdat"]


def _check_mdat_coverage(fh: BinaryIO, mdats: list[tuple[int, int]], samples: list[tuple[int, int]]) -> None:
    """Bytes of media data that no sample uses must be zero: otherwise something rides along."""
    samples.sort()
    for start, end in mdats:
        cursor = start
        for sample_start, sample_end in samples:
            if sample_end <= cursor or sample_start >= end:
                continue
            if sample_start > cursor and not _all_zero(fh, cursor, sample_start - cursor):
                raise _foreign("The video's media data holds bytes no frame uses")
            cursor = max(cursor, sample_end)
        if cursor < end and not _all_zero(fh, cursor, end - cursor):
            raise _foreign("The video's media data holds bytes no frame uses")


# --- WebM / Matroska -------------------------------------------------------------------


def _vint(fh: BinaryIO, first: bytes, max_length: int) -> tuple[bytes, int]:
    """The rest of an EBML variable-length integer that starts with `first`, and its length."""
    length = 1
    while length <= max_length and not first[0] & (0x80 >> (length - 1)):
        length += 1
    if length > max_length:
        raise _foreign("The video holds bytes that are not a Matroska element")
    rest = fh.read(length - 1)
    if len(rest) != length - 1:
        raise _corrupt("The video is truncated")
    return rest, length


def _ebml_id(fh: BinaryIO) -> int | None:
    first = fh.read(1)
    if not first:
        return None
    rest, _ = _vint(fh, first, 4)
    return int.from_bytes(first + rest, "big")  # an id keeps its length marker


def _ebml_size(fh: BinaryIO) -> int | None:
    """An element size; None for "unknown" (all value bits set)."""
    first = fh.read(1)
    if not first:
        raise _corrupt("The video is truncated")
    rest, length = _vint(fh, first, 8)
    value = first[0] & ((0x80 >> (length - 1)) - 1)
    for byte in rest:
        value = (value << 8) | byte
    return None if value == (1 << (7 * length)) - 1 else value


def _check_element_payload(fh: BinaryIO, element: int, start: int, size: int) -> None:
    if element == ATTACHMENTS:
        raise _foreign("Videos with attached files are not accepted")
    if element == VOID and not _all_zero(fh, start, size):
        raise _foreign("The video hides data in a Void element")


def _check_cluster(fh: BinaryIO, start: int, end: int, counter: _Counter) -> None:
    """The children of a sized Cluster tile it exactly and are cluster elements."""
    pos = start
    while pos < end:
        counter.tick()
        fh.seek(pos)
        element = _ebml_id(fh)
        size = _ebml_size(fh)
        payload = fh.tell()
        if element not in CLUSTER_CHILDREN:
            raise _foreign("The video holds bytes that are not a WebM element")
        if size is None or payload + size > end:
            raise _corrupt("The video structure is broken")
        _check_element_payload(fh, element, payload, size)
        pos = payload + size


def _check_webm(fh: BinaryIO, file_size: int) -> None:
    counter = _Counter()
    fh.seek(0)
    if _ebml_id(fh) != EBML_HEADER:
        raise _corrupt("The video has no EBML header")
    size = _ebml_size(fh)
    if size is None:
        raise _corrupt("The video's EBML header has no size")
    fh.seek(fh.tell() + size)
    if _ebml_id(fh) != SEGMENT:
        raise _corrupt("The video has no WebM segment")
    size = _ebml_size(fh)
    pos = fh.tell()
    if size is not None and pos + size != file_size:
        raise _corrupt("The video is truncated or has data appended")
    in_cluster = False  # inside an unknown-size Cluster (browser recordings)
    while pos < file_size:
        counter.tick()
        fh.seek(pos)
        element = _ebml_id(fh)
        child_size = _ebml_size(fh)
        start = fh.tell()
        if in_cluster and element not in CLUSTER_CHILDREN:
            in_cluster = False  # a Segment child ends an unknown-size Cluster
        if not in_cluster and element not in SEGMENT_CHILDREN:
            if element == ATTACHMENTS:
                raise _foreign("Videos with attached files are not accepted")
            raise _foreign("The video holds bytes that are not a WebM element")
        if child_size is None:
            if element != CLUSTER or in_cluster:
                raise _corrupt("Only clusters may have an unknown size")
            in_cluster, pos = True, start
            continue
        if start + child_size > file_size:
            raise _corrupt("The video is truncated")
        if element == CLUSTER and not in_cluster:
            _check_cluster(fh, start, start + child_size, counter)
        else:
            _check_element_payload(fh, element, start, child_size)
        pos = start + child_size


# --- the probe -------------------------------------------------------------------------


def _read_streams(path: str, container: str, max_seconds: float) -> tuple[VideoFacts, list[tuple[int, int]]]:
    options = {"protocol_whitelist": "file"}
    try:
        with av.open(path, format=DEMUXERS[container], options=options) as movie:
            videos = [s for s in movie.streams if s.type == "video"]
            if not videos:
                raise _corrupt("The file has no video stream")
            video = videos[0]
            codec = video.codec_context.name
            if codec not in VIDEO_CODECS:
                raise MediaRejected(f"Video codec {codec!r} is not accepted", "UNSUPPORTED_MEDIA")
            for stream in movie.streams:
                if stream.type not in ("video", "audio", "data", "subtitle"):
                    raise _foreign(f"The video holds a {stream.type} stream")
                if stream.type == "audio" and stream.codec_context.name not in AUDIO_CODECS:
                    raise MediaRejected(f"Audio codec {stream.codec_context.name!r} is not accepted", "UNSUPPORTED_MEDIA")
            declared = (movie.duration or 0) / av.time_base
            if declared > max_seconds:
                raise MediaRejected(f"A video may be at most {max_seconds:g} seconds", "MEDIA_TOO_LONG")
            samples, end, frame = [], 0.0, None
            for packet in movie.demux():
                if packet.size == 0:
                    continue  # a demuxer's end-of-stream marker
                if packet.pos is not None and packet.pos >= 0:
                    samples.append((packet.pos, packet.pos + packet.size))
                if packet.pts is not None and packet.time_base is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                    if end > max_seconds:
                        raise MediaRejected(f"A video may be at most {max_seconds:g} seconds", "MEDIA_TOO_LONG")
                if frame is None and packet.stream is video:
                    frames = packet.decode()
                    frame = frames[0] if frames else None
            if frame is None:
                for flushed in video.codec_context.decode(None):
                    frame = flushed
                    break
            if frame is None:
                raise _corrupt("No frame of the video can be decoded")
            seconds = max(declared, end)
            if seconds <= 0:
                raise _corrupt("The video has no duration")
            return VideoFacts(codec, frame.width, frame.height, seconds), samples
    except MediaRejected:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise _corrupt(f"The video cannot be played ({type(exc).__name__})") from None


def probe_video(path: str, container: str, max_seconds: float) -> VideoFacts:
    """Raise MediaRejected unless the file at `path` is a playable video and nothing else."""
    with open(path, "rb") as fh:
        head = fh.read(4096).lower()
        if any(marker in head for marker in SCRIPT_MARKERS):
            raise _foreign("The file also contains markup or script")
        fh.seek(0, 2)
        file_size = fh.tell()
        if container == "WEBM":
            _check_webm(fh, file_size)
            mdats: list[tuple[int, int]] = []
        else:
            mdats = _check_iso(fh, file_size)
        facts, samples = _read_streams(path, container, max_seconds)
        if mdats:
            _check_mdat_coverage(fh, mdats, samples)
        return facts
