"""Which targets a module may probe: shell patterns on the URL, matched part by part.

An exporter that fetches any URL it is asked for is a request-forgery hole, so a target must
match one of its module's patterns. A pattern is matched against the scheme, the authority
(host[:port]) and the rest (path and query) separately: a `*` in one part never crosses into
another, so `https://*.example.com/*` cannot be met by `https://evil.test/x.example.com/`.
Targets with user information (`http://a@b/`) are refused outright: the part before the `@`
would look like a host to a person reading the pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

SCHEMES = ("http", "https", "ws", "wss")
_HOST = re.compile(r"[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]")


class TargetRefused(Exception):
    """The target is not a URL the exporter probes, or the module does not allow it."""


@dataclass(frozen=True)
class Parts:
    scheme: str
    authority: str  # host[:port], lower-case host
    rest: str  # path (at least "/") and ?query


def target_parts(url: str) -> Parts:
    """The parts of a target URL that patterns are matched against (TargetRefused if bad)."""
    try:
        s = urlsplit(url)
        port = s.port
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from None
    scheme = s.scheme.lower()
    if scheme not in SCHEMES:
        raise TargetRefused("the target must be an http(s):// or ws(s):// URL")
    if "@" in s.netloc:
        raise TargetRefused("targets with user information (user@host) are not probed")
    host = s.hostname or ""
    if not host or not _HOST.fullmatch(s.netloc.rsplit(":", 1)[0] if port is not None
                                       else s.netloc):
        raise TargetRefused("the target has no valid host")
    authority = host if port is None else f"{host}:{port}"
    if ":" in host:  # IPv6 literal: keep its brackets
        authority = f"[{host}]" + ("" if port is None else f":{port}")
    rest = (s.path or "/") + (f"?{s.query}" if s.query else "")
    return Parts(scheme, authority.lower(), rest)


def pattern_parts(pattern: str) -> Parts:
    """A pattern split the same way: `scheme://authority/rest`; no rest means any path."""
    scheme, sep, tail = pattern.partition("://")
    if not sep or not scheme or not tail:
        raise ValueError(f"{pattern!r} is not a URL pattern (write scheme://host[:port]/path, "
                         "with * and ? as wildcards)")
    authority, slash, rest = tail.partition("/")
    if not authority:
        raise ValueError(f"{pattern!r} has no host")
    return Parts(scheme.lower(), authority.lower(), "/" + rest if slash else "*")


def allowed(url: str, patterns: tuple[str, ...]) -> bool:
    """True when the target matches one of the patterns (TargetRefused for a bad target)."""
    t = target_parts(url)
    for pattern in patterns:
        p = pattern_parts(pattern)
        if fnmatchcase(t.scheme, p.scheme) and fnmatchcase(t.authority, p.authority) \
                and fnmatchcase(t.rest, p.rest):
            return True
    return False
