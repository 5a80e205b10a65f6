"""Outbound URL guard: webhooks may not reach private, loopback, link-local or metadata
addresses unless PATRON_WEBHOOK_ALLOWED_HOSTS lists the host or a network containing it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from domain.errors import InvalidInput
from domain.settings import get_settings

METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class Blocked(InvalidInput):
    code = "URL_NOT_ALLOWED"


def _allowed(host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    for entry in (e.strip() for e in get_settings().webhook_allowed_hosts.split(",")):
        if not entry:
            continue
        if entry == host:
            return True
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (ip in METADATA or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified)


async def check_url(url: str) -> None:
    """Refuse a URL whose host resolves to any address we must not call."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Blocked("The URL must be http(s)://host/…", "url")
    if parts.username or parts.password:
        raise Blocked("The URL must not carry credentials", "url")
    host = parts.hostname
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise Blocked(f"The host {host!r} does not resolve", "url") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if _forbidden(ip) and not _allowed(host, ip):
            raise Blocked(f"{host} resolves to {ip}, a private or reserved address", "url")
