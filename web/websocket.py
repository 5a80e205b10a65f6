"""WebSocket messages go out as TEXT frames, always.

The view's `encode_json` returns orjson bytes (fast for HTTP bodies), and strawberry's ASGI
adapter sends bytes as a BINARY frame. graphql-transport-ws and the legacy graphql-ws
protocol are JSON text: the reference `graphql-ws` client (Apollo Client, urql) rejects a
binary frame ("Message is missing the 'type' property") and a browser hands it over as a
Blob. Every message of both protocols leaves through `send_json`, so this is the one place."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected


class TextFrameWebSocketAdapter(ASGIWebSocketAdapter):
    async def send_json(self, message: Mapping[str, object]) -> None:
        encoded = self.view.encode_json(message)
        # orjson writes UTF-8 and the fallback encoder plain ASCII: decoding cannot fail.
        text = encoded.decode("utf-8") if isinstance(encoded, bytes) else encoded
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc
