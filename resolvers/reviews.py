from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from domain.errors import InvalidInput
from domain.reviews import media as media_files
from domain.reviews import queries, questions, service
from domain.reviews.models import Answer as AnswerModel
from domain.reviews.models import ModerationDecision as DecisionModel
from domain.reviews.models import Question as QuestionModel
from domain.reviews.models import Review as ReviewModel
from resolvers.common import attempt, target_external_id, user_error
from schema.common import decode_global_id, parse_id
from schema.errors import bad_input
from schema.pagination import Connection, paginate
from schema.reviews import (
    Answer,
    AnswerPayload,
    AnswerQuestionInput,
    AskQuestionInput,
    EditReviewInput,
    FollowUpAnswerInput,
    FollowUpQuestionInput,
    FollowUpQuestionPayload,
    ImportReviewInput,
    ModerateInput,
    ModerationAction,
    ModerationDecision,
    MODERATION_SUBJECTS,
    ModerationStatus,
    Question,
    QuestionPayload,
    ReplyInput,
    ReportReviewInput,
    Review,
    ReviewPayload,
    ReviewRefInput,
    ReviewsPayload,
    SkippedImport,
    SubmitReviewInput,
    VoteInput,
)

MAX_UPLOADS = 11


async def _store_uploads(uploads: list[Upload] | None) -> list[media_files.StoredMedia]:
    """Check and store every upload; if one fails, remove those already written."""
    if not uploads:
        return []
    if len(uploads) > MAX_UPLOADS:
        raise InvalidInput(f"At most {MAX_UPLOADS} files per call", "media")
    stored: list[media_files.StoredMedia] = []
    budget = media_files.new_budget()  # shared by every file of this request
    try:
        for upload in uploads:
            data, kind, container = await asyncio.to_thread(
                media_files.read_limited, upload.file, upload.filename, upload.content_type)
            stored.append(await asyncio.to_thread(media_files.check_and_store, data, kind, container, budget))
    except Exception:
        for item in stored:
            media_files.remove(item)
        raise
    return stored


async def _with_media(uploads: list[Upload] | None, work) -> ReviewModel:  # noqa: ANN001
    """Store files, run the domain call, and remove the files again if it fails."""
    stored = await _store_uploads(uploads)
    try:
        return await work(stored)
    except Exception:
        for item in stored:
            media_files.remove(item)
        raise


def _payload(review: ReviewModel | None, errors) -> ReviewPayload:  # noqa: ANN001
    return ReviewPayload(review=Review.from_model(review, public=False) if review else None, errors=errors)


def _author(info: Info, given: str | None) -> str | None:
    """The author a call acts for: own member, a storefront's named member, or None (admin)."""
    viewer = info.context.viewer
    if viewer.role == "admin" and not given:
        return None
    return target_external_id(info, given)


async def submit_review(info: Info, input: SubmitReviewInput, media: list[Upload] | None = None) -> ReviewPayload:
    requested = input.request_token is not None
    if requested:
        if input.member_external_id is not None:
            raise bad_input("Give requestToken or memberExternalId, not both")
        member, errors = await attempt(service.request_token_member(input.request_token, input.product_external_id))
        if member is None:
            return _payload(None, errors)
    else:
        member = target_external_id(info, input.member_external_id)
    attributes = input.attributes if isinstance(input.attributes, dict) or input.attributes is None else None
    if input.attributes is not None and attributes is None:
        return _payload(None, [user_error(InvalidInput("attributes must be an object", "attributes"))])

    async def work(stored):  # noqa: ANN001, ANN202
        return await service.submit_review(member, input.product_external_id, input.rating, input.title,
                                           input.body, attributes, stored,
                                           f"member:{member}" if requested else info.context.viewer.actor, requested)

    return _payload(*await attempt(_with_media(media, work)))


def _review_id(input: EditReviewInput | ReviewRefInput | ReportReviewInput | ReplyInput | VoteInput
               | FollowUpAnswerInput) -> int:
    return parse_id(input.review_id, "Review", "reviewId")


async def edit_review(info: Info, input: EditReviewInput) -> ReviewPayload:
    member = target_external_id(info, input.member_external_id)
    review_id = _review_id(input)
    if input.attributes is not None and not isinstance(input.attributes, dict):
        return _payload(None, [user_error(InvalidInput("attributes must be an object", "attributes"))])
    return _payload(*await attempt(service.edit_review(
        review_id, member, input.rating, input.title, input.body, input.attributes, info.context.viewer.actor)))


async def delete_review(info: Info, input: ReviewRefInput) -> ReviewPayload:
    review_id = _review_id(input)
    return _payload(*await attempt(service.delete_review(
        review_id, _author(info, input.member_external_id), info.context.viewer.actor)))


async def add_review_media(info: Info, input: ReviewRefInput, media: list[Upload]) -> ReviewPayload:
    author = _author(info, input.member_external_id)
    review_id = _review_id(input)

    async def work(stored):  # noqa: ANN001, ANN202
        return await service.add_media(review_id, author, stored, info.context.viewer.actor)

    return _payload(*await attempt(_with_media(media, work)))


def _reason(input: ModerateInput) -> str | None:
    return input.reason.value if input.reason else None


async def moderate_review(info: Info, input: ModerateInput) -> ReviewPayload:
    publish = input.action == ModerationAction.PUBLISH
    return _payload(*await attempt(service.moderate_review(
        parse_id(input.id, "Review", "id"), publish, _reason(input), input.note, info.context.viewer.actor)))


async def moderate_review_media(info: Info, input: ModerateInput) -> ReviewPayload:
    publish = input.action == ModerationAction.PUBLISH
    return _payload(*await attempt(service.moderate_media(parse_id(input.id, "ReviewMedia", "id"), publish, _reason(input), info.context.viewer.actor)))


async def report_review(info: Info, input: ReportReviewInput) -> ReviewPayload:
    reporter = target_external_id(info, input.member_external_id)
    review, errors = await attempt(service.report_review(_review_id(input), reporter, input.reason.value, input.comment))
    # Shoppers learn only that the report was taken, not the review's new state.
    return ReviewPayload(review=None, errors=errors)


async def reply_to_review(info: Info, input: ReplyInput) -> ReviewPayload:
    return _payload(*await attempt(service.reply(_review_id(input), input.body, info.context.viewer.actor)))


async def vote_review(info: Info, input: VoteInput) -> ReviewPayload:
    member = target_external_id(info, input.member_external_id)
    review, errors = await attempt(service.vote(_review_id(input), member, input.helpful))
    return ReviewPayload(review=Review.from_model(review) if review else None, errors=errors)


async def answer_follow_up(info: Info, input: FollowUpAnswerInput) -> ReviewPayload:
    member = target_external_id(info, input.member_external_id)
    return _payload(*await attempt(service.answer_follow_up(_review_id(input), member, input.answer)))


async def set_follow_up_question(info: Info, input: FollowUpQuestionInput) -> FollowUpQuestionPayload:
    row, errors = await attempt(service.set_follow_up_question(input.category, input.question))
    return FollowUpQuestionPayload(category=row.category if row else None, question=row.question if row else None,
                                   errors=errors)


async def import_reviews(info: Info, input: list[ImportReviewInput]) -> ReviewsPayload:
    if not input or len(input) > 100:
        return ReviewsPayload(reviews=[], skipped=[],
                              errors=[user_error(InvalidInput("Send 1 to 100 reviews per call", "input"))])
    imported, skipped, errors = [], [], []
    for i, item in enumerate(input):
        result, errs = await attempt(service.import_review(
            item.external_id, item.product_external_id, item.rating, item.title, item.body, item.author_name,
            item.created_at, info.context.viewer.actor))
        if result and result.created:
            imported.append(Review.from_model(result.review, public=False))
        elif result:
            skipped.append(SkippedImport(index=i, external_id=item.external_id,
                                         review=Review.from_model(result.review, public=False)))
        for e in errs:
            e.field = f"input.{i}.{e.field}" if e.field else f"input.{i}"
            errors.append(e)
    return ReviewsPayload(reviews=imported, skipped=skipped, errors=errors)


async def ask_question(info: Info, input: AskQuestionInput) -> QuestionPayload:
    member = target_external_id(info, input.member_external_id)
    row, errors = await attempt(questions.ask(input.product_external_id, member, input.body))
    return QuestionPayload(question=Question.from_model(row) if row else None, errors=errors)


async def answer_question(info: Info, input: AnswerQuestionInput) -> AnswerPayload:
    member = _author(info, input.member_external_id)
    row, errors = await attempt(questions.answer(parse_id(input.question_id, "Question", "questionId"), input.body, member, info.context.viewer.actor))
    return AnswerPayload(answer=Answer.from_model(row) if row else None, errors=errors)


async def moderate_question(info: Info, input: ModerateInput) -> QuestionPayload:
    publish = input.action == ModerationAction.PUBLISH
    row, errors = await attempt(questions.moderate(QuestionModel, "question", parse_id(input.id, "Question", "id"), publish, _reason(input),
                                                   info.context.viewer.actor))
    return QuestionPayload(question=Question.from_model(row) if row else None, errors=errors)


async def moderate_answer(info: Info, input: ModerateInput) -> AnswerPayload:
    publish = input.action == ModerationAction.PUBLISH
    row, errors = await attempt(questions.moderate(AnswerModel, "answer", parse_id(input.id, "Answer", "id"), publish, _reason(input),
                                                   info.context.viewer.actor))
    return AnswerPayload(answer=Answer.from_model(row) if row else None, errors=errors)


async def review_moderation_queue(
    info: Info, first: int | None = None, after: str | None = None, status: ModerationStatus | None = None,
    last: int | None = None, before: str | None = None,
    rating: Annotated[int | None, strawberry.argument(description="Only reviews with this many stars (1 to 5).")] = None,
    with_media: Annotated[bool | None, strawberry.argument(
        description="True: only reviews with photos or videos (pending or published); false: only without.")] = None,
    product_external_id: Annotated[str | None, strawberry.argument(
        description="Only reviews of this product (the commerce platform's id).")] = None,
) -> Connection[Review]:
    """Without a status: everything waiting for a moderator (held, or reported while published)."""
    if rating is not None and not 1 <= rating <= 5:
        raise bad_input("rating must be 1 to 5")
    if product_external_id is not None and not 1 <= len(product_external_id) <= 255:
        raise bad_input("productExternalId must be 1 to 255 characters")
    return await paginate("Query.reviewModerationQueue", first, after, last, before,
                          lambda req: queries.moderation_queue(req, status.value if status else None, rating,
                                                               with_media, product_external_id),
                          _private_review)


async def question_moderation_queue(
    info: Info, first: int | None = None, after: str | None = None,
    last: int | None = None, before: str | None = None,
) -> Connection[Question]:
    return await paginate("Query.questionModerationQueue", first, after, last, before, queries.question_queue,
                          Question.from_model)


async def answer_moderation_queue(
    info: Info, first: int | None = None, after: str | None = None,
    last: int | None = None, before: str | None = None,
) -> Connection[Answer]:
    return await paginate("Query.answerModerationQueue", first, after, last, before, queries.answer_queue,
                          Answer.from_model)


async def reviews_awaiting_reply(
    info: Info, first: int | None = None, after: str | None = None, overdue: bool | None = None,
    last: int | None = None, before: str | None = None,
) -> Connection[Review]:
    return await paginate("Query.reviewsAwaitingReply", first, after, last, before,
                          lambda req: queries.awaiting_reply(req, overdue), _private_review)


def _private_review(row: ReviewModel) -> Review:
    return Review.from_model(row, public=False)


def _moderation_subject(subject_type: str | None, subject_id: str) -> tuple[str, int]:
    """(subject kind, primary key): a global ID names its own type (subjectType, if given, must
    agree); a legacy integer id needs subjectType."""
    decoded = decode_global_id(subject_id)
    if decoded is not None and decoded[0] in MODERATION_SUBJECTS.values():
        kind = next(k for k, name in MODERATION_SUBJECTS.items() if name == decoded[0])
        if subject_type is not None and subject_type != kind:
            raise bad_input(f"subjectType {subject_type} does not match subjectId, the ID of a {decoded[0]}")
    elif subject_type in MODERATION_SUBJECTS:
        kind = subject_type
    elif subject_type is None:
        raise bad_input("subjectId must be the ID of a Review, ReviewMedia, Question or Answer "
                        "(a legacy integer id needs subjectType)")
    else:
        raise bad_input(f"subjectType must be one of {', '.join(MODERATION_SUBJECTS)}")
    return kind, parse_id(subject_id, MODERATION_SUBJECTS[kind], "subjectId")


async def moderation_log(info: Info, *, subject_type: str | None = None, subject_id: strawberry.ID,
                         ) -> list[ModerationDecision]:
    kind, pk = _moderation_subject(subject_type, subject_id)
    rows = await DecisionModel.filter(subject_type=kind, subject_id=pk).order_by("id")
    return [ModerationDecision.from_model(d) for d in rows]



