"""Satisfaction survey answers: NPS (0-10), CSAT (1-5) and an optional comment, one per member
and order. Through the signed link of a SATISFACTION_SURVEY message (no login), or as a signed-in
member naming the survey message or the order. An answer completes the SURVEY_COMPLETED earning
activity (so a rule can pay for it); a low score records `feedback.negative` for the brand's CS
tool and puts the answer in the reply queue. Nothing here is read when review requests are
planned or sent: whether someone is asked for a review never depends on their score."""

from __future__ import annotations

from dataclasses import dataclass

from domain import clock
from domain.db import write_transaction
from domain.errors import DomainError, InvalidInput, NotFound
from domain.events.service import record_event
from domain.feedback.models import SurveyResponse
from domain.ledger.service import lock_member
from domain.members.models import Member
from domain.members.service import get_member
from domain.messaging.models import Message
from domain.messaging.render import survey_claims
from domain.orders.models import Order
from domain.pagination import NEWEST_ID, Page, PageRequest, keyset_page
from domain.rules import activities

NPS_RANGE, CSAT_RANGE = range(0, 11), range(1, 6)
MAX_COMMENT = 2000
# A detractor (NPS 0-6) or a dissatisfied customer (CSAT 1-2).
NEGATIVE_NPS, NEGATIVE_CSAT = 6, 2
ACTIVITY = "SURVEY_COMPLETED"


@dataclass(frozen=True)
class Answer:
    response: SurveyResponse
    replayed: bool
    points: int


def is_negative(nps: int, csat: int) -> bool:
    return nps <= NEGATIVE_NPS or csat <= NEGATIVE_CSAT


def _validate(nps: int, csat: int, comment: str | None) -> str | None:
    if nps not in NPS_RANGE:
        raise InvalidInput("nps must be from 0 to 10", "nps")
    if csat not in CSAT_RANGE:
        raise InvalidInput("csat must be from 1 to 5", "csat")
    if comment is not None:
        if len(comment) > MAX_COMMENT:
            raise InvalidInput(f"comment must be at most {MAX_COMMENT} characters", "comment")
        if "\x00" in comment:
            raise InvalidInput("comment must not contain NUL characters", "comment")
        comment = comment.strip() or None
    return comment


async def _by_token(token: str) -> tuple[Member, str]:
    found = survey_claims(token, clock.now())
    member = await Member.get_or_none(id=found[0]) if found else None
    if found is None or member is None:
        raise DomainError("This survey link is invalid or has expired", "token", code="INVALID")
    return member, found[1]


async def _by_member(member_external_id: str, survey_id: int | None, order_external_id: str | None) -> tuple[Member, str]:
    member = await get_member(member_external_id)
    if survey_id is not None:
        message = await Message.get_or_none(id=survey_id, member_id=member.id, type="SATISFACTION_SURVEY")
        if message is None or message.order_external_id is None:
            raise NotFound("No such survey of yours", "surveyId")
        return member, message.order_external_id
    if order_external_id is None:
        raise InvalidInput("Give surveyId or orderExternalId", "orderExternalId")
    if not await Order.exists(external_id=order_external_id, member_id=member.id):
        raise NotFound("No such order of yours", "orderExternalId", code="ORDER_NOT_FOUND")
    return member, order_external_id


async def submit(nps: int, csat: int, comment: str | None, *, token: str | None = None,
                 member_external_id: str | None = None, survey_id: int | None = None,
                 order_external_id: str | None = None) -> Answer:
    """Store the answer (a replay answers the first one, `replayed`, and changes nothing)."""
    comment = _validate(nps, csat, comment)
    if token is not None:
        member, order = await _by_token(token)
        via = "link"
    else:
        assert member_external_id is not None
        member, order = await _by_member(member_external_id, survey_id, order_external_id)
        via = "member"
    async with write_transaction():
        member = await lock_member(member.id)
        if member.anonymized_at:
            raise DomainError("Member is anonymized", "token" if token is not None else None, code="MEMBER_ANONYMIZED")
        existing = await SurveyResponse.get_or_none(member_id=member.id, order_external_id=order)
        if existing is not None:
            return Answer(existing, True, 0)
        negative = is_negative(nps, csat)
        response = await SurveyResponse.create(member_id=member.id, order_external_id=order, nps=nps, csat=csat,
                                               comment=comment, negative=negative, via=via, created_at=clock.now())
        points = await activities.complete(member, ACTIVITY, f"survey:{order}")
        if negative:
            await record_event("feedback.negative", {
                "surveyResponseId": response.id, "memberExternalId": member.external_id, "orderExternalId": order,
                "nps": nps, "csat": csat, "comment": comment,
            }, member.id)
        return Answer(response, False, points)


async def responses_page(request: PageRequest, negative: bool | None = None,
                         member_id: int | None = None) -> Page[SurveyResponse]:
    """Newest first; `negative` alone is the reply queue."""
    qs = SurveyResponse.all()
    if negative is not None:
        qs = qs.filter(negative=negative)
    if member_id is not None:
        qs = qs.filter(member_id=member_id)
    return await keyset_page(qs, NEWEST_ID, request)
