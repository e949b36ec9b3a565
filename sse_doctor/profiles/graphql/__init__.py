"""The GraphQL profile (`--profile graphql --query ...`): runs one operation over a WebSocket
(graphql-transport-ws or the legacy graphql-ws, whichever the server picks) or over SSE
(graphql-sse, distinct connections), and checks the conversation.

protocol.py is the sans-I/O core (messages in and out, the records); driver.py moves them
over websockets and httpx; checks.py turns the records into the six graphql-* findings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sse_doctor.errors import UsageError
from sse_doctor.model import Finding, ProbeOptions, Result
from sse_doctor.profiles.base import Profile, ProfileContext, finish
from sse_doctor.profiles.core import ProfileResult, Step
from sse_doctor.redact import is_secret_param
from sse_doctor.target import read_text_arg


@dataclass(frozen=True)
class GqlOptions:
    query: str
    variables: dict[str, Any] | None = None
    init_payload: dict[str, Any] | None = None


def _json_object(raw: str, flag: str) -> dict[str, Any]:
    try:
        value = json.loads(read_text_arg(raw, flag))
    except ValueError as exc:
        raise UsageError(f"{flag} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{flag} must be a JSON object")
    return value


def secrets_in(payload: Any, key: str = "") -> list[str]:
    """String values of an init payload that look like credentials: under a key named like
    token/key/secret/auth..., and the credential after a scheme ("Bearer x")."""
    out: list[str] = []
    if isinstance(payload, dict):
        for k, v in payload.items():
            out += secrets_in(v, str(k))
    elif isinstance(payload, list):
        for v in payload:
            out += secrets_in(v, key)
    elif isinstance(payload, str) and key and (is_secret_param(key)
                                               or key.lower() in ("password", "jwt", "bearer")):
        out.append(payload)
        scheme, _, cred = payload.partition(" ")
        if cred:
            out.append(cred)
    return out


class GraphqlProfile(Profile):
    name = "graphql"
    schemes = frozenset({"sse", "ws"})
    auto = False
    codes = ("graphql-ack-timeout", "graphql-close-code", "graphql-subprotocol-mismatch",
             "graphql-operation-error", "graphql-no-complete", "graphql-no-keepalive")

    def options(self, params: dict[str, Any]) -> GqlOptions:
        if params.get("query") is None:
            raise UsageError("--profile graphql needs --query TEXT|@FILE (the operation to run)")
        query = read_text_arg(params["query"], "--query").decode("utf-8", "replace")
        if not query.strip():
            raise UsageError("--query must not be empty")
        if params.get("send"):
            raise UsageError("--send does not apply with --profile graphql: the profile sends "
                             "the operation (--query)")
        if params.get("data") is not None:
            raise UsageError("-d/--data does not apply with --profile graphql: the operation is "
                             "--query (and --variables)")
        variables = None if params.get("variables") is None else \
            _json_object(params["variables"], "--variables")
        init = None if params.get("init_payload") is None else \
            _json_object(params["init_payload"], "--init-payload")
        if init is not None and str(params.get("url", "")).lower().startswith("http"):
            raise UsageError("--init-payload is sent in connection_init: it needs a ws:// or "
                             "wss:// URL")
        return GqlOptions(query, variables, init)

    def secrets(self, popts: GqlOptions) -> list[str]:
        return secrets_in(popts.init_payload)

    def applies(self, obs: Any) -> bool:
        if getattr(obs, "unreachable", None):
            return False
        return bool(getattr(obs, "opened", False) or getattr(obs, "streamed", False))

    def irrelevant(self, result: ProfileResult) -> frozenset[str]:
        # The profile ends the operation itself and the server may close after it; a server
        # that ends the session early gets this profile's own codes.
        return frozenset({"stream-ended", "no-event-ids", "ws-server-closed"})

    async def run(self, ctx: ProfileContext) -> Result:
        from sse_doctor.profiles.graphql import driver
        from sse_doctor.profiles.graphql.checks import filter_generic
        from sse_doctor.profiles.graphql.protocol import GqlSession

        popts: GqlOptions = ctx.popts
        session = GqlSession(popts.query, popts.variables, popts.init_payload)
        target = ctx.target
        if target.protocol == "ws":
            obs: Any = await driver.over_websocket(target, ctx.ws_opts, session)
            from sse_doctor.checks.ws_checks import run_ws_checks

            generic_opts: Any = ctx.ws_opts
            base = run_ws_checks
        else:
            obs, _, target = await driver.over_sse(target, ctx.opts, session)
            from sse_doctor.checks.selection import run_sse_checks

            generic_opts, base = ctx.opts, run_sse_checks

        def generic(o: Any, gopts: Any) -> tuple[list[Finding], list[str]]:
            findings, run = base(o, gopts)
            if not self.applies(o):
                return findings, run
            return filter_generic(findings, run, o, session)

        result = self.result(session, obs)
        result.detected = ctx.detected
        return finish(self, ctx.name, target, ctx.opts, popts, obs, result,
                      generic=generic, generic_opts=generic_opts)

    def result(self, s: Any, obs: Any) -> ProfileResult:
        steps: list[Step] = []
        sub = getattr(obs, "subprotocol", None)
        if s.init_ms is not None:
            steps.append(Step(s.init_ms, "connection_init", sub, ""))
        if s.ack_ms is not None:
            steps.append(Step(s.ack_ms, "connection_ack", "ok", ""))
        elif s.connection_error is not None:
            steps.append(Step(obs.end_ms, "connection_ack", "connection_error",
                              s.connection_error))
        elif s.ack_waited_ms is not None:
            steps.append(Step((s.init_ms or 0) + s.ack_waited_ms, "connection_ack", "missing",
                              "no ack in time"))
        if s.subscribe_ms is not None:
            steps.append(Step(s.subscribe_ms, "subscribe", s.kind, s.query[:80].strip()))
        if s.first_result_ms is not None:
            status = s.first_result_status
            words = {"ok": "", "partial": "data with errors",
                     "errors": "errors only, no data"}[status]
            steps.append(Step(s.first_result_ms, "first result", status, words))
        if s.error_ms is not None:
            steps.append(Step(s.error_ms, "error", "graphql", "; ".join(s.errors[:2])))
        if s.complete_ms is not None:
            steps.append(Step(s.complete_ms, "complete", "server", f"{s.results} result(s)"))
        if s.stopped_ms is not None:
            steps.append(Step(s.stopped_ms, "complete", "client", "unsubscribed at the end"))
        close = getattr(obs, "close", None)
        if close is not None and close.by == "server" and close.code is not None:
            from sse_doctor.profiles.graphql.protocol import close_words

            steps.append(Step(close.t_ms, "close", close.code,
                              close_words(close.code) or close.reason))
        steps.sort(key=lambda st: st.t_ms)
        m = s.metrics(obs)
        facts = [("operation", f"{s.kind} over {s.dialect or 'no subprotocol'}")]
        ka = ", ".join(f"{k} {v}" for k, v in m["keepalive"].items())
        res = f"{m['results']}"
        if m["first_result_ms"] is not None:
            res += f", first after {m['first_result_ms']:g} ms"
        gap = m["result_gap_ms"]
        if gap:
            res += f", gaps p50 {gap['p50']:g} / max {gap['max']:g} ms"
        if m["keepalive_gap_ms"]:
            ka += f" (every {m['keepalive_gap_ms']['p50']:g} ms, at most " \
                  f"{m['keepalive_gap_ms']['max']:g} ms apart)"
        facts += [("results", res + (" · completed" if m["completed"] else "")),
                  ("keepalive", ka or "none")]
        if m["ack_ms"] is not None:
            facts.insert(1, ("ack", f"after {m['ack_ms']:g} ms"))
        return ProfileResult(name=self.name, dialect=s.dialect, metrics=m, steps=steps,
                             facts=facts, state=s)

    def check(self, result: ProfileResult, obs: Any, opts: ProbeOptions,
              popts: Any) -> list[Finding]:
        from sse_doctor.profiles.graphql.checks import check_session

        return check_session(result.state, obs, opts.idle_limit)


PROFILE = GraphqlProfile()
