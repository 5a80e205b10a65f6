"""Photo and video uploads: type by content, limits, bombs, truncation, polyglots, serving."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from domain.catalog.service import upsert_products
from domain.reviews.models import Review, ReviewMedia
from domain.settings import reload_settings
from tests import helpers
from tests.conftest import member_token
from tests.media_samples import huge_png, jpeg, mp4, png, webm

SUBMIT = """mutation($i: SubmitReviewInput!, $media: [Upload!]) { submitReview(input: $i, media: $media) {
  review { reviewId media { mediaId kind contentType url thumbnailUrl width height status } }
  errors { field message code } } }"""
ADD = """mutation($i: ReviewRefInput!, $media: [Upload!]!) { addReviewMedia(input: $i, media: $media) {
  review { media { kind } } errors { field message code } } }"""
BODY = "Solid shoes; the photos show the colour in daylight and the sole after a month."


def media_files() -> list[str]:
    root = Path(os.environ["PATRON_MEDIA_DIR"])
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


@pytest.fixture
async def shopper():
    await upsert_products([{"external_id": "p1", "title": "Shoe"}])
    await helpers.member("m1", name="Ann Lee")
    return member_token("m1")


async def send(api, token, files: dict[str, tuple[str, bytes, str]]):
    variables = {"i": {"productExternalId": "p1", "rating": 5, "body": BODY}, "media": [None] * len(files)}
    return (await api.upload(SUBMIT, variables, {f"media.{i}": f for i, f in enumerate(files.values())}, token))["data"]["submitReview"]


async def test_photo_is_reencoded_without_gps_thumbnailed_and_served(api, client, shopper):
    before = media_files()
    result = await send(api, shopper, {"a": ("IMG_0001.JPG", jpeg(640, 480, gps=True), "image/jpeg")})
    assert result["errors"] == []
    item = result["review"]["media"][0]
    assert (item["kind"], item["contentType"], item["width"], item["height"], item["status"]) == ("PHOTO", "image/jpeg", 640, 480, "PUBLISHED")
    served = await client.get(item["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    stored = Image.open(io.BytesIO(served.content))
    assert stored.size == (640, 480) and not stored.getexif().get_ifd(0x8825) and 0x010F not in stored.getexif()
    thumb = await client.get(item["thumbnailUrl"])
    assert thumb.headers["content-type"] == "image/jpeg" and max(Image.open(io.BytesIO(thumb.content)).size) <= 400
    assert len(media_files()) == len(before) + 2


async def test_png_with_alpha_and_video_containers_are_accepted(api, client, shopper):
    result = await send(api, shopper, {"a": ("logo.png", png(), "image/png"), "b": ("clip.mp4", mp4(), "video/mp4")})
    assert result["errors"] == []
    kinds = [(m["kind"], m["contentType"]) for m in result["review"]["media"]]
    assert kinds == [("PHOTO", "image/png"), ("VIDEO", "video/mp4")]
    video = await client.get(result["review"]["media"][1]["url"])
    assert video.headers["content-type"] == "video/mp4" and video.content == mp4()
    await helpers.member("m2")
    webm_result = await send(api, member_token("m2"), {"a": ("clip.webm", webm(), "video/webm")})
    assert webm_result["errors"] == [] and webm_result["review"]["media"][0]["contentType"] == "video/webm"


def _cases() -> list[tuple[str, tuple[str, bytes, str], str]]:
    good = jpeg()
    return [
        ("png renamed .mp4", ("movie.mp4", png(), "video/mp4"), "UNSUPPORTED_MEDIA"),
        ("text called .jpg", ("photo.jpg", b"just some text, not an image at all" * 10, "image/jpeg"), "UNSUPPORTED_MEDIA"),
        ("12000x12000 image", ("big.png", huge_png(), "image/png"), "MEDIA_TOO_LARGE"),
        ("30 MB photo", ("big.jpg", b"\xff\xd8\xff\xe0" + bytes(30 * 1024 * 1024), "image/jpeg"), "MEDIA_TOO_LARGE"),
        ("truncated jpeg", ("cut.jpg", good[: len(good) // 2], "image/jpeg"), "MEDIA_CORRUPT"),
        ("jpeg + zip polyglot", ("p.jpg", good + b"PK\x03\x04" + bytes(200) + b"PK\x05\x06" + bytes(18), "image/jpeg"), "MEDIA_CORRUPT"),
        ("jpeg + html polyglot", ("p.jpg", good + b"<html><script>alert(1)</script></html>", "image/jpeg"), "MEDIA_POLYGLOT"),
        ("truncated mp4", ("cut.mp4", mp4()[:-50], "video/mp4"), "MEDIA_CORRUPT"),
        ("mp4 with data appended", ("x.mp4", mp4() + b"\x00\x00", "video/mp4"), "MEDIA_CORRUPT"),
        ("webm with data appended", ("x.webm", webm() + b"extra", "video/webm"), "MEDIA_CORRUPT"),
    ]


@pytest.mark.parametrize("name,upload,code", _cases(), ids=[c[0] for c in _cases()])
async def test_hostile_uploads_are_refused_and_nothing_is_stored(api, shopper, name, upload, code):
    before = media_files()
    result = await send(api, shopper, {"a": upload})
    assert result["review"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("media", code)], result
    assert await Review.all().count() == 0 and await ReviewMedia.all().count() == 0
    assert media_files() == before


async def test_one_bad_file_among_good_ones_stores_none_of_them(api, shopper):
    before = media_files()
    result = await send(api, shopper, {"a": ("a.jpg", jpeg(), "image/jpeg"), "b": ("b.jpg", b"nope" * 50, "image/jpeg")})
    assert result["errors"][0]["code"] == "UNSUPPORTED_MEDIA"
    assert media_files() == before and await Review.all().count() == 0


async def test_per_review_limits(api, shopper):
    eleven = {str(i): (f"{i}.jpg", jpeg(color=(i, 0, 0)), "image/jpeg") for i in range(11)}
    result = await send(api, shopper, eleven)
    assert result["errors"][0]["code"] == "MEDIA_LIMIT"
    two_videos = await send(api, shopper, {"a": ("a.mp4", mp4(), "video/mp4"), "b": ("b.mp4", mp4(), "video/mp4")})
    assert two_videos["errors"][0]["code"] == "MEDIA_LIMIT"
    assert await Review.all().count() == 0


async def test_upload_without_a_review_or_to_anothers_review(api, shopper):
    before = media_files()
    files = {"media.0": ("a.jpg", jpeg(), "image/jpeg")}
    missing = (await api.upload(ADD, {"i": {"reviewId": 999_999}, "media": [None]}, files, shopper))["data"]["addReviewMedia"]
    assert missing["errors"][0]["code"] == "REVIEW_NOT_FOUND"
    plain = await api.ok(SUBMIT, {"i": {"productExternalId": "p1", "rating": 5, "body": BODY}}, shopper)
    own = plain["submitReview"]["review"]["reviewId"]
    await helpers.member("m2")
    other = (await api.upload(ADD, {"i": {"reviewId": own}, "media": [None]}, files, member_token("m2")))["data"]["addReviewMedia"]
    assert other["errors"][0]["code"] == "NOT_ALLOWED"
    assert media_files() == before
    added = (await api.upload(ADD, {"i": {"reviewId": own}, "media": [None]}, files, shopper))["data"]["addReviewMedia"]
    assert added["review"]["media"] == [{"kind": "PHOTO"}]


async def test_media_moderated_on_its_own_and_manual_queue_setting(api, admin_token, shopper, monkeypatch):
    monkeypatch.setenv("PATRON_REVIEW_AUTO_PUBLISH", "0")
    reload_settings()
    result = await send(api, shopper, {"a": ("a.jpg", jpeg(), "image/jpeg")})
    review_id, media_id = result["review"]["reviewId"], result["review"]["media"][0]["mediaId"]
    assert result["review"]["media"][0]["status"] == "PENDING"
    page = '{ product(externalId: "p1") { reviewSummary { count withMediaCount } reviews { edges { node { media { url } } } } } }'
    assert (await api.ok(page))["product"]["reviewSummary"] == {"count": 0, "withMediaCount": 0}
    moderate = "mutation($i: ModerateInput!) { %s(input: $i) { errors { code } } }"
    await api.ok(moderate % "moderateReview", {"i": {"id": review_id, "action": "PUBLISH"}}, admin_token)
    after_review = (await api.ok(page))["product"]
    assert after_review["reviewSummary"] == {"count": 1, "withMediaCount": 0}
    assert after_review["reviews"]["edges"][0]["node"]["media"] == []
    await api.ok(moderate % "moderateReviewMedia", {"i": {"id": media_id, "action": "PUBLISH"}}, admin_token)
    published = (await api.ok(page))["product"]
    assert published["reviewSummary"] == {"count": 1, "withMediaCount": 1}
    assert len(published["reviews"]["edges"][0]["node"]["media"]) == 1
    await api.ok(moderate % "moderateReviewMedia", {"i": {"id": media_id, "action": "REJECT", "reason": "OFF_TOPIC"}}, admin_token)
    assert (await api.ok(page))["product"]["reviewSummary"] == {"count": 1, "withMediaCount": 0}
