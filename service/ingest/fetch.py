"""Fetch a document by URL: a web page or a linked PDF/DOCX, within limits.

httpx with a timeout per request and a deadline for the whole fetch, the body counted while
it arrives (over ``max_input_bytes`` stops the download), redirects followed by hand so each
hop is checked and at most ``fetch_max_redirects`` are taken. With ``allow_private=False``
(the API's default) a host resolving to a private, loopback, link-local or otherwise
non-public address is refused, at every hop, and the request goes to the address that was
checked (no second DNS lookup for a rebinding answer to slip through).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import httpx

from service.config import Settings
from service.errors import FetchRefused, InputError, InputTooLarge

Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
SCHEMES = ("http", "https")
REDIRECTS = (301, 302, 303, 307, 308)
USER_AGENT = "policy-reader (document fetch)"


@dataclass
class Fetched:
    data: bytes
    url: str  # the URL the content came from, after redirects
    name: str
    media_type: str


def is_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in SCHEMES and "://" in text


def fetch_url(url: str, *, settings: Settings, allow_private: bool = True) -> Fetched:
    """GET ``url`` following up to ``settings.fetch_max_redirects`` redirects."""
    deadline = time.monotonic() + settings.fetch_timeout_s
    with httpx.Client(
        timeout=settings.fetch_timeout_s, headers={"User-Agent": USER_AGENT}
    ) as client:
        current = url
        for _hop in range(settings.fetch_max_redirects + 1):
            pinned = _check_target(current, allow_private)
            fetched, location = _get(client, _Request(current, pinned), settings, deadline)
            if fetched is not None:
                return fetched
            current = urljoin(current, location)
    raise InputError(f"{url}: more than {settings.fetch_max_redirects} redirects; not followed.")


@dataclass
class _Request:
    """A GET of ``url``; with ``pinned``, sent to that checked address (Host and TLS SNI keep
    the name), so a second DNS answer cannot swap in a private address (DNS rebinding)."""

    url: str
    pinned: Address | None = None

    def send(self, client: httpx.Client) -> AbstractContextManager[httpx.Response]:
        if self.pinned is None:
            return client.stream("GET", self.url)
        parts = urlsplit(self.url)
        host = f"[{self.pinned}]" if self.pinned.version == 6 else str(self.pinned)
        netloc = f"{host}:{parts.port}" if parts.port else host
        return client.stream(
            "GET",
            urlunsplit(parts._replace(netloc=netloc)),
            headers={"Host": parts.netloc.rsplit("@", 1)[-1]},
            extensions={"sni_hostname": parts.hostname or ""},
        )


def _get(
    client: httpx.Client, request: _Request, settings: Settings, deadline: float
) -> tuple[Fetched | None, str]:
    """The response's content, or ``(None, location)`` for a redirect."""
    url = request.url
    try:
        with request.send(client) as response:
            if response.status_code in REDIRECTS and "location" in response.headers:
                return None, response.headers["location"]
            if response.status_code >= 400:
                raise InputError(f"{url}: the server answered HTTP {response.status_code}.")
            data = _read_capped(response, url, settings.max_input_bytes, deadline)
            media = response.headers.get("content-type", "").split(";")[0].strip().lower()
            return Fetched(data, url, _name(url), media), ""
    except httpx.TimeoutException:
        raise InputError(f"{url}: no answer within {settings.fetch_timeout_s:g} s.") from None
    except httpx.HTTPError as exc:
        raise InputError(f"{url}: could not fetch ({type(exc).__name__}: {exc}).") from None


def _read_capped(response: httpx.Response, url: str, limit: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InputTooLarge(f"{url}: {declared} bytes is over the limit of {limit} bytes.")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise InputTooLarge(f"{url}: more than the limit of {limit} bytes; download stopped.")
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the whole download took too long")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_target(url: str, allow_private: bool) -> Address | None:
    """Refuse what may not be fetched; without ``allow_private``, the address to connect to."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise InputError(f"{url}: only http:// and https:// URLs can be fetched.")
    if allow_private:
        return None
    addresses = _addresses(parts.hostname, parts.port, url)
    for address in addresses:
        if not is_public(address):
            raise FetchRefused(
                f"{url}: {parts.hostname} is a private, loopback or link-local address "
                f"({address}); fetching it is not allowed (READER_FETCH_ALLOW_PRIVATE)."
            )
    return addresses[0]


def is_public(address: Address) -> bool:
    return address.is_global and not address.is_multicast


def _addresses(host: str, port: int | None, url: str) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InputError(f"{url}: cannot resolve {host} ({exc.strerror}).") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _name(url: str) -> str:
    """A display name: the last path segment, else the host."""
    parts = urlsplit(url)
    last = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return last or parts.hostname or "page"
