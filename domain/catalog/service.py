"""The product catalog: products Patron knows, from upsertProducts or from orders."""

from __future__ import annotations

from typing import Any

from domain import clock
from domain.catalog.models import Product
from domain.db import after_commit, in_write_transaction, write_transaction
from domain.errors import InvalidInput, NotFound

MAX_BATCH = 100
# externalIds of products known to exist: Patron never deletes a product (reviews and
# questions reference them with RESTRICT), so once seen committed, always there. Lets
# recordOrder skip its product lookup for products it has met before (per process).
_known: set[str] = set()
KNOWN_MAX = 100_000


def forget() -> None:
    """Tests empty the tables behind the process's back."""
    _known.clear()


def _remember(external_ids: set[str]) -> None:
    if len(_known) + len(external_ids) > KNOWN_MAX:
        _known.clear()
    _known.update(external_ids)


async def get_product(external_id: str, field: str = "productExternalId") -> Product:
    product = await Product.get_or_none(external_id=external_id)
    if product is None:
        raise NotFound(f"No product {external_id!r}", field, code="PRODUCT_NOT_FOUND")
    return product


async def note_ordered_products(lines: list[tuple[str, str | None]]) -> None:
    """Make sure products named on order lines exist (product externalId, category)."""
    wanted = {pid: cat for pid, cat in lines if pid and pid not in _known}
    if not wanted:
        return
    known = set(await Product.filter(external_id__in=list(wanted)).values_list("external_id", flat=True))
    _remember(known)  # committed rows (only these products are new to this process)
    now = clock.now()
    missing = [
        Product(external_id=pid, categories=[cat] if cat else [], created_at=now, updated_at=now)
        for pid, cat in wanted.items() if pid not in known
    ]
    if missing:
        await Product.bulk_create(missing, ignore_conflicts=True)
        created = {p.external_id for p in missing}
        if in_write_transaction():  # known once the transaction commits (never on a rollback)
            async def remember_created() -> None:
                _remember(created)

            after_commit(remember_created)


def _validate(item: dict[str, Any], i: int) -> None:
    ext = item.get("external_id") or ""
    if not ext.strip() or len(ext) > 255:
        raise InvalidInput("externalId must be 1 to 255 characters", f"products.{i}.externalId")
    if item.get("price") is not None and item["price"] < 0:
        raise InvalidInput("price must not be negative", f"products.{i}.price")
    currency = item.get("currency")
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        raise InvalidInput("currency must be an ISO 4217 code", f"products.{i}.currency")
    if len(item.get("categories") or []) > 20:
        raise InvalidInput("At most 20 categories", f"products.{i}.categories")


async def upsert_products(items: list[dict[str, Any]]) -> list[Product]:
    if not items or len(items) > MAX_BATCH:
        raise InvalidInput(f"Send 1 to {MAX_BATCH} products per call", "products")
    for i, item in enumerate(items):
        _validate(item, i)
    async with write_transaction():
        return await _upsert_all(items)


async def _upsert_all(items: list[dict[str, Any]]) -> list[Product]:
    now = clock.now()
    result = []
    for item in items:
        values = {k: v for k, v in item.items() if v is not None and k != "external_id"}
        if "currency" in values:
            values["currency"] = values["currency"].upper()
        product = await Product.get_or_none(external_id=item["external_id"])
        if product is None:
            product = await Product.create(external_id=item["external_id"], created_at=now, updated_at=now, **values)
        elif values:
            product.update_from_dict(values)
            product.updated_at = now
            await product.save()
        result.append(product)
    return result
