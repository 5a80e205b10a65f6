"""Hostile webhook URLs (issue 9, findings 5 and 11): only globally routable addresses, IPv4
hidden inside IPv6 unwrapped, DNS rebinding defeated by connecting to the checked address,
malformed URLs refused with a code.

Network rule: nothing here ever connects outside 127.0.0.0/8. Host names are answered by a
fake of `ssrf.resolve` or by a fake system resolver (fixture `system_dns`) that answers
127.0.0.2 — a loopback address where nothing listens — to anything not scripted, so a
mistake that looks a name up again can only reach the loopback, never the internet. Public
addresses appear only in answers the guard must refuse or in registrations never delivered.
"""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime, timedelta

import pytest

from domain.settings import reload_settings
from domain.webhooks import ssrf
from domain.webhooks.delivery import Deliverer
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests import helpers
from tests.receiver import Receiver, Reply

CREATE = """mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) {
  endpoint { endpointId url } errors { field code message } } }"""
UPDATE = """mutation($id: ID!, $i: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(id: $id, input: $i) {
  endpoint { endpointId url } errors { field code message } } }"""
REBOUND = "127.0.0.2"  # what a second lookup would answer: loopback, refused by the guard, nothing listens


class SystemDns:
    """Stands in for the operating system's resolver (socket.getaddrinfo). A name gets its
    scripted answers one lookup at a time (the last one repeats); any other name gets
    127.0.0.2. IP literals and localhost go to the real resolver (database, Redis, receiver)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.looked_up: list[str] = []

    def answer(self, name: str) -> str:
        self.looked_up.append(name)
        script = self.answers.get(name) or [REBOUND]
        return script.pop(0) if len(script) > 1 else script[0]


@pytest.fixture(autouse=True)
def system_dns(monkeypatch) -> SystemDns:
    real = socket.getaddrinfo
    dns = SystemDns()

    def fake(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or name == "localhost":
            return real(host, port, *args, **kwargs)
        try:
            ipaddress.ip_address(name)
            return real(host, port, *args, **kwargs)
        except ValueError:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (dns.answer(name), int(port or 0)))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return dns


def fake_resolver(monkeypatch, answers: dict[str, list[str]]) -> list[str]:
    """Replace the guard's resolver: host -> addresses; returns the list of names asked."""
    asked: list[str] = []

    async def resolve(host: str, port: int):
        asked.append(host)
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            return [ipaddress.ip_address(a) for a in answers.get(host, [])]

    monkeypatch.setattr(ssrf, "resolve", resolve, raising=False)  # raising=False: the test also runs on the old guard
    return asked


NOT_GLOBAL = [
    # carrier-grade NAT, including Alibaba Cloud's metadata service
    "100.64.0.1", "100.100.100.200", "100.127.255.254",
    # private, loopback, link-local/metadata, unspecified, multicast, broadcast, reserved, special use
    "10.0.0.7", "172.16.0.1", "192.168.1.1", "127.0.0.1", "127.0.0.2", "0.0.0.0", "169.254.169.254", "169.254.0.1",
    "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.0.8", "192.0.2.1", "198.18.0.1",
    "198.51.100.1", "203.0.113.1", "192.88.99.1",
    "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "ff0e::1", "2001:db8::1", "fec0::1", "100::1",
    "::7f00:1",  # IPv4-compatible (deprecated) 127.0.0.1
    # 6to4 (2002::/16) carrying 100.100.100.200, 10.0.0.1, 127.0.0.1, 169.254.169.254
    "2002:6464:64c8::1", "2002:a00:1::", "2002:7f00:1::1", "2002:a9fe:a9fe::",
    # IPv4-mapped
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:100.100.100.200", "::ffff:169.254.169.254",
    # NAT64 (well-known prefix) to metadata and loopback; local-use NAT64
    "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "64:ff9b:1::a00:1",
    # Teredo: client 127.0.0.1 and client 192.0.2.45 (both behind public server 65.54.227.120)
    "2001:0:4136:e378:8000:63bf:80ff:fffe", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    # documentation prefix 3fff::/20 (RFC 9637; Python 3.11 calls it global), SRv6 SIDs 5f00::/16
    "3fff::1", "3fff:fff:ffff::1", "5f00::1",
]


def _literal(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


@pytest.mark.parametrize("ip", NOT_GLOBAL)
async def test_non_global_addresses_are_refused_by_literal_and_by_name(api, admin_token, monkeypatch, ip):
    # given: no host exempted, and names that resolve to the address (alone, or among public ones)
    monkeypatch.setenv("PATRON_WEBHOOK_ALLOWED_HOSTS", "")
    reload_settings()
    fake_resolver(monkeypatch, {"only.example": [ip], "mixed.example": ["8.8.8.8", ip, "1.1.1.1"]})
    for url in (f"http://{_literal(ip)}/hook", f"https://{_literal(ip)}:8443/hook", "http://only.example/hook",
                "https://mixed.example/hook"):
        # when
        data = await api.ok(CREATE, {"i": {"url": url, "eventTypes": ["*"]}}, admin_token)
        # then
        payload = data["createWebhookEndpoint"]
        assert payload["endpoint"] is None, url
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [("url", "URL_NOT_ALLOWED")], url
    assert await WebhookEndpoint.all().count() == 0
    await helpers.member("m1")  # an event: nothing may be queued for delivery
    assert await WebhookDelivery.all().count() == 0


@pytest.mark.parametrize("ip", ["8.8.8.8", "2606:4700:4700::1111", "2002:808:808::1", "::ffff:8.8.8.8",
                                "64:ff9b::808:808", "1.1.1.1"])
def test_public_addresses_pass_the_guard_also_when_wrapped(ip):
    assert ssrf.is_public(ipaddress.ip_address(ip))


async def test_a_name_resolving_only_to_public_addresses_is_registered(api, admin_token, monkeypatch):
    # given
    fake_resolver(monkeypatch, {"hooks.example": ["8.8.8.8", "2606:4700:4700::1111"]})
    # when (no delivery is run: nothing is sent anywhere)
    data = await api.ok(CREATE, {"i": {"url": "https://hooks.example/in", "eventTypes": ["*"]}}, admin_token)
    # then
    assert data["createWebhookEndpoint"]["errors"] == []
    assert data["createWebhookEndpoint"]["endpoint"]["url"] == "https://hooks.example/in"


async def test_a_listed_network_still_exempts_a_private_address(api, admin_token, monkeypatch):
    # given
    monkeypatch.setenv("PATRON_WEBHOOK_ALLOWED_HOSTS", "10.1.0.0/16, intranet.example")
    reload_settings()
    fake_resolver(monkeypatch, {"intranet.example": ["10.9.9.9"], "other.example": ["10.9.9.9"]})
    # when / then: the network, the IPv4-mapped form of an address in it, and the host by name pass
    for url in ("http://10.1.2.3/x", "http://[::ffff:10.1.2.3]/x", "http://intranet.example/x"):
        data = await api.ok(CREATE, {"i": {"url": url, "eventTypes": ["*"]}}, admin_token)
        assert data["createWebhookEndpoint"]["errors"] == [], url
    refused = await api.ok(CREATE, {"i": {"url": "http://other.example/x", "eventTypes": ["*"]}}, admin_token)
    assert refused["createWebhookEndpoint"]["errors"][0]["code"] == "URL_NOT_ALLOWED"


MALFORMED = [
    ("http://x:abc/hook", "INVALID"),
    ("http://x:99999/hook", "INVALID"),
    ("http://x:0/hook", "INVALID"),
    ("http://x:+80/hook", "INVALID"),
    ("http://[::1/hook", "INVALID"),
    ("http://[::1", "INVALID"),
    ("http://[not-an-ip]/hook", "INVALID"),
    ("http:///hook", "INVALID"),
    ("http://:80/hook", "INVALID"),
    ("http://?x", "INVALID"),
    ("", "INVALID"),
    ("http://" + "a" * 2000 + ".example/", "INVALID"),
    ("http://hooks.example/" + "p" * 2000, "INVALID"),
    ("http://hooks.example/a b", "INVALID"),
    ("http://hooks.example/\r\nX-Injected: 1", "INVALID"),
    ("http://hooks.example/\x00", "INVALID"),
    ("http://hooks.\x7fexample/", "INVALID"),
    ("http://hooks.example\\@127.0.0.1/", "INVALID"),
    ("http://hooks.example/\u200b", "INVALID"),
    ("http://user@hooks.example/", "URL_NOT_ALLOWED"),
    ("http://user:pw@hooks.example/", "URL_NOT_ALLOWED"),
    ("http://@hooks.example/", "URL_NOT_ALLOWED"),
    ("ftp://hooks.example/x", "URL_NOT_ALLOWED"),
    ("file:///etc/passwd", "URL_NOT_ALLOWED"),
    ("gopher://hooks.example/", "URL_NOT_ALLOWED"),
    ("javascript:alert(1)", "URL_NOT_ALLOWED"),
    ("hooks.example/hook", "URL_NOT_ALLOWED"),
    ("//hooks.example/hook", "URL_NOT_ALLOWED"),
    ("http://nowhere.example/hook", "URL_NOT_ALLOWED"),  # does not resolve
]


@pytest.mark.parametrize(("url", "code"), MALFORMED)
async def test_malformed_urls_get_a_payload_error_on_create_and_update(api, admin_token, monkeypatch, url, code):
    # given: an existing endpoint, and a resolver that knows hooks.example as a public host
    fake_resolver(monkeypatch, {"hooks.example": ["8.8.8.8"]})
    created = await api.ok(CREATE, {"i": {"url": "http://127.0.0.1:9/ok", "eventTypes": ["*"]}}, admin_token)
    endpoint_id = created["createWebhookEndpoint"]["endpoint"]["endpointId"]
    # when
    create = (await api.ok(CREATE, {"i": {"url": url, "eventTypes": ["*"]}}, admin_token))["createWebhookEndpoint"]
    update = (await api.ok(UPDATE, {"id": endpoint_id, "i": {"url": url}}, admin_token))["updateWebhookEndpoint"]
    # then: a typed payload error naming the field; nothing written
    for payload in (create, update):
        assert payload["endpoint"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [("url", code)], payload
        assert "Unexpected" not in payload["errors"][0]["message"]
    assert [e.url for e in await WebhookEndpoint.all()] == ["http://127.0.0.1:9/ok"]


async def test_update_to_a_non_global_address_is_refused_and_keeps_the_old_url(api, admin_token, monkeypatch):
    # given
    fake_resolver(monkeypatch, {"meta.example": ["100.100.100.200"]})
    created = await api.ok(CREATE, {"i": {"url": "http://127.0.0.1:9/ok", "eventTypes": ["*"]}}, admin_token)
    endpoint_id = created["createWebhookEndpoint"]["endpoint"]["endpointId"]
    for url in ("http://100.100.100.200/latest/meta-data", "http://[2002:6464:64c8::]/", "http://meta.example/"):
        # when
        data = await api.ok(UPDATE, {"id": endpoint_id, "i": {"url": url}}, admin_token)
        # then
        assert data["updateWebhookEndpoint"]["errors"][0]["code"] == "URL_NOT_ALLOWED", url
    assert (await WebhookEndpoint.get(id=endpoint_id)).url == "http://127.0.0.1:9/ok"


async def test_delivery_connects_to_the_checked_address_not_to_a_second_lookup(
        api, admin_token, receiver, deliverer, system_dns):
    # given: a rebinding name: the first two lookups (registration, send-time check) answer the
    # exempt 127.0.0.1, any later lookup answers 127.0.0.2, where nothing listens
    system_dns.answers["rebind.invalid"] = ["127.0.0.1", "127.0.0.1", REBOUND]
    receiver.script("/hook", Reply(200))
    url = f"http://rebind.invalid:{receiver.port}/hook"
    created = await api.ok(CREATE, {"i": {"url": url, "eventTypes": ["member.created"]}}, admin_token)
    assert created["createWebhookEndpoint"]["errors"] == []
    await helpers.member("m1")
    # when
    assert await deliverer.run_once() == 1
    # then: delivered to the checked 127.0.0.1, with the name kept in the Host header
    [hit] = receiver.at("/hook")
    assert hit.headers["host"] == f"rebind.invalid:{receiver.port}"
    delivery = await WebhookDelivery.get()
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == ("succeeded", 200, None)
    assert system_dns.looked_up == ["rebind.invalid", "rebind.invalid"]  # no lookup at connect time


async def test_an_answer_that_changes_after_registration_is_checked_again_at_send_time(
        api, admin_token, receiver, deliverer, system_dns):
    # given: registered while the name pointed at the exempt 127.0.0.1
    system_dns.answers["flip.invalid"] = ["127.0.0.1", REBOUND]
    receiver.script("/hook", Reply(200))
    url = f"http://flip.invalid:{receiver.port}/hook"
    assert (await api.ok(CREATE, {"i": {"url": url, "eventTypes": ["member.created"]}}, admin_token))[
        "createWebhookEndpoint"]["errors"] == []
    # when: the name now points at a loopback address that is not exempt
    await helpers.member("m1")
    await deliverer.run_once()
    # then: refused before connecting, not retried, nothing received
    delivery = await WebhookDelivery.get()
    assert delivery.status == "failed" and delivery.last_error.startswith("blocked:")
    assert delivery.last_status_code is None
    assert receiver.at("/hook") == []


async def test_the_delivery_client_refuses_a_connection_nobody_checked(receiver):
    # given: the delivery client, used without a checked target
    deliverer = Deliverer("unchecked")
    try:
        # when / then: it does not resolve and connect on its own
        with pytest.raises(Exception) as raised:
            await deliverer.client.post(receiver.url("/hook"), content=b"{}")
        assert "not checked" in str(raised.value)
        assert receiver.at("/hook") == []
    finally:
        await deliverer.client.aclose()


# --- TLS keeps the name while the connection goes to the checked address ---------------------

def _certificates(directory, name: str) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for `name`: (ca file, cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def issue(subject: str, key, issuer: x509.Name, issuer_key, ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(hours=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Patron test CA")])
    ca = issue("Patron test CA", ca_key, ca_name, ca_key, True)
    cert = issue(name, key, ca_name, ca_key, False)
    paths = (str(directory / "ca.pem"), str(directory / "cert.pem"), str(directory / "key.pem"))
    for path, data in zip(paths, (ca.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.PEM),
                                  key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))):
        with open(path, "wb") as f:
            f.write(data)
    return paths


class TlsReceiver(Receiver):
    """The test receiver over HTTPS on 127.0.0.1."""

    def __init__(self, certfile: str, keyfile: str) -> None:
        super().__init__()
        self.certfile, self.keyfile = certfile, keyfile

    async def start(self) -> None:
        import asyncio

        import uvicorn
        from starlette.applications import Starlette
        from starlette.routing import Route

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="critical", lifespan="off",
                                ssl_certfile=self.certfile, ssl_keyfile=self.keyfile)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.01)


async def test_https_delivery_verifies_the_certificate_for_the_name_not_the_address(
        api, admin_token, monkeypatch, tmp_path, system_dns):
    # given: an HTTPS receiver on 127.0.0.1 whose certificate names tls.invalid, trusted by the client
    ca, cert, key = _certificates(tmp_path, "tls.invalid")
    monkeypatch.setenv("SSL_CERT_FILE", ca)
    receiver = TlsReceiver(cert, key)
    await receiver.start()
    deliverer = Deliverer("tls")
    try:
        for name in ("tls.invalid", "impostor.invalid"):  # both resolve to the receiver's 127.0.0.1
            system_dns.answers[name] = ["127.0.0.1", "127.0.0.1", REBOUND]
            created = await api.ok(CREATE, {"i": {"url": f"https://{name}:{receiver.port}/{name}",
                                                  "eventTypes": ["member.created"]}}, admin_token)
            assert created["createWebhookEndpoint"]["errors"] == []
        await helpers.member("m1")
        # when
        await deliverer.run_once()
        # then: the name on the certificate got it; the other name failed verification
        [hit] = receiver.received
        assert (hit.path, hit.headers["host"]) == ("/tls.invalid", f"tls.invalid:{receiver.port}")
        by_url = {d.endpoint.url: d for d in await WebhookDelivery.all().prefetch_related("endpoint")}
        good = by_url[f"https://tls.invalid:{receiver.port}/tls.invalid"]
        bad = by_url[f"https://impostor.invalid:{receiver.port}/impostor.invalid"]
        assert (good.status, good.last_status_code) == ("succeeded", 200)
        assert bad.last_status_code is None and "CERTIFICATE_VERIFY_FAILED" in bad.last_error
    finally:
        await deliverer.client.aclose()
        await receiver.stop()
