"""/console: sign-in, the reviews inbox (reviews, photos, questions), replies, member search and
Member 360, the program, insights, the audit log.

A page resolves the session cookie to a staff account, builds that account's viewer
(domain/staff/service.py viewer_for) and runs GraphQL documents (documents.py) in-process
with it: a refusal of the schema is the page's refusal (403). Every form carries a CSRF token
bound to the session (an HMAC of the session token); the sign-in form, before any session,
a double-submit cookie. A form posted without the right token is refused with 403 and
changes nothing."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Any
from urllib.parse import quote, unquote_plus, urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from domain import clock
from domain.auth.scopes import STAFF_ADMIN_ROLES
from domain.staff import service as staff
from domain.settings import get_settings
from web.console import documents as docs, member_actions
from web.console.charts import bar_chart, line_chart
from web.console.gql import Refused
from web.console.i18n import LANG_COOKIE, LOCALES, Translator
from web.console.page import (
    BASE, HERE, PRESESSION_COOKIE, SESSION_COOKIE, Page, client_ip,
    error_code, flash, form_text, is_secure, landing, redirect, render, staff_page, translator,
)

MODERATION_REASONS = ("SPAM", "OFF_TOPIC", "PROFANITY", "PERSONAL_DATA", "LINK", "OTHER")
STATUSES = ("PENDING", "PUBLISHED", "REJECTED")
INBOX_FILTERS = ("status", "rating", "media", "product")
# Pages added later live in their own modules (web/console/<page>.py), each exposing
# `routes(page) -> list[Route]`; they import web/console/page.py, never this module.
PAGE_MODULES: tuple[Any, ...] = (member_actions,)


# --- sign-in ---------------------------------------------------------------------------

async def sign_in(request: Request) -> Response:
    t = translator(request)
    if request.method == "GET":
        signed = await staff.session_user(request.cookies.get(SESSION_COOKIE))
        if signed:
            return redirect(landing(signed))
        return _sign_in_form(request, t)
    form = await request.form(max_fields=10, max_files=0)
    given, expected = form_text(form, "csrf", 100), request.cookies.get(PRESESSION_COOKIE, "")
    if not given or not expected or not hmac.compare_digest(given, expected):
        return render(request, "message.html", 403, t=t, title=t("csrf"), text="")
    email = form_text(form, "email", 254)
    try:
        signed = await staff.sign_in(email, form_text(form, "password", staff.MAX_PASSWORD_CHARS + 1), client_ip(request))
    except staff.SignInRefused as exc:
        key = {"ACCOUNT_LOCKED": "locked", "SIGN_IN_THROTTLED": "throttled"}.get(exc.code, "wrong_credentials")
        return _sign_in_form(request, t, error=t(key), email=email, status=429 if key == "throttled" else 401)
    response = redirect(landing(signed.user))
    response.set_cookie(SESSION_COOKIE, signed.token, httponly=True, samesite="lax", secure=is_secure(request),
                        path=BASE, max_age=None)
    response.delete_cookie(PRESESSION_COOKIE, path=BASE)
    return response


def _sign_in_form(request: Request, t: Translator, error: str = "", email: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "sign_in.html", status, t=t, csrf=token, error=error, email=email, user=None)
    response.set_cookie(PRESESSION_COOKIE, token, httponly=True, samesite="strict", secure=is_secure(request),
                        path=BASE)
    return response


async def _sign_out(page: Page) -> Response:
    await staff.sign_out(page.token, client_ip(page.request))
    response = redirect(f"{BASE}/sign-in")
    response.delete_cookie(SESSION_COOKIE, path=BASE)
    return response


async def _password(page: Page) -> Response:
    if page.request.method == "GET":
        return page.render("password.html", error="")
    form: FormData = page.form  # type: ignore[attr-defined]
    new = form_text(form, "password", staff.MAX_PASSWORD_CHARS + 1)
    if new != form_text(form, "confirm", staff.MAX_PASSWORD_CHARS + 1):
        return page.render("password.html", 400, error=page.t("password_mismatch"))
    try:
        await staff.change_password(page.user, form_text(form, "current", staff.MAX_PASSWORD_CHARS + 1), new,
                                    page.token, client_ip(page.request))
    except staff.InvalidInput as exc:
        key = {"WRONG_PASSWORD": "password_wrong", "SAME_PASSWORD": "password_same"}.get(exc.code, "password_rules")
        return page.render("password.html", 400, error=page.t(key, n=staff.MIN_PASSWORD_CHARS))
    return redirect(f"{landing(page.user)}?done=password")


async def language(request: Request) -> Response:
    """The language switch: remembers the choice in a cookie and goes back to the page."""
    to = request.query_params.get("to", "")
    back = request.query_params.get("next", "")
    if not back.startswith(BASE + "/") or "//" in back or "\\" in back:
        back = f"{BASE}/reviews"
    response = redirect(back)
    if to in LOCALES:
        response.set_cookie(LANG_COOKIE, to, max_age=365 * 86400, samesite="lax", secure=is_secure(request),
                            path=BASE)
    return response


async def home(request: Request) -> Response:
    return redirect(f"{BASE}/sign-in")  # which sends a signed-in person on to their role's first page


# --- reviews inbox ---------------------------------------------------------------------

def _inbox_filters(params: Any) -> dict[str, str]:
    chosen = {k: params.get(k, "") for k in INBOX_FILTERS}
    if chosen["status"] not in STATUSES:
        chosen["status"] = ""
    if chosen["rating"] not in ("1", "2", "3", "4", "5"):
        chosen["rating"] = ""
    if chosen["media"] not in ("yes", "no"):
        chosen["media"] = ""
    chosen["product"] = chosen["product"].strip()[:255]
    return chosen


def _inbox_url(filters: dict[str, str], **extra: Any) -> str:
    query = {k: v for k, v in filters.items() if v} | {k: v for k, v in extra.items() if v not in (None, "")}
    return f"{BASE}/reviews" + (f"?{urlencode(query)}" if query else "")


async def _inbox(page: Page) -> Response:
    params = page.request.query_params
    filters = _inbox_filters(params)
    variables = {
        "status": filters["status"] or None,
        "rating": int(filters["rating"]) if filters["rating"] else None,
        "withMedia": {"yes": True, "no": False}.get(filters["media"]),
        "product": filters["product"] or None,
        "after": params.get("after") or None,
    }
    data = await page.query(docs.INBOX, variables)
    queue = data["reviewModerationQueue"]
    # Questions have no stars, media or status filter here: they show with the unfiltered inbox.
    questions, answers = [], []
    if not any(filters.values()) and not params.get("after"):
        asked = (await page.query(docs.QUESTIONS))["questionModerationQueue"]
        questions = [e["node"] for e in asked["edges"]]
        answered = (await page.query(docs.ANSWERS))["answerModerationQueue"]
        answers = [e["node"] for e in answered["edges"]]
    return page.render("inbox.html", reviews=[e["node"] for e in queue["edges"]], filters=filters, questions=questions,
                       answers=answers,
                       statuses=STATUSES, reasons=MODERATION_REASONS, page_info=queue["pageInfo"],
                       next_url=_inbox_url(filters, after=queue["pageInfo"]["endCursor"]),
                       back=urlencode({k: v for k, v in filters.items() if v}), flash=flash(page))



def _back_filters(form: FormData) -> dict[str, str]:
    from_form = {}
    for pair in form_text(form, "back", 600).split("&"):
        key, _, value = pair.partition("=")
        from_form[key] = value
    return _inbox_filters({k: unquote_plus(v) for k, v in from_form.items()})




async def _moderate(page: Page) -> Response:
    """One review (the item's own button, `item` = "<id>:PUBLISH|REJECT") or the selected ones
    (`bulk` = PUBLISH|REJECT with the checked `ids`), each through moderateReview."""
    return await _moderate_items(page, docs.MODERATE, "moderateReview", "review.moderate", "moderated")


async def _moderate_questions(page: Page) -> Response:
    """The same for product questions, through moderateQuestion."""
    return await _moderate_items(page, docs.MODERATE_QUESTION, "moderateQuestion", "question.moderate", "questions")


async def _moderate_answers(page: Page) -> Response:
    """The same for answers to product questions, through moderateAnswer."""
    return await _moderate_items(page, docs.MODERATE_ANSWER, "moderateAnswer", "answer.moderate", "answers")


async def _moderate_items(page: Page, document: str, mutation: str, audit_action: str, done_key: str) -> Response:
    form: FormData = page.form  # type: ignore[attr-defined]
    filters = _back_filters(form)
    item = form_text(form, "item", 200)
    if item:
        review_id, _, action = item.rpartition(":")
        targets = [(review_id, action, form_text(form, f"reason-{review_id}", 40), form_text(form, f"note-{review_id}", 1000))]
    else:
        action = form_text(form, "bulk", 20)
        ids = [v for v in form.getlist("ids") if isinstance(v, str)][:100]
        targets = [(i, action, form_text(form, "bulk-reason", 40), form_text(form, "bulk-note", 1000)) for i in ids]
        if not ids:
            return redirect(_inbox_url(filters, error="NOTHING_SELECTED"))
    done = 0
    for review_id, action, reason, note in targets:
        if action not in ("PUBLISH", "REJECT"):
            return redirect(_inbox_url(filters, error="INVALID"))
        variables = {"input": {"id": review_id, "action": action, "reason": reason or None, "note": note or None}}
        result = (await page.query(document, variables))[mutation]
        if result["errors"]:
            return redirect(_inbox_url(filters, done=done_key if done else "", n=done,
                                        error=error_code(result["errors"][0])))
        await page.audit(audit_action, f"{review_id} {action} {reason}".strip())
        done += 1
    return redirect(_inbox_url(filters, done=done_key, n=done))


async def _moderate_media(page: Page) -> Response:
    form: FormData = page.form  # type: ignore[attr-defined]
    filters = _back_filters(form)
    media_id, _, action = form_text(form, "media", 200).rpartition(":")
    if action not in ("PUBLISH", "REJECT") or not media_id:
        return redirect(_inbox_url(filters, error="INVALID"))
    reason = form_text(form, f"reason-{media_id}", 40) or None
    result = (await page.query(docs.MODERATE_MEDIA, {"input": {"id": media_id, "action": action,
                                                                "reason": reason}}))["moderateReviewMedia"]
    if result["errors"]:
        return redirect(_inbox_url(filters, error=error_code(result["errors"][0])))
    await page.audit("review.media.moderate", f"{media_id} {action} {reason or ''}".strip())
    return redirect(_inbox_url(filters, done="media"))


# --- replies ---------------------------------------------------------------------------

async def _replies(page: Page) -> Response:
    data = await page.query(docs.AWAITING, {"after": page.request.query_params.get("after") or None})
    listing = data["reviewsAwaitingReply"]
    now = clock.now()
    items = []
    for edge in listing["edges"]:
        review = edge["node"]
        due = dt.datetime.fromisoformat(review["replyDueAt"]) if review["replyDueAt"] else None
        left = (due - now) if due else None
        items.append({"review": review, "due": due, "overdue": left is not None and left.total_seconds() <= 0,
                      "left": page.t.duration(left) if left is not None else ""})
    # Most urgent first: the earliest due date (overdue ones, most late first).
    items.sort(key=lambda i: (i["due"] is None, i["due"] or now))
    return page.render("replies.html", items=items, total=listing["totalCount"], page_info=listing["pageInfo"],
                       flash=flash(page))


async def _reply(page: Page) -> Response:
    form: FormData = page.form  # type: ignore[attr-defined]
    review_id = form_text(form, "review", 200)
    result = (await page.query(docs.REPLY, {"input": {"reviewId": review_id, "body": form_text(form, "body")}}))
    payload = result["replyToReview"]
    back = form_text(form, "back", 10)
    target = f"{BASE}/replies/{review_id}" if back == "edit" else f"{BASE}/replies"
    if payload["errors"]:
        return redirect(f"{target}?{urlencode({'error': error_code(payload['errors'][0])})}")
    await page.audit("review.reply", review_id)
    return redirect(f"{target}?done=replied")


async def _replies_page(page: Page) -> Response:
    return await (_reply(page) if page.request.method == "POST" else _replies(page))


async def _reply_edit(page: Page) -> Response:
    review_id = page.request.path_params["review_id"]
    review = (await page.query(docs.REVIEW, {"id": review_id}))["node"]
    if not review:
        return page.render("message.html", 404, title=page.t("not_found"), text="")
    return page.render("reply_edit.html", review=review, flash=flash(page))


# --- insights --------------------------------------------------------------------------

INTERVALS = ("DAY", "WEEK", "MONTH")
SERIES = (("revenue", "chart_revenue"), ("orderCount", "chart_orders"), ("newMembers", "chart_new_members"),
          ("pointsIssued", "chart_points_issued"))


def _insights_period(params: Any) -> dict[str, str]:
    """The period asked for; by default the last 30 days (UTC) in PATRON_INSIGHTS_CURRENCY, by day."""
    today = clock.now().date()
    chosen = {"from": params.get("from", "")[:10] or (today - dt.timedelta(days=29)).isoformat(),
              "to": params.get("to", "")[:10] or today.isoformat(),
              "currency": params.get("currency", "").strip().upper()[:3] or get_settings().insights_currency,
              "interval": params.get("interval", "")}
    if chosen["interval"] not in INTERVALS:
        chosen["interval"] = "DAY"
    return chosen


async def _insights(page: Page) -> Response:
    period = _insights_period(page.request.query_params)
    t = page.t
    try:
        data = await page.query(docs.INSIGHTS, period)
    except Refused as exc:
        if exc.code != "BAD_USER_INPUT":
            raise
        return page.render("insights.html", 400, period=period, intervals=INTERVALS, data=None, charts=[],
                           rfm=None, flash={"kind": "error", "text": t("error", message=str(exc))})
    figures = data["programInsights"]
    currency = period["currency"]

    def money(value: float) -> str:
        return t.money(value, currency)

    charts = []
    for key, title in SERIES:
        label = money if key == "revenue" else t.number
        points = [(t.date(p["at"]), p["value"]) for p in figures[key]]
        charts.append((t(title), line_chart(f"chart-{key}", t(title), points, label)))
    rfm = bar_chart("chart-rfm", t("rfm"), [(t(f"rfm_{s['segment']}"), s["members"]) for s in data["rfmSegments"]],
                    t.number)
    return page.render("insights.html", period=period, intervals=INTERVALS, data=figures, charts=charts, rfm=rfm)


# --- program ---------------------------------------------------------------------------

def _example(params: Any) -> dict[str, str]:
    """The earning example's order line as typed (defaults: one unit of 50,000 in the insights
    currency); the API validates it."""
    return {"sku": params.get("sku", "").strip()[:255] or "SAMPLE-1", "category": params.get("category", "").strip()[:255],
            "quantity": params.get("quantity", "").strip()[:9] or "1", "price": params.get("price", "").strip()[:15] or "50000",
            "currency": params.get("currency", "").strip().upper()[:3] or get_settings().insights_currency}


async def _program(page: Page) -> Response:
    example = _example(page.request.query_params)
    numbers = example["quantity"].isdigit() and example["price"].isdigit()
    line = {"sku": example["sku"], "category": example["category"] or None,
            "quantity": int(example["quantity"]) if numbers else 1, "unitPrice": int(example["price"]) if numbers else 0}
    try:
        data = await page.query(docs.PROGRAM, {"preview": {"currency": example["currency"], "lines": [line]}})
        bad_example = None if numbers else {"kind": "error", "text": page.t("error", message=page.t("code_EXAMPLE"))}
    except Refused as exc:
        if exc.code != "BAD_USER_INPUT":
            raise
        return page.render("message.html", 400, title=page.t("error", message=page.t("code_EXAMPLE")), text=str(exc))
    return page.render("program.html", program=data, example=example, flash=bad_example or flash(page))


async def _rule_active(page: Page) -> Response:
    """Switch an earning rule on or off (updateEarningRule: admins; other roles get the API's 403)."""
    form: FormData = page.form  # type: ignore[attr-defined]
    rule_id, active = form_text(form, "rule", 200), form_text(form, "active", 5) == "true"
    payload = (await page.query(docs.SET_RULE_ACTIVE, {"id": rule_id, "active": active}))["updateEarningRule"]
    if payload["errors"]:
        return redirect(f"{BASE}/program?{urlencode({'error': payload['errors'][0]['code']})}")
    await page.audit("rule.active" if active else "rule.inactive", rule_id)
    return redirect(f"{BASE}/program?done=rule")


# --- member, audit ---------------------------------------------------------------------

async def _members(page: Page) -> Response:
    """Member search: externalId, e-mail or part of the name (the schema decides which a role
    may search by: without members:pii only the externalId)."""
    params = page.request.query_params
    search = params.get("q", "").strip()[:320]
    found, page_info = [], None
    if search:
        data = (await page.query(docs.MEMBER_SEARCH, {"search": search, "after": params.get("after") or None}))
        found = [e["node"] for e in data["members"]["edges"]]
        page_info = data["members"]["pageInfo"]
    else:
        await page.query(docs.MEMBER_SEARCH, {"search": "", "after": None})  # a role without access: 403 here
    return page.render("members.html", search=search, found=found, page_info=page_info, flash=flash(page),
                       next_url=f"{BASE}/members?{urlencode({'q': search, 'after': (page_info or {}).get('endCursor') or ''})}")


async def _member(page: Page) -> Response:
    member = (await page.query(docs.MEMBER, {"externalId": page.request.path_params["external_id"][:255]}))["member"]
    if member is None:
        return page.render("message.html", 404, title=page.t("not_found"), text="")
    return page.render("member.html", member=member, flash=flash(page), adjust_key=secrets.token_urlsafe(16),
                       can_erase=page.user.role in STAFF_ADMIN_ROLES,
                       ledger=[e["node"] for e in member["ledger"]["edges"]],
                       orders=[e["node"] for e in member["orders"]["edges"]],
                       messages=[e["node"] for e in member["messages"]["edges"]])


async def _adjust(page: Page) -> Response:
    """Support adjusts points with a reason through adjustPoints; the form's one-time key makes
    a double submit (or a reload of the POST) one adjustment."""
    form: FormData = page.form  # type: ignore[attr-defined]
    external_id = page.request.path_params["external_id"][:255]
    target = f"{BASE}/members/{quote(external_id, safe='')}"
    amount = form_text(form, "amount", 12).strip()
    if not amount.lstrip("-").isdigit():
        return redirect(f"{target}?error=AMOUNT")
    variables = {"input": {"memberExternalId": external_id, "amount": int(amount), "reason": form_text(form, "reason", 500),
                           "idempotencyKey": "console:" + form_text(form, "key", 64)}}
    payload = (await page.query(docs.ADJUST, variables))["adjustPoints"]
    if payload["errors"]:
        error = payload["errors"][0]
        code = error["code"]
        if code == "INVALID":  # say which field: the page explains codes, never echoes text
            code = {"reason": "ADJUST_REASON", "amount": "AMOUNT"}.get(error.get("field") or "", code)
        return redirect(f"{target}?{urlencode({'error': code})}")
    await page.audit("points.adjust", f"{external_id} {int(amount):+d}")
    return redirect(f"{target}?done=adjusted")


async def _audit(page: Page) -> Response:
    data = await page.query(docs.AUDIT, {"after": page.request.query_params.get("after") or None})
    log = data["staffAuditLog"]
    return page.render("audit.html", entries=[e["node"] for e in log["edges"]], page_info=log["pageInfo"])




def console_routes(schema: Any) -> Mount:
    """The /console mount; `schema` is the app's GraphQL schema (the composition root's)."""
    def page(handler: Any) -> Any:
        return staff_page(schema, handler)

    return Mount(BASE, routes=[
        Route("/", home),
        Route("/sign-in", sign_in, methods=["GET", "POST"]),
        Route("/sign-out", staff_page(schema, _sign_out, before_password_change=True), methods=["POST"]),
        Route("/lang", language),
        Route("/password", staff_page(schema, _password, before_password_change=True),
              methods=["GET", "POST"]),
        Route("/reviews", page(_inbox)),
        Route("/reviews/moderate", page(_moderate), methods=["POST"]),
        Route("/reviews/media", page(_moderate_media), methods=["POST"]),
        Route("/questions/moderate", page(_moderate_questions), methods=["POST"]),
        Route("/answers/moderate", page(_moderate_answers), methods=["POST"]),
        Route("/replies", page(_replies_page), methods=["GET", "POST"]),
        Route("/replies/{review_id}", page(_reply_edit)),
        Route("/members", page(_members)),
        Route("/members/{external_id}", page(_member)),
        Route("/members/{external_id}/adjust", page(_adjust), methods=["POST"]),
        Route("/insights", page(_insights)),
        Route("/program", page(_program)),
        Route("/program/rules", page(_rule_active), methods=["POST"]),
        Route("/audit", page(_audit)),
        *[route for module in PAGE_MODULES for route in module.routes(page)],
        Mount("/static", StaticFiles(directory=HERE / "static"), name="console-static"),
    ])
