"""What every console page shares: rendering with the console's headers, the signed-in `Page`
(the staff account's viewer, GraphQL in-process with its permissions, CSRF-checked forms) and
small form helpers. Each page module (routes.py, and one module per later page) imports from
here, so pages never import each other."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from domain.staff import service as staff
from domain.staff.models import StaffUser
from web.console.gql import Refused, run
from web.console.i18n import LANG_COOKIE, LOCALES, Translator, pick_locale

BASE = "/console"
SESSION_COOKIE = "console_session"
PRESESSION_COOKIE = "console_presession"  # the sign-in form's double-submit CSRF token
HERE = Path(__file__).resolve().parent
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "same-origin",
}
MAX_FORM_FIELDS = 200

_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                   trim_blocks=True, lstrip_blocks=True)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def translator(request: Request) -> Translator:
    return Translator(pick_locale(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")))


def is_secure(request: Request) -> bool:
    return request.url.scheme == "https"


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    t = values.pop("t", None) or translator(request)
    html = _env.get_template(template).render(t=t, lang=t.locale, locales=LOCALES, base=BASE,
                                              path=request.url.path, query=request.url.query, **values)
    return HTMLResponse(html, status, headers=HEADERS)


# The page a role starts on: its main task (a support desk has no reviews inbox).
LANDING = {"support": "/members", "marketer": "/insights", "viewer": "/program"}


def landing(user: StaffUser) -> str:
    return BASE + LANDING.get(user.role, "/reviews")


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, 303, headers=HEADERS)


class Page:
    """What a signed-in page has at hand."""

    def __init__(self, request: Request, schema: Any, user: StaffUser, token: str) -> None:
        self.request, self.schema, self.user, self.token = request, schema, user, token
        self.viewer = staff.viewer_for(user)
        self.t = translator(request)

    async def query(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return await run(self.schema, self.viewer, document, variables, self.request)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return render(self.request, template, status, t=self.t, user=self.user,
                      csrf=staff.csrf_token(self.token), **values)

    def refused(self, exc: Refused) -> Response:
        if exc.code == "UNAUTHENTICATED":
            return redirect(f"{BASE}/sign-in")
        if exc.code == "FORBIDDEN":
            return self.render("message.html", 403, title=self.t("forbidden"), text=self.t("forbidden_text"))
        return self.render("message.html", 400, title=self.t("error", message=exc.code), text=str(exc))

    async def audit(self, action: str, detail: str) -> None:
        await staff.audit(self.user, self.user.email, action, detail, client_ip(self.request))


Handler = Callable[[Page], Awaitable[Response]]


def staff_page(schema: Any, handler: Handler, *,
               before_password_change: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Signed-in pages: no session → the sign-in page; a POST without this session's CSRF
    token → 403 before anything runs."""
    async def endpoint(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        user = await staff.session_user(token)
        if user is None or token is None:
            if request.method == "POST":
                return render(request, "message.html", 403, title=translator(request)("csrf"), text="")
            return redirect(f"{BASE}/sign-in")
        page = Page(request, schema, user, token)
        if user.must_change_password and not before_password_change:
            return redirect(f"{BASE}/password")  # a one-time password opens this page only
        if request.method == "POST":
            form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
            if not staff.csrf_ok(token, form_text(form, "csrf")):
                return page.render("message.html", 403, title=page.t("csrf"), text="")
            page.form = form  # type: ignore[attr-defined]
        try:
            return await handler(page)
        except Refused as exc:
            return page.refused(exc)
    return endpoint


def form_text(form: FormData, name: str, limit: int = 5000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def flash(page: Page) -> dict[str, str] | None:
    params = page.request.query_params
    done, error = params.get("done", ""), params.get("error", "")
    if error:
        code = error[:40]
        message = page.t(f"code_{code}") if page.t.has(f"code_{code}") else code
        return {"kind": "error", "text": page.t("error", message=message)}
    # Any page's "done" code with a `done_<code>` message in both languages; `n` counts items.
    done = done[:40]
    if done.replace("_", "").isalnum() and page.t.has(f"done_{done}"):
        n = params.get("n", "1")
        return {"kind": "ok", "text": page.t(f"done_{done}", n=n if n.isdigit() else "1")}
    return None

def error_code(error: dict[str, Any]) -> str:
    """A payload error as the code the page explains (only codes travel in the URL, never text)."""
    if error["code"] == "INVALID" and error.get("field") == "reason":
        return "REASON_REQUIRED"
    return error["code"]
