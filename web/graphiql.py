"""GraphiQL from Patron itself: strawberry's page, with its CDN URLs pointed at the copies
in static/graphiql/ (see the README there). Offline, the CDN version showed only
"Loading…"."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "graphiql"
URL_PREFIX = "/static/graphiql/"
CDN = "https://unpkg.com/"
# CDN path in strawberry's template → file in static/graphiql/
ASSETS = {
    "react@18.2.0/umd/react.production.min.js": "react.production.min.js",
    "react-dom@18.2.0/umd/react-dom.production.min.js": "react-dom.production.min.js",
    "js-cookie@3.0.5/dist/js.cookie.min.js": "js.cookie.min.js",
    "graphiql@3.8.3/graphiql.min.css": "graphiql.min.css",
    "graphiql@3.8.3/graphiql.min.js": "graphiql.min.js",
    "@graphiql/plugin-explorer@1.0.2/dist/style.css": "plugin-explorer.css",
    "@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": "plugin-explorer.umd.js",
}


def localise(html: str) -> str:
    for cdn_path, file in ASSETS.items():
        html = html.replace(CDN + cdn_path, URL_PREFIX + file)
    return html


class LocalGraphiQL:
    """Mix in before strawberry.asgi.GraphQL."""

    @cached_property
    def graphql_ide_html(self) -> str:
        return localise(get_graphql_ide_html(graphql_ide="graphiql"))
