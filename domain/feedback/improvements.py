"""The closed feedback loop: an admin records an improvement to a product and links the reviews
and questions it came from; the product page lists it, each author sees it in `me {
contributions }`, and each author who holds the FEEDBACK_THANKS consent purpose is thanked once
per improvement ("thanks to your feedback we improved …")."""

from __future__ import annotations

from domain import clock
from domain.catalog.models import Product
from domain.db import write_transaction
from domain.errors import InvalidInput, NotFound
from domain.feedback.models import Improvement, ImprovementLink
from domain.members.models import Member
from domain.messaging import planning
from domain.reviews.models import Question, Review

MAX_TITLE, MAX_BODY, MAX_LINKS = 200, 5000, 100


def _text(value: str, limit: int, field: str) -> str:
    value = value.strip()
    if not value or len(value) > limit or "\x00" in value:
        raise InvalidInput(f"{field} must be 1 to {limit} characters", field)
    return value


async def _linked(model: type[Review] | type[Question], ids: list[int], product: Product, field: str) -> list:
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_LINKS:
        raise InvalidInput(f"Give at most {MAX_LINKS} {field}", field)
    rows = {r.id: r for r in await model.filter(id__in=ids).exclude(status="deleted")}
    for id_ in ids:
        row = rows.get(id_)
        if row is None:
            raise NotFound(f"No such {model.__name__.lower()} {id_}", field,
                           code="REVIEW_NOT_FOUND" if model is Review else "QUESTION_NOT_FOUND")
        if row.product_id != product.id:
            raise InvalidInput(f"{model.__name__} {id_} is about another product", field)
    return [rows[i] for i in ids]


async def record(product_external_id: str, title: str, body: str, review_ids: list[int], question_ids: list[int],
                 actor: str) -> Improvement:
    title = _text(title, MAX_TITLE, "title")
    body = _text(body, MAX_BODY, "body")
    product = await Product.get_or_none(external_id=product_external_id)
    if product is None:
        raise NotFound("No such product", "productExternalId", code="PRODUCT_NOT_FOUND")
    reviews = await _linked(Review, review_ids, product, "reviewIds")
    questions = await _linked(Question, question_ids, product, "questionIds")
    async with write_transaction():
        improvement = await Improvement.create(product_id=product.id, title=title, body=body, created_by=actor[:64],
                                               created_at=clock.now())
        for review in reviews:
            await ImprovementLink.create(improvement_id=improvement.id, review_id=review.id, member_id=review.member_id)
        for question in questions:
            await ImprovementLink.create(improvement_id=improvement.id, question_id=question.id,
                                         member_id=question.member_id)
        authors = list(dict.fromkeys(r.member_id for r in [*reviews, *questions] if r.member_id is not None))
        for member in await Member.filter(id__in=authors).order_by("id"):
            await planning.plan_thanks(improvement, member, product.external_id)
        return improvement


async def of_product(product_id: int, limit: int = 50) -> list[Improvement]:
    """The product's improvements, newest first (the product page shows the latest 50)."""
    return await Improvement.filter(product_id=product_id).order_by("-id").limit(limit)


async def contributions(member_id: int) -> list[ImprovementLink]:
    """What the member's reviews and questions changed, newest first."""
    return await (ImprovementLink.filter(member_id=member_id).order_by("-id")
                  .prefetch_related("improvement__product", "review", "question"))
