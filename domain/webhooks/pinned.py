"""An HTTP client that connects only to addresses the SSRF guard has checked.

httpx would resolve the host again when it opens a connection, and a hostile DNS server can
answer a public address to the check and 127.0.0.1 or a metadata address to that second
lookup (DNS rebinding). Here the TCP connection goes to the checked addresses of the
request being sent, while the URL, the Host header and TLS (SNI and certificate
verification) keep the name. A connection without checked addresses is refused.
"""

from __future__ import annotations

import contextlib
import contextvars
import typing
from collections.abc import Iterator

import httpcore
import httpx

from domain.webhooks.ssrf import Target

_target: contextvars.ContextVar[Target | None] = contextvars.ContextVar("patron_webhook_target", default=None)


@contextlib.contextmanager
def pinned(target: Target) -> Iterator[None]:
    """Requests sent inside connect to `target.addresses` (a contextvar: each delivery task has its own)."""
    token = _target.set(target)
    try:
        yield
    finally:
        _target.reset(token)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend: host names are never resolved here, only looked up in the
    checked target of the current request."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.AsyncNetworkStream:
        target = _target.get()
        if target is None or target.host != host.lower() or target.port != port:
            raise httpcore.ConnectError(f"{host}:{port} was not checked by the SSRF guard")
        error: Exception | None = None
        for address in target.addresses:  # in resolver order, like a plain client would
            try:
                return await self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error or httpcore.ConnectError(f"{host} has no checked address")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Webhooks never use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (request/response mapping, exception types) over a connection
    pool whose network backend is PinnedBackend. httpx 0.28 takes no network backend
    argument, so the pool it built is replaced by an equivalent one."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)  # a transport given to the client: no proxy from the environment
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(),
        )


def client(timeout: float) -> httpx.AsyncClient:
    """The delivery client: pinned connections, redirects never followed, no proxies from the environment."""
    transport = PinnedTransport(httpx.Limits(max_connections=200, max_keepalive_connections=50))
    return httpx.AsyncClient(transport=transport, follow_redirects=False, timeout=timeout, trust_env=False)
