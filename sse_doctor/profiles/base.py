"""The profile interface: an application protocol carried by an SSE stream or a WebSocket.

How to plug a profile in
========================
1. Write ``sse_doctor/profiles/<name>.py`` with a subclass of :class:`Profile` and a module
   attribute ``PROFILE = YourProfile()``. The registry (``profiles/__init__.py``) imports the
   module the first time the profile is asked for; ``KNOWN`` lists the names the CLI accepts,
   and a known name whose module is missing answers "not available yet" (exit 2).
2. Register its finding codes in ``codes.py`` (prefixed ``<name>-``; the manual's
   finding-code page is generated from it), and list them in ``codes``: one JUnit testcase
   each.
3. Declare ``schemes`` ({"sse"} for http(s) URLs, {"ws"} for ws(s)); ``--profile NAME`` on a
   URL of another scheme is exit 2. Its probe options (``--ttft-limit``, ``--mcp-version``...)
   are listed once in ``OPTION_OWNERS`` (profiles/__init__.py); ``options(params)`` turns the
   parsed probe parameters into the profile's own options object (UsageError on bad values).
4. Passive detection, for ``--profile auto``: ``detect_url(url)`` before anything is sent
   (Socket.IO: a ``/socket.io/`` path or ``EIO=``) and ``detect(url, headers, first)`` on the
   response head and the first parser items of the stream the plain probe opened (LLM: the
   first data payloads). Both return a dialect name or None, and never send anything. A
   profile with ``auto = False`` (MCP, GraphQL) is only used when asked for by name: the plain
   probe suggests it with the ``profile-hint`` finding (profiles/hints.py).
5. The conversation. A profile that only reads the stream the user's own request opens (LLM:
   ``-X POST -d @body.json``) keeps the default :meth:`Profile.run`: ``prepare`` may return a
   changed Target (extra request headers, a body), the SSE stream is observed with the
   profile's interpreter tapped onto the parser, then the generic checks and the profile's
   checks run. A profile that drives its own conversation overrides ``run(ctx)``: MCP sends
   several HTTP requests and holds a GET stream (``sse.transport.stream`` with its
   ``extra_headers`` hook and a Target copy carrying method/body, ``sse.observe`` with
   ``tap=``); GraphQL and Socket.IO open a WebSocket, send and answer messages (``ws.client``).
   Either way it records each step as a :class:`Step` and returns a Result whose
   ``observation`` is the main stream's (so the generic checks and renderers still apply) and
   whose ``profile`` is its :class:`ProfileResult`; :func:`finish` does that bookkeeping.
6. The interpreter is sans-I/O and pure: ``feed(items)`` takes what the SSE parser produced
   (``Event``/``Comment``/``Retry``/``Diagnostic``, ``t`` in ms since the request) or WS frames,
   ``result(obs)`` returns the ProfileResult (dialect, metrics, steps, facts, and a ``state``
   the checks read). Memory stays bounded on endless streams: keep counters and fixed-size
   samples, not every item. Unit tests feed it recorded streams from ``fixtures/<name>/``.
7. ``check(result, obs, opts)`` is pure and returns findings of its own codes only. When
   Ctrl-C cuts the conversation short, only the codes in ``partial_stands`` keep their
   findings; the others are reported as incomplete (checks/incomplete.py).
   ``irrelevant(result)`` names generic notes (info codes) that say nothing about this
   protocol and are dropped, e.g. ``stream-ended`` for a completed LLM answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sse_doctor.model import Finding, ProbeOptions, Result
from sse_doctor.profiles.core import Interpreter, ProfileResult

if TYPE_CHECKING:
    from sse_doctor.target import Target


@dataclass
class ProfileContext:
    """What a profile's run() gets: the user's target and options, already validated."""

    target: Target
    opts: ProbeOptions
    ws_opts: Any  # ws.options.WsOptions for ws:// URLs, else None
    popts: Any  # the profile's own options (Profile.options)
    name: str = "probe"
    detected: str = "flag"


class Profile:
    name: ClassVar[str]
    schemes: ClassVar[frozenset[str]] = frozenset({"sse"})
    auto: ClassVar[bool] = False  # --profile auto may pick it from passive evidence
    # --timeout spans the plan budgets for: a conversation of several requests needs more.
    timeouts: ClassVar[int] = 2
    codes: ClassVar[tuple[str, ...]] = ()
    # Codes whose findings stand when Ctrl-C cuts the conversation short (an error already
    # seen in the stream); the profile's other codes are then reported as incomplete.
    partial_stands: ClassVar[frozenset[str]] = frozenset()

    # --- options -----------------------------------------------------------------------
    def options(self, params: dict[str, Any]) -> Any:
        """The profile's options from the probe's parsed parameters (UsageError if bad)."""
        return None

    def secrets(self, popts: Any) -> list[str]:
        """Values in the profile's options that every output must mask (a token in a GraphQL
        init payload); the planner hands them to the target's redactor."""
        return []

    # --- passive detection ---------------------------------------------------------------
    def detect_url(self, url: str) -> str | None:
        return None

    def detect(self, url: str, headers: list[tuple[str, str]], first: list[Any]) -> str | None:
        return None

    # --- the conversation --------------------------------------------------------------------
    def prepare(self, target: Target, popts: Any) -> Target:
        """The target as the profile sends it (extra headers, body); default: unchanged."""
        return target

    def interpreter(self, target: Target, popts: Any, dialect: str | None = None) -> Interpreter:
        raise NotImplementedError

    async def run(self, ctx: ProfileContext) -> Result:
        """Default conversation: the user's own request, read with the interpreter tapped."""
        from sse_doctor.sse.observe import observe_sse

        target = self.prepare(ctx.target, ctx.popts)
        interp = self.interpreter(target, ctx.popts)
        obs = await observe_sse(target, ctx.opts, tap=interp)
        result = interp.result(obs)
        result.detected = ctx.detected
        return finish(self, ctx.name, target, ctx.opts, ctx.popts, obs, result)

    # --- pure checks -----------------------------------------------------------------------
    def check(self, result: ProfileResult, obs: Any, opts: ProbeOptions,
              popts: Any) -> list[Finding]:
        return []

    def applies(self, obs: Any) -> bool:
        """Whether the profile's checks run on this observation (default: a 2xx stream)."""
        return bool(getattr(obs, "streamed", False))

    def irrelevant(self, result: ProfileResult) -> frozenset[str]:
        return frozenset()


def finish(profile: Profile, name: str, target: Target, opts: ProbeOptions, popts: Any,
           obs: Any, result: ProfileResult,
           generic: Callable[[Any, Any], tuple[list[Finding], list[str]]] | None = None,
           generic_opts: Any = None) -> Result:
    """Generic checks beneath, the profile's checks on top, irrelevant notes dropped."""
    if generic is None:
        from sse_doctor.checks.selection import run_sse_checks

        generic, generic_opts = run_sse_checks, opts
    findings, checks_run = generic(obs, generic_opts)
    if profile.applies(obs):
        drop = profile.irrelevant(result)
        findings = [f for f in findings if not (f.code in drop and f.severity == "info")]
        checks_run = [c for c in checks_run if c not in drop]
        own = profile.check(result, obs, opts, popts)
        for f in own:
            assert f.code in profile.codes, f"{profile.name} emitted {f.code}"
        if any(f.severity == "error" for f in own):
            # The profile read the stream's errors in its protocol's terms (an LLM error
            # event, a GraphQL error): the generic error-event would say it twice.
            findings = [f for f in findings if f.code != "error-event"]
        findings += own
        checks_run += list(profile.codes)
    protocol = "ws" if target.protocol == "ws" else "sse"
    return Result(name=name, protocol=protocol, url=target.url, findings=findings,
                  checks_run=checks_run, observation=obs, options=opts,
                  profile=result)


class AutoTap(Interpreter):
    """--profile auto on an SSE stream: offers the first items to every auto profile's
    detect(); the first that recognises them gets an interpreter, fed those items again and
    everything after. Gives up after DETECT_EVENTS events (the plain probe goes on as today)."""

    DETECT_EVENTS = 4
    DETECT_ITEMS = 256  # comments before the first events count too: bounded all the same

    def __init__(self, url: str, target: Target, candidates: Iterable[tuple[Profile, Any]]) -> None:
        self.url = url
        self.target = target
        self.candidates = list(candidates)
        self.headers: list[tuple[str, str]] = []
        self.status: int | None = None
        self.first: list[Any] = []
        self.n_events = 0
        self.chosen: tuple[Profile, Any, Interpreter] | None = None
        self.done = not self.candidates

    def head(self, status: int | None, headers: list[tuple[str, str]]) -> None:
        self.status, self.headers = status, headers

    def feed(self, items: list[Any]) -> None:
        if self.chosen is not None:
            self.chosen[2].feed(items)
            return
        if self.done:
            return
        from sse_doctor.sse.parser import Event

        for i, item in enumerate(items):
            self.first.append(item)
            if type(item) is not Event:
                if len(self.first) >= self.DETECT_ITEMS:
                    self.done, self.first = True, []
                    return
                continue
            self.n_events += 1
            for profile, popts in self.candidates:
                dialect = profile.detect(self.url, self.headers, self.first)
                if dialect is not None:
                    interp = profile.interpreter(self.target, popts, dialect)
                    interp.head(self.status, self.headers)
                    interp.feed(self.first)
                    interp.feed(items[i + 1:])
                    self.chosen = (profile, popts, interp)
                    self.first = []
                    return
            if self.n_events >= self.DETECT_EVENTS:
                self.done = True
                self.first = []
                return

    def result(self, obs: Any) -> ProfileResult:
        assert self.chosen is not None
        out = self.chosen[2].result(obs)
        out.detected = "data"
        return out
