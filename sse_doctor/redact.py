"""Secrets never reach an output: sensitive headers and query parameters are masked by name,
and every secret value the user gave us is masked wherever it shows up again (a server that
echoes the Authorization header into an event, an error page quoting the token...)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

MASK = "[REDACTED]"
SENSITIVE_HEADERS = {"authorization", "cookie", "set-cookie", "proxy-authorization",
                     "x-api-key", "api-key"}
_SECRET_PARAM = re.compile(r"token|key|secret|passw|sig|auth|session", re.IGNORECASE)
_MIN_SECRET_LEN = 4  # masking very short values would shred unrelated text
# Shown shortened rather than masked: enough to tell two sessions apart in a report, not
# enough to use one (an MCP server's Mcp-Session-Id, also the throwaway one on an error).
SHORTENED_HEADERS = {"mcp-session-id"}


def shorten(value: str) -> str:
    keep = max(1, min(8, len(value) // 3))
    return value[:keep] + "…"


def is_secret_param(name: str) -> bool:
    return bool(_SECRET_PARAM.search(name))


class Redactor:
    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._shortened: dict[str, str] = {}

    def add_shortened(self, value: str) -> None:
        """A value shown only shortened wherever it appears (an Mcp-Session-Id)."""
        value = value.strip()
        if len(value) >= _MIN_SECRET_LEN:
            self._shortened[value] = shorten(value)

    def add_secret(self, value: str) -> None:
        value = value.strip()
        if len(value) >= _MIN_SECRET_LEN:
            self._secrets.add(value)

    def merge(self, other: Redactor) -> None:
        """Know every secret another redactor knows (a suite's outputs mix its checks)."""
        self._secrets |= other._secrets

    def add_header(self, name: str, value: str) -> None:
        if name.lower() not in SENSITIVE_HEADERS:
            return
        self.add_secret(value)
        scheme, _, cred = value.partition(" ")
        if cred:
            self.add_secret(cred)
        for part in value.split(";"):
            _, eq, v = part.partition("=")
            if eq:
                self.add_secret(v)

    def add_url(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            password, query = parts.password, parts.query
        except ValueError:  # a malformed host (from a capture): its query still counts
            password, query = None, _raw_query(url)
        if password:
            self.add_secret(password)
        for k, v in parse_qsl(query, keep_blank_values=True):
            if is_secret_param(k):
                self.add_secret(v)

    def url(self, url: str) -> str:
        try:
            parts = urlsplit(url)
        except ValueError:
            query = _raw_query(url)
            if query:
                url = url.replace("?" + query, "?" + _masked_query(query), 1)
            return self.text(url)
        query = _masked_query(parts.query)
        netloc = parts.netloc
        if parts.password:
            netloc = netloc.replace(f":{parts.password}@", f":{MASK}@")
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))

    def header(self, name: str, value: str) -> str:
        if name.lower() in SENSITIVE_HEADERS:
            return MASK
        if name.lower() in SHORTENED_HEADERS:
            return shorten(value.strip())
        return self.text(value)

    def text(self, s: str) -> str:
        # Longest first, so a token is not half-masked by a shorter secret inside it.
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in s:
                s = s.replace(secret, MASK)
        for value, short in self._shortened.items():
            if value in s:
                s = s.replace(value, short)
        return s

    def deep(self, obj: Any) -> Any:
        """Redact every string in a JSON-like structure."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {k: self.deep(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.deep(v) for v in obj]
        return obj


def _raw_query(url: str) -> str:
    return url.partition("?")[2].partition("#")[0]


def _masked_query(query: str) -> str:
    return "&".join(
        f"{k}={MASK}" if is_secret_param(k) else (f"{k}={v}" if v or "=" in pair else k)
        for pair in query.split("&") if pair
        for k, _, v in [pair.partition("=")]
    )
