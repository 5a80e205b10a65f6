from __future__ import annotations

from strawberry.types import Info

from domain import changes
from domain.catalog import service
from domain.catalog.models import Product as ProductModel
from resolvers.common import attempt, fields_given
from schema.catalog import Product, ProductInput, ProductsPayload


async def product(info: Info, external_id: str) -> Product | None:
    row = await ProductModel.get_or_none(external_id=external_id)
    # A cached page follows this product's tag; "no such product" follows every write (a
    # product can appear through several services).
    changes.reading(changes.product_tag(row.id) if row else changes.ANY)
    return Product.from_model(row) if row else None


async def upsert_products(info: Info, input: list[ProductInput]) -> ProductsPayload:
    rows, errors = await attempt(service.upsert_products([fields_given(p) for p in input]))
    return ProductsPayload(products=[Product.from_model(p) for p in rows or []], errors=errors)


async def products_by_external_id(external_ids: list[str]) -> dict[str, Product]:
    return {p.external_id: Product.from_model(p) for p in await ProductModel.filter(external_id__in=external_ids)}
