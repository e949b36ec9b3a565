"""A watch as the user wrote it (--watch-metric, --watch-json, --watch-port), and the errors
every kind of watch shares."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sse_doctor.errors import UsageError
from sse_doctor.redact import Redactor


class WatchError(Exception):
    """A watch cannot be read at baseline: one line that names the option."""


class ReadError(Exception):
    """One reading failed; the message is the reason, without the option."""


@dataclass(frozen=True)
class WatchSpec:
    kind: str  # "metric" | "json" | "port"
    text: str  # as the user wrote it
    url: str | None  # metric/json source
    selector: str  # metric selector, dotted path, or "" for port
    port: int | None

    def option(self) -> str:
        """The option as the user gave it, for messages (secret query parameters masked)."""
        if self.kind == "port":
            return f"--watch-port {self.port}"
        return f"--watch-{self.kind} {Redactor().url(self.url or '')}#{self.selector}"


def shown(text: str) -> str:
    """The option's text for a message, with secret-looking query parameters masked."""
    url, sep, rest = text.partition("#")
    return repr(Redactor().url(url) + sep + rest)


def split_url(option: str, text: str, form: str) -> tuple[str, str]:
    # The first '#' splits: a URL fragment is never sent to a server, while a metric's label
    # value may well contain '#'.
    url, sep, rest = text.partition("#")
    if not sep:
        raise UsageError(f"{option} {shown(text)}: expected {form} (no '#' found)")
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(f"{option} {shown(text)}: bad URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{option} {shown(text)}: the URL must start with http:// or https:// "
                         f"and name a host")
    return url, rest
