"""Patron: the ASGI app and its command line.

    python server.py [serve] [--host H] [--port P]   serve the API (GraphiQL at /graphql)
    python server.py worker                          run the scheduled jobs only
    python server.py migrate                         apply migrations in migrations/
    python server.py seed                            load the demo program
    python server.py export-schema                   write schema.graphql
    python server.py train-recommender               build the recommendation model
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
from cross_web import HTTPException
from prometheus_client import Counter, make_asgi_app
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from tortoise import connections

from domain import changes, db, redis_client
from domain.auth.service import ANONYMOUS, AuthError, Viewer, authenticate, ensure_admin_key
from domain.jobs import JobRunner
from domain.ratelimit import RateLimiter, limit_for
from domain.realtime.bus import bus
from domain.settings import get_settings
from domain.webhooks.delivery import Deliverer
from web.media import media_routes
from schema import schema
from schema.context import Context
from schema.response_cache import PUBLIC_ROLES, ResponseCache
from web import graphiql, proxies
from web.body import BodyTooLarge, body_limit, is_multipart, limited, read_body, replay
from web.errors import error_response
from web.view import StrictHttpView
from web.websocket import TextFrameWebSocketAdapter

log = logging.getLogger("patron")
REQUESTS = Counter("patron_graphql_requests_total", "GraphQL HTTP requests", ["status"])
HTTP_ERROR_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class PatronGraphQL(StrictHttpView, graphiql.LocalGraphiQL, GraphQL):
    websocket_adapter_class = TextFrameWebSocketAdapter  # type: ignore[assignment]  # JSON as text frames

    async def get_context(self, request, response) -> Context:  # type: ignore[override]
        viewer = request.scope.get("state", {}).get("viewer", ANONYMOUS)
        return Context(viewer=viewer, request=request, response=response,
                       authorization=request.headers.get("authorization"))

    def encode_json(self, data: object) -> bytes:  # type: ignore[override]
        try:
            return orjson.dumps(data)
        except orjson.JSONEncodeError:
            # Text that is not valid Unicode (a lone surrogate echoed from the request) cannot
            # be UTF-8: the standard encoder escapes it instead of failing the response.
            return json.dumps(data, ensure_ascii=True, default=str).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """strawberry answers a request it cannot run (body not JSON, no operation of that name,
        mutation over GET) with plain text; clients get a GraphQL error with a code instead."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as exc:
            code = HTTP_ERROR_CODES.get(exc.status_code, "BAD_REQUEST")
            reason = exc.reason.encode("utf-8", "backslashreplace").decode()  # may echo the request
            response = _error(exc.status_code, reason, code)
        await response(scope, receive, send)

    async def on_ws_connect(self, context: Context):  # type: ignore[override]  # noqa: ANN201
        """WebSocket clients authenticate in connection_init: {"Authorization": "Bearer …"}."""
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization") if isinstance(params, dict) else None
        if header is not None and not isinstance(header, str):
            raise ConnectionRejectionError({"message": "Authorization must be a string",
                                            "code": "UNAUTHENTICATED"})
        if header is not None and len(header) > MAX_AUTHORIZATION_CHARS:  # as on HTTP: never parsed
            raise ConnectionRejectionError({"message": "Authorization is too large",
                                            "code": "REQUEST_HEADER_TOO_LARGE"})
        try:
            context.viewer = await authenticate(header)
        except AuthError as exc:
            raise ConnectionRejectionError({"message": str(exc), "code": "UNAUTHENTICATED"}) from None
        context.authorization = header  # checked again before every event (schema/realtime.py)
        return None

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        """GraphiQL holds no secret, so it is served unless introspection is off; with
        PATRON_INTROSPECTION=authenticated its schema fetch needs an Authorization header."""
        if get_settings().introspection == "off":
            raise HTTPException(404, "Not Found")
        return await super().render_graphql_ide(request)


_error = error_response  # the old name, kept for code elsewhere in this file
MAX_AUTHORIZATION_CHARS = 8192  # a key is ~50 characters, a member JWT a few hundred


class GraphQLEndpoint:
    """Authenticate once per request before strawberry runs; refuse oversized bodies
    (web/body.py); answer public queries from the response cache (schema/response_cache.py).
    Every answer is counted in `patron_graphql_requests_total` by its real status."""

    def __init__(self, view: GraphQL) -> None:
        self.view = view
        self.cache = ResponseCache()
        self.limiter = RateLimiter()

    async def _over_limit(self, viewer: Viewer, scope: Scope) -> int | None:
        if viewer.role == "member":
            identity = f"member:{viewer.member_external_id}"
        elif viewer.api_key_id is not None:
            identity = f"key:{viewer.api_key_id}"
        else:  # the socket peer, or a trusted proxy's X-Forwarded-For (web/proxies.py)
            identity = f"ip:{(scope.get('client') or ('unknown',))[0]}"
        return await self.limiter.hit(identity, limit_for(viewer.role))

    async def _cached(self, scope: Scope, receive: Receive, send: Send, key: bytes) -> None:
        version, hit = await self.cache.get(key)
        if hit is not None:
            response = Response(hit, media_type="application/json", headers={"x-patron-cache": "hit"})
            await response(scope, receive, send)
            return
        status, chunks = 0, []

        async def capture(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.view(scope, receive, capture)
        payload = b"".join(chunks)
        if status == 200:
            try:
                parsed = orjson.loads(payload)
            except orjson.JSONDecodeError:
                return
            if isinstance(parsed, dict) and "errors" not in parsed:
                self.cache.put(key, version, payload)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.view(scope, receive, send)
            return
        status = 500  # unless a response starts

        async def counted_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._http(scope, receive, counted_send)
        finally:
            REQUESTS.labels(str(status)).inc()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "POST"):
            await error_response(405, "GraphQL over HTTP takes GET or POST", headers={"allow": "GET, POST"})(scope, receive, send)
            return
        headers = Headers(scope=scope)
        authorization = headers.get("authorization")
        if authorization is not None and len(authorization) > MAX_AUTHORIZATION_CHARS:
            message = f"Authorization header longer than {MAX_AUTHORIZATION_CHARS} characters"
            await error_response(431, message)(scope, receive, send)
            return
        content_type = headers.get("content-type", "")
        limit = body_limit(content_type)
        length = headers.get("content-length")
        if length is not None and not length.isdigit():
            await error_response(400, "Content-Length must be a number")(scope, receive, send)
            return
        if length is not None and int(length) > limit:
            await error_response(413, f"Request body larger than {limit} bytes")(scope, receive, send)
            return
        try:
            viewer = await authenticate(authorization)
        except AuthError as exc:
            await error_response(401, str(exc), "UNAUTHENTICATED")(scope, receive, send)
            return
        scope.setdefault("state", {})["viewer"] = viewer
        if viewer.role == "anonymous" and scope["method"] == "POST" and is_multipart(content_type):
            # No anonymous field takes uploads: refuse before reading (up to ~180 MB) of files.
            await error_response(401, "Sign in to upload files", "UNAUTHENTICATED")(scope, receive, send)
            return
        retry_after = await self._over_limit(viewer, scope)
        if retry_after is not None:
            body = {"data": None, "errors": [{"message": "Too many requests; slow down",
                                              "extensions": {"code": "RATE_LIMITED", "retryAfter": retry_after}}]}
            await JSONResponse(body, 429, headers={"retry-after": str(retry_after)})(scope, receive, send)
            return
        started = False

        async def tracked_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            if scope["method"] == "POST" and not is_multipart(content_type):
                # Read whole (≤ the limit, counted as it streams) for the cache and parser.
                body = await read_body(receive, limit)
                receive = replay(body, receive)
                if viewer.role in PUBLIC_ROLES and content_type.startswith("application/json"):
                    key = self.cache.key(body, f"key:{viewer.api_key_id}" if viewer.api_key_id else "anonymous")
                    if key is not None:
                        await self._cached(scope, receive, tracked_send, key)
                        return
            else:  # multipart streams into the form parser, still counted
                receive = limited(receive, limit)
            await self.view(scope, receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await error_response(413, f"Request body larger than {limit} bytes")(scope, receive, send)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers, and Redis too when REDIS_URL is set."""
    checks = {}
    try:
        await connections.get("default").execute_query("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"
        checks["database"] = type(exc).__name__
    redis_url = get_settings().redis_url
    if redis_url:
        client = redis_client.make_client(redis_url)  # bounded: a silent Redis must not hang /readyz
        try:
            checks["redis"] = "ok" if await client.ping() else "no pong"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = type(exc).__name__
        finally:
            await client.aclose()
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503)


def run_jobs_in_process() -> bool:
    setting = os.environ.get("PATRON_INPROCESS_JOBS")
    if setting is not None:
        return setting == "1"
    return get_settings().database_url.startswith("sqlite")


def create_app(manage_db: bool = True) -> Starlette:
    """`manage_db=False` leaves the ORM to the caller (tests open it themselves)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        jobs_task = None
        if manage_db:
            settings = get_settings()
            if settings.database_url.startswith("sqlite"):
                await db.migrate()  # the embedded default just runs
            await db.init_orm()
            secret = await ensure_admin_key(settings.bootstrap_admin_key)
            if secret:
                print(f"\n  Generated admin API key (shown once, store it now):\n    {secret}\n", flush=True)
            if run_jobs_in_process():
                jobs_task = asyncio.gather(JobRunner().run_forever(stop), Deliverer("api").run_forever(stop))
        try:
            yield
        finally:
            stop.set()
            if jobs_task:
                await jobs_task
            if manage_db:
                await bus.close()
                await changes.close()
                await db.close_orm()

    view = PatronGraphQL(schema, graphql_ide="graphiql", multipart_uploads_enabled=True)
    media_dir = Path(get_settings().media_dir)
    media_dir.mkdir(parents=True, exist_ok=True)
    endpoint = GraphQLEndpoint(view)
    return Starlette(
        routes=[
            Route("/graphql", endpoint),  # every method: the endpoint answers others with a JSON 405
            WebSocketRoute("/graphql", view),
            Mount(graphiql.URL_PREFIX.rstrip("/"), StaticFiles(directory=graphiql.STATIC_DIR), name="graphiql"),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Mount("/metrics", make_asgi_app()),
            Mount("/media", media_routes(media_dir), name="media"),  # only media that may be shown
        ],
        middleware=proxies.middleware(get_settings()),
        lifespan=lifespan,
    )


# --- command line -----------------------------------------------------------------------


async def _worker() -> None:
    await db.init_orm()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker started")
    try:
        # Both loops finish the item in hand, then stop; unfinished deliveries keep their
        # lease and are taken again after it runs out.
        await asyncio.gather(JobRunner().run_forever(stop), Deliverer("worker").run_forever(stop))
    finally:
        await bus.close()
        await changes.close()
        await db.close_orm()


async def _seed() -> None:
    from domain.demo import seed

    await db.migrate()
    await db.init_orm()
    try:
        print(await seed())
    finally:
        await db.close_orm()


async def _train() -> None:
    from domain.recommendations.training import train

    await db.init_orm()
    try:
        model = await train()
        print(f"recommender trained: {model.stats}")
    finally:
        await changes.close()
        await db.close_orm()


def export_schema(path: str = "schema.graphql") -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(schema.as_str() + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="server.py", description="Patron loyalty and reviews API")
    parser.add_argument("command", nargs="?", default="serve",
                        choices=["serve", "worker", "migrate", "seed", "export-schema", "train-recommender"])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one log line per webhook delivery
    if args.command == "migrate":
        asyncio.run(db.migrate())
        print("migrations applied")
    elif args.command == "worker":
        asyncio.run(_worker())
    elif args.command == "seed":
        asyncio.run(_seed())
    elif args.command == "train-recommender":
        asyncio.run(_train())
    elif args.command == "export-schema":
        export_schema()
    else:
        import uvicorn

        print(f"Patron on http://{args.host}:{args.port}/graphql", flush=True)
        uvicorn.run(create_app(), **proxies.uvicorn_options(args.host, args.port))


if __name__ == "__main__":
    sys.exit(main())
