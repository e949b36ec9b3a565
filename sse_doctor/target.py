"""The client's identity: URL, method, headers, cookies, body, TLS. Built once from options,
reused for every connection of an experiment."""

from __future__ import annotations

import functools
import json
import os
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from sse_doctor.errors import UsageError
from sse_doctor.redact import Redactor

SSE_SCHEMES = ("http", "https")
WS_SCHEMES = ("ws", "wss")


@functools.lru_cache(maxsize=8)
def _ssl_context(insecure: bool, cacert: str | None) -> ssl.SSLContext:
    # Loading a CA bundle takes tens of milliseconds of CPU: done once per process, not per
    # connection, so an experiment opening hundreds of streams does not stall its own loop.
    if insecure:
        return httpx.create_ssl_context(verify=False)
    if cacert:
        return ssl.create_default_context(cafile=cacert)
    return httpx.create_ssl_context()


def _browser_accept_encoding() -> str:
    # A browser offers gzip, deflate, br and zstd. We offer the ones httpx can decode here,
    # so a compressing server still shows itself (compressed-stream) and the body parses.
    try:
        from httpx._decoders import SUPPORTED_DECODERS

        names = [n for n in ("gzip", "deflate", "br", "zstd") if n in SUPPORTED_DECODERS]
    except ImportError:  # pragma: no cover - httpx internals moved
        names = ["gzip", "deflate"]
    return ", ".join(names)


@dataclass
class Target:
    url: str
    protocol: str  # "sse" | "ws"
    method: str = "GET"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    timeout: float = 10.0
    insecure: bool = False
    cacert: str | None = None
    http2: bool = False
    body_is_json: bool = False
    redactor: Redactor = field(default_factory=Redactor)

    def ssl_context(self) -> ssl.SSLContext:
        return _ssl_context(self.insecure, self.cacert)

    def sse_headers(self, last_event_id: str | None = None) -> list[tuple[str, str]]:
        """Request headers for an SSE connection: what a browser's EventSource sends, then
        the user's headers (which win)."""
        names = {k.lower() for k, _ in self.headers}
        out: list[tuple[str, str]] = []
        defaults = [
            ("Accept", "text/event-stream"),
            ("Cache-Control", "no-cache"),
            ("Accept-Encoding", _browser_accept_encoding()),
        ]
        if self.body_is_json:
            defaults.append(("Content-Type", "application/json"))
        for k, v in defaults:
            if k.lower() not in names:
                out.append((k, v))
        if last_event_id is not None:
            out.append(("Last-Event-ID", last_event_id))
        return out + list(self.headers)

    def display_url(self) -> str:
        return self.redactor.url(self.url)


def read_text_arg(value: str, what: str) -> bytes:
    """TEXT or @FILE, as curl does."""
    if value.startswith("@"):
        path = value[1:]
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError as exc:
            raise UsageError(f"cannot read {what} file {path!r}: {exc.strerror}") from None
    return value.encode()


def parse_header(raw: str) -> tuple[str, str]:
    name, sep, value = raw.partition(":")
    name = name.strip()
    if not sep or not name or any(c in name for c in " \t\r\n"):
        raise UsageError(f"invalid header {raw!r}: expected 'Name: value'")
    if "\n" in value or "\r" in value:
        raise UsageError(f"invalid header {name!r}: value contains a line break")
    return name, value.strip()


def build_target(
    url: str,
    *,
    protocols: tuple[str, ...] = ("sse", "ws"),
    method: str = "GET",
    headers: list[str] | None = None,
    data: str | None = None,
    cookie: list[str] | None = None,
    bearer: str | None = None,
    timeout: float = 10.0,
    insecure: bool = False,
    cacert: str | None = None,
    http2: bool = False,
) -> Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in SSE_SCHEMES:
        protocol = "sse"
    elif scheme in WS_SCHEMES:
        protocol = "ws"
    else:
        raise UsageError(
            f"unsupported URL {url!r}: use http:// or https:// (SSE) or ws:// or wss:// "
            "(WebSocket)"
        )
    if protocol not in protocols:
        raise UsageError(f"this command does not support {scheme}:// URLs")
    if not parts.hostname:
        raise UsageError(f"invalid URL {url!r}: no host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise UsageError(f"invalid URL {url!r}: {exc}") from None
    if timeout <= 0:
        raise UsageError("--timeout must be greater than 0")
    if cacert and not os.path.isfile(cacert):
        raise UsageError(f"cannot read --cacert file {cacert!r}")

    redactor = Redactor()
    hdrs = [parse_header(h) for h in headers or []]
    for c in cookie or []:
        if "=" not in c:
            raise UsageError(f"invalid cookie {c!r}: expected 'name=value'")
        hdrs.append(("Cookie", c.strip()))
    if bearer:
        hdrs.append(("Authorization", f"Bearer {bearer}"))
    for k, v in hdrs:
        redactor.add_header(k, v)
    redactor.add_url(url)

    body = read_text_arg(data, "--data") if data is not None else None
    body_is_json = False
    if body is not None and body.lstrip()[:1] in (b"{", b"["):
        try:
            json.loads(body)
            body_is_json = True
        except ValueError:
            pass  # not JSON after all: sent as given, without a JSON Content-Type
    method = method.upper()
    if not method.isalpha():
        raise UsageError(f"invalid method {method!r}")
    return Target(
        url=url, protocol=protocol, method=method, headers=hdrs, body=body, timeout=timeout,
        insecure=insecure, cacert=cacert, http2=http2, body_is_json=body_is_json,
        redactor=redactor,
    )


def is_loopback(url: str) -> bool:
    """True when the URL's host is this machine (storm and load limits are for others): a
    loopback address, localhost, or a name that resolves only to loopback addresses."""
    import ipaddress

    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    addresses = resolve(host)
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


RESOLVE_DEADLINE_S = 2.0


def resolve(host: str, deadline_s: float = RESOLVE_DEADLINE_S) -> list[str]:
    """The addresses a host name resolves to (as `load http://$(hostname):P` will connect),
    or [] when it does not resolve within the deadline: getaddrinfo has no timeout of its
    own, so it runs in a thread we stop waiting for."""
    import concurrent.futures
    import socket

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(socket.getaddrinfo, host, None, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=deadline_s)
    except (OSError, UnicodeError, concurrent.futures.TimeoutError):
        return []
    finally:
        pool.shutdown(wait=False)
    return sorted({str(info[4][0]).split("%")[0] for info in infos})
