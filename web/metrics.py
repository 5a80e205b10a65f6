"""/metrics/ (Prometheus text) and the WebSocket counter behind `patron_subscription_sockets`."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from domain.observability import scrape
from domain.observability.metrics import SUBSCRIPTION_SOCKETS


async def metrics(request: Request) -> Response:
    """Gauges that need the database are refreshed first (scrape.py), then everything is sent."""
    await scrape.refresh()
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


class CountedSockets:
    """Counts WebSocket connections open on the wrapped app (graphql-transport-ws and
    graphql-ws: /graphql speaks only those), from the accepted handshake until the socket is gone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        accepted = False

        async def counting_send(message: dict) -> None:
            nonlocal accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                SUBSCRIPTION_SOCKETS.inc()
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if accepted:
                SUBSCRIPTION_SOCKETS.dec()
