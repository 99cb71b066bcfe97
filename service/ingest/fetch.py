"""Fetch a document by URL: a web page or a linked PDF/DOCX, within limits.

httpx with a timeout per request and a deadline for the whole fetch, the body counted while
it arrives (over ``max_input_bytes`` stops the download), redirects followed by hand so each
hop is checked and at most ``fetch_max_redirects`` are taken. With ``allow_private=False``
(the API's default) a host resolving to a private, loopback, link-local or otherwise
non-public address is refused, at every hop.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from service.config import Settings
from service.errors import FetchRefused, InputError, InputTooLarge

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
            _check_target(current, allow_private)
            fetched, location = _get(client, current, settings, deadline)
            if fetched is not None:
                return fetched
            current = urljoin(current, location)
    raise InputError(f"{url}: more than {settings.fetch_max_redirects} redirects; not followed.")


def _get(
    client: httpx.Client, url: str, settings: Settings, deadline: float
) -> tuple[Fetched | None, str]:
    """The response's content, or ``(None, location)`` for a redirect."""
    try:
        with client.stream("GET", url) as response:
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


def _check_target(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise InputError(f"{url}: only http:// and https:// URLs can be fetched.")
    if allow_private:
        return
    for address in _addresses(parts.hostname, parts.port, url):
        if not address.is_global or address.is_multicast:
            raise FetchRefused(
                f"{url}: {parts.hostname} is a private, loopback or link-local address "
                f"({address}); fetching it is not allowed (READER_FETCH_ALLOW_PRIVATE)."
            )


def _addresses(
    host: str, port: int | None, url: str
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
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
