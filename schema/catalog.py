"""Product types: the catalog and each product's public review surface."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain import changes
from domain.catalog.models import Product as ProductModel
from domain.feedback import improvements
from domain.reviews import queries, summary
from schema.common import Money, global_id
from schema.errors import UserError, bad_input
from schema.feedback import Improvement
from schema.node import Node
from schema.pagination import Connection, paginate
from schema.reviews import Question, RatingCount, Review, ReviewFilterInput, ReviewSort


@strawberry.type
class ReviewSummary:
    count: int = strawberry.field(description="Published reviews of the product (rating-only ones included).")
    average: float | None = strawberry.field(description="Mean stars of the published reviews, 1 to 5 rounded to 2 decimals; null without reviews.")
    histogram: list[RatingCount] = strawberry.field(description="Published reviews per star rating, 1 to 5 (always five entries).")
    with_media_count: int = strawberry.field(description="Published reviews with published photos or videos.")
    model: strawberry.Private[ProductModel]

    @strawberry.field(description="Average pulled toward the store mean when there are few reviews (for ranking).")
    async def bayesian_average(self) -> float | None:
        changes.reading(changes.REVIEWS)  # the store-wide mean moves with any product's reviews
        return summary.bayesian_average(self.model, await summary.store_mean())

    @strawberry.field(description="schema.org Product + AggregateRating + Reviews, for <script type=application/ld+json>.")
    async def json_ld(self) -> str:
        return summary.json_ld(self.model, await queries.newest_published(self.model.id, 3))


# A federation entity (composition/api.py): a supergraph resolves the commerce platform's
# Product here by its externalId, with the review fields below.
@strawberry.federation.type(keys=["externalId"])
class Product(Node):
    external_id: str = strawberry.field(description="The commerce platform's id of the product (1 to 255 characters; the federation key).")
    title: str | None = strawberry.field(description="The product name from the catalog; null for a product only seen on an order.")
    categories: list[str] = strawberry.field(description="The catalog's categories (at most 20); empty when unknown.")
    price: Money | None = strawberry.field(description="The catalog price; null when the catalog gave none.")
    active: bool = strawberry.field(description="Sold by the store; inactive products are never recommended.")
    hidden: bool = strawberry.field(description="Hidden by the merchant; hidden products are never recommended.")
    in_stock: bool = strawberry.field(description="Available to order; out-of-stock products are never recommended.")
    model: strawberry.Private[ProductModel]

    @classmethod
    def from_model(cls, p: ProductModel) -> Product:
        return cls(
            id=global_id("Product", p.id), external_id=p.external_id, title=p.title, categories=list(p.categories or []),
            price=Money(amount=p.price, currency=p.currency or "") if p.price is not None else None,
            active=p.active, hidden=p.hidden, in_stock=p.in_stock, model=p,
        )

    @strawberry.field(description="What the brand changed in this product thanks to reviews and questions, newest "
                                  "first (the latest 50).")
    async def improvements(self) -> list[Improvement]:
        return [Improvement.from_model(i, self.external_id) for i in await improvements.of_product(self.model.id)]

    @strawberry.field(description="Counts, average and histogram of the published reviews.")
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
        filter: ReviewFilterInput | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[Review]:
        f = filter or ReviewFilterInput()
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
    external_id: str = strawberry.field(description="The commerce platform's id of the product, 1 to 255 characters: an existing product is updated.")
    title: str | None = strawberry.field(default=None, description="The product name, at most 500 characters; null keeps the current one.")
    categories: list[str] | None = strawberry.field(default=None, description="At most 20 categories; null keeps the current ones.")
    price: int | None = strawberry.field(default=None, description="Price in minor units (e.g. cents), not negative; null keeps the current one.")
    currency: str | None = strawberry.field(default=None, description="ISO 4217 code of the price (stored upper case); null keeps the current one.")
    active: bool | None = strawberry.field(default=None, description="Whether the store sells it; null keeps the current value (new: true).")
    hidden: bool | None = strawberry.field(default=None, description="Hide it from recommendations; null keeps the current value (new: false).")
    in_stock: bool | None = strawberry.field(default=None, description="Whether it can be ordered; null keeps the current value (new: true).")


@strawberry.type
class ProductsPayload:
    products: list[Product] = strawberry.field(description="The products as saved, in input order; empty when errors is not empty.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved; empty on success.")
