from __future__ import annotations

from strawberry.types import Info

from domain.recommendations import service, training
from resolvers.common import attempt, target_external_id
from schema.catalog import Product
from schema.errors import bad_input, forbidden
from schema.pagination import page_size
from schema.recommendations import (
    MergeSessionInput,
    MergeSessionPayload,
    RecommendationContext,
    Recommendations,
    RecommendedItem,
    TrackEventInput,
    TrackEventsPayload,
    TrainingResult,
)


async def recommendations(
    info: Info, context: RecommendationContext = RecommendationContext.HOME, product_external_id: str | None = None,
    product_external_ids: list[str] | None = None, first: int | None = 10, category: str | None = None,
    exclude: list[str] | None = None, member_external_id: str | None = None,
) -> Recommendations:
    viewer = info.context.viewer
    member = viewer.member_external_id if viewer.role == "member" else member_external_id
    anchors = ([product_external_id] if product_external_id else []) + list(product_external_ids or [])
    if len(anchors) > 100 or len(exclude or []) > 100:
        raise bad_input("At most 100 products and 100 exclusions")
    size = page_size(first, default=10)
    result, errors = await attempt(service.recommend(member, context.value, anchors, size, category, list(exclude or [])))
    if result is None:  # an expected outcome (unknown member ...): a payload error, like a mutation's
        return Recommendations(personalized=False, items=[], errors=errors)
    personal, items = result
    return Recommendations(personalized=personal, items=[
        RecommendedItem(product=Product.from_model(i.product), score=i.score, strategy=i.strategy, reason=i.reason)
        for i in items])


async def track_events(info: Info, events: list[TrackEventInput]) -> TrackEventsPayload:
    viewer = info.context.viewer
    scope = viewer.member_external_id if viewer.role == "member" else None
    if scope is not None and any(e.member_external_id not in (None, scope) for e in events):
        raise forbidden("A member can only track their own events")
    rows = [{"member_external_id": e.member_external_id, "session_id": e.session_id, "type": e.type.value,
             "product_external_id": e.product_external_id, "at": e.at} for e in events]
    accepted, errors = await attempt(service.track(rows, scope))
    return TrackEventsPayload(accepted=accepted or 0, errors=errors)


async def merge_session(info: Info, input: MergeSessionInput) -> MergeSessionPayload:
    member = target_external_id(info, input.member_external_id)
    merged, errors = await attempt(service.merge_session(input.session_id, member))
    return MergeSessionPayload(merged=merged or 0, errors=errors)


async def train_recommender(info: Info) -> TrainingResult:
    model = await training.train()
    return TrainingResult(trained_at=model.trained_at, members=int(model.stats["members"]), items=int(model.stats["items"]),
                          interactions=int(model.stats["interactions"]), seconds=model.stats["seconds"])
