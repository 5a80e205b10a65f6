"""Patron: the ASGI app and its command line.

    python server.py [serve] [--host H] [--port P]   serve the API (GraphiQL at /graphql)
    python server.py worker                          run the scheduled jobs only
    python server.py migrate                         apply migrations in migrations/
    python server.py seed                            load the demo program
    python server.py export-schema                   write schema.graphql
    python server.py train-recommender               build the recommendation model
    python server.py create-staff --email E --role R  a console account (prints a one-time password,
                                                     or reads one from stdin with --password-stdin)
    python server.py refresh-insights                recompute member insights (RFM, churn, CLV) now
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import uvicorn
from cross_web import HTTPException
from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from tortoise import connections

from composition import subscribers
from composition.api import schema
from domain import changes, clock, db, redis_client
from domain.auth.service import ANONYMOUS, AuthError, Viewer, authenticate, ensure_admin_key
from domain.demo import seed
from domain.errors import DomainError
from domain.staff import service as staff
from domain.demo_scale import RefusedError, generate
from domain.imports import cli as import_cli
from domain.imports import runner as import_runner
from domain.insights import members as member_insights
from domain.jobs import JobRunner
from domain.observability import context as log_context
from domain.observability import logs
from domain.observability.metrics import GRAPHQL_ERRORS, REQUEST_SECONDS, operation_label
from domain.ratelimit import RateLimiter, limit_for
from domain.realtime.bus import bus
from domain.recommendations.training import train
from domain.settings import get_settings
from domain.webhooks.delivery import Deliverer
from web.exports import export_routes
from web.media import media_routes
from web.unsubscribe import unsubscribe_endpoint
from web.console.routes import console_routes
from schema.context import Context
from schema.response_cache import PUBLIC_ROLES, ResponseCache
from web import graphiql, proxies
from web.body import BodyTooLarge, body_limit, is_multipart, limited, read_body, replay
from web.cache_control import with_cache_control
from web.errors import error_response
from web.gateway import GATEWAY_HEADER, from_gateway
from web.metrics import CountedSockets, metrics
from web.request_id import RequestIdMiddleware
from web.persisted import ManifestError, PersistedQueryError
from web.persisted_setup import persisted_queries
from web.request_data import BadRequest
from web.view import StrictHttpView
from web.websocket import TextFrameWebSocketAdapter

log = logging.getLogger("patron")
REQUESTS = Counter("patron_graphql_requests_total", "GraphQL HTTP requests", ["status"])
HTTP_ERROR_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
CACHE_HIT_LABEL = "(cached)"  # the latency label of answers from the public response cache


class PatronGraphQL(StrictHttpView, graphiql.LocalGraphiQL, GraphQL):
    websocket_adapter_class = TextFrameWebSocketAdapter  # type: ignore[assignment]  # JSON as text frames

    async def get_context(self, request, response) -> Context:  # type: ignore[override]
        state = request.scope.get("state", {})
        return Context(viewer=state.get("viewer", ANONYMOUS), request=request, response=response,
                       authorization=request.headers.get("authorization"), gateway=state.get("gateway", False))

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


def cache_caller(viewer: Viewer) -> str | None:
    """Whose entries of the response cache a request may use: anonymous callers and each
    storefront or partner key (public data), each member (their own data only, see
    schema/member_cache.py); None for admins and staff, never cached."""
    if viewer.role in PUBLIC_ROLES:
        return f"key:{viewer.api_key_id}" if viewer.api_key_id else "anonymous"
    if viewer.role == "member" and viewer.member_external_id:
        return f"member:{viewer.member_external_id}"
    return None


class GraphQLEndpoint:
    """Authenticate once per request before strawberry runs; refuse oversized bodies
    (web/body.py); answer public queries from the response cache (schema/response_cache.py).
    Every answer is counted in `patron_graphql_requests_total` by its real status, and timed in
    `patron_graphql_request_duration_seconds` by operation name (schema/observability.py)."""

    def __init__(self, view: GraphQL) -> None:
        self.view = view
        self.cache = ResponseCache()
        self.limiter = RateLimiter()
        self.persisted = persisted_queries(get_settings(), schema)  # ManifestError: do not start

    async def _over_limit(self, viewer: Viewer, scope: Scope) -> int | None:
        if viewer.role == "member":
            identity = f"member:{viewer.member_external_id}"
        elif viewer.api_key_id is not None:
            identity = f"key:{viewer.api_key_id}"
        else:  # the socket peer, or a trusted proxy's X-Forwarded-For (web/proxies.py)
            identity = f"ip:{(scope.get('client') or ('unknown',))[0]}"
        return await self.limiter.hit(identity, limit_for(viewer.role))

    async def _cached(self, scope: Scope, receive: Receive, send: Send, key: bytes, private: bool) -> None:
        version, hit = await self.cache.get(key)
        if hit is not None:
            await self._answer_cached(scope, receive, send, hit, "hit")
            return
        # The answer is held back until the cache has kept it: the client's next request
        # (pipelined on the same connection once this response completes) must find it.
        messages: list[dict] = []

        async def run() -> bytes | None:
            """Execute the request (read tags are collected meanwhile); the body to keep, if any."""
            status, chunks = 0, []

            async def capture(message: dict) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                elif message["type"] == "http.response.body":
                    chunks.append(message.get("body", b""))
                messages.append(message)

            await self.view(scope, receive, capture)
            payload = b"".join(chunks)
            if status != 200:
                return None
            try:
                parsed = orjson.loads(payload)
            except orjson.JSONDecodeError:
                return None
            return payload if isinstance(parsed, dict) and "errors" not in parsed else None

        body, shared = await self.cache.compute(key, version, run, private)
        if messages:  # this request computed its answer
            for message in messages:
                await send(message)
        elif shared and body is not None:  # another request computed it meanwhile
            await self._answer_cached(scope, receive, send, body, "coalesced")

    @staticmethod
    async def _answer_cached(scope: Scope, receive: Receive, send: Send, body: bytes, how: str) -> None:
        scope.setdefault("state", {})["graphql_operation"] = CACHE_HIT_LABEL  # nothing was parsed
        response = Response(body, media_type="application/json", headers={"x-patron-cache": how})
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.view(scope, receive, send)
            return
        status = 500  # unless a response starts
        started = time.perf_counter()

        async def counted_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._http(scope, receive, counted_send)
        finally:
            REQUESTS.labels(str(status)).inc()
            name = scope.get("state", {}).get("graphql_operation")
            operation = name if name == CACHE_HIT_LABEL else operation_label(name)
            REQUEST_SECONDS.labels(operation, str(status)).observe(time.perf_counter() - started)

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
        length = headers.get("content-length")
        if length is not None and not length.isdigit():
            await error_response(400, "Content-Length must be a number")(scope, receive, send)
            return
        try:
            viewer = await authenticate(authorization)
        except AuthError as exc:
            await error_response(401, str(exc), "UNAUTHENTICATED")(scope, receive, send)
            return
        limit = body_limit(content_type, viewer.role == "admin")
        if length is not None and int(length) > limit:
            await error_response(413, f"Request body larger than {limit} bytes")(scope, receive, send)
            return
        gateway = from_gateway(headers.get(GATEWAY_HEADER), get_settings().federation_gateway_secret)
        if gateway is None:
            await error_response(401, f"{GATEWAY_HEADER} is not this server's federation gateway secret",
                                 "UNAUTHENTICATED")(scope, receive, send)
            return
        scope.setdefault("state", {}).update(viewer=viewer, gateway=gateway)
        if viewer.role == "anonymous" and scope["method"] == "POST" and is_multipart(content_type):
            # No anonymous field takes uploads: refuse before reading (up to ~180 MB) of files.
            await error_response(401, "Sign in to upload files", "UNAUTHENTICATED")(scope, receive, send)
            return
        retry_after = await self._over_limit(viewer, scope)
        if retry_after is not None:
            body = {"data": None, "errors": [{"message": "Too many requests; slow down",
                                              "extensions": {"code": "RATE_LIMITED", "retryAfter": retry_after}}]}
            GRAPHQL_ERRORS.labels("RATE_LIMITED").inc()
            await JSONResponse(body, 429, headers={"retry-after": str(retry_after)})(scope, receive, send)
            return
        started = False

        async def tracked_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            if scope["method"] == "GET":  # persisted queries by hash, answers a CDN may keep
                send = with_cache_control(send, authorization is None, get_settings().get_cache_max_age)
                scope = {**scope, "query_string": await self.persisted.resolve_query_string(scope["query_string"])}
            if scope["method"] == "POST" and not is_multipart(content_type):
                # Read whole (≤ the limit, counted as it streams) for the cache and parser.
                body = await self.persisted.resolve_body(await read_body(receive, limit))
                receive = replay(body, receive)
                caller = cache_caller(viewer)
                if caller is not None and content_type.startswith("application/json"):
                    # The gateway may run documents others may not (trusted documents `require`):
                    # its answers are never served to them from the cache.
                    key = self.cache.key(body, f"gateway/{caller}" if gateway else caller)
                    private = viewer.role == "member"
                    if key is not None and not (private and self.cache.never_kept(key)):
                        await self._cached(scope, receive, tracked_send, key, private)
                        return
            else:  # multipart streams into the form parser, still counted
                receive = limited(receive, limit)
            await self.view(scope, receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await error_response(413, f"Request body larger than {limit} bytes")(scope, receive, send)
        except PersistedQueryError as exc:  # web/persisted.py: Apollo's APQ answers
            await error_response(exc.status, exc.message, exc.code)(scope, receive, send)
        except BadRequest as exc:
            await error_response(400, str(exc))(scope, receive, send)


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
    return get_settings().run_jobs_in_process


class PatronApp(Starlette):
    def build_middleware_stack(self) -> ASGIApp:
        """X-Request-Id outside Starlette's error middleware: a 500 carries it too."""
        return RequestIdMiddleware(super().build_middleware_stack())


def create_app(manage_db: bool = True) -> Starlette:
    """`manage_db=False` leaves the ORM to the caller (tests open it themselves)."""
    log_context.install()  # log records carry the request id (domain/observability/context.py)
    subscribers.wire()

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
                import_runner.enable_background()
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
    return PatronApp(
        routes=[
            Route("/graphql", endpoint),  # every method: the endpoint answers others with a JSON 405
            WebSocketRoute("/graphql", CountedSockets(view)),
            Mount(graphiql.URL_PREFIX.rstrip("/"), StaticFiles(directory=graphiql.STATIC_DIR), name="graphiql"),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics/", metrics),
            Route("/metrics", metrics),
            Mount("/media", media_routes(media_dir), name="media"),
            Mount("/exports", export_routes(), name="exports"),  # streamed CSV (web/exports.py)
            Route("/unsubscribe", unsubscribe_endpoint, methods=["GET", "POST"]),  # only media that may be shown
            console_routes(schema),  # /console: the merchant console, on this same schema
        ],
        middleware=proxies.middleware(get_settings()),
        lifespan=lifespan,
    )


# --- command line -----------------------------------------------------------------------


async def _worker() -> None:
    subscribers.wire()
    await db.init_orm()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    import_runner.enable_background()
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
    subscribers.wire()
    await db.migrate()
    await db.init_orm()
    try:
        print(await seed())
    finally:
        await db.close_orm()


async def _generate_demo(args: argparse.Namespace) -> int:
    await db.migrate(args.database_url)
    await db.init_orm(args.database_url)
    try:
        started = time.monotonic()
        counts = await generate(args.members, args.orders, force=args.force, seed=args.seed)
        print(f"generated in {time.monotonic() - started:.0f} s: {counts}")
        return 0
    except RefusedError as exc:
        print(f"generate-demo: {exc}", file=sys.stderr)
        return 2
    finally:
        await changes.close()
        await db.close_orm()


async def _import(args: argparse.Namespace) -> int:
    subscribers.wire()
    if get_settings().database_url.startswith("sqlite"):
        await db.migrate()  # the embedded default, as `serve`
    await db.init_orm()
    try:
        kind, path = args.import_args
        return await import_cli.run(kind.lower(), path, args.format, dry_run=args.dry_run,
                                    award_points=args.award_points, encoding=args.encoding, mapping=args.mapping)
    finally:
        await changes.close()
        await db.close_orm()


async def _train() -> None:
    subscribers.wire()
    await db.init_orm()
    try:
        model = await train()
        print(f"recommender trained: {model.stats}")
    finally:
        await changes.close()
        await db.close_orm()


async def _create_staff(args: argparse.Namespace) -> int:
    if args.password_stdin:
        password, generated = sys.stdin.readline().rstrip("\r\n"), False
    else:
        password, generated = staff.new_password(), True
    await db.migrate()
    await db.init_orm()
    try:
        user = await staff.create_staff(args.email or "", args.role, password, one_time=generated)
    except DomainError as exc:
        print(f"create-staff: {exc}", file=sys.stderr)
        return 2
    finally:
        await changes.close()
        await db.close_orm()
    print(f"Staff account {user.email} ({user.role}) created.")
    if generated:
        print(f"One-time password (shown once; you choose your own at the first sign-in): {password}")
    print(f"Sign in at http://{get_settings().host}:{get_settings().port}/console")
    return 0


async def _refresh_insights() -> None:
    await db.init_orm()
    try:
        result = await member_insights.refresh(clock.now())
        print(f"member insights: {result.members} members; purchase model {result.purchase_model}; "
              f"spend model {result.spend_model}")
    finally:
        await changes.close()
        await db.close_orm()


def export_schema(path: str = "schema.graphql") -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(schema.as_str() + "\n")


def main(argv: list[str] | None = None) -> int | str:
    # A bad setting already stopped the process at import (SettingsError is a SystemExit).
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="server.py", description="Patron loyalty and reviews API")
    parser.add_argument("command", nargs="?", default="serve",
                        choices=["serve", "worker", "migrate", "seed", "export-schema", "train-recommender",
                                 "generate-demo", "import", "create-staff", "refresh-insights"])
    parser.add_argument("import_args", nargs="*", metavar="KIND FILE",
                        help="import: members|orders|reviews and the file's path")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    demo = parser.add_argument_group("generate-demo (PostgreSQL only)")
    demo.add_argument("--members", type=int, default=1_000_000)
    demo.add_argument("--orders", type=int, default=3_000_000)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--force", action="store_true", help="add the demo data even if members exist")
    demo.add_argument("--database-url", default=None, help="default: DATABASE_URL")
    imp = parser.add_argument_group("import KIND FILE (see README, Moving to Patron)")
    imp.add_argument("--format", default="patron", help="patron (CSV), jsonl or okendo")
    imp.add_argument("--dry-run", action="store_true", help="check every row, write nothing but the job")
    imp.add_argument("--award-points", action="store_true", help="ORDERS: award points with the rules in force")
    imp.add_argument("--encoding", default=None, help="utf-8, cp949 or euc-kr (default: detected)")
    imp.add_argument("--mapping", default=None, help='JSON {"file column": "field"}')
    console = parser.add_argument_group("create-staff (a merchant console account)")
    console.add_argument("--email")
    console.add_argument("--role", default="owner", choices=list(staff.ROLES))
    console.add_argument("--password-stdin", action="store_true",
                         help="read the password from the first line of stdin instead of generating one")
    args = parser.parse_args(argv)
    logs.configure(settings.log_format)
    if args.command == "migrate":
        asyncio.run(db.migrate())
        print("migrations applied")
    elif args.command == "worker":
        asyncio.run(_worker())
    elif args.command == "seed":
        asyncio.run(_seed())
    elif args.command == "generate-demo":
        return asyncio.run(_generate_demo(args))
    elif args.command == "import":
        if len(args.import_args) != 2:
            parser.error("import takes KIND FILE, e.g. import reviews reviews.csv --format okendo")
        return asyncio.run(_import(args))
    elif args.command == "train-recommender":
        asyncio.run(_train())
    elif args.command == "create-staff":
        return asyncio.run(_create_staff(args))
    elif args.command == "refresh-insights":
        asyncio.run(_refresh_insights())
    elif args.command == "export-schema":
        export_schema()
    else:
        try:
            app = create_app()
        except ManifestError as exc:  # a bad trusted documents manifest: one line, no traceback
            return f"patron: {exc}"
        print(f"Patron on http://{args.host}:{args.port}/graphql", flush=True)
        print(f"Console on http://{args.host}:{args.port}/console (an owner account: "
              f"python server.py create-staff --email you@example.com --role owner)", flush=True)
        # log_config=None: uvicorn's loggers propagate to the handler configured above.
        uvicorn.run(app, **proxies.uvicorn_options(args.host, args.port), log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
