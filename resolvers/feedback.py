from __future__ import annotations

from strawberry.types import Info

from domain.feedback import improvements, surveys
from domain.feedback.models import SurveyResponse as SurveyResponseModel
from domain.members.models import Member as MemberModel
from domain.pagination import Page, PageRequest
from resolvers.common import attempt
from schema.common import parse_id
from schema.errors import bad_input
from schema.feedback import (
    Improvement,
    ImprovementPayload,
    RecordImprovementInput,
    SubmitSurveyResponseInput,
    SurveyResponse,
    SurveyResponsePayload,
)
from schema.members import Member
from schema.pagination import Connection, paginate


async def submit_survey_response(info: Info, input: SubmitSurveyResponseInput) -> SurveyResponsePayload:
    if input.token is not None:
        if input.survey_id is not None or input.order_external_id is not None:
            raise bad_input("Give token, or surveyId/orderExternalId with a member token, not both")
        work = surveys.submit(input.nps, input.csat, input.comment, token=input.token)
    else:
        if input.survey_id is not None and input.order_external_id is not None:
            raise bad_input("Give surveyId or orderExternalId, not both")
        survey_id = parse_id(input.survey_id, "Message", "surveyId") if input.survey_id is not None else None
        work = surveys.submit(input.nps, input.csat, input.comment,
                              member_external_id=info.context.viewer.member_external_id, survey_id=survey_id,
                              order_external_id=input.order_external_id)
    answer, errors = await attempt(work)
    if answer is None:
        return SurveyResponsePayload(response=None, replayed=False, points_awarded=0, errors=errors)
    member = Member.from_model(await MemberModel.get(id=answer.response.member_id))
    return SurveyResponsePayload(response=SurveyResponse.from_model(answer.response, member),
                                 replayed=answer.replayed, points_awarded=answer.points, errors=[])


async def survey_responses(info: Info, first: int | None = None, after: str | None = None,
                           negative: bool | None = None, last: int | None = None,
                           before: str | None = None) -> Connection[SurveyResponse]:
    members: dict[int, Member] = {}

    async def fetch(request: PageRequest) -> Page[SurveyResponseModel]:
        page = await surveys.responses_page(request, negative=negative)
        rows = await MemberModel.filter(id__in={r.member_id for r in page.rows})
        members.update({m.id: Member.from_model(m) for m in rows})
        return page

    tag = "Query.surveyResponses" + ("" if negative is None else f":{negative}")
    return await paginate(tag, first, after, last, before, fetch,
                          lambda r: SurveyResponse.from_model(r, members[r.member_id]))


async def record_improvement(info: Info, input: RecordImprovementInput) -> ImprovementPayload:
    review_ids = [parse_id(i, "Review", f"reviewIds.{n}") for n, i in enumerate(input.review_ids)]
    question_ids = [parse_id(i, "Question", f"questionIds.{n}") for n, i in enumerate(input.question_ids)]
    row, errors = await attempt(improvements.record(input.product_external_id, input.title, input.body, review_ids,
                                                    question_ids, info.context.viewer.actor))
    return ImprovementPayload(improvement=Improvement.from_model(row, input.product_external_id) if row else None,
                              errors=errors)
