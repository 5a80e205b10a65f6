"""GraphiQL from Patron itself: strawberry's page, with its CDN URLs pointed at the copies
in static/graphiql/ (see the README there), and the headers editor prefilled with the
Authorization header a caller has to fill in. Offline, the CDN version showed only
"Loading…"."""

from __future__ import annotations

import json
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

# Shown in the headers editor of a new tab (GraphiQL's `defaultHeaders`: a key the user typed
# and GraphiQL persisted wins over it), so a user sees where the API key goes. Until a key is
# typed after "Bearer ", the fetcher drops the header: Patron answers an empty bearer with 401
# (domain/auth/service.py), which would break anonymous queries and the schema fetch. The
# fetcher is wrapped once, outside the component: a new fetcher per render would make GraphiQL
# fetch the schema again on every render.
DEFAULT_HEADERS = '{\n  "Authorization": "Bearer "\n}'
_PATCH_JS = """
      const patronDefaultHeaders = %s;

      function withoutEmptyBearer(fetcher) {
        return function (params, opts) {
          const headers = opts && opts.headers;
          if (headers && typeof headers === "object") {
            const kept = {};
            for (const [name, value] of Object.entries(headers)) {
              const placeholder = name.toLowerCase() === "authorization" &&
                typeof value === "string" && /^\\s*bearer\\s*$/i.test(value);
              if (!placeholder) kept[name] = value;
            }
            opts = Object.assign({}, opts, { headers: kept });
          }
          return fetcher(params, opts);
        };
      }

      const patronFetcher = withoutEmptyBearer(fetcher);

"""
# anchor in strawberry's template → what replaces it; each must occur exactly once, so a
# strawberry upgrade that changes the template fails at the first page render (and in tests)
# instead of silently serving a page without the prefill.
_EDITS = {
    "      function GraphiQLWithExplorer() {":
        _PATCH_JS % json.dumps(DEFAULT_HEADERS) + "      function GraphiQLWithExplorer() {",
    "fetcher: fetcher,": "fetcher: patronFetcher,\n          defaultHeaders: patronDefaultHeaders,",
}


def localise(html: str) -> str:
    for cdn_path, file in ASSETS.items():
        html = html.replace(CDN + cdn_path, URL_PREFIX + file)
    for anchor, replacement in _EDITS.items():
        if html.count(anchor) != 1:
            raise RuntimeError(f"strawberry's GraphiQL template changed: {anchor!r} is not there once")
        html = html.replace(anchor, replacement)
    return html


class LocalGraphiQL:
    """Mix in before strawberry.asgi.GraphQL."""

    @cached_property
    def graphql_ide_html(self) -> str:
        return localise(get_graphql_ide_html(graphql_ide="graphiql"))
