"""Product types: the catalog and each product's public review surface."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.catalog.models import Product as ProductModel
from domain.reviews import queries, summary
from schema.common import Money, global_id
from schema.errors import UserError, bad_input
from schema.node import Node
from schema.pagination import Connection, paginate
from schema.reviews import Question, RatingCount, Review, ReviewFilter, ReviewSort


@strawberry.type
class ReviewSummary:
    count: int
    average: float | None
    histogram: list[RatingCount]
    with_media_count: int
    model: strawberry.Private[ProductModel]

    @strawberry.field(description="Average pulled toward the store mean when there are few reviews (for ranking).")
    async def bayesian_average(self) -> float | None:
        return summary.bayesian_average(self.model, await summary.store_mean())

    @strawberry.field(description="schema.org Product + AggregateRating + Reviews, for <script type=application/ld+json>.")
    async def json_ld(self) -> str:
        return summary.json_ld(self.model, await queries.newest_published(self.model.id, 3))


# A federation entity (composition/api.py): a supergraph resolves the commerce platform's
# Product here by its externalId, with the review fields below.
@strawberry.federation.type(keys=["externalId"])
class Product(Node):
    external_id: str
    title: str | None
    categories: list[str]
    price: Money | None
    active: bool
    hidden: bool
    in_stock: bool
    model: strawberry.Private[ProductModel]

    @classmethod
    def from_model(cls, p: ProductModel) -> Product:
        return cls(
            id=global_id("Product", p.id), external_id=p.external_id, title=p.title, categories=list(p.categories or []),
            price=Money(amount=p.price, currency=p.currency or "") if p.price is not None else None,
            active=p.active, hidden=p.hidden, in_stock=p.in_stock, model=p,
        )

    @strawberry.field
    def review_summary(self) -> ReviewSummary:
        p = self.model
        return ReviewSummary(
            count=p.review_count, average=summary.average(p),
            histogram=[RatingCount(rating=i + 1, count=c) for i, c in enumerate(p.rating_histogram)],
            with_media_count=p.with_media_count, model=p,
        )

    @strawberry.field(description="Published reviews.")
    async def reviews(
        self, first: int | None = None, after: str | None = None, sort: ReviewSort = ReviewSort.NEWEST,
        filter: ReviewFilter | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[Review]:
        f = filter or ReviewFilter()
        if f.rating is not None and not 1 <= f.rating <= 5:
            raise bad_input("filter.rating must be from 1 to 5")
        # The sort is part of the cursor's tag: a position in one order means nothing in another.
        return await paginate(
            f"Product.reviews:{sort.value}", first, after, last, before,
            lambda req: queries.product_reviews(self.model, req, sort.value, rating=f.rating,
                                                with_media=f.with_media, verified_only=f.verified_only),
            Review.from_model)

    @strawberry.field(description="Published questions with their published answers.")
    async def questions(self, info: Info, first: int | None = None, after: str | None = None,
                        last: int | None = None, before: str | None = None) -> Connection[Question]:
        return await paginate("Product.questions", first, after, last, before,
                              lambda req: queries.product_questions(self.model.id, req), Question.from_model)


@strawberry.input
class ProductInput:
    external_id: str
    title: str | None = None
    categories: list[str] | None = None
    price: int | None = strawberry.field(default=None, description="Minor units.")
    currency: str | None = None
    active: bool | None = None
    hidden: bool | None = None
    in_stock: bool | None = None


@strawberry.type
class ProductsPayload:
    products: list[Product]
    errors: list[UserError]
