"""A fast local webhook receiver for P7: answers 200 at once and remembers what came.

    python -m bench.webhook_receiver --port P

  POST /hook          a delivery: recorded as (receive time, webhook-id, the envelope's
                      createdAt, signature valid?) and answered `200 ok`
  POST /secret        body = the endpoint's whsec_ secret: signatures are checked from now on
  GET  /stats         JSON {"received": [[t, id, createdAt, sig_ok], ...]}
  GET  /stats?reset=1 the same, then forget everything received

A bare asyncio protocol on uvloop (no framework), so the receiver costs as little CPU as
possible on a 2-core machine that also runs the workers, the API and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import time

import orjson

OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"
received: list[tuple[float, str, str, bool | None]] = []
secret: list[bytes] = []


def signature_ok(headers: dict[bytes, bytes], body: bytes) -> bool | None:
    if not secret:
        return None
    msg_id, ts = headers.get(b"webhook-id", b""), headers.get(b"webhook-timestamp", b"")
    expected = base64.b64encode(hmac.new(secret[0], msg_id + b"." + ts + b"." + body, hashlib.sha256).digest())
    return any(part.partition(b",")[2] == expected for part in headers.get(b"webhook-signature", b"").split())


def respond(method: bytes, target: bytes, headers: dict[bytes, bytes], body: bytes) -> bytes:
    if method == b"POST" and target == b"/hook":
        now = time.time()
        try:
            created = orjson.loads(body).get("createdAt", "")
        except orjson.JSONDecodeError:
            created = ""
        received.append((now, headers.get(b"webhook-id", b"").decode(), created, signature_ok(headers, body)))
        return OK
    if method == b"POST" and target == b"/secret":
        raw = body.decode().strip()
        secret[:] = [base64.b64decode(raw.removeprefix("whsec_"))]
        return OK
    if target.startswith(b"/stats"):
        out = orjson.dumps({"received": received})
        if b"reset=1" in target:
            received.clear()
        return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(out) + out
    return b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


class Receiver(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buf = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buf[:end]).split(b"\r\n")
            method, target, _ = lines[0].split(b" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get(b"content-length", b"0"))
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4:end + 4 + length])
            del self.buf[:end + 4 + length]
            self.transport.write(respond(method, target, headers, body))  # type: ignore[attr-defined]


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Receiver, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    import uvloop

    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    uvloop.run(main(args.port))
