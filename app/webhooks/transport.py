"""Sending one signed delivery, without SSRF.

The host is resolved here and every address checked (no private, loopback, link-local,
multicast, reserved or unspecified address unless CHATCENTRE_WEBHOOK_ALLOWED_NETWORKS lists
its network); the request then goes to the address that was checked (the Host header and,
for https, the TLS server name stay the endpoint's host), so a DNS answer that changes
between the check and the connect cannot point it elsewhere. Redirects are not followed:
a 3xx is a failed attempt like any non-2xx answer.

Signing is the Standard Webhooks scheme (webhook-id, webhook-timestamp, webhook-signature)
done by the `standardwebhooks` package, the specification's own reference library."""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from standardwebhooks import Webhook

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(Exception):
    """The URL may not be called (scheme, or an address it resolves to)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def allowed_networks(setting: str) -> tuple[IpNetwork, ...]:
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False)
        for part in setting.split(",")
        if part.strip()
    )


def _public(ip: IpAddress) -> bool:
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def check_address(ip: IpAddress, allowed: tuple[IpNetwork, ...]) -> None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if _public(ip) or any(ip in net for net in allowed):
        return
    raise UrlRefused(f"address {ip} is not public")


def check_url_shape(url: str, allowed: tuple[IpNetwork, ...]) -> None:
    """What can be checked without DNS (at create time): http(s), a host, and a literal
    IP address must be allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused("the URL must be http(s)://host/...")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    check_address(literal, allowed)


async def resolve_checked(host: str, port: int, allowed: tuple[IpNetwork, ...]) -> IpAddress:
    """The first address of `host`, every address checked (one bad answer refuses all: a
    resolver's order must not decide whether we call a private address)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UrlRefused(f"cannot resolve {host}") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise UrlRefused(f"cannot resolve {host}")
    for ip in addresses:
        check_address(ip, allowed)
    return addresses[0]


def signed_headers(secret: str, message_id: str, payload: bytes) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, payload),
        "content-type": "application/json",
        "user-agent": "chatcentre-webhooks/1",
    }


async def send(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    message_id: str,
    body: dict[str, object],
    *,
    allowed: tuple[IpNetwork, ...],
    attempt_seconds: float,
) -> Outcome:
    """One attempt. Never raises for the receiver's faults: they are the outcome."""
    payload = orjson.dumps(body)
    parts = urlsplit(url)
    try:
        check_url_shape(url, allowed)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        ip = await resolve_checked(host, port, allowed)
    except UrlRefused as exc:
        return Outcome(None, f"refused: {exc}")
    ip_host = f"[{ip}]" if ip.version == 6 else str(ip)
    pinned = urlunsplit((parts.scheme, f"{ip_host}:{port}", parts.path or "/", parts.query, ""))
    headers = signed_headers(secret, message_id, payload)
    headers["host"] = parts.netloc.rsplit("@", 1)[-1]
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    try:
        r = await client.post(
            pinned,
            content=payload,
            headers=headers,
            timeout=attempt_seconds,
            follow_redirects=False,
            extensions=extensions,
        )
    except httpx.TimeoutException:
        return Outcome(None, "timeout")
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}")
    if 300 <= r.status_code < 400:
        return Outcome(r.status_code, "redirect not followed")
    return Outcome(r.status_code, None if r.is_success else f"HTTP {r.status_code}")
