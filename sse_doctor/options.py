"""Every command-line option, declared once.

An option (its key, flags, type, default, help, help panel and value check) is an `Opt`; a
command is the list of options it takes. Everything else is derived from this table: the
Typer commands and their `--help` (sse_doctor.commandline), the keys a suite check accepts
(sse_doctor.suite.loader), the argument lists the demo and the lab listing use, the
validation every planner runs first (`validate`), and the README's option tables (a test
compares them). Adding an option is one `Opt` here plus its use in a planner.

Nothing here imports Typer or click: the plan layer validates with it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sse_doctor.errors import UsageError

# A check takes the option's longest flag and its value and returns a problem, or None.
Check = Callable[[str, Any], "str | None"]

REQ, OUT, WS, EXP, WATCH = "Request", "Output", "WebSocket", "Experiment", "Watch the server"
LOAD = "Load"
PROFILE = "Protocol profile"


def positive(flag: str, value: Any) -> str | None:
    return f"{flag} must be greater than 0" if value is not None and value <= 0 else None


def not_negative(flag: str, value: Any) -> str | None:
    return f"{flag} must be 0 or more" if value is not None and value < 0 else None


def at_least(low: int) -> Check:
    def check(flag: str, value: Any) -> str | None:
        return f"{flag} must be at least {low}" if value is not None and value < low else None
    return check


def between(low: int, high: int) -> Check:
    def check(flag: str, value: Any) -> str | None:
        if value is None:
            return None
        if value < low:
            return f"{flag} must be at least {low}"
        if value > high:
            return f"{flag} must be at most {high}"
        return None
    return check


@dataclass(frozen=True)
class Opt:
    key: str  # the planner's name for the value, e.g. "idle_limit"
    flags: tuple[str, ...]  # e.g. ("-H", "--header")
    type: type | tuple[str, ...] = str  # str, int, float, bool, or a tuple of choices
    default: Any = None
    help: str = ""
    metavar: str | None = None
    panel: str | None = None  # the --help panel it is listed under
    multiple: bool = False  # repeatable: the value is a list (None when not given)
    check: Check | None = None
    output: bool = False  # an output option: belongs to a run, never to one suite check
    required: bool = False

    @property
    def flag(self) -> str:
        """The longest long flag: what messages and suite keys are named after."""
        return max((f for f in self.flags if f.startswith("--")), key=len)

    @property
    def choices(self) -> tuple[str, ...] | None:
        return self.type if isinstance(self.type, tuple) else None

    def but(self, **changes: Any) -> Opt:
        """This option with another default, help text or check, for one command."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Arg:
    key: str
    metavar: str
    help: str


@dataclass(frozen=True)
class Command:
    name: str
    help: str  # one line, shown in `sse-doctor --help` and on top of the command's help
    args: tuple[Arg, ...] = ()
    options: tuple[Opt, ...] = ()
    panel: str | None = None  # the panel of `sse-doctor --help` it is listed under

    def option(self, key: str) -> Opt:
        for o in self.options:
            if o.key == key:
                return o
        raise KeyError(key)

    def defaults(self) -> dict[str, Any]:
        return {o.key: o.default for o in self.options}


# --- the options ---------------------------------------------------------------------------
HEADER = Opt("header", ("-H", "--header"), metavar="NAME: VALUE", panel=REQ, multiple=True,
             help="Request header 'Name: value' (repeatable).")
METHOD = Opt("method", ("-X", "--method"), default="GET", metavar="METHOD", panel=REQ,
             help="HTTP method.")
DATA = Opt("data", ("-d", "--data"), metavar="TEXT|@FILE", panel=REQ,
           help="Request body, TEXT or @FILE (JSON sets Content-Type).")
COOKIE = Opt("cookie", ("--cookie",), metavar="NAME=VALUE", panel=REQ, multiple=True,
             help="Cookie 'name=value' (repeatable).")
BEARER = Opt("bearer", ("--bearer",), metavar="TOKEN", panel=REQ,
             help="Send 'Authorization: Bearer TOKEN'.")
TIMEOUT = Opt("timeout", ("--timeout",), float, 10.0, metavar="S", panel=REQ, check=positive,
              help="Seconds to connect and get a response.")
INSECURE = Opt("insecure", ("--insecure",), bool, False, panel=REQ,
               help="Do not verify TLS certificates.")
CACERT = Opt("cacert", ("--cacert",), metavar="FILE", panel=REQ, help="CA bundle file for TLS.")
HTTP2 = Opt("http2", ("--http2",), bool, False, panel=REQ, help="Offer HTTP/2.")
REQUEST = (HEADER, METHOD, DATA, COOKIE, BEARER, TIMEOUT, INSECURE, CACERT, HTTP2)

JSON_OUT = Opt("json_out", ("--json",), metavar="PATH|-", panel=OUT, output=True,
               help="Write the JSON report to PATH ('-' for stdout).")
JUNIT_OUT = Opt("junit_out", ("--junit",), metavar="PATH", panel=OUT, output=True,
                help="Write JUnit XML to PATH.")
HTML_OUT = Opt("html_out", ("--html",), metavar="PATH", panel=OUT, output=True,
               help="Write a self-contained HTML report to PATH.")
FAIL_ON = Opt("fail_on", ("--fail-on",), ("error", "warning", "never"), "error", panel=OUT,
              output=True, help="Lowest severity that makes the exit code 1.")
QUIET = Opt("quiet", ("-q", "--quiet"), bool, False, panel=OUT, output=True,
            help="Print only the verdict line.")
VERBOSE = Opt("verbose", ("-v", "--verbose"), bool, False, panel=OUT, output=True,
              help="Show the raw timeline.")
def known_codes(flag: str, value: Any) -> str | None:
    from sse_doctor.codes import unknown_code

    for code in value or ():
        problem = unknown_code(code)
        if problem:
            return f"{flag}: {problem}"
    return None


IGNORE = Opt("ignore", ("--ignore",), metavar="CODE", panel=OUT, output=True, multiple=True,
             check=known_codes, help="Mute a finding code a team has accepted (repeatable): "
                                     "reported as ignored, it decides neither the verdict nor "
                                     "the exit code.")
OUTPUT = (JSON_OUT, JUNIT_OUT, HTML_OUT, FAIL_ON, QUIET, VERBOSE, IGNORE)

# probe
FOLLOW = Opt("follow", ("-f", "--follow"), bool, False, panel=OUT, output=True,
             help="Print every item as it arrives (window unlimited unless --duration).")
DURATION = Opt("duration", ("--duration",), float, 30.0, metavar="S", check=positive,
               help="Observation window in seconds.")
MAX_EVENTS = Opt("max_events", ("--max-events",), int, metavar="N", check=at_least(1),
                 help="Stop after N events (or messages).")
IDLE_LIMIT = Opt("idle_limit", ("--idle-limit",), float, 30.0, metavar="S", check=positive,
                 help="Longest acceptable silence in seconds.")
EXPECT_EVENT = Opt("expect_event", ("--expect-event",), metavar="NAME", multiple=True,
                   help="Event type that must arrive (repeatable).")
EXPECT_CLOSE = Opt("expect_close", ("--expect-close",), float, metavar="S", check=positive,
                   help="The server must end the stream within S seconds.")
KEEP = Opt("keep", ("--keep",), int, 1000, metavar="N", panel=OUT, check=not_negative,
           help="Events/comments/messages kept in JSON.")
SEND = Opt("send", ("--send",), metavar="TEXT|@FILE", panel=WS, multiple=True,
           help="Message TEXT or @FILE to send after open (repeatable).")
EXPECT_MESSAGE = Opt("expect_message", ("--expect-message",), metavar="TEXT", panel=WS,
                     multiple=True, help="Substring a message must contain (repeatable).")
PING_INTERVAL = Opt("ping_interval", ("--ping-interval",), float, metavar="S", panel=WS,
                    check=positive, help="Send a ping every S seconds and time the pong.")
SUBPROTOCOL = Opt("subprotocol", ("--subprotocol",), metavar="NAME", panel=WS, multiple=True,
                  help="Subprotocol to offer (repeatable).")
ORIGIN = Opt("origin", ("--origin",), metavar="URL", panel=WS, help="Origin header.")
MAX_MESSAGE_SIZE = Opt("max_message_size", ("--max-message-size",), int, 1 << 20,
                       metavar="BYTES", panel=WS, check=at_least(1),
                       help="Largest message accepted, in bytes.")

# protocol profiles (sse_doctor/profiles): the profile's own options are checked by
# profiles.resolve, which knows which profile each belongs to.
PROFILE_OPT = Opt("profile", ("--profile",), default="auto",
                  metavar="auto|none|llm|mcp|graphql|socketio", panel=PROFILE,
                  help="Protocol profile (auto: recognised from the stream only).")
TTFT_LIMIT = Opt("ttft_limit", ("--ttft-limit",), float, metavar="S", panel=PROFILE,
                 check=positive, help="llm: longest acceptable time to first token.")
# None is auto (a default value would count as "given" where the option needs its profile).
MCP_VERSION = Opt("mcp_version", ("--mcp-version",), metavar="auto|REVISION", panel=PROFILE,
                  help="mcp: revision to speak (default auto: 2026-07-28 first, as the "
                       "official clients negotiate).")
CALL = Opt("call", ("--call",), metavar="TOOL", panel=PROFILE,
           help="mcp: the one tool to call (never called unasked).")
ARGS = Opt("args", ("--args",), metavar="JSON", panel=PROFILE,
           help="mcp: the --call tool's arguments, a JSON object.")
INPUT_RESPONSES = Opt("input_responses", ("--input-responses",), metavar="JSON", panel=PROFILE,
                      help="mcp: answers to the call's input_required (a JSON object keyed as "
                           "the server asked); the call is retried with them.")
QUERY = Opt("query", ("--query",), metavar="TEXT|@FILE", panel=PROFILE,
             help="graphql: the operation to run (a subscription, query or mutation).")
VARIABLES = Opt("variables", ("--variables",), metavar="JSON", panel=PROFILE,
                help="graphql: the operation's variables, a JSON object.")
INIT_PAYLOAD = Opt("init_payload", ("--init-payload",), metavar="JSON", panel=PROFILE,
                   help="graphql: connection_init payload (auth; redacted in reports).")
NAMESPACE = Opt("namespace", ("--namespace",), metavar="NS", panel=PROFILE,
                help="socketio: the namespace to join (default /).")
TRANSPORT = Opt("transport", ("--transport",), ("polling", "websocket"), panel=PROFILE,
                help="socketio: polling only, or a WebSocket from the start (default: "
                     "polling, then upgrade).")
PROFILE_OPTIONS = (PROFILE_OPT, TTFT_LIMIT, MCP_VERSION, CALL, ARGS, INPUT_RESPONSES, QUERY,
                   VARIABLES, INIT_PAYLOAD, NAMESPACE, TRANSPORT)

# experiments
HOLD = DURATION.but(panel=EXP, help="Longest a connection is held, in seconds.")
GRACE = Opt("grace", ("--grace",), float, 5.0, metavar="S", panel=WATCH, check=not_negative,
            help="Seconds the server has to return to its baseline.")
WATCH_METRIC = Opt("watch_metric", ("--watch-metric",), metavar='URL#NAME{L="V"}', panel=WATCH,
                   multiple=True, help="Prometheus metric to watch (repeatable).")
WATCH_JSON = Opt("watch_json", ("--watch-json",), metavar="URL#PATH", panel=WATCH,
                 multiple=True, help="Number at a dotted path of a JSON endpoint to watch "
                                     "(repeatable).")
WATCH_PORT = Opt("watch_port", ("--watch-port",), int, metavar="PORT", panel=WATCH,
                 multiple=True, help="Server sockets on this local port, by state (repeatable).")
WATCHES = (GRACE, WATCH_METRIC, WATCH_JSON, WATCH_PORT)
# disconnect --profile mcp --call TOOL: the dropped stream is that tool call's (cancellation)
EXP_PROFILE = Opt("profile", ("--profile",), metavar="mcp", panel=EXP,
                  help="mcp: drop a tools/call's stream (with --call): was the work cancelled?")
EXP_MCP = (EXP_PROFILE, CALL.but(panel=EXP), ARGS.but(panel=EXP))
AFTER_EVENTS = Opt("after_events", ("--after-events",), int, metavar="N", panel=EXP,
                   check=at_least(1), help="Drop after N events (default 2).")
AFTER = Opt("after", ("--after",), float, metavar="S", panel=EXP, check=positive,
            help="Drop after S seconds instead.")
MODE = Opt("mode", ("--mode",), ("rst", "fin"), "rst", panel=EXP,
           help="rst: reset (SO_LINGER 0); fin: plain close.")
REPEAT = Opt("repeat", ("--repeat",), int, 1, metavar="K", panel=EXP, check=at_least(1),
             help="Drop K times in a row.")
CONNECTIONS = Opt("connections", ("--connections",), int, 3, metavar="N", panel=EXP,
                  check=between(2, 1000), help="Streams opened with one identity.")
POLICY = Opt("policy", ("--policy",), ("allow", "single"), "allow", panel=EXP,
             help="single: more than one kept open is an error.")
CYCLES = Opt("cycles", ("--cycles",), int, 50, metavar="N", panel=EXP,
             check=between(1, 100_000), help="Connect/reset cycles.")
CONCURRENCY = Opt("concurrency", ("--concurrency",), int, 10, metavar="C", panel=EXP,
                  check=between(1, 10_000), help="Cycles at once.")
I_KNOW = Opt("i_know_what_i_am_doing", ("--i-know-what-i-am-doing",), bool, False, panel=EXP,
             help="Allow more than 1000 at once to a remote host.")

# load
MAX_STREAMS = 1_000_000
STREAMS = Opt("streams", ("--streams",), int, 100, metavar="N", panel=LOAD,
              check=between(1, MAX_STREAMS), help="Streams to open in total.")
RAMP = Opt("ramp", ("--ramp",), float, 100.0, metavar="R", panel=LOAD, check=positive,
           help="New streams per second.")
LOAD_HOLD = Opt("duration", ("--duration",), float, 30.0, metavar="S", panel=LOAD,
                check=not_negative, help="Seconds to hold them after the ramp (--profile llm: "
                                         "each level, at most).")
WORKERS = Opt("workers", ("--workers",), int, metavar="N", panel=LOAD, check=at_least(1),
              help="Worker processes (default: cores).")
RECONNECT = Opt("reconnect", ("--reconnect",), bool, False, panel=LOAD,
                help="Reconnect ended streams like EventSource (retry, Last-Event-ID).")
LAG_FROM = Opt("lag_from", ("--lag-from",), metavar="comment:PREFIX|json:PATH", panel=LOAD,
               help="Where the server stamps send time (epoch seconds).")
LOAD_PROFILE = Opt("profile", ("--profile",), default="auto", metavar="auto|none|llm",
                   panel=LOAD, help="auto or none: streams; llm: completions under load "
                                    "(docs/llm-load.md).")
LOAD_I_KNOW = I_KNOW.but(panel=LOAD, help="Allow more than 1000 streams to a remote host.")

# load --profile llm: completions under load (sse_doctor/load/llm)
LLM_LOAD = "LLM load (--profile llm)"


def fraction(flag: str, value: Any) -> str | None:
    return f"{flag} must be between 0 and 1" if value is not None and not 0 <= value <= 1 \
        else None


LLM_CONCURRENCY = CONCURRENCY.but(default=None, panel=LLM_LOAD,
                                  help="Completions in flight at once (closed loop; default 1)"
                                       "; with --rate, the most in flight.")
RATE = Opt("rate", ("--rate",), float, metavar="R", panel=LLM_LOAD, check=positive,
           help="Completions started per second (open loop).")
ARRIVAL = Opt("arrival", ("--arrival",), ("poisson", "constant"), "poisson", panel=LLM_LOAD,
              help="Open loop: exponential gaps (poisson) or even ones.")
REQUESTS = Opt("requests", ("--requests",), int, metavar="M", panel=LLM_LOAD,
               check=between(1, 10_000_000), help="Completions per level (and at most "
                                                  "--duration seconds).")
SWEEP = Opt("sweep", ("--sweep",), metavar="N,N,...", panel=LLM_LOAD,
            help="Concurrency levels run one after another; reports the knee.")
SLO = Opt("slo", ("--slo",), metavar="ttft=500ms,itl=50ms", panel=LLM_LOAD,
          help="Objectives for goodput and the knee: ttft, answer, itl, tpot, e2e.")
CANCEL_RATE = Opt("cancel_rate", ("--cancel-rate",), float, 0.0, metavar="P", panel=LLM_LOAD,
                  check=fraction, help="Share of completions closed mid-answer (0..1).")
CANCEL_AFTER = Opt("cancel_after", ("--cancel-after",), float, 1.0, metavar="S",
                   panel=LLM_LOAD, check=positive,
                   help="Seconds after sending that a cancelled completion is closed.")
REQUEST_TIMEOUT = Opt("request_timeout", ("--request-timeout",), float, 120.0, metavar="S",
                      panel=LLM_LOAD, check=positive,
                      help="Longest one completion may take, in seconds.")
LLM_LOAD_OPTIONS = (LLM_CONCURRENCY, RATE, ARRIVAL, REQUESTS, SWEEP, SLO, CANCEL_RATE,
                    CANCEL_AFTER, REQUEST_TIMEOUT, *WATCHES)

URL = Arg("url", "URL", "http(s):// for SSE, ws(s):// for WebSocket.")


def _command(name: str, help: str, *options: Opt | tuple[Opt, ...], args: tuple[Arg, ...] = (),
             panel: str | None = None) -> Command:
    flat: list[Opt] = []
    for o in options:
        flat.extend(o if isinstance(o, tuple) else (o,))
    keys = [o.key for o in flat]
    assert len(keys) == len(set(keys)), f"{name}: an option is declared twice"
    return Command(name, help, args, tuple(flat), panel)


# None: 30 s, or no limit with --follow (the planner decides: plan.probe.window).
PROBE_DURATION = DURATION.but(default=None, help="Observation window in seconds (default 30; "
                                                  "unlimited with --follow).")
# What every WebSocket connection of an experiment does: a server that speaks only after a
# message is tested with the same --send as `probe`.
WS_CONNECT = (SEND.but(help="Message TEXT or @FILE each connection sends after open "
                            "(repeatable)."), SUBPROTOCOL, ORIGIN, MAX_MESSAGE_SIZE)

PROBE_OPTIONS = (PROBE_DURATION, MAX_EVENTS, IDLE_LIMIT, EXPECT_EVENT, EXPECT_CLOSE, KEEP, SEND,
                 EXPECT_MESSAGE, PING_INTERVAL, SUBPROTOCOL, ORIGIN, MAX_MESSAGE_SIZE)

# The commands, in the order `sse-doctor --help` lists them.
COMMANDS: dict[str, Command] = {c.name: c for c in (
    _command("probe", "Open a stream, time everything that arrives, and say what is wrong.",
             REQUEST, OUTPUT, FOLLOW, PROBE_OPTIONS, PROFILE_OPTIONS, args=(URL,)),
    _command("lab", "Serve the lab of misbehaving servers and list its routes.",
             Opt("port", ("--port",), int, 0, check=between(0, 65535),
                 help="Port on 127.0.0.1 (0 = a free one).")),
    _command("demo", "Start the lab and diagnose every scenario (exit 0 when each gets its "
                     "diagnosis).", JSON_OUT, JUNIT_OUT, HTML_OUT, QUIET, VERBOSE),
    _command("load", "Hold many streams at once: where does the server refuse, drop or lag?",
             STREAMS, RAMP, LOAD_HOLD, WORKERS, RECONNECT,
             IDLE_LIMIT.but(panel=LOAD, help="Longest acceptable silence."), LAG_FROM,
             LOAD_PROFILE, LOAD_I_KNOW,
             SEND.but(help="Message to send after open (repeatable)."),
             PING_INTERVAL.but(help="Send a ping every S seconds."), LLM_LOAD_OPTIONS, REQUEST,
             OUTPUT, args=(URL,)),
    _command("proxy", "Reverse proxy that counts what clients do to their streams, live; reports "
                      "at the end.",
             Opt("listen", ("--listen",), metavar="HOST:PORT", required=True,
                 help="Where clients connect."),
             Opt("upstream", ("--upstream",), metavar="URL", required=True,
                 help="The server, http(s)://HOST:PORT."),
             Opt("client_key", ("--client-key",), default="ip",
                 metavar="ip|header:NAME|cookie:NAME|query:NAME",
                 help="What names a client (default: its address)."),
             Opt("duration", ("--duration",), float, metavar="S", check=positive,
                 help="Stop after S seconds (default: at Ctrl-C)."),
             Opt("har_out", ("--har-out",), metavar="FILE", output=True,
                 help="Save the stream requests seen as HAR 1.2."),
             OUTPUT),
    _command("exporter", "Serve /probe for Prometheus: every scrape probes a stream with a module "
                         "of the config and answers its metrics.",
             Opt("listen", ("--listen",), default="127.0.0.1:9115", metavar="HOST:PORT",
                 help="Where Prometheus scrapes the exporter."),
             Opt("config", ("--config",), metavar="FILE", required=True,
                 help="exporter.toml: the modules to probe with."),
             Opt("allow_any_target", ("--allow-any-target",), bool, False,
                 help="Probe any target, not only those the module's 'targets' allow."),
             Opt("max_concurrent", ("--max-concurrent",), int, 8, metavar="N",
                 check=at_least(1), help="Probes at once; one more is answered 503."),
             Opt("timeout_offset", ("--timeout-offset",), float, 0.5, metavar="S",
                 check=not_negative,
                 help="Seconds kept back from Prometheus' scrape timeout."),
             panel="Monitoring"),
    _command("har", "Check a browser's HAR capture: streams open at once, reconnects, request "
                    "storms.", OUTPUT,
             args=(Arg("file", "FILE", "A HAR capture (browser export)."),)),
    _command("run", "Run every check of a suite file; exit 1 when one fails (2: the suite is "
                    "invalid).",
             Opt("jobs", ("-j", "--jobs"), int, 4, metavar="N", check=at_least(1),
                 help="Checks run at once."), OUTPUT,
             args=(Arg("suite_path", "SUITE.toml", "The suite file: checks to run."),)),
    _command("init", "Write a commented starter suite for URL (run it with `sse-doctor run`).",
             Opt("output", ("-o", "--output"), default="sse-doctor.toml", metavar="PATH",
                 help="Where to write the suite."),
             Opt("force", ("--force",), bool, False, help="Overwrite an existing file."),
             args=(Arg("url", "URL", "The stream the suite checks."),)),
    _command("disconnect", "Drop the stream abruptly, then check the server lets the client "
                           "back in and cleans up.",
             AFTER_EVENTS, AFTER, MODE, REPEAT, HOLD.but(default=10.0), WATCHES, EXP_MCP,
             REQUEST, WS_CONNECT, OUTPUT, args=(URL,), panel="Experiments"),
    _command("duplicates", "Open several streams with one identity and see which the server "
                           "keeps.",
             CONNECTIONS, POLICY, HOLD.but(default=5.0), WATCHES, REQUEST, WS_CONNECT, OUTPUT,
             args=(URL,), panel="Experiments"),
    _command("storm", "Rapid connect/reset cycles, then check resources return and the server "
                      "still serves.",
             CYCLES, CONCURRENCY, I_KNOW, HOLD.but(default=5.0), WATCHES, REQUEST, WS_CONNECT,
             OUTPUT, args=(URL,), panel="Experiments"),
    _command("resume", "Read N events, drop, reconnect with Last-Event-ID and check where the "
                       "server resumes.",
             AFTER_EVENTS.but(default=3, help="Events read before the drop."),
             HOLD.but(default=10.0), REQUEST, OUTPUT, args=(URL,), panel="Experiments"),
    _command("checkup", "Probe, then every experiment that applies; one report with a "
                        "scorecard.",
             DURATION.but(default=10.0, panel=EXP, help="Probe window in seconds."),
             IDLE_LIMIT.but(panel=EXP, help="Longest acceptable silence."),
             POLICY.but(help="Duplicates: single or allow."),
             CYCLES.but(default=20, check=at_least(1), help="Storm cycles."),
             CONCURRENCY.but(default=5, check=at_least(1), help="Storm cycles at once."),
             WATCHES, REQUEST, WS_CONNECT, OUTPUT, args=(URL,), panel="Experiments"),
)}


def validate(command: str, values: dict[str, Any]) -> None:
    """Check every option value of a command against its declaration (UsageError, the
    first problem in declaration order). Cross-option rules stay with the planner."""
    for o in COMMANDS[command].options:
        if o.check is not None and o.key in values:
            problem = o.check(o.flag, values[o.key])
            if problem:
                raise UsageError(problem)
