"""Outbound URL guard: a webhook may only reach globally routable addresses, unless
PATRON_WEBHOOK_ALLOWED_HOSTS lists the host or a network containing it.

`check_url` parses the URL strictly, resolves the host once and judges every address it
resolves to; the delivery then connects to exactly those checked addresses (pinned.py), so
a DNS answer that changes between the check and the connection (rebinding) is never used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from domain.errors import InvalidInput
from domain.settings import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2000  # the column's size
MAX_HOST_LENGTH = 253  # DNS limit
RESOLVE_TIMEOUT_SECONDS = 5.0

# Python's `is_global` (3.11) still calls some special-purpose ranges global; these are
# refused explicitly whatever the Python version says.
NOT_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "100.64.0.0/10",  # carrier-grade NAT; 100.100.100.200 is Alibaba Cloud's metadata service
    "192.0.0.0/24",  # IETF protocol assignments
    "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
    "64:ff9b:1::/48",  # local-use NAT64
    "fec0::/10",  # site-local (deprecated, still routed inside some networks)
    "169.254.169.254/32", "fd00:ec2::254/128",  # cloud metadata services
    "3fff::/20",  # documentation (RFC 9637), unknown to Python 3.11's is_global
    "2001:db8::/32",  # documentation (RFC 3849)
    "5f00::/16",  # SRv6 SIDs (RFC 9602), not host addresses
))
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Blocked(InvalidInput):
    """The URL is well formed but may not be called."""

    code = "URL_NOT_ALLOWED"


class Malformed(Blocked):
    """The URL cannot be parsed unambiguously (bad port, bracket, character, length…)."""

    code = "INVALID"


@dataclass(frozen=True)
class Target:
    """A checked URL: the host as the HTTP client will send it, and the addresses it may use."""

    url: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def embedded(ip: IPAddress) -> list[IPAddress]:
    """The addresses a packet to `ip` really reaches: the IPv4 inside an IPv4-mapped, 6to4,
    NAT64 or Teredo (server and client) IPv6 address; otherwise the address itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return [ip.ipv4_mapped]
        if ip.sixtofour is not None:
            return [ip.sixtofour]
        if ip.teredo is not None:
            return list(ip.teredo)
        if ip in NAT64:
            return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return [ip]


def is_public(ip: IPAddress) -> bool:
    """Globally routable unicast, after unwrapping any IPv4 embedded in an IPv6 address."""
    for address in embedded(ip):
        if not address.is_global or address.is_multicast or address.is_reserved or address.is_unspecified:
            return False
        if address.is_private or address.is_loopback or address.is_link_local:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
            return False
        if any(address.version == net.version and address in net for net in NOT_PUBLIC):
            return False
    return True


def _allowed(host: str, ip: IPAddress) -> bool:
    """PATRON_WEBHOOK_ALLOWED_HOSTS: the host by name, or a network holding the address."""
    for entry in (e.strip() for e in get_settings().webhook_allowed_hosts.split(",")):
        if not entry:
            continue
        if entry.lower() == host:
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if all(a.version == network.version and a in network for a in embedded(ip)) or \
                (ip.version == network.version and ip in network):
            return True
    return False


def parse(url: object) -> tuple[str, int]:
    """(host, port) of an http(s) URL, or Malformed/Blocked. The host is taken from httpx,
    the client that will connect, so the name checked is the name connected to."""
    if not isinstance(url, str) or not url:
        raise Malformed("The URL is empty", "url")
    if len(url) > MAX_URL_LENGTH:
        raise Malformed(f"The URL is too long (at most {MAX_URL_LENGTH} characters)", "url")
    if not url.isprintable() or " " in url or "\\" in url:
        raise Malformed("The URL contains a space, a backslash or a control character", "url")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError as exc:
        raise Malformed(f"The URL cannot be parsed: {exc}", "url") from None
    if parts.scheme not in ("https", "http"):
        raise Blocked("The URL must be http(s)://host/…", "url")
    if "@" in parts.netloc:
        raise Blocked("The URL must not carry credentials", "url")
    if not parts.hostname:
        raise Malformed("The URL has no host", "url")
    if port == 0:
        raise Malformed("The port must be from 1 to 65535", "url")
    default = 443 if parts.scheme == "https" else 80
    try:
        client_url = httpx.URL(url)
        host = client_url.raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise Malformed(f"The URL cannot be parsed: {exc}", "url") from None
    if not host or len(host) > MAX_HOST_LENGTH or (client_url.port or default) != (port or default):
        raise Malformed("The URL's host or port is not valid", "url")
    return host, port or default


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (an IP literal is itself). Tests replace this."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_SECONDS)
    except (OSError, UnicodeError, asyncio.TimeoutError):
        return []
    found: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if ip not in found:
            found.append(ip)
    return found


async def check_url(url: str) -> Target:
    """Refuse a URL that is malformed or whose host resolves to any address we must not
    call; otherwise the addresses the delivery must connect to."""
    host, port = parse(url)
    addresses = await resolve(host, port)
    if not addresses:
        raise Blocked(f"The host {host!r} does not resolve", "url")
    for ip in addresses:
        if not is_public(ip) and not _allowed(host, ip):
            raise Blocked(f"{host} resolves to {ip}, which is not a public internet address", "url")
    return Target(url=url, host=host, port=port, addresses=tuple(addresses))
