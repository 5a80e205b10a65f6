"""GraphiQL in a real browser: headless Debian Chromium, driven by Playwright, against a real
Patron process, with every request to a host other than 127.0.0.1 aborted and recorded, so
the IDE is shown to render and run queries from Patron's own assets (no CDN).

Chromium is Debian's (`apt-get install chromium`; Playwright's own browser download does not
work here). Without /usr/bin/chromium these tests are skipped, except in CI (CI=true), where
they fail. They start processes, so they run once (in the SQLite pass)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Route, sync_playwright

from tests.conftest import IS_POSTGRES
from tests.test_server_process import free_port, start, stop, wait_ready

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ADMIN_KEY = "graphiql-browser-admin-key"
TIER = "Browser Gold"
TIMEOUT_MS = 30_000  # a cold Chromium parses 3.5 MB of GraphiQL on a shared 2-core machine

pytestmark = pytest.mark.skipif(IS_POSTGRES, reason="process tests run in the SQLite pass")


@dataclass
class Traffic:
    """What the page asked for: requests let through (method, URL, Authorization header)
    and any attempt to reach another host."""

    allowed: list[tuple[str, str, str | None]] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        request = route.request
        if urlsplit(request.url).hostname == "127.0.0.1":
            self.allowed.append((request.method, request.url, request.headers.get("authorization")))
            route.continue_()
        else:
            self.blocked.append(request.url)
            route.abort("blockedbyclient")

    def assert_stayed_local(self) -> None:
        assert self.blocked == []  # not even attempted: no CDN, no font, no telemetry
        # WebSockets are not routed; none may leave the machine either
        assert all(urlsplit(url).hostname == "127.0.0.1" for url in self.websockets), self.websockets

    def graphql_posts(self) -> list[str | None]:
        """The Authorization header of each POST to /graphql (None: not sent)."""
        return [auth for method, url, auth in self.allowed
                if method == "POST" and urlsplit(url).path == "/graphql"]


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def patron(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Patron on a free port with one tier, created through the API."""
    port = free_port()
    proc = start(tmp_path_factory.mktemp("graphiql") / "patron.sqlite3", port,
                 PATRON_BOOTSTRAP_ADMIN_KEY=ADMIN_KEY)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(port)
        created = httpx.post(f"{base}/graphql", headers={"authorization": f"Bearer {ADMIN_KEY}"}, json={
            "query": f'mutation {{ createTier(input: {{name: "{TIER}", rank: 1}}) {{ tier {{ name }} errors {{ code }} }} }}'})
        assert created.json() == {"data": {"createTier": {"tier": {"name": TIER}, "errors": []}}}
        yield base
    finally:
        stop(proc)


@pytest.fixture()
def browser(chromium: Path, tmp_path: Path) -> Iterator[tuple[BrowserContext, Traffic]]:
    """Chromium with a fresh profile (nothing stored by GraphiQL) and the network limited to
    127.0.0.1. The route is on the context, so it covers every page and worker it opens."""
    traffic = Traffic()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=chromium, args=CHROMIUM_ARGS, headless=True,
            timeout=TIMEOUT_MS)
        try:
            context.set_default_timeout(TIMEOUT_MS)
            context.route("**/*", traffic.route)
            yield context, traffic
        finally:
            context.close()


def open_graphiql(context: BrowserContext, traffic: Traffic, base: str) -> tuple[Page, list[str]]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("websocket", lambda ws: traffic.websockets.append(ws.url))
    page.goto(f"{base}/graphql")
    page.wait_for_selector(".graphiql-query-editor .CodeMirror")
    return page, errors


def editor_values(page: Page) -> dict[str, str]:
    """The text of GraphiQL's editors, by role: CodeMirror keeps it on the element."""
    return page.evaluate("""() => ({
        query: document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue(),
        headers: document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror')
            ?.CodeMirror.getValue() ?? null,
        result: document.querySelector('.result-window .CodeMirror').CodeMirror.getValue(),
    })""")


def set_editor(page: Page, selector: str, text: str) -> None:
    page.evaluate("([selector, text]) => document.querySelector(selector).CodeMirror.setValue(text)",
                  [selector, text])


def run(page: Page, query: str) -> dict:
    set_editor(page, ".graphiql-query-editor .CodeMirror", query)
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    page.wait_for_function("() => document.querySelector('.result-window .CodeMirror').CodeMirror.getValue() !== ''")
    return json.loads(editor_values(page)["result"])


def test_graphiql_renders_offline_and_runs_a_public_query_with_the_bearer_placeholder(browser, patron):
    context, traffic = browser
    page, errors = open_graphiql(context, traffic, patron)

    # the headers editor shows where the key goes, and is visible without a click
    assert json.loads(editor_values(page)["headers"]) == {"Authorization": "Bearer "}
    assert page.get_by_role("button", name="Headers").is_visible()

    assert run(page, "{ tiers { name } }") == {"data": {"tiers": [{"name": TIER}]}}
    assert page.locator(".result-window").inner_text().count(TIER) == 1

    # the placeholder was never sent (an empty bearer is a 401): the schema fetch and the
    # query both went out anonymous
    posts = traffic.graphql_posts()
    assert len(posts) >= 2 and set(posts) == {None}, posts
    assert errors == []
    traffic.assert_stayed_local()
    # every asset came from Patron: the page and its seven files, all on 127.0.0.1
    assets = sorted(urlsplit(url).path for method, url, _ in traffic.allowed if method == "GET")
    assert assets[0] == "/graphql" and len(assets) == 8
    assert all(path.startswith("/static/graphiql/") for path in assets[1:]), assets


def test_explorer_plugin_lists_the_schema(browser, patron):
    context, traffic = browser
    page, errors = open_graphiql(context, traffic, patron)
    page.get_by_role("button", name="Show GraphiQL Explorer").click()
    explorer = page.locator(".graphiql-plugin")
    explorer.get_by_text("tiers", exact=True).wait_for()
    # fields come from the schema fetch, so it went through without the placeholder header
    assert explorer.get_by_text("earningRules", exact=True).is_visible()
    assert errors == []
    traffic.assert_stayed_local()


def test_a_key_typed_after_bearer_is_sent_and_kept(browser, patron):
    context, traffic = browser
    page, errors = open_graphiql(context, traffic, patron)
    page.get_by_role("button", name="Headers").click()
    set_editor(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror",
               json.dumps({"Authorization": f"Bearer {ADMIN_KEY}"}))
    assert run(page, "{ apiKeys { name role } }") == {
        "data": {"apiKeys": [{"name": "bootstrap admin", "role": "ADMIN"}]}}
    assert traffic.graphql_posts()[-1] == f"Bearer {ADMIN_KEY}"
    # GraphiQL keeps the typed key (strawberry sets shouldPersistHeaders): the placeholder is
    # only the default, it does not overwrite the key on the next visit
    # GraphiQL writes the headers and, after a debounce, the tab state (which a reload restores)
    # to localStorage: wait for both writes (under load they land after the answer), then reload
    page.wait_for_function(
        "key => ['graphiql:headers', 'graphiql:tabState'].every("
        "k => (localStorage.getItem(k) || '').includes(key))",
        arg=ADMIN_KEY)
    page.reload()
    page.wait_for_selector(".graphiql-query-editor .CodeMirror")
    assert json.loads(editor_values(page)["headers"]) == {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert errors == []
    traffic.assert_stayed_local()
