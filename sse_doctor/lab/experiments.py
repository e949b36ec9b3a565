"""The lab's experiment table: which experiment ``sse-doctor demo`` runs on which lab route,
with which options, and which finding codes it must produce (an empty set means healthy).

The demo runs these rows concurrently against one lab, so no two rows share a route or a
watched gauge: one row's connections would move the other's baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit


@dataclass(frozen=True)
class LabExperiment:
    name: str  # e.g. "disconnect-leaky"
    command: str  # disconnect | duplicates | storm | resume
    path: str  # route path
    protocol: str  # "sse" | "ws"
    models: str  # one line: what the route does right or wrong
    args: tuple[str, ...]  # extra CLI args; "{base}" = the lab's http base URL, "{port}" its port
    expect: frozenset[str]  # finding codes the experiment must produce (empty = healthy)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "command": self.command,
            "path": self.path,
            "protocol": self.protocol,
            "models": self.models,
            "args": list(self.args),
            "expect": sorted(self.expect),
        }


def experiment_argv(e: LabExperiment, base_url: str, user: str) -> list[str]:
    """``[target URL with ?user=<user>, *args]`` with ``{base}`` and ``{port}`` filled in; the
    target is ws:// (wss://) for WebSocket rows."""
    base = base_url.rstrip("/")
    parts = urlsplit(base)
    scheme = parts.scheme
    if e.protocol == "ws":
        scheme = "wss" if parts.scheme == "https" else "ws"
    url = urlunsplit((scheme, parts.netloc, e.path, urlencode({"user": user}), ""))
    port = str(parts.port or (443 if parts.scheme == "https" else 80))
    # str.replace, not str.format: the args hold PromQL-style braces (metric{route="..."}).
    return [url, *(arg.replace("{base}", base).replace("{port}", port) for arg in e.args)]


def _metric(name: str, route: str) -> str:
    return f'{{base}}/lab/metrics#{name}{{route="{route}"}}'


def _session_args(route: str) -> tuple[str, ...]:
    return ("--after-events", "2", "--grace", "2",
            "--watch-metric", _metric("lab_pending_sessions", route),
            "--watch-json", f"{{base}}/lab/state#{route}.temp_files")


def _ws_args(route: str) -> tuple[str, ...]:
    return ("--after-events", "2", "--grace", "2",
            "--watch-metric", _metric("lab_open_streams", route))


def _storm_args(metric: str, route: str) -> tuple[str, ...]:
    return ("--cycles", "20", "--concurrency", "5", "--grace", "2",
            "--watch-metric", _metric(metric, route))


def _mcp_cancel_args(variant: str) -> tuple[str, ...]:
    return ("--profile", "mcp", "--call", "slow", "--after", "0.6", "--grace", "2",
            "--watch-json", f"{{base}}/mcp/{variant}/state#running")


_DUPLICATES = ("--connections", "3", "--policy", "single")
_RESUME = ("--after-events", "3")


def _row(name: str, command: str, path: str, models: str, args: tuple[str, ...],
         expect: set[str] | frozenset[str] = frozenset()) -> LabExperiment:
    protocol = "ws" if path.startswith("/ws/") else "sse"
    return LabExperiment(name=name, command=command, path=path, protocol=protocol,
                         models=models, args=args, expect=frozenset(expect))


EXPERIMENTS: tuple[LabExperiment, ...] = (
    _row("disconnect-leaky", "disconnect", "/sse/leaky-session",
         "the incident: cleanup in 'except Exception', which a disconnect's cancellation never"
         " reaches; the user gets 409 FILE_PROCESSING from then on",
         _session_args("leaky-session"), {"reconnect-rejected", "cleanup-leak"}),
    _row("disconnect-clean", "disconnect", "/sse/clean-session",
         "the same session server with its cleanup in 'finally'",
         _session_args("clean-session")),
    _row("ws-disconnect-leaky", "disconnect", "/ws/leaky-session",
         "a WebSocket handler that releases its session only on a close frame: a TCP drop"
         " leaves it open forever",
         _ws_args("ws-leaky-session"), {"cleanup-leak"}),
    _row("ws-disconnect-clean", "disconnect", "/ws/clean-session",
         "the same WebSocket handler with its cleanup in 'finally'",
         _ws_args("ws-clean-session")),
    _row("close-wait", "disconnect", "/sse/close-wait",
         "a handler that waits on a job that never reports and never reads the socket: the"
         " client's FIN leaves the server's socket in CLOSE_WAIT",
         ("--mode", "fin", "--after", "0.5", "--grace", "2", "--watch-port", "{port}"),
         {"close-wait-leak"}),
    _row("mcp-cancel", "disconnect", "/mcp/modern",
         "a 2026-07-28 server whose long tool call stops when its response stream is closed "
         "(the spec's cancellation)", _mcp_cancel_args("modern")),
    _row("mcp-call-runs-on", "disconnect", "/mcp/modern-call-runs-on",
         "the same server with the tool's work moved to a detached task: closing the stream "
         "cancels nothing", _mcp_cancel_args("modern-call-runs-on"), {"mcp-call-not-cancelled"}),
    _row("duplicates-unlimited", "duplicates", "/sse/duplicates-unlimited",
         "any number of streams per user, every one fed the same events",
         _DUPLICATES, {"duplicate-streams-allowed"}),
    _row("duplicates-newest", "duplicates", "/sse/newest-wins",
         "one stream per user: a new stream ends the older ones with 'event: replaced'",
         _DUPLICATES),
    _row("storm-leak", "storm", "/sse/storm-leak",
         "registers a subscriber, then loads a backlog outside the try/finally that unregisters"
         " it: clients aborting in the first 0.3 s leak one subscriber each",
         _storm_args("lab_subscribers", "storm-leak"), {"storm-leak"}),
    _row("storm-clean", "storm", "/sse/storm-clean",
         "the same subscriber registry with the backlog loaded inside the try/finally",
         _storm_args("lab_subscribers", "storm-clean")),
    _row("resume-ignored", "resume", "/sse/resume-ignored",
         "ignores Last-Event-ID: every reconnect replays the stream from id 1",
         _RESUME, {"resume-replay"}),
    _row("resume-supported", "resume", "/sse/resume-supported",
         "continues right after Last-Event-ID",
         _RESUME),
    _row("resume-gap", "resume", "/sse/resume-gap",
         "a live-only stream: resumes 5 events past Last-Event-ID, dropping the backlog",
         _RESUME, {"resume-gap"}),
)


def get_experiment(name: str) -> LabExperiment:
    """The experiment row called ``name`` (KeyError if there is none)."""
    for experiment in EXPERIMENTS:
        if experiment.name == name:
            return experiment
    raise KeyError(name)
