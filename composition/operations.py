"""The root Query and Mutation: every field with its resolver (resolvers/) and who may call it."""

from __future__ import annotations

import strawberry

import resolvers.auth
import resolvers.catalog
import resolvers.events
import resolvers.federation
import resolvers.grant_policies
import resolvers.imports
import resolvers.feedback
import resolvers.insights
import resolvers.ledger
import resolvers.members
import resolvers.messaging
import resolvers.node
import resolvers.orders
import resolvers.recommendations
import resolvers.reviews
import resolvers.rewards
import resolvers.rules
import resolvers.scheduler
import resolvers.staff
import resolvers.segments
import resolvers.subscriptions
import resolvers.tiers
import resolvers.webhooks
from schema.auth import ApiKey, ApiKeyPayload, ApiKeyScope, CreateApiKeyPayload
from schema.catalog import Product, ProductsPayload
from schema.common import JSON
from schema.events import Event
from schema.federation import FederationService
from schema.grant_policies import GrantPolicy, GrantPolicyPayload
from schema.imports import ImportJob, ImportJobPayload
from schema.insights import ProgramInsights, RfmSegmentCount
from schema.ledger import PointsPayload, ReleasePendingPointsPayload
from schema.members import DataUsage, Member, MemberPayload, UpsertMemberPayload
from schema.feedback import ImprovementPayload, SurveyResponse, SurveyResponsePayload
from schema.messaging import (
    Message,
    MessagePolicy,
    MessagePolicyPayload,
    MessagePreview,
    MessageTemplatePayload,
    ReportMessageStatusPayload,
)
from schema.node import Node
from schema.orders import RecordFulfillmentPayload, RecordOrderPayload, RecordRefundPayload
from schema.pagination import Connection
from schema.permissions import (
    AdminOrPartner,
    AdminOrSelf,
    AdminOrStorefront,
    AdminStorefrontOrSelf,
    InsightsReader,
    AdminStorefrontSelfOrRequestToken,
    IsAdmin,
    Moderator,
    StaffAuditReader,
    SupportDesk,
    SupportDeskOrSelf,
    IsMember,
    MemberOrSurveyToken,
    MessageProvider,
    PublicOrSelf,
    StorefrontOrSelf,
)
from schema.recommendations import (
    MergeSessionPayload,
    Recommendations,
    TrackEventsPayload,
    TrainingResult,
)
from schema.reviews import (
    Answer,
    AnswerPayload,
    FollowUpQuestionPayload,
    ModerationDecision,
    Question,
    QuestionPayload,
    Review,
    ReviewPayload,
    ReviewsPayload,
)
from schema.rewards import GrantRewardPayload, Redemption, RedemptionPayload, Reward, RewardPayload
from schema.segments import DeleteSegmentPayload, Segment, SegmentPayload
from schema.staff import StaffAuditEntry
from schema.scheduler import Job, JobRun
from schema.rules import Activity, ActivityPayload, EarningPreview, EarningRule, EarningRulePayload
from schema.subscriptions import (
    MemberSubscription,
    PlanPayload,
    SubscriptionPayload,
    SubscriptionPlan,
)
from schema.tiers import Tier, TierPayload
from schema.webhooks import (
    WebhookDelivery,
    WebhookDeliveryPayload,
    WebhookEndpoint,
    WebhookEndpointPayload,
)


@strawberry.type
class Query:
    # No permission class: each object is checked as its own field would be (resolvers/node.py).
    node: Node | None = strawberry.field(
        resolver=resolvers.node.node,
        description="The object with this global ID, with the permissions of the field that lists it: null when "
                    "it does not exist or is hidden from you (unpublished, inactive); FORBIDDEN when it is "
                    "another member's.")
    nodes: list[Node | None] = strawberry.field(
        resolver=resolvers.node.nodes,
        description="node(id:) for up to 100 ids at once, in order; each position answers on its own.")
    me: Member | None = strawberry.field(resolver=resolvers.members.me, permission_classes=[IsMember],
                                         description="The signed-in member (member token).")
    member: Member | None = strawberry.field(
        resolver=resolvers.members.member, permission_classes=[SupportDeskOrSelf],
        description="A member by externalId (admin, a key or console role with members:support, or the member "
                    "themself); null when there is none.")
    members: Connection[Member] = strawberry.field(
        resolver=resolvers.members.members, permission_classes=[SupportDesk],
        description="Every member, newest first, or those a search finds (admin, or members:support); paged, not "
                    "counted.")
    my_data_usage: DataUsage | None = strawberry.field(
        resolver=resolvers.members.my_data_usage, permission_classes=[IsMember],
        description="Which features read which of your data, and your consents.")
    data_usage: DataUsage | None = strawberry.field(
        resolver=resolvers.members.data_usage, permission_classes=[AdminOrSelf],
        description="dataUsage for a given member (admin, or the member themself); null for an "
                    "unknown member.")
    export_member_data: JSON | None = strawberry.field(
        resolver=resolvers.members.export_member_data, permission_classes=[AdminOrSelf],
        description="Everything held about a member, as JSON.")
    tiers: list[Tier] = strawberry.field(resolver=resolvers.tiers.tiers, description="The VIP program (public).")
    earning_rules: list[EarningRule] = strawberry.field(resolver=resolvers.rules.earning_rules,
        description="Active earning rules (public); with includeInactive an admin also sees "
                    "inactive ones.")
    events: Connection[Event] = strawberry.field(
        resolver=resolvers.events.events, permission_classes=[IsAdmin],
        description="The domain event log, newest first, optionally of one type (admin).")
    jobs: list[Job] = strawberry.field(resolver=resolvers.scheduler.jobs, permission_classes=[IsAdmin],
                                       description="The periodic jobs, their schedule and last run.")
    job_runs: Connection[JobRun] = strawberry.field(resolver=resolvers.scheduler.job_runs, permission_classes=[IsAdmin],
                                                    description="Runs of the periodic jobs, newest first.")
    import_job: ImportJob | None = strawberry.field(
        resolver=resolvers.imports.import_job, permission_classes=[IsAdmin],
        description="One import job with its counters and refused rows; null when no job has that id.")
    import_jobs: Connection[ImportJob] = strawberry.field(
        resolver=resolvers.imports.import_jobs, permission_classes=[IsAdmin],
        description="Import jobs, newest first.")
    api_keys: list[ApiKey] = strawberry.field(
        resolver=resolvers.auth.api_keys, permission_classes=[IsAdmin],
        description="Every API key, revoked ones included, in creation order (admin); secrets are "
                    "never shown.")
    api_key_scopes: list[ApiKeyScope] = strawberry.field(
        resolver=resolvers.auth.api_key_scopes, permission_classes=[IsAdmin],
        description="The scopes an API key can be given (createApiKey, setApiKeyScopes).")
    staff_audit_log: Connection[StaffAuditEntry] = strawberry.field(
        resolver=resolvers.staff.staff_audit_log, permission_classes=[StaffAuditReader],
        description="The console's staff audit log, newest first: who did what, when, from where (console owners "
                    "and admin API keys).")
    product: Product | None = strawberry.field(
        resolver=resolvers.catalog.product, description="A product with its public reviews, summary and Q&A.")
    review_moderation_queue: Connection[Review] = strawberry.field(
        resolver=resolvers.reviews.review_moderation_queue, permission_classes=[Moderator],
        description="Without status: every review waiting for a moderator (held, or published and reported "
                    "since the last decision; see `reports`). With status: the reviews in that state.")
    question_moderation_queue: Connection[Question] = strawberry.field(
        resolver=resolvers.reviews.question_moderation_queue, permission_classes=[Moderator],
        description="Product questions waiting for a moderator (PENDING), newest first (admin, or reviews:moderate).")
    answer_moderation_queue: Connection[Answer] = strawberry.field(
        resolver=resolvers.reviews.answer_moderation_queue, permission_classes=[Moderator],
        description="Answers to product questions waiting for a moderator (PENDING), newest first, each with its "
                    "question (admin, or reviews:moderate).")
    reviews_awaiting_reply: Connection[Review] = strawberry.field(
        resolver=resolvers.reviews.reviews_awaiting_reply, permission_classes=[Moderator],
        description="Negative (<= PATRON_REVIEW_NEGATIVE_MAX_RATING stars) published reviews without a reply; "
                    "overdue: past the reply SLA, counted from when Patron received the review.")
    moderation_log: list[ModerationDecision] = strawberry.field(
        resolver=resolvers.reviews.moderation_log, permission_classes=[Moderator],
        description="Every moderation decision on one review, media, question or answer, oldest "
                    "first (admin).")
    preview_earning: EarningPreview = strawberry.field(
        resolver=resolvers.rules.preview_earning, permission_classes=[PublicOrSelf],
        description="What an order would earn, for 'you'll earn 240 points' on product and cart pages. Writes nothing.")
    pending_activities: list[Activity] = strawberry.field(
        resolver=resolvers.rules.pending_activities, permission_classes=[IsAdmin],
        description="Brand UGC waiting for approval.")
    recommendations: Recommendations = strawberry.field(
        resolver=resolvers.recommendations.recommendations, permission_classes=[PublicOrSelf],
        description="Blended, explained recommendations. Personal strategies need the member's PERSONALIZATION consent.")
    subscription_plans: list[SubscriptionPlan] = strawberry.field(
        resolver=resolvers.subscriptions.subscription_plans, description="Active plans (public).")
    subscriptions: Connection[MemberSubscription] = strawberry.field(
        resolver=resolvers.subscriptions.subscriptions, permission_classes=[IsAdmin],
        description="All member subscriptions, filtered by status or plan (admin).")
    rewards: list[Reward] = strawberry.field(resolver=resolvers.rewards.rewards, description="The rewards catalog (public).")
    reward_code: Redemption | None = strawberry.field(
        resolver=resolvers.rewards.reward_code, permission_classes=[AdminOrStorefront],
        description="Validate a code at checkout: its status, reward and owner.")
    program_insights: ProgramInsights = strawberry.field(
        resolver=resolvers.insights.program_insights, permission_classes=[InsightsReader],
        description="The program's KPIs over a period in one currency (admin, or a key with insights:read).")
    segment: Segment | None = strawberry.field(
        resolver=resolvers.segments.segment, permission_classes=[IsAdmin],
        description="A segment with its members now (admin); null when there is none.")
    segments: Connection[Segment] = strawberry.field(
        resolver=resolvers.segments.segments, permission_classes=[IsAdmin],
        description="Every segment, newest first (admin).")
    grant_policies: list[GrantPolicy] = strawberry.field(
        resolver=resolvers.grant_policies.grant_policies, permission_classes=[IsAdmin],
        description="The automatic grant policies set (BIRTHDAY, WIN_BACK), by kind (admin).")
    rfm_segments: list[RfmSegmentCount] = strawberry.field(
        resolver=resolvers.insights.rfm_segments, permission_classes=[InsightsReader],
        description="Members per RFM segment at the last member_insights run, every segment listed "
                    "(admin, or a key with insights:read).")
    webhook_endpoints: list[WebhookEndpoint] = strawberry.field(
        resolver=resolvers.webhooks.webhook_endpoints, permission_classes=[AdminOrPartner],
        description="All endpoints (admin) or the partner's own.")
    webhook_deliveries: Connection[WebhookDelivery] = strawberry.field(
        resolver=resolvers.webhooks.webhook_deliveries, permission_classes=[AdminOrPartner],
        description="Deliveries to one endpoint, newest first, optionally by status; empty for "
                    "another partner's endpoint.")
    # Apollo Federation (composition/api.py adds `_entities`). Who may read it is
    # PATRON_INTROSPECTION's rule (schema/introspection.py), checked before execution.
    federation_service: FederationService = strawberry.field(
        name="_service", resolver=resolvers.federation.service,
        description="Federation: this subgraph's SDL, for a gateway or `rover subgraph introspect`.")
    message_policies: list[MessagePolicy] = strawberry.field(
        resolver=resolvers.messaging.message_policies, permission_classes=[IsAdmin],
        description="Each message type's policy (defaults until changed).")
    messages: Connection[Message] = strawberry.field(
        resolver=resolvers.messaging.messages, permission_classes=[IsAdmin],
        description="Engagement messages, newest first, with their status and reason.")
    preview_message: MessagePreview | None = strawberry.field(
        resolver=resolvers.messaging.preview_message, permission_classes=[IsAdmin],
        description="Render a message for a member (from their last order) without sending or writing anything; "
                    "null for an unknown member.")
    survey_responses: Connection[SurveyResponse] = strawberry.field(
        resolver=resolvers.feedback.survey_responses, permission_classes=[IsAdmin],
        description="Satisfaction survey answers, newest first; negative: true is the reply queue (NPS <= 6 or CSAT <= 2).")


@strawberry.type
class Mutation:
    start_import: ImportJobPayload = strawberry.mutation(
        resolver=resolvers.imports.start_import, permission_classes=[IsAdmin],
        description="Upload a file of members, orders or reviews (GraphQL multipart request) and queue its "
                    "import; a worker runs it in batches. Follow it with importJob or importProgress.")
    cancel_import: ImportJobPayload = strawberry.mutation(
        resolver=resolvers.imports.cancel_import, permission_classes=[IsAdmin],
        description="Stop a queued or running import before its next batch; committed batches stay.")
    upsert_member: UpsertMemberPayload = strawberry.mutation(
        resolver=resolvers.members.upsert_member, permission_classes=[AdminOrStorefront],
        description="Create or update a member by externalId; only the fields given change.")
    update_consents: MemberPayload = strawberry.mutation(
        resolver=resolvers.members.update_consents, permission_classes=[AdminStorefrontOrSelf],
        description="Grant or withdraw consent purposes (each purpose at most once per call).")
    anonymize_member: MemberPayload = strawberry.mutation(
        resolver=resolvers.members.anonymize_member, permission_classes=[AdminOrSelf],
        description="Erase a member's identifiers everywhere; orders, the ledger and totals stay, "
                    "so balances and reports are intact.")
    record_order: RecordOrderPayload = strawberry.mutation(
        resolver=resolvers.orders.record_order, permission_classes=[AdminOrStorefront],
        description="Record an order and award its points (pending during the return window); "
                    "idempotent on externalId.")
    record_refund: RecordRefundPayload = strawberry.mutation(
        resolver=resolvers.orders.record_refund, permission_classes=[AdminOrStorefront],
        description="Refund some line quantities, or the rest of the order without lines, and "
                    "reverse the points in proportion; idempotent on externalId.")
    record_fulfillment: RecordFulfillmentPayload = strawberry.mutation(
        resolver=resolvers.orders.record_fulfillment, permission_classes=[AdminOrStorefront],
        description="The order reached the customer (idempotent: the first time is kept). Plans review requests.")
    update_message_policy: MessagePolicyPayload = strawberry.mutation(
        resolver=resolvers.messaging.update_message_policy, permission_classes=[IsAdmin],
        description="Change one message type's policy; only the fields given change.")
    report_message_status: ReportMessageStatusPayload = strawberry.mutation(
        resolver=resolvers.messaging.report_message_status, permission_classes=[MessageProvider],
        description="The webhook provider's outcome for a message.due it received (idempotent).")
    update_message_template: MessageTemplatePayload = strawberry.mutation(
        resolver=resolvers.messaging.update_message_template, permission_classes=[IsAdmin],
        description="Override a message type's template in one locale (Jinja2, checked in the sandbox); null parts "
                    "use the shipped template.")
    reset_message_template: MessageTemplatePayload = strawberry.mutation(
        resolver=resolvers.messaging.reset_message_template, permission_classes=[IsAdmin],
        description="Remove a template override: the shipped template is used again.")
    submit_survey_response: SurveyResponsePayload = strawberry.mutation(
        resolver=resolvers.feedback.submit_survey_response, permission_classes=[MemberOrSurveyToken],
        description="Answer a satisfaction survey: with its link's token (no login) or as the signed-in member. "
                    "One answer per survey; a replay changes nothing.")
    record_improvement: ImprovementPayload = strawberry.mutation(
        resolver=resolvers.feedback.record_improvement, permission_classes=[IsAdmin],
        description="Record what the brand changed in a product thanks to reviews and questions; their authors are "
                    "thanked (FEEDBACK_THANKS, with consent), once per improvement.")
    spend_points: PointsPayload = strawberry.mutation(
        resolver=resolvers.ledger.spend_points, permission_classes=[AdminStorefrontOrSelf],
        description="Debit points from a member's available balance (idempotent on "
                    "idempotencyKey).")
    adjust_points: PointsPayload = strawberry.mutation(
        resolver=resolvers.ledger.adjust_points, permission_classes=[SupportDesk],
        description="Credit or debit points by hand with a reason, recorded with the admin or staff account as "
                    "actor (admin, or members:support; idempotent on idempotencyKey).")
    release_pending_points: ReleasePendingPointsPayload = strawberry.mutation(
        resolver=resolvers.ledger.release_pending_points, permission_classes=[IsAdmin],
        description="Approve a member's pending points before the return window ends.")
    create_tier: TierPayload = strawberry.mutation(
        resolver=resolvers.tiers.create_tier, permission_classes=[IsAdmin],
        description="Add a VIP tier (admin).")
    update_tier: TierPayload = strawberry.mutation(
        resolver=resolvers.tiers.update_tier, permission_classes=[IsAdmin],
        description="Replace a tier's settings (admin).")
    create_earning_rule: EarningRulePayload = strawberry.mutation(
        resolver=resolvers.rules.create_earning_rule, permission_classes=[IsAdmin],
        description="Add an earning rule (admin).")
    update_earning_rule: EarningRulePayload = strawberry.mutation(
        resolver=resolvers.rules.update_earning_rule, permission_classes=[IsAdmin],
        description="Replace an earning rule's settings (admin).")
    create_api_key: CreateApiKeyPayload = strawberry.mutation(
        resolver=resolvers.auth.create_api_key, permission_classes=[IsAdmin],
        description="Create an API key; its secret is returned once, in this payload only.")
    revoke_api_key: ApiKeyPayload = strawberry.mutation(
        resolver=resolvers.auth.revoke_api_key, permission_classes=[IsAdmin],
        description="Revoke an API key: it stops authenticating at once.")
    set_api_key_scopes: ApiKeyPayload = strawberry.mutation(
        resolver=resolvers.auth.set_api_key_scopes, permission_classes=[IsAdmin],
        description="Replace a key's access scopes; its webhook endpoints follow at once.")
    upsert_products: ProductsPayload = strawberry.mutation(
        resolver=resolvers.catalog.upsert_products, permission_classes=[AdminOrStorefront],
        description="Create or update catalog products by externalId; only the fields given "
                    "change.")
    submit_review: ReviewPayload = strawberry.mutation(
        resolver=resolvers.reviews.submit_review, permission_classes=[AdminStorefrontSelfOrRequestToken],
        description="Photos/videos go in `media` (GraphQL multipart request).")
    edit_review: ReviewPayload = strawberry.mutation(
        resolver=resolvers.reviews.edit_review, permission_classes=[StorefrontOrSelf],
        description="Only the author edits; every version is kept and the review is moderated again.")
    delete_review: ReviewPayload = strawberry.mutation(
        resolver=resolvers.reviews.delete_review, permission_classes=[AdminStorefrontOrSelf],
        description="Delete a review: it stays as a record, but leaves the storefront and its "
                    "media are removed.")
    add_review_media: ReviewPayload = strawberry.mutation(
        resolver=resolvers.reviews.add_review_media, permission_classes=[StorefrontOrSelf],
        description="Attach photos/videos (GraphQL multipart request) to your review; they are "
                    "moderated.")
    moderate_review: ReviewPayload = strawberry.mutation(
        resolver=resolvers.reviews.moderate_review, permission_classes=[Moderator],
        description="Publish or reject a review, with a reason; logged in moderationLog.")
    moderate_review_media: ReviewPayload = strawberry.mutation(
        resolver=resolvers.reviews.moderate_review_media, permission_classes=[Moderator],
        description="Publish or reject one photo or video of a review, with a reason.")
    report_review: ReviewPayload = strawberry.mutation(
        resolver=resolvers.reviews.report_review, permission_classes=[StorefrontOrSelf],
        description="Flags a published review for a moderator (one report per member); it stays published.")
    reply_to_review: ReviewPayload = strawberry.mutation(
        resolver=resolvers.reviews.reply_to_review, permission_classes=[Moderator],
        description="The merchant's public reply (one per review; calling again edits it).")
    vote_review: ReviewPayload = strawberry.mutation(
        resolver=resolvers.reviews.vote_review, permission_classes=[StorefrontOrSelf],
        description="Mark a published review helpful or not (one vote per member, not the "
                    "author's; voting again changes it).")
    answer_follow_up: ReviewPayload = strawberry.mutation(
        resolver=resolvers.reviews.answer_follow_up, permission_classes=[StorefrontOrSelf],
        description="The author answers the follow-up question of their review's category.")
    set_follow_up_question: FollowUpQuestionPayload = strawberry.mutation(
        resolver=resolvers.reviews.set_follow_up_question, permission_classes=[IsAdmin],
        description="Set the follow-up question asked of reviewers in a category.")
    import_reviews: ReviewsPayload = strawberry.mutation(
        resolver=resolvers.reviews.import_reviews, permission_classes=[IsAdmin],
        description="Import 1 to 100 reviews per call; reviews imported before are replayed and "
                    "listed in `skipped`.")
    ask_question: QuestionPayload = strawberry.mutation(
        resolver=resolvers.reviews.ask_question, permission_classes=[StorefrontOrSelf],
        description="Ask a question about a product; it is moderated before it shows.")
    answer_question: AnswerPayload = strawberry.mutation(
        resolver=resolvers.reviews.answer_question, permission_classes=[AdminStorefrontOrSelf],
        description="Answer a product question (as the merchant, or as a member).")
    moderate_question: QuestionPayload = strawberry.mutation(
        resolver=resolvers.reviews.moderate_question, permission_classes=[Moderator],
        description="Publish or reject a product question, with a reason.")
    moderate_answer: AnswerPayload = strawberry.mutation(
        resolver=resolvers.reviews.moderate_answer, permission_classes=[Moderator],
        description="Publish or reject an answer, with a reason.")
    record_activity: ActivityPayload = strawberry.mutation(
        resolver=resolvers.rules.record_activity, permission_classes=[AdminStorefrontOrSelf],
        description="A share, survey, brand UGC or custom action; earns by the matching rules (idempotent on externalId).")
    review_activity: ActivityPayload = strawberry.mutation(
        resolver=resolvers.rules.review_activity, permission_classes=[IsAdmin],
        description="Approve or reject a pending activity (brand UGC); approval awards its points.")
    track_events: TrackEventsPayload = strawberry.mutation(
        resolver=resolvers.recommendations.track_events, permission_classes=[AdminStorefrontOrSelf],
        description="Up to 100 shopper signals (VIEW, ADD_TO_CART, PURCHASE, REVIEW) per call.")
    merge_session: MergeSessionPayload = strawberry.mutation(
        resolver=resolvers.recommendations.merge_session, permission_classes=[AdminStorefrontOrSelf],
        description="After login, attach an anonymous session's signals to the member; returns how "
                    "many merged.")
    train_recommender: TrainingResult = strawberry.mutation(
        resolver=resolvers.recommendations.train_recommender, permission_classes=[IsAdmin],
        description="Retrain the recommendation model from the database now and publish it.")
    create_reward: RewardPayload = strawberry.mutation(
        resolver=resolvers.rewards.create_reward, permission_classes=[IsAdmin],
        description="Add a reward to the catalog (admin).")
    update_reward: RewardPayload = strawberry.mutation(
        resolver=resolvers.rewards.update_reward, permission_classes=[IsAdmin],
        description="Change a reward; only the fields given change (admin).")
    redeem_reward: RedemptionPayload = strawberry.mutation(
        resolver=resolvers.rewards.redeem_reward, permission_classes=[AdminStorefrontOrSelf],
        description="Points debited, stock taken and a code issued atomically, or nothing at all.")
    mark_reward_code_used: RedemptionPayload = strawberry.mutation(
        resolver=resolvers.rewards.mark_reward_code_used, permission_classes=[AdminOrStorefront],
        description="The storefront applied a reward code to an order of the code's member.")
    cancel_redemption: RedemptionPayload = strawberry.mutation(
        resolver=resolvers.rewards.cancel_redemption, permission_classes=[AdminStorefrontOrSelf],
        description="Cancel an unused code: points return as a new credit, stock is restored.")
    grant_reward: GrantRewardPayload = strawberry.mutation(
        resolver=resolvers.rewards.grant_reward, permission_classes=[IsAdmin],
        description="Give a reward without points to a segment's members or to listed members (admin): one code "
                    "each with its expiry, at most once per member and reward; replays of a key grant nothing.")
    set_grant_policy: GrantPolicyPayload = strawberry.mutation(
        resolver=resolvers.grant_policies.set_grant_policy, permission_classes=[IsAdmin],
        description="Set the automatic grant of a reward on members' birthday week (BIRTHDAY) or to a segment's "
                    "members (WIN_BACK) (admin); it replaces the policy of that kind.")
    create_segment: SegmentPayload = strawberry.mutation(
        resolver=resolvers.segments.create_segment, permission_classes=[IsAdmin],
        description="Save a member filter as a segment (admin).")
    update_segment: SegmentPayload = strawberry.mutation(
        resolver=resolvers.segments.update_segment, permission_classes=[IsAdmin],
        description="Rename a segment or replace its filter (admin); only the fields given change.")
    delete_segment: DeleteSegmentPayload = strawberry.mutation(
        resolver=resolvers.segments.delete_segment, permission_classes=[IsAdmin],
        description="Delete a segment and its recorded membership (admin); not while a reward's audience names it.")
    create_subscription_plan: PlanPayload = strawberry.mutation(
        resolver=resolvers.subscriptions.create_plan, permission_classes=[IsAdmin],
        description="Add a subscription or membership plan (admin).")
    update_subscription_plan: PlanPayload = strawberry.mutation(
        resolver=resolvers.subscriptions.update_plan, permission_classes=[IsAdmin],
        description="Change a subscription plan (admin).")
    subscribe: SubscriptionPayload = strawberry.mutation(
        resolver=resolvers.subscriptions.subscribe, permission_classes=[AdminStorefrontOrSelf],
        description="Start a member's subscription to a plan.")
    pause_subscription: SubscriptionPayload = strawberry.mutation(
        resolver=resolvers.subscriptions.pause, permission_classes=[AdminStorefrontOrSelf],
        description="Pause a subscription: no renewals until it is resumed.")
    resume_subscription: SubscriptionPayload = strawberry.mutation(
        resolver=resolvers.subscriptions.resume, permission_classes=[AdminStorefrontOrSelf],
        description="Resume a paused subscription.")
    skip_next_delivery: SubscriptionPayload = strawberry.mutation(
        resolver=resolvers.subscriptions.skip, permission_classes=[AdminStorefrontOrSelf],
        description="Skip the next delivery of a subscription.")
    unskip_delivery: SubscriptionPayload = strawberry.mutation(
        resolver=resolvers.subscriptions.unskip, permission_classes=[AdminStorefrontOrSelf],
        description="Undo a skipped delivery.")
    swap_subscription_product: SubscriptionPayload = strawberry.mutation(
        resolver=resolvers.subscriptions.swap, permission_classes=[AdminStorefrontOrSelf],
        description="Change the product (SKU) a subscription delivers.")
    change_subscription_interval: SubscriptionPayload = strawberry.mutation(
        resolver=resolvers.subscriptions.change_interval, permission_classes=[AdminStorefrontOrSelf],
        description="Change how often a subscription renews.")
    reschedule_subscription: SubscriptionPayload = strawberry.mutation(
        resolver=resolvers.subscriptions.reschedule, permission_classes=[AdminStorefrontOrSelf],
        description="Move a subscription's next renewal date.")
    cancel_subscription: SubscriptionPayload = strawberry.mutation(
        resolver=resolvers.subscriptions.cancel, permission_classes=[AdminStorefrontOrSelf],
        description="Cancel a subscription.")
    record_renewal_failure: SubscriptionPayload = strawberry.mutation(
        resolver=resolvers.subscriptions.record_renewal_failure, permission_classes=[AdminOrStorefront],
        description="Record that the storefront could not charge a renewal (reason: 1 to 500 "
                    "characters).")
    create_webhook_endpoint: WebhookEndpointPayload = strawberry.mutation(
        resolver=resolvers.webhooks.create_webhook_endpoint, permission_classes=[AdminOrPartner],
        description="Register a webhook endpoint; the signing secret is returned once, in this "
                    "payload.")
    update_webhook_endpoint: WebhookEndpointPayload = strawberry.mutation(
        resolver=resolvers.webhooks.update_webhook_endpoint, permission_classes=[AdminOrPartner],
        description="Change an endpoint; only the fields given change. Enabling it clears its "
                    "failure state.")
    delete_webhook_endpoint: WebhookEndpointPayload = strawberry.mutation(
        resolver=resolvers.webhooks.delete_webhook_endpoint, permission_classes=[AdminOrPartner],
        description="Disable an endpoint for good; its pending deliveries fail with 'endpoint "
                    "deleted'.")
    rotate_webhook_secret: WebhookEndpointPayload = strawberry.mutation(
        resolver=resolvers.webhooks.rotate_webhook_secret, permission_classes=[AdminOrPartner],
        description="A new secret; the previous one keeps signing during the overlap.")
    redeliver_webhook: WebhookDeliveryPayload = strawberry.mutation(
        resolver=resolvers.webhooks.redeliver_webhook, permission_classes=[AdminOrPartner],
        description="Send a delivery's event again, as a new delivery (the endpoint must be "
                    "enabled).")
    send_test_webhook: WebhookDeliveryPayload = strawberry.mutation(
        resolver=resolvers.webhooks.send_test_webhook, permission_classes=[AdminOrPartner],
        description="Send a webhook.test event to this endpoint only.")
