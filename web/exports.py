"""CSV exports for spreadsheet users (issue 13), streamed:

- GET /exports/segments/<id>.csv — the segment's members now (its filter, one SQL query read in
  keyset chunks of CHUNK members), oldest member first;
- GET /exports/insights.csv?from=YYYY-MM-DD&to=YYYY-MM-DD&currency=XXX[&interval=DAY|WEEK|MONTH] —
  every programInsights series, one row per bucket (default WEEK).

Credential: `Authorization: Bearer <key>` of an admin, or of a storefront/partner key holding
insights:read (401 without a valid one, 403 for other callers). Members' e-mail addresses are
a column only for callers holding members:pii (admins do). Written with the stdlib csv module;
a text cell starting with = + - @ (or a tab / carriage return) is prefixed with ' so a
spreadsheet never runs it as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, Router

from domain.auth import scopes as access
from domain.auth.service import AuthError, Viewer, authenticate
from domain.errors import DomainError
from domain.insights import service as insights
from domain.segments import service as segments

CHUNK = 1000  # members per keyset read
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


def safe(value: Any) -> Any:
    """A cell a spreadsheet shows as text: formula-looking strings get a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _line(cells: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([safe(c) for c in cells])
    return out.getvalue()


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=HEADERS)


async def _viewer(request: Request) -> Viewer | JSONResponse:
    try:
        viewer = await authenticate(request.headers.get("authorization"))
    except AuthError as exc:
        return _error(401, "UNAUTHENTICATED", str(exc))
    if viewer.role == "anonymous":
        return _error(401, "UNAUTHENTICATED", "Send an API key: Authorization: Bearer <key>")
    if not (viewer.role == "admin" or (viewer.role in ("storefront", "partner") and viewer.holds(access.INSIGHTS))):
        return _error(403, "FORBIDDEN", "Exports need an admin key or a key with the insights:read scope")
    return viewer


def _csv(rows: AsyncIterator[str], filename: str) -> StreamingResponse:
    return StreamingResponse(rows, media_type="text/csv; charset=utf-8",
                             headers=HEADERS | {"Content-Disposition": f'attachment; filename="{filename}"'})


async def segment_csv(request: Request) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    raw = request.path_params["segment_id"]
    segment = None
    if raw.isdigit() and len(raw) <= 10 and int(raw) <= 2**31 - 1:
        try:
            segment = await segments.get_segment(int(raw))
        except DomainError:
            segment = None
    if segment is None:
        return _error(404, "SEGMENT_NOT_FOUND", "No such segment")
    with_email = viewer.holds(access.PII)
    columns = ["externalId"] + (["email"] if with_email else []) + [
        "tier", "rfmSegment", "churnRisk", "pointsBalance", "memberSince"]
    fields = ["id", "external_id"] + (["email"] if with_email else []) + [
        "tier__name", "insight__rfm_segment", "insight__churn_risk", "points_balance", "created_at"]
    query = segments.members_of(segment)

    async def rows() -> AsyncIterator[str]:
        yield _line(columns)
        after = 0
        while True:
            chunk = await query.filter(id__gt=after).order_by("id").limit(CHUNK).values(*fields)
            for row in chunk:
                yield _line([row[f] if f != "created_at" else row[f].isoformat() for f in fields[1:]])
            if len(chunk) < CHUNK:
                return
            after = chunk[-1]["id"]

    return _csv(rows(), f"segment-{segment.id}.csv")


async def insights_csv(request: Request) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    q = request.query_params
    interval = q.get("interval", "WEEK")
    try:
        first, last = date.fromisoformat(q.get("from", "")), date.fromisoformat(q.get("to", ""))
    except ValueError:
        return _error(400, "BAD_USER_INPUT", "from and to must be dates, YYYY-MM-DD")
    if interval not in insights.INTERVALS:
        return _error(400, "BAD_USER_INPUT", f"interval must be one of {', '.join(insights.INTERVALS)}")
    try:
        p = insights.period(first, last, q.get("currency", ""))
    except DomainError as exc:
        return _error(400, "BAD_USER_INPUT", exc.message)
    series = {metric: dict(await insights.series(p, metric, interval)) for metric in insights.METRICS}

    async def rows() -> AsyncIterator[str]:
        yield _line(["periodStart", "currency", *insights.METRICS])
        for at in series[insights.METRICS[0]]:
            yield _line([at.isoformat(), p.currency, *(series[m][at] for m in insights.METRICS)])

    return _csv(rows(), f"insights-{first.isoformat()}-{last.isoformat()}-{interval.lower()}.csv")


def export_routes() -> Router:
    return Router(routes=[
        Route("/segments/{segment_id}.csv", segment_csv, methods=["GET"]),
        Route("/insights.csv", insights_csv, methods=["GET"]),
    ])
