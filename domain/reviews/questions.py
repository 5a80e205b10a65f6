"""Product questions and answers: shoppers ask, the merchant or verified buyers answer.

Questions and answers take the same moderation path as reviews.
"""

from __future__ import annotations

from domain import clock
from domain.catalog.service import get_product
from domain.db import write_transaction
from domain.errors import DomainError, InvalidInput, NotFound
from domain.events.service import record_event
from domain.members.service import get_member
from domain.reviews.models import Answer, Question
from domain.reviews.moderation import REASONS
from domain.reviews.service import _auto_status, display_name, has_purchased, log_decision


def _validate_body(body: str) -> None:
    if not body or not body.strip() or len(body) > 2000:
        raise InvalidInput("The text must be 1 to 2000 characters", "body")


async def ask(product_external_id: str, member_external_id: str, body: str) -> Question:
    _validate_body(body)
    product = await get_product(product_external_id)
    member = await get_member(member_external_id)
    status, reason, note = await _auto_status(body)
    async with write_transaction():
        question = await Question.create(
            product_id=product.id, member_id=member.id, author_name=display_name(member.name), body=body,
            status=status, reject_reason=reason, created_at=clock.now(),
        )
        await log_decision("question", question.id, status, reason, note or "automatic", "auto")
        await record_event("question.created", {"questionId": question.id, "productExternalId": product.external_id,
                                                "status": status}, member.id)
        return question


async def answer(question_id: int, body: str, member_external_id: str | None, actor: str) -> Answer:
    """member_external_id None = the merchant; a member must have bought the product."""
    _validate_body(body)
    question = await Question.get_or_none(id=question_id)
    if question is None or question.status != "published":
        raise NotFound("No such question", "questionId", code="QUESTION_NOT_FOUND")
    await question.fetch_related("product")
    if member_external_id is None:
        member, kind, name = None, "merchant", "Store"
    else:
        member = await get_member(member_external_id)
        if not await has_purchased(member.id, question.product.external_id):
            raise DomainError("Only buyers of this product can answer", "questionId", code="NOT_ALLOWED")
        kind, name = "verified_buyer", display_name(member.name)
    status, reason, note = await _auto_status(body)
    async with write_transaction():
        reply = await Answer.create(
            question_id=question.id, member_id=member.id if member else None, author_name=name,
            author_kind=kind, body=body, status=status, reject_reason=reason, created_at=clock.now(),
        )
        await log_decision("answer", reply.id, status, reason, note or "automatic", actor if kind == "merchant" else "auto")
        await record_event("question.answered", {"questionId": question.id, "answerId": reply.id,
                                                 "productExternalId": question.product.external_id,
                                                 "authorKind": kind, "status": status}, question.member_id)
        return reply


async def moderate(model: type[Question] | type[Answer], subject: str, item_id: int, publish: bool,
                   reason: str | None, actor: str) -> Question | Answer:
    if not publish and reason not in REASONS:
        raise InvalidInput(f"A reason is required to reject: one of {', '.join(REASONS)}", "reason")
    item = await model.get_or_none(id=item_id)
    if item is None:
        raise NotFound(f"No such {subject}", "id", code="QUESTION_NOT_FOUND")
    async with write_transaction():
        item.status = "published" if publish else "rejected"
        item.reject_reason = None if publish else reason
        await item.save(update_fields=["status", "reject_reason"])
        await log_decision(subject, item.id, item.status, item.reject_reason, None, actor)
        return item
