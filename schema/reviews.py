"""Review, media, Q&A and summary types and inputs."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry
from strawberry.types import Info

from domain.catalog.models import Product
from domain.reviews.media import media_url
from domain.reviews.models import Answer as AnswerModel
from domain.reviews.models import ModerationDecision as DecisionModel
from domain.reviews.models import Question as QuestionModel
from domain.reviews.models import Review as ReviewModel
from domain.reviews.models import ReviewMedia as MediaModel
from domain.reviews.models import ReviewReport as ReportModel
from domain.reviews import jobs as review_rules
from domain.reviews.service import is_rating_only
from schema.common import JSON, global_id, legacy_int_id
from schema.errors import UserError
from schema.node import Node
from schema.permissions import Moderator, moderates


@strawberry.enum
class ModerationStatus(Enum):
    PENDING = "pending"
    PUBLISHED = "published"
    REJECTED = "rejected"
    DELETED = "deleted"


@strawberry.enum(description="Why a review, answer or media item was held or rejected (shown to the author).")
class ModerationReason(Enum):
    PROFANITY = "PROFANITY"
    PERSONAL_DATA = "PERSONAL_DATA"
    LINK = "LINK"
    SPAM = "SPAM"
    OFF_TOPIC = "OFF_TOPIC"
    OTHER = "OTHER"


@strawberry.enum
class ModerationAction(Enum):
    PUBLISH = "PUBLISH"
    REJECT = "REJECT"


@strawberry.enum
class ReportReason(Enum):
    SPAM = "SPAM"
    OFFENSIVE = "OFFENSIVE"
    PERSONAL_DATA = "PERSONAL_DATA"
    OFF_TOPIC = "OFF_TOPIC"
    FAKE = "FAKE"
    OTHER = "OTHER"


@strawberry.enum
class ReviewSort(Enum):
    NEWEST = "NEWEST"
    MOST_HELPFUL = "MOST_HELPFUL"
    WITH_MEDIA_FIRST = "WITH_MEDIA_FIRST"
    RATING_HIGH = "RATING_HIGH"
    RATING_LOW = "RATING_LOW"


@strawberry.enum
class MediaKind(Enum):
    PHOTO = "photo"
    VIDEO = "video"


def _reason(value: str | None) -> ModerationReason | None:
    return ModerationReason(value) if value in ModerationReason._value2member_map_ else None


@strawberry.type
class ReviewMedia(Node):
    media_id: int = strawberry.field(description="The media item's integer primary key (legacy; use id).",
                                     deprecation_reason=legacy_int_id())
    kind: MediaKind = strawberry.field(description="Photo or video.")
    content_type: str = strawberry.field(description="The stored file's MIME type, e.g. image/jpeg or video/mp4.")
    url: str = strawberry.field(description="URL of the file; outside public pages (moderators, the author) it carries a short-lived preview token.")
    thumbnail_url: str | None = strawberry.field(description="URL of the thumbnail (a preview token as for url); null when none was made.")
    width: int | None = strawberry.field(description="Width in pixels; null when it could not be read.")
    height: int | None = strawberry.field(description="Height in pixels; null when it could not be read.")
    status: ModerationStatus = strawberry.field(description="Moderation state: only PUBLISHED media is shown on public pages.")
    reject_reason: ModerationReason | None = strawberry.field(description="Why it was held or rejected (shown to the author); null otherwise.")

    @classmethod
    def from_model(cls, m: MediaModel, preview: bool = False) -> ReviewMedia:
        """`preview`: outside public pages (moderators, the author) the URLs carry a
        short-lived token, so media that is not public can still be looked at."""
        return cls(
            id=global_id("ReviewMedia", m.id), media_id=m.id, kind=MediaKind(m.kind), content_type=m.content_type,
            url=media_url(m.file_name, preview) or "", thumbnail_url=media_url(m.thumb_name, preview),
            width=m.width, height=m.height,
            status=ModerationStatus(m.status), reject_reason=_reason(m.reject_reason),
        )


@strawberry.type
class ReviewAuthor:
    display_name: str = strawberry.field(description="First name and initial; never the e-mail.")


@strawberry.type
class ReviewReply:
    body: str = strawberry.field(description="The store's public reply to the review, 1 to 5000 characters.")
    replied_at: dt.datetime = strawberry.field(description="When the reply was last written or edited (UTC, ISO 8601).")


@strawberry.type
class FollowUp:
    question: str = strawberry.field(description="The follow-up question the store asked the author (at most 300 characters).")
    answer: str | None = strawberry.field(description="The author's answer; null until answered, and while the review is not published and the API key lacks members:pii.")


@strawberry.type(description="A member's report of a review, for moderators.")
class ReviewReport:
    reporter: str = strawberry.field(description='Who reported it ("member:<externalId>").')
    reason: ReportReason = strawberry.field(description="Why the member reported it.")
    comment: str | None = strawberry.field(description="The reporter's comment, at most 500 characters; null when none was given.")
    created_at: dt.datetime = strawberry.field(description="When it was reported (UTC, ISO 8601).")

    @classmethod
    def from_model(cls, r: ReportModel) -> ReviewReport:
        return cls(reporter=r.reporter, reason=ReportReason(r.reason), comment=r.comment, created_at=r.created_at)


@strawberry.type
class Review(Node):
    review_id: int = strawberry.field(description="The review's integer primary key (legacy; use id).",
                                      deprecation_reason=legacy_int_id())
    rating: int = strawberry.field(description="Stars, from 1 to 5.")
    rating_only: bool = strawberry.field(description="A rating without title or text (counted in the summary like any other).")
    attributes: JSON = strawberry.field(description='Key/value pairs such as {"fit": "true to size"} (at most 20; keys 1-50, values up to 100 characters).')
    verified_purchase: bool = strawberry.field(description="The author bought this product from the store (or reviewed through a review request's link); false for imported reviews.")
    incentivized: bool = strawberry.field(description="Points or a coupon were given for this review.")
    imported: bool = strawberry.field(description="Brought in by importReviews from another platform, not written here.")
    status: ModerationStatus = strawberry.field(description="Moderation state: only PUBLISHED reviews are public and counted in the summary.")
    reject_reason: ModerationReason | None = strawberry.field(
        description="Why it was held or rejected (shown to the author); null otherwise.")
    helpful_count: int = strawberry.field(description="Members who voted it helpful.")
    not_helpful_count: int = strawberry.field(description="Members who voted it not helpful.")
    reply: ReviewReply | None = strawberry.field(description="The store's public reply; null until the store replies.")
    created_at: dt.datetime = strawberry.field(description="The review's date (an import keeps its original date).")
    published_at: dt.datetime | None = strawberry.field(description="When it was published (UTC, ISO 8601); null while never published.")
    open_reports: int = strawberry.field(
        permission_classes=[Moderator],
        description="Distinct members who reported it since the last moderator decision (moderators only).")
    model: strawberry.Private[ReviewModel]
    public_media_only: strawberry.Private[bool]

    @classmethod
    def from_model(cls, r: ReviewModel, public: bool = True) -> Review:
        return cls(
            id=global_id("Review", r.id), review_id=r.id, rating=r.rating,
            rating_only=is_rating_only(r), open_reports=r.open_reports,
            attributes=r.attributes, verified_purchase=r.verified_purchase, incentivized=r.incentivized,
            imported=r.imported, status=ModerationStatus(r.status), reject_reason=_reason(r.reject_reason),
            helpful_count=r.helpful_count, not_helpful_count=r.not_helpful_count,
            reply=ReviewReply(body=r.reply_body, replied_at=r.replied_at) if r.reply_body and r.replied_at else None,
            created_at=r.created_at, published_at=r.published_at, model=r, public_media_only=public,
        )

    # What the member wrote (title, text, follow-up answer, name, photos) is personal data until the
    # review is published (public anyway then): a held or rejected review's text is withheld from
    # storefront and partner keys without members:pii, in every payload and query alike.
    def _withheld(self, info: Info) -> bool:
        return self.model.status != "published" and not info.context.viewer.reads_held_reviews

    @strawberry.field(description="Null while the review is not published and the API key lacks members:pii.")
    def title(self, info: Info) -> str | None:
        return None if self._withheld(info) else self.model.title

    @strawberry.field(description='The text; "" for a rating-only review, and while the review is not '
                                  "published and the API key lacks members:pii.")
    def body(self, info: Info) -> str:
        return "" if self._withheld(info) else self.model.body

    @strawberry.field(description="Who wrote it; the name is \"\" while the review is not published and the API key "
                                  "lacks members:pii.")
    def author(self, info: Info) -> ReviewAuthor:
        return ReviewAuthor(display_name="" if self._withheld(info) else self.model.author_name)

    @strawberry.field(description="The store's follow-up question and the author's answer; null when none was asked.")
    def follow_up(self, info: Info) -> FollowUp | None:
        r = self.model
        if not r.follow_up_question:
            return None
        return FollowUp(question=r.follow_up_question, answer=None if self._withheld(info) else r.follow_up_answer)

    @strawberry.field(description="True when the member's text, name and media are withheld: the review is not "
                                  "published and the API key lacks members:pii.")
    def personal_data_withheld(self, info: Info) -> bool:
        return self._withheld(info)

    @strawberry.field(description="Photos and videos: on public pages only published ones; empty while the review is "
                                  "not published and the API key lacks members:pii.")
    async def media(self, info: Info) -> list[ReviewMedia]:
        if self._withheld(info):
            return []
        loader = info.context.loaders.public_media if self.public_media_only else info.context.loaders.all_media
        preview = not self.public_media_only
        return [ReviewMedia.from_model(m, preview) for m in await loader.load(self.model.id)]

    @strawberry.field(permission_classes=[Moderator], description="Reports with reason and comment (moderators only).")
    async def reports(self, info: Info) -> list[ReviewReport]:
        return [ReviewReport.from_model(r) for r in await info.context.loaders.review_reports.load(self.model.id)]

    @strawberry.field(permission_classes=[Moderator],
                      description="When the store's reply is due (UTC): received + PATRON_REVIEW_REPLY_SLA_HOURS, for "
                                  "a negative review without a reply; null otherwise (moderators only).")
    def reply_due_at(self) -> dt.datetime | None:
        return review_rules.reply_due_at(self.model)

    @strawberry.field(description="The commerce platform's id of the product reviewed.")
    async def product_external_id(self, info: Info) -> str:
        product = await info.context.loaders.product.load(self.model.product_id)
        return product.external_id


@strawberry.type
class RatingCount:
    rating: int = strawberry.field(description="Stars, from 1 to 5.")
    count: int = strawberry.field(description="Published reviews with this many stars.")


@strawberry.type
class Answer(Node):
    body: str = strawberry.field(description="The answer, 1 to 2000 characters.")
    author_name: str = strawberry.field(description="The store's name for a merchant answer, else the buyer's first name and initial; never the e-mail.")
    author_kind: str = strawberry.field(description="merchant (the store) or verified_buyer (a member who bought the product).")
    status: ModerationStatus = strawberry.field(description="Moderation state: only PUBLISHED answers are public.")
    created_at: dt.datetime = strawberry.field(description="When it was written (UTC, ISO 8601).")
    reject_reason: ModerationReason | None = strawberry.field(
        description="Why it was held or rejected (shown to the author); null otherwise.")
    model: strawberry.Private[AnswerModel]

    @classmethod
    def from_model(cls, a: AnswerModel) -> Answer:
        return cls(id=global_id("Answer", a.id), body=a.body, author_name=a.author_name, author_kind=a.author_kind,
                   status=ModerationStatus(a.status), created_at=a.created_at, reject_reason=_reason(a.reject_reason),
                   model=a)

    @strawberry.field(description="The question answered: anyone sees a published one; a pending or rejected "
                                  "question only a moderator or admin (null for others).")
    async def question(self, info: Info) -> Question | None:
        question = self.model.question
        if not isinstance(question, QuestionModel):  # not prefetched by the list it came from
            question = await QuestionModel.get(id=self.model.question_id).prefetch_related("product")
        if question.status != "published" and not moderates(info.context.viewer):
            return None
        return Question.from_model(question)


@strawberry.type
class Question(Node):
    question_id: int = strawberry.field(description="The question's integer primary key (legacy; use id).",
                                        deprecation_reason=legacy_int_id())
    body: str = strawberry.field(description="The question, 1 to 2000 characters.")
    author_name: str = strawberry.field(description="The asker's first name and initial; never the e-mail.")
    status: ModerationStatus = strawberry.field(description="Moderation state: only PUBLISHED questions are public.")
    reject_reason: ModerationReason | None = strawberry.field(description="Why it was held or rejected (shown to the author); null otherwise.")
    created_at: dt.datetime = strawberry.field(description="When it was asked (UTC, ISO 8601).")
    model: strawberry.Private[QuestionModel]

    @classmethod
    def from_model(cls, q: QuestionModel) -> Question:
        return cls(id=global_id("Question", q.id), question_id=q.id, body=q.body, author_name=q.author_name,
                   status=ModerationStatus(q.status), reject_reason=_reason(q.reject_reason),
                   created_at=q.created_at, model=q)

    @strawberry.field(description="The product asked about (the commerce platform's id).")
    async def product_external_id(self) -> str:
        product = self.model.product
        if not isinstance(product, Product):  # not prefetched by the list it came from
            product = await product
        return product.external_id

    @strawberry.field(description="The question's answers.")
    async def answers(self, info: Info) -> list[Answer]:
        return [Answer.from_model(a) for a in await info.context.loaders.answers.load(self.model.id)]


# A moderation decision's subject kind (domain/reviews/models.py) and the type of its global ID.
MODERATION_SUBJECTS = {"review": "Review", "media": "ReviewMedia", "question": "Question", "answer": "Answer"}


@strawberry.type
class ModerationDecision:
    subject_type: str = strawberry.field(description="What was decided on: review, media, question or answer.")
    subject_id: int = strawberry.field(description="The subject's integer primary key (legacy; use subjectGlobalId).",
                                       deprecation_reason=legacy_int_id("subjectGlobalId"))
    status: str = strawberry.field(description="The status the decision set: pending, published or rejected (lower case).")
    reason: str | None = strawberry.field(description="The ModerationReason of a hold or rejection; null when published.")
    note: str | None = strawberry.field(description="The moderator's note (at most 500 characters), or automatic for a decision of the filters; null when none.")
    actor: str = strawberry.field(description="Who decided: auto for the automatic filters, else the moderator, e.g. admin or admin:<apiKeyId>.")
    created_at: dt.datetime = strawberry.field(description="When it was decided (UTC, ISO 8601).")

    @classmethod
    def from_model(cls, d: DecisionModel) -> ModerationDecision:
        return cls(subject_type=d.subject_type, subject_id=d.subject_id, status=d.status, reason=d.reason,
                   note=d.note, actor=d.actor, created_at=d.created_at)

    @strawberry.field(description="The global ID of the review, media, question or answer decided on.")
    def subject_global_id(self) -> strawberry.ID:
        return global_id(MODERATION_SUBJECTS[self.subject_type], self.subject_id)


@strawberry.input(description="Which published reviews Product.reviews returns.")
class ReviewFilterInput:
    rating: int | None = strawberry.field(default=None, description="Only reviews with this many stars (1 to 5); null for all.")
    with_media: bool | None = strawberry.field(default=None, description="True: only reviews with published media; false: only those without; null: both.")
    verified_only: bool = strawberry.field(default=False, description="Only verified-purchase reviews.")


@strawberry.input
class SubmitReviewInput:
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")
    product_external_id: str = strawberry.field(description="The commerce platform's id of the product reviewed.")
    rating: int = strawberry.field(description="Stars, a whole number from 1 to 5.")
    title: str | None = strawberry.field(default=None, description="At most 200 characters; blank is no title.")
    body: str | None = strawberry.field(default=None, description="Optional: a rating alone is a review.")
    attributes: JSON | None = strawberry.field(default=None, description='Key/value pairs such as {"fit": "true to size"}.')
    request_token: str | None = strawberry.field(
        default=None, description="The signed token of a review request's link: the review is by the member it was "
                                  "sent to (no login needed; omit memberExternalId) and counts as a verified purchase.")


@strawberry.input
class EditReviewInput:
    review_id: strawberry.ID = strawberry.field(description="The review's global ID (a legacy integer id is deprecated).")
    member_external_id: str | None = strawberry.field(default=None, description="The author; omit with a member token.")
    rating: int | None = strawberry.field(default=None, description="New stars, 1 to 5; null keeps the rating.")
    title: str | None = strawberry.field(default=None, description="New title, at most 200 characters; null keeps it.")
    body: str | None = strawberry.field(default=None, description="New text; null keeps it.")
    attributes: JSON | None = strawberry.field(default=None, description="New key/value pairs (at most 20); null keeps them.")


@strawberry.input
class ReviewRefInput:
    review_id: strawberry.ID = strawberry.field(description="The review's global ID (a legacy integer id is deprecated).")
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")


@strawberry.input
class ModerateInput:
    id: strawberry.ID = strawberry.field(
        description="The global ID of the review, media, question or answer the mutation moderates (a legacy integer id is deprecated).")
    action: ModerationAction = strawberry.field(description="Publish or reject.")
    reason: ModerationReason | None = strawberry.field(default=None, description="Required to reject (shown to the author); ignored when publishing.")
    note: str | None = strawberry.field(default=None, description="The moderator's internal note, kept in the moderation log.")


@strawberry.input
class ReportReviewInput:
    review_id: strawberry.ID = strawberry.field(description="The global ID of the published review reported (a legacy integer id is deprecated).")
    member_external_id: str | None = strawberry.field(default=None, description="The reporting member; omit with a member token. Authors cannot report their own review.")
    reason: ReportReason = strawberry.field(description="Why it is reported.")
    comment: str | None = strawberry.field(default=None, description="Optional detail for moderators, at most 500 characters.")


@strawberry.input
class ReplyInput:
    review_id: strawberry.ID = strawberry.field(description="The review's global ID (a legacy integer id is deprecated).")
    body: str = strawberry.field(description="The store's public reply, 1 to 5000 characters; replaces an earlier reply.")


@strawberry.input
class VoteInput:
    review_id: strawberry.ID = strawberry.field(description="The global ID of a published review (a legacy integer id is deprecated).")
    member_external_id: str | None = strawberry.field(default=None, description="The voting member; omit with a member token. Authors cannot vote on their own review.")
    helpful: bool = strawberry.field(description="True: helpful; false: not helpful.")


@strawberry.input
class FollowUpAnswerInput:
    review_id: strawberry.ID = strawberry.field(description="The global ID of the author's review that has a follow-up question (a legacy integer id is deprecated).")
    member_external_id: str | None = strawberry.field(default=None, description="The author; omit with a member token.")
    answer: str = strawberry.field(description="The answer, not blank and no longer than a review body (5000 characters by default).")


@strawberry.input
class FollowUpQuestionInput:
    category: str | None = strawberry.field(default=None, description="The product category it is asked for; null sets the default question.")
    question: str = strawberry.field(description="The question, 1 to 300 characters.")


@strawberry.input
class ImportReviewInput:
    external_id: str = strawberry.field(
        description="The review's id on the platform it comes from: importing it again changes nothing.")
    product_external_id: str = strawberry.field(description="The commerce platform's id of the product reviewed.")
    rating: int = strawberry.field(description="Stars, a whole number from 1 to 5.")
    title: str | None = strawberry.field(default=None, description="At most 200 characters; blank is no title.")
    body: str | None = strawberry.field(default=None, description="Optional: a rating alone is a review.")
    author_name: str = strawberry.field(description="The author's name, 1 to 100 characters; only the first name and initial are kept.")
    created_at: dt.datetime | None = strawberry.field(
        default=None, description="The original date (not in the future); default now.")


@strawberry.input
class AskQuestionInput:
    product_external_id: str = strawberry.field(description="The commerce platform's id of the product asked about.")
    member_external_id: str | None = strawberry.field(default=None, description="The asking member; omit with a member token.")
    body: str = strawberry.field(description="The question, 1 to 2000 characters.")


@strawberry.input
class AnswerQuestionInput:
    question_id: strawberry.ID = strawberry.field(description="The question's global ID (a legacy integer id is deprecated).")
    member_external_id: str | None = strawberry.field(
        default=None, description="A buyer answering (member token or storefront); omitted by an admin = the store.")
    body: str = strawberry.field(description="The answer, 1 to 2000 characters.")


@strawberry.type
class ReviewPayload:
    review: Review | None = strawberry.field(description="The review as saved; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed; empty on success.")


@strawberry.type(description="An item whose externalId was imported before: nothing was changed.")
class SkippedImport:
    index: int = strawberry.field(description="Position in the input list.")
    external_id: str = strawberry.field(description="The externalId given, already imported.")
    review: Review = strawberry.field(description="The review imported before under this externalId.")


@strawberry.type(description="The result of importReviews.")
class ReviewsPayload:
    reviews: list[Review] = strawberry.field(description="Reviews created by this call.")
    skipped: list[SkippedImport] = strawberry.field(description="Replays of reviews imported before.")
    errors: list[UserError] = strawberry.field(description="Items that could not be imported; empty on success.")


@strawberry.type
class QuestionPayload:
    question: Question | None = strawberry.field(description="The question as saved; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed; empty on success.")


@strawberry.type
class AnswerPayload:
    answer: Answer | None = strawberry.field(description="The answer as saved; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed; empty on success.")


@strawberry.type
class FollowUpQuestionPayload:
    category: str | None = strawberry.field(description="The category the question was set for; null for the default question.")
    question: str | None = strawberry.field(description="The question as saved; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed; empty on success.")
