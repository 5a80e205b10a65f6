"""Feedback types: satisfaction survey answers, improvements and what a member's feedback changed."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from domain.feedback.models import Improvement as ImprovementModel
from domain.feedback.models import SurveyResponse as SurveyResponseModel
from schema.common import global_id
from schema.errors import UserError

MemberRef = Annotated["Member", strawberry.lazy("schema.members")]
ReviewRef = Annotated["Review", strawberry.lazy("schema.reviews")]
QuestionRef = Annotated["Question", strawberry.lazy("schema.reviews")]


@strawberry.type
class SurveyResponse:
    id: strawberry.ID = strawberry.field(description="The answer's global ID.")
    order_external_id: str = strawberry.field(description="The order the survey asked about.")
    nps: int = strawberry.field(description="How likely to recommend us, 0 to 10.")
    csat: int = strawberry.field(description="Satisfaction with the order, 1 to 5.")
    comment: str | None = strawberry.field(description="The member's own words (up to 2,000 characters); null when none.")
    negative: bool = strawberry.field(
        description="NPS <= 6 or CSAT <= 2: in the reply queue (surveyResponses(negative: true)), feedback.negative sent.")
    created_at: dt.datetime = strawberry.field(description="When it was answered, UTC.")
    member: MemberRef = strawberry.field(description="Who answered.")

    @classmethod
    def from_model(cls, r: SurveyResponseModel, member: object) -> SurveyResponse:
        return cls(id=global_id("SurveyResponse", r.id), order_external_id=r.order_external_id, nps=r.nps,
                   csat=r.csat, comment=r.comment, negative=r.negative, created_at=r.created_at, member=member)


@strawberry.input
class SubmitSurveyResponseInput:
    token: str | None = strawberry.field(
        default=None, description="The survey link's signed token: answers as the member it was sent to, no login.")
    survey_id: strawberry.ID | None = strawberry.field(
        default=None, description="With a member token: the SATISFACTION_SURVEY message (me.messages) to answer.")
    order_external_id: str | None = strawberry.field(
        default=None, description="With a member token and no surveyId: the member's order to answer about.")
    nps: int = strawberry.field(description="How likely to recommend us to a friend, 0 to 10.")
    csat: int = strawberry.field(description="Satisfaction with the order, 1 to 5.")
    comment: str | None = strawberry.field(default=None, description="Optional, at most 2,000 characters.")


@strawberry.type
class SurveyResponsePayload:
    response: SurveyResponse | None = strawberry.field(
        description="The stored answer (on a replay, the first one); null when `errors` is not empty.")
    replayed: bool = strawberry.field(description="True when this survey was already answered: nothing changed.")
    points_awarded: int = strawberry.field(description="Points the SURVEY_COMPLETED rules awarded for this answer.")
    errors: list[UserError] = strawberry.field(description="Why nothing was stored; empty on success.")


@strawberry.type
class Improvement:
    id: strawberry.ID = strawberry.field(description="The improvement's global ID.")
    title: str = strawberry.field(description="What changed, 1 to 200 characters.")
    body: str = strawberry.field(description="The story of the change, 1 to 5,000 characters.")
    product_external_id: str = strawberry.field(description="The product that was improved.")
    created_at: dt.datetime = strawberry.field(description="When it was recorded, UTC.")

    @classmethod
    def from_model(cls, i: ImprovementModel, product_external_id: str) -> Improvement:
        return cls(id=global_id("Improvement", i.id), title=i.title, body=i.body,
                   product_external_id=product_external_id, created_at=i.created_at)


@strawberry.type
class Contribution:
    review: ReviewRef | None = strawberry.field(description="The member's review the improvement came from; null for a question.")
    question: QuestionRef | None = strawberry.field(description="The member's question it came from; null for a review.")
    improvement: Improvement = strawberry.field(description="What the brand changed thanks to it.")


@strawberry.input
class RecordImprovementInput:
    title: str = strawberry.field(description="What changed, 1 to 200 characters.")
    body: str = strawberry.field(description="The story of the change, 1 to 5,000 characters.")
    product_external_id: str = strawberry.field(description="The product that was improved.")
    review_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Reviews of this product it came from (at most 100); their authors are thanked.")
    question_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Questions about this product it came from (at most 100); their authors are thanked.")


@strawberry.type
class ImprovementPayload:
    improvement: Improvement | None = strawberry.field(description="The recorded improvement; null when `errors` is not empty.")
    errors: list[UserError] = strawberry.field(description="Why nothing was recorded; empty on success.")
