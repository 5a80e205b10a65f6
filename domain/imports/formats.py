"""Reading import files as a stream of records: CSV (Patron's columns, another platform's
export by name — Okendo, Judge.me, Yotpo reviews, Shopify orders — or any columns through a
mapping) and JSON Lines.

The file is read through a text wrapper and the stdlib csv module, one record at a time, so
memory stays flat whatever the file's size; quoted fields may span lines. Encoding: UTF-8
with or without a BOM, else CP949 (a superset of EUC-KR, what Korean spreadsheets save);
detected on the counting pass, or given. A file that does not look like the declared format
raises `FormatMismatch` before any row is written; a bad row is a record with a problem.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

csv.field_size_limit(10 * 1024 * 1024)  # one review body may be long; a row is still bounded

KINDS = ("members", "orders", "reviews", "points_balances")
FORMATS = ("patron", "jsonl", "okendo", "judgeme", "yotpo", "shopify")
ENCODINGS = {"utf-8": "utf-8-sig", "utf-8-sig": "utf-8-sig", "utf8": "utf-8-sig",
             "cp949": "cp949", "euc-kr": "cp949", "euckr": "cp949"}
CONSENT_PREFIX = "consent."

# The fields of each kind (Patron's CSV columns and JSON keys), and those a file must have.
FIELDS: dict[str, tuple[str, ...]] = {
    "reviews": ("externalId", "productExternalId", "rating", "title", "body", "authorName", "email",
                "createdAt", "countryCode", "mediaUrls"),
    "orders": ("externalId", "memberExternalId", "email", "currency", "channel", "placedAt", "cancelledAt", "sku",
               "quantity", "unitPrice", "price", "productExternalId", "category"),
    "members": ("externalId", "email", "name", "birthday", "signupChannel"),
    "points_balances": ("externalId", "memberExternalId", "points", "expiresAt", "reason"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "reviews": ("productExternalId", "rating"),
    "orders": ("externalId", "currency", "placedAt", "sku", "quantity", "unitPrice|price"),
    "members": ("externalId",),
    "points_balances": ("memberExternalId", "points"),
}
LINE_FIELDS = ("sku", "quantity", "unitPrice", "price", "productExternalId", "category")


@dataclass(frozen=True)
class Named:
    """Another platform's export: its columns (matched ignoring case, spaces and punctuation:
    "Review Title" = "review_title") → our fields; `products` are the columns naming the
    product, the first one filled in wins; `line_name` (Shopify) stands in for a missing SKU."""
    title: str
    kind: str
    columns: dict[str, str]
    products: tuple[str, ...] = ()
    line_name: str | None = None
    hints: dict[str, str] = field(default_factory=dict)  # a missing field → the columns it reads


NAMED: dict[str, Named] = {
    # Okendo's review import template (support.okendo.io, "Importing reviews using the Okendo
    # import template"). No review id: each row gets a hash of its values.
    "okendo": Named("an Okendo review export", "reviews", {
        "name": "authorName", "body": "body", "title": "title", "rating": "rating", "datecreated": "createdAt",
        "countrycode": "countryCode", "email": "email", "imageurls": "mediaUrls"}, ("handle", "productid", "sku"),
        hints={"productExternalId": "handle, productId or sku", "rating": "rating"}),
    # Judge.me's review export / import CSV (title, body, rating, review_date, reviewer_name,
    # reviewer_email, product_id, product_handle, picture_urls, ...). No review id either.
    "judgeme": Named("a Judge.me review export", "reviews", {
        "title": "title", "reviewtitle": "title", "body": "body", "rating": "rating", "reviewdate": "createdAt",
        "reviewername": "authorName", "revieweremail": "email", "pictureurls": "mediaUrls",
        }, ("producthandle", "productid", "productsku"),
        hints={"productExternalId": "product_handle or product_id", "rating": "rating"}),
    # Yotpo's review export (Review ID, Review Title, Review Content, Review Score, Date,
    # Product ID, Display Name, Email, ...) and its import template's snake_case spelling.
    "yotpo": Named("a Yotpo review export", "reviews", {
        "reviewid": "externalId", "reviewtitle": "title", "reviewcontent": "body", "reviewscore": "rating",
        "date": "createdAt", "reviewdate": "createdAt", "displayname": "authorName", "username": "authorName",
        "email": "email", "useremail": "email", "mdcustomercountry": "countryCode",
        "publishedimageurl": "mediaUrls", "imageurls": "mediaUrls"}, ("productid", "domainkey", "productsku", "sku"),
        hints={"productExternalId": "Product ID", "rating": "Review Score"}),
    # Shopify's orders export (Admin > Orders > Export): one row per line item; the order's own
    # columns are filled on its first row only; Name (#1001) is on every row.
    "shopify": Named("a Shopify orders export", "orders", {
        "name": "externalId", "email": "email", "currency": "currency", "createdat": "placedAt",
        "cancelledat": "cancelledAt", "source": "channel", "lineitemquantity": "quantity",
        "lineitemprice": "price", "lineitemsku": "sku"}, (), "lineitemname",
        hints={"externalId": "Name", "currency": "Currency", "placedAt": "Created at", "sku": "Lineitem sku",
               "quantity": "Lineitem quantity", "unitPrice|price": "Lineitem price"}),
}


def squeeze(header: str) -> str:
    return "".join(c for c in header.lower() if c.isalnum())


class FormatMismatch(Exception):
    """The file is not what the job declared (or not readable text): the job fails at once."""


@dataclass
class Record:
    row: int  # the record's first data row (1 = the first after the header; JSON Lines: line number)
    rows: int  # data rows it spans (an order's lines are consecutive rows)
    data: dict[str, Any] = field(default_factory=dict)
    problem: tuple[str | None, str] | None = None  # (field, message) when the row cannot be read
    blank: bool = False  # an empty row: consumed, not counted


def python_encoding(name: str | None) -> str | None:
    return None if name is None else ENCODINGS.get(name.strip().lower())


def field_names(kind: str) -> set[str]:
    return set(FIELDS[kind])


def check_mapping(kind: str, mapping: dict[str, Any] | None) -> dict[str, str]:
    """{file column: field}; every target must be a field of the kind (or consent.<PURPOSE>)."""
    if not mapping:
        return {}
    if not isinstance(mapping, dict) or len(mapping) > 100:
        raise ValueError("mapping must be an object of at most 100 {column: field} pairs")
    out = {}
    for column, target in mapping.items():
        if not isinstance(target, str) or not (target in FIELDS[kind] or (
                kind == "members" and target.startswith(CONSENT_PREFIX))):
            raise ValueError(f"mapping: {target!r} is not a {kind} field ({', '.join(FIELDS[kind])})")
        out[str(column).strip()] = target
    return out


def _header_fields(kind: str, fmt: str, header: list[str], mapping: dict[str, str]) -> list[str | None]:
    """The field each column feeds (None: ignored); `product:<n>` / `line:name` for a named
    format's product columns and Shopify's line item name."""
    named = NAMED.get(fmt)
    out: list[str | None] = []
    for raw in header:
        name = raw.strip()
        if name in mapping:
            out.append(mapping[name])
        elif named is not None:
            low = squeeze(name)
            if low in named.columns:
                out.append(named.columns[low])
            elif low in named.products:
                out.append(f"product:{low}")
            elif low == named.line_name:
                out.append("line:name")
            else:
                out.append(None)
        elif name in FIELDS[kind] or (kind == "members" and name.startswith(CONSENT_PREFIX)):
            out.append(name)
        else:
            out.append(None)
    return out


def _check_header(kind: str, fmt: str, columns: list[str | None], header: list[str]) -> None:
    present = {c for c in columns if c}
    if any(c.startswith("product:") for c in present):
        present.add("productExternalId")
    if "line:name" in present:
        present.add("sku")
    missing = [f for f in REQUIRED[kind] if not any(part in present for part in f.split("|"))]
    if not missing:
        return
    shown = ", ".join(h.strip()[:40] for h in header[:8]) or "nothing"
    named = NAMED.get(fmt)
    if named is not None:
        names = "; ".join(named.hints.get(m, m) for m in missing)
        raise FormatMismatch(f"This is not {named.title}: its header ({shown}) has no {names} column")
    raise FormatMismatch(f"This is not a Patron {kind} CSV file: its header ({shown}) lacks the column(s) "
                         f"{', '.join(missing)} (or give a mapping)")


def _named_fields(named: Named, values: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in values.items() if not k.startswith(("product:", "line:"))}
    if not out.get("productExternalId") and named.products:  # a mapping to productExternalId wins
        out["productExternalId"] = next(
            (values[f"product:{p}"] for p in named.products if values.get(f"product:{p}")), None)
    if named.line_name and not out.get("sku") and values.get("line:name"):
        out["sku"] = values["line:name"][:255]  # Shopify: products without a SKU
    return out


def row_hash(prefix: str, values: dict[str, Any]) -> str:
    """A stable id for a row of a format without ids: the same row always hashes alike."""
    text = json.dumps({k: values[k] for k in sorted(values) if values[k] not in (None, "")},
                      ensure_ascii=False, sort_keys=True, default=str)
    return f"{prefix}:{hashlib.sha256(text.encode()).hexdigest()[:40]}"


def open_text(path: str, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(open(path, "rb"), encoding=encoding, newline="")  # noqa: SIM115


def _csv_rows(kind: str, fmt: str, text: io.TextIOBase, mapping: dict[str, str]) -> Iterator[Record]:
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise FormatMismatch("The file is empty (no header row)") from None
    except csv.Error as exc:
        raise FormatMismatch(f"Not a CSV file: {exc}") from None
    if header and header[0].lstrip().startswith("{"):
        raise FormatMismatch("This looks like JSON, not CSV: give format jsonl")
    columns = _header_fields(kind, fmt, header, mapping)
    _check_header(kind, fmt, columns, header)
    number = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FormatMismatch(f"Not a CSV file near data row {number + 1}: {exc}") from None
        number += 1
        if not any(v.strip() for v in values):
            yield Record(number, 1, blank=True)
            continue
        if len(values) > len(header):
            yield Record(number, 1, {}, (None, f"{len(values)} values for {len(header)} columns"))
            continue
        data: dict[str, Any] = {}
        for column, value in zip(columns, values, strict=False):
            if column is None:
                continue
            value = value.strip()
            data[column] = value if value != "" else None
        if fmt in NAMED:
            data = _named_fields(NAMED[fmt], data)
        yield Record(number, 1, data)


def _jsonl_rows(kind: str, text: io.TextIOBase, mapping: dict[str, str]) -> Iterator[Record]:
    number = 0
    for line in text:
        number += 1
        if not line.strip():
            yield Record(number, 1, blank=True)
            continue
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            if number == 1:
                raise FormatMismatch("Line 1 is not a JSON object: this is not a JSON Lines file")
            yield Record(number, 1, {}, (None, "not a JSON object"))
            continue
        data = {mapping.get(k, k): v for k, v in value.items()}
        data = {k: v for k, v in data.items() if k in FIELDS[kind] or k == "lines"
                or (kind == "members" and (k.startswith(CONSENT_PREFIX) or k == "consents"))}
        yield Record(number, 1, data)


def _group_orders(records: Iterator[Record]) -> Iterator[Record]:
    """CSV orders have one row per line: consecutive rows of one externalId are one order."""
    current: Record | None = None
    for rec in records:
        if rec.problem or rec.blank or "lines" in rec.data:
            if current:
                yield current
                current = None
            yield rec
            continue
        line = {k: rec.data.get(k) for k in LINE_FIELDS}
        if current is not None and current.data.get("externalId") == rec.data.get("externalId"):
            current.rows += 1
            current.data["lines"].append(line)
            continue
        if current:
            yield current
        head = {k: v for k, v in rec.data.items() if k not in line}
        current = Record(rec.row, 1, head | {"lines": [line]})
    if current:
        yield current


def records(kind: str, fmt: str, path: str, encoding: str, mapping: dict[str, str]) -> Iterator[Record]:
    """Every record of the file, in order; raises FormatMismatch (or UnicodeDecodeError)."""
    with open_text(path, encoding) as text:
        rows = _jsonl_rows(kind, text, mapping) if fmt == "jsonl" else _csv_rows(kind, fmt, text, mapping)
        yield from (_group_orders(rows) if kind == "orders" else rows)


def count(kind: str, fmt: str, path: str, encoding: str | None, mapping: dict[str, str]) -> tuple[int, str]:
    """(records, encoding): a full pass that checks the format and the text encoding. Without
    a given encoding UTF-8 (BOM or not) is tried, then CP949."""
    tries = [encoding] if encoding else ["utf-8-sig", "cp949"]
    for i, name in enumerate(tries):
        try:
            return sum(1 for r in records(kind, fmt, path, name, mapping) if not r.blank), name
        except UnicodeDecodeError:
            if i == len(tries) - 1:
                shown = "UTF-8 or CP949/EUC-KR" if not encoding else encoding
                raise FormatMismatch(f"The file is not {shown} text (give the encoding, or save it as UTF-8)") from None
    raise AssertionError("unreachable")
