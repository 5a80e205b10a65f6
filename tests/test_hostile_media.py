"""Hostile media (issue 9): video polyglots, CPU budgets, metadata that survived
re-encoding, what /media serves and with which headers, and media bonuses on rejection."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from domain import clock
from domain.ledger.models import LedgerEntry
from domain.reviews.models import Review, ReviewMedia
from domain.reviews.upload_budget import MediaRejected, UploadBudget, run_limited
from domain.rules.service import save_rule
from domain.settings import reload_settings
from tests import helpers
from tests import media_samples as samples
from tests.test_review_media import media_files, send, shopper  # noqa: F401 - fixture

MODERATE = "mutation($i: ModerateInput!) { %s(input: $i) { errors { code } } }"
MARKER = b"PATRON-SECRET-MARKER-7f3a"


def _rows_and_files_unchanged(before: list[str]) -> None:
    assert media_files() == before
    assert not [name for name in os.listdir(os.environ["PATRON_MEDIA_DIR"]) if name.startswith(".upload-")]


# --- videos: only a playable video, and nothing riding along -----------------------------


def _video_polyglots() -> list[tuple[str, tuple[str, bytes, str], str]]:
    return [
        ("webm unknown-size segment + html + zip",
         ("clip.webm", samples.webm_unknown_size_segment(samples.HTML + samples.ZIP), "video/webm"), "MEDIA_POLYGLOT"),
        ("webm unknown-size segment + zip",
         ("clip.webm", samples.webm_unknown_size_segment(samples.ZIP), "video/webm"), "MEDIA_POLYGLOT"),
        ("mp4 with a zip in a final free box",
         ("clip.mp4", samples.mp4_with_final_free_box(samples.ZIP), "video/mp4"), "MEDIA_POLYGLOT"),
        ("mp4 with html after the first 4 KB",
         ("clip.mp4", samples.mp4_with_html_after_4k(), "video/mp4"), "MEDIA_POLYGLOT"),
        ("mp4 with html in the file type box",
         ("clip.mp4", samples.mp4_with_html_in_file_type_box(), "video/mp4"), "MEDIA_CORRUPT"),
        ("mp4 with a zip inside mdat that no frame uses",
         ("clip.mp4", samples.mp4_with_data_inside_mdat(samples.ZIP), "video/mp4"), "MEDIA_POLYGLOT"),
        ("empty moov and an arbitrary box",
         ("clip.mp4", samples.mp4_with_empty_moov_and_arbitrary_box(), "video/mp4"), "MEDIA_POLYGLOT"),
        ("empty moov, a zip as media data",
         ("clip.mp4", samples.mp4_with_empty_moov_and_zip_mdat(), "video/mp4"), "MEDIA_CORRUPT"),
        ("300,000 boxes of 8 bytes",
         ("clip.mp4", samples.mp4_of_tiny_boxes(300_000), "video/mp4"), "MEDIA_CORRUPT"),
    ]


@pytest.mark.parametrize("name,upload,code", _video_polyglots(), ids=[c[0] for c in _video_polyglots()])
async def test_video_polyglots_are_refused_and_nothing_is_stored(api, shopper, name, upload, code):  # noqa: F811
    # given a file that players accept but that carries something else
    before = media_files()
    # when it is uploaded with a review
    result = await send(api, shopper, {"a": upload})
    # then it is refused with a code, and no review, row or file remains
    assert result["review"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("media", code)], result
    assert await Review.all().count() == 0 and await ReviewMedia.all().count() == 0
    _rows_and_files_unchanged(before)


@pytest.mark.parametrize("container,codec,name,content_type", [
    ("mp4", "mpeg4", "clip.mp4", "video/mp4"),
    ("mp4", "libx264", "clip.mp4", "video/mp4"),
    ("mov", "libx264", "clip.mov", "video/quicktime"),
    ("webm", "vp8", "clip.webm", "video/webm"),
    ("webm", "libvpx-vp9", "clip.webm", "video/webm"),
])
async def test_genuine_videos_are_accepted_and_served_as_sent(api, client, shopper, container, codec, name, content_type):  # noqa: F811
    # given a real one-second 64x48 video encoded by FFmpeg
    data = samples.video(container, codec)
    # when it is uploaded
    result = await send(api, shopper, {"a": (name, data, content_type)})
    # then it is stored as sent, with the size the probe read
    assert result["errors"] == []
    item = result["review"]["media"][0]
    assert (item["kind"], item["contentType"], item["width"], item["height"]) == ("VIDEO", content_type, 64, 48)
    served = await client.get(item["url"])
    assert served.status_code == 200 and served.content == data


async def test_browser_recording_with_unknown_sizes_is_accepted(api, shopper):  # noqa: F811
    # given a WebM whose Segment and Cluster sizes are "unknown", as MediaRecorder writes them
    data = samples.webm_unknown_sizes()
    # when it is uploaded, then it is accepted: every element up to the end parses
    result = await send(api, shopper, {"a": ("rec.webm", data, "video/webm")})
    assert result["errors"] == [] and result["review"]["media"][0]["contentType"] == "video/webm"


async def test_a_video_longer_than_the_limit_is_refused(api, shopper, monkeypatch):  # noqa: F811
    # given a 2-second limit and a 3-second video
    monkeypatch.setenv("PATRON_VIDEO_MAX_SECONDS", "2")
    reload_settings()
    before = media_files()
    result = await send(api, shopper, {"a": ("long.mp4", samples.video("mp4", "mpeg4", frames=30), "video/mp4")})
    # then it is refused as too long
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("media", "MEDIA_TOO_LONG")]
    _rows_and_files_unchanged(before)
    # and a 2-second one passes
    ok = await send(api, shopper, {"a": ("ok.mp4", samples.video("mp4", "mpeg4", frames=20), "video/mp4")})
    assert ok["errors"] == []


async def test_a_video_without_a_browser_codec_is_refused(api, shopper):  # noqa: F811
    before = media_files()
    result = await send(api, shopper, {"a": ("mj.mp4", samples.video("mp4", "mjpeg", pix_fmt="yuvj420p"), "video/mp4")})
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("media", "UNSUPPORTED_MEDIA")]
    _rows_and_files_unchanged(before)


# --- the per-request budget ---------------------------------------------------------------


async def test_photos_past_the_request_pixel_budget_are_refused_and_none_kept(api, shopper, monkeypatch):  # noqa: F811
    # given a budget of 5,000 decoded pixels per request and two 64x48 (3,072-pixel) photos
    monkeypatch.setenv("PATRON_UPLOAD_PIXELS_PER_REQUEST", "5000")
    reload_settings()
    before = media_files()
    two = {"a": ("a.jpg", samples.jpeg(), "image/jpeg"), "b": ("b.jpg", samples.jpeg(color=(1, 2, 3)), "image/jpeg")}
    # when both come in one request
    result = await send(api, shopper, two)
    # then the second is refused with a code and the first is not kept either
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("media", "MEDIA_BUDGET_EXCEEDED")]
    assert await ReviewMedia.all().count() == 0
    _rows_and_files_unchanged(before)
    # and one photo alone fits
    assert (await send(api, shopper, {"a": two["a"]}))["errors"] == []


async def test_a_request_out_of_time_budget_is_refused(api, shopper, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PATRON_UPLOAD_SECONDS_PER_REQUEST", "0")
    reload_settings()
    before = media_files()
    result = await send(api, shopper, {"a": ("a.jpg", samples.jpeg(), "image/jpeg")})
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("media", "MEDIA_BUDGET_EXCEEDED")]
    _rows_and_files_unchanged(before)


def test_a_check_that_burns_cpu_is_killed_and_the_next_one_runs():
    # given a task that never ends and a one-second budget
    with pytest.raises(MediaRejected) as refused:
        run_limited(samples.burn_cpu, (), UploadBudget(seconds=1, pixels=0))
    # then it is stopped with a typed refusal, and the worker pool still serves the next task
    assert refused.value.code == "MEDIA_BUDGET_EXCEEDED"
    assert run_limited(samples.answer, (), UploadBudget(seconds=30, pixels=0)) == 42


# --- photos: nothing of the original file's metadata survives ----------------------------


async def test_jpeg_comment_is_not_kept(api, client, shopper):  # noqa: F811
    # given a JPEG with a COM segment holding a marker
    data = samples.jpeg(320, 240, comment=MARKER)
    assert MARKER in data
    # when it is uploaded
    item = (await send(api, shopper, {"a": ("c.jpg", data, "image/jpeg")}))["review"]["media"][0]
    # then neither the photo nor its thumbnail carries the marker or a comment
    for url in (item["url"], item["thumbnailUrl"]):
        stored = (await client.get(url)).content
        assert MARKER not in stored and b"\xff\xfe" not in stored.split(b"\xff\xda")[0]
        assert "comment" not in Image.open(io.BytesIO(stored)).info


async def test_png_icc_profile_and_text_chunks_are_not_kept(api, client, shopper):  # noqa: F811
    # given a PNG with an iCCP chunk (an sRGB profile with trailing marker bytes) and text chunks
    data = samples.png_with_metadata(MARKER)
    source = Image.open(io.BytesIO(data))
    assert {"icc_profile", "Comment", "Description"} <= set(source.info)
    # when it is uploaded
    item = (await send(api, shopper, {"a": ("m.png", data, "image/png")}))["review"]["media"][0]
    assert (item["contentType"], item["width"], item["height"]) == ("image/jpeg", 40, 30)
    # then the stored bytes hold no marker and no ICC/EXIF/XMP/text, and the colour is kept
    for url in (item["url"], item["thumbnailUrl"]):
        stored = (await client.get(url)).content
        assert MARKER not in stored
        image = Image.open(io.BytesIO(stored))
        assert not {"icc_profile", "exif", "xmp", "comment", "Comment", "Description"} & set(image.info)
    pixel = Image.open(io.BytesIO((await client.get(item["url"])).content)).convert("RGB").getpixel((20, 15))
    assert all(abs(a - b) <= 3 for a, b in zip(pixel, (10, 120, 200), strict=True))


async def test_png_with_alpha_is_stored_without_its_text_chunks(api, client, shopper):  # noqa: F811
    data = samples.png_with_metadata(MARKER, mode="RGBA")
    item = (await send(api, shopper, {"a": ("a.png", data, "image/png")}))["review"]["media"][0]
    stored = (await client.get(item["url"])).content
    assert item["contentType"] == "image/png" and MARKER not in stored
    assert b"iCCP" not in stored and b"tEXt" not in stored and b"iTXt" not in stored


# --- /media: only what may be shown, with safe headers -----------------------------------


async def _photo_review(api, token):
    result = await send(api, token, {"a": ("a.jpg", samples.jpeg(), "image/jpeg")})
    review = result["review"]
    return review["reviewId"], review["media"][0]


def _urls(item) -> list[str]:
    """The public URLs (a product page's), without the preview token the author's payload has."""
    return [item["url"].split("?")[0], item["thumbnailUrl"].split("?")[0]]


async def test_media_responses_forbid_sniffing_and_active_content(api, client, shopper):  # noqa: F811
    _, item = await _photo_review(api, shopper)
    for response in (await client.get(_urls(item)[0]), await client.get(item["url"]), await client.get("/media/" + "0" * 32 + ".jpg")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'; sandbox"
    assert (await client.get(_urls(item)[0])).status_code == 200


async def test_rejected_media_is_no_longer_served(api, client, admin_token, shopper):  # noqa: F811
    # given a published photo
    _, item = await _photo_review(api, shopper)
    assert [(await client.get(u)).status_code for u in _urls(item)] == [200, 200]
    # when a moderator rejects it
    await api.ok(MODERATE % "moderateReviewMedia", {"i": {"id": item["mediaId"], "action": "REJECT", "reason": "OFF_TOPIC"}}, admin_token)
    # then neither the photo nor its thumbnail is served
    assert [(await client.get(u)).status_code for u in _urls(item)] == [404, 404]
    # and publishing it again brings it back
    await api.ok(MODERATE % "moderateReviewMedia", {"i": {"id": item["mediaId"], "action": "PUBLISH"}}, admin_token)
    assert [(await client.get(u)).status_code for u in _urls(item)] == [200, 200]


async def test_media_of_rejected_or_deleted_reviews_is_not_served(api, client, admin_token, shopper):  # noqa: F811
    review_id, item = await _photo_review(api, shopper)
    await api.ok(MODERATE % "moderateReview", {"i": {"id": review_id, "action": "REJECT", "reason": "SPAM"}}, admin_token)
    assert [(await client.get(u)).status_code for u in _urls(item)] == [404, 404]
    await api.ok(MODERATE % "moderateReview", {"i": {"id": review_id, "action": "PUBLISH"}}, admin_token)
    assert (await client.get(_urls(item)[0])).status_code == 200
    delete = "mutation($i: ReviewRefInput!) { deleteReview(input: $i) { errors { code } } }"
    await api.ok(delete, {"i": {"reviewId": review_id}}, shopper)
    assert [(await client.get(u)).status_code for u in _urls(item)] == [404, 404]
    # and deletion is real: the files are gone from disk
    assert not {u.rsplit("/", 1)[1] for u in _urls(item)} & set(media_files())


async def test_media_of_an_anonymized_member_is_not_served(api, client, admin_token, shopper):  # noqa: F811
    _, item = await _photo_review(api, shopper)
    anonymize = 'mutation { anonymizeMember(input: {memberExternalId: "m1"}) { errors { code } } }'
    assert (await api.ok(anonymize, token=admin_token))["anonymizeMember"]["errors"] == []
    assert [(await client.get(u)).status_code for u in _urls(item)] == [404, 404]


async def test_pending_media_and_stray_files_are_not_served(api, client, shopper, monkeypatch):  # noqa: F811
    # given the manual moderation queue: a new photo waits
    monkeypatch.setenv("PATRON_REVIEW_AUTO_PUBLISH", "0")
    reload_settings()
    _, item = await _photo_review(api, shopper)
    assert item["status"] == "PENDING"
    assert [(await client.get(u)).status_code for u in _urls(item)] == [404, 404]
    # the author's (and a moderator's) URL carries a preview token: it shows the file, privately
    assert "?preview=" in item["url"] and "?preview=" in item["thumbnailUrl"]
    preview = await client.get(item["url"])
    assert (preview.status_code, preview.headers["cache-control"]) == (200, "private, no-store")
    assert preview.headers["x-content-type-options"] == "nosniff"
    # a token is for one file, cannot be altered, and expires
    token = item["url"].split("?preview=")[1]
    other_name = item["thumbnailUrl"].split("?")[0]
    assert (await client.get(f"{other_name}?preview={token}")).status_code == 404
    assert (await client.get(item["url"][:-3] + "AAA")).status_code == 404
    clock.set_now(clock.now() + timedelta(hours=2))
    assert (await client.get(item["url"])).status_code == 404
    # a file on disk that no media row names, and names outside the pattern, are not served
    stray = "ab" * 16 + ".jpg"
    (Path(os.environ["PATRON_MEDIA_DIR"]) / stray).write_bytes(samples.jpeg())
    try:
        for path in (f"/media/{stray}", "/media/..%2Fserver.py", "/media/.upload-x", "/media/x.html"):
            assert (await client.get(path)).status_code == 404, path
    finally:
        (Path(os.environ["PATRON_MEDIA_DIR"]) / stray).unlink()


# --- points: a rejected photo or video takes its bonus back ------------------------------


async def _bonus_rules(pending_days: int | None = None) -> None:
    extra = {} if pending_days is None else {"pending_days": pending_days}
    await save_rule(None, {"name": "Review", "type": "REVIEW_PUBLISHED", "points": 10})
    await save_rule(None, {"name": "Photo", "type": "PHOTO_REVIEW", "points": 50} | extra)
    await save_rule(None, {"name": "Video", "type": "VIDEO_REVIEW", "points": 100})


async def test_rejecting_media_reverses_its_bonus_once_none_of_its_kind_remains(api, admin_token, shopper):  # noqa: F811
    # given a review with two photos and a video, rewarded 10 + 50 + 100
    await _bonus_rules()
    files = {"a": ("a.jpg", samples.jpeg(), "image/jpeg"), "b": ("b.jpg", samples.jpeg(color=(0, 90, 0)), "image/jpeg"),
             "c": ("c.mp4", samples.mp4(), "video/mp4")}
    media = (await send(api, shopper, files))["review"]["media"]
    assert (await helpers.assert_no_drift()).points_balance == 160
    reject = {"action": "REJECT", "reason": "OFF_TOPIC"}
    # when one photo is rejected, a published photo remains: nothing changes
    await api.ok(MODERATE % "moderateReviewMedia", {"i": {"id": media[0]["mediaId"]} | reject}, admin_token)
    assert (await helpers.assert_no_drift()).points_balance == 160
    # when the other photo is rejected, the photo bonus is reversed
    await api.ok(MODERATE % "moderateReviewMedia", {"i": {"id": media[1]["mediaId"]} | reject}, admin_token)
    assert (await helpers.assert_no_drift()).points_balance == 110
    # when the video is rejected, the video bonus is reversed; the review's own award stays
    await api.ok(MODERATE % "moderateReviewMedia", {"i": {"id": media[2]["mediaId"]} | reject}, admin_token)
    member = await helpers.assert_no_drift()
    assert member.points_balance == 10
    reversals = await LedgerEntry.filter(member_id=member.id, kind="reverse").order_by("id").values_list("amount", "reason")
    assert reversals == [(-50, f"Reversed: media rejected {media[1]['mediaId']}"),
                         (-100, f"Reversed: media rejected {media[2]['mediaId']}")]
    # and rejecting again changes nothing
    await api.ok(MODERATE % "moderateReviewMedia", {"i": {"id": media[2]["mediaId"]} | reject}, admin_token)
    assert (await helpers.assert_no_drift()).points_balance == 10


async def test_rejecting_a_photo_cancels_its_pending_bonus(api, admin_token, shopper):  # noqa: F811
    # given a photo bonus held for 7 days
    await _bonus_rules(pending_days=7)
    media = (await send(api, shopper, {"a": ("a.jpg", samples.jpeg(), "image/jpeg")}))["review"]["media"]
    member = await helpers.assert_no_drift()
    assert (member.points_balance, member.points_pending) == (10, 50)
    # when the photo is rejected, the pending bonus is cancelled
    await api.ok(MODERATE % "moderateReviewMedia", {"i": {"id": media[0]["mediaId"], "action": "REJECT", "reason": "SPAM"}}, admin_token)
    member = await helpers.assert_no_drift()
    assert (member.points_balance, member.points_pending) == (10, 0)
