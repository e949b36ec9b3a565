"""Pure checks on what an experiment's connections (legs) saw: reconnects after a drop,
duplicate streams of one identity, resume with Last-Event-ID; and each experiment's checks
on its whole observation (conclude.experiments makes the result). Watched-resource checks live
in watch_checks."""

from __future__ import annotations

from typing import Any

from sse_doctor.checks.timing_checks import is_data_event
from sse_doctor.checks.watch_checks import close_wait_findings, leak_findings
from sse_doctor.experiments.observation import ExperimentObservation, Leg
from sse_doctor.model import EventRec, Finding, ProbeOptions, finding, when


def check_reconnect(leg: Leg | None, attempts: int, after: str,
                    wants_items: bool = True) -> list[Finding]:
    """reconnect-rejected: after `after` (e.g. "2 abrupt disconnects"), a fresh connection with
    the same identity must be accepted and must stream (send items, when `wants_items`: the
    connections before it did)."""
    if leg is None:
        return []
    unit = "events" if leg.protocol == "sse" else "messages"
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    if not leg.accepted:
        return [finding(
            "reconnect-rejected",
            f"After {after}, the same client connecting again got {leg.refusal()}{tries}.",
            status=leg.status, refusal=leg.refusal(), attempts=attempts,
            connection=leg.summary())]
    if leg.items == 0 and wants_items:
        return [finding(
            "reconnect-rejected",
            f"After {after}, a fresh connection was accepted ({leg.status}) but no {unit} "
            f"arrived in {when(leg.obs.end_ms)}{tries}: the stream is not being served.",
            status=leg.status, attempts=attempts, connection=leg.summary())]
    return []


def _fan_out(legs: list[Leg]) -> tuple[int, list[str]]:
    """How many event ids reached more than one stream, with a few examples."""
    seen: dict[str, int] = {}
    for leg in legs:
        for i in set(leg.ids()):
            if i:
                seen[i] = seen.get(i, 0) + 1
    shared = sorted((i for i, n in seen.items() if n > 1), key=lambda x: (len(x), x))
    return len(shared), shared[:5]


def check_duplicates(legs: list[Leg], policy: str, held_s: float) -> list[Finding]:
    """duplicate-streams-allowed: more than one stream of one identity stayed open to the end
    of the hold (an error under --policy single, a note under --policy allow)."""
    accepted = [leg for leg in legs if leg.accepted]
    alive = [leg for leg in accepted if leg.abort or (leg.close and leg.close.by == "deadline")]
    if len(alive) <= 1:
        return []
    n_shared, examples = _fan_out(alive)
    unit = "events" if legs[0].protocol == "sse" else "messages"
    shared = (f"; {n_shared} event ids went to several of them at once "
              f"(e.g. {', '.join(examples)})" if n_shared else "")
    severity = "error" if policy == "single" else "info"
    return [finding(
        "duplicate-streams-allowed",
        f"{len(alive)} of {len(legs)} streams opened with one identity stayed open together "
        f"for {held_s:g} s{shared}. Each one costs the server a connection and sends the same "
        f"{unit} again.",
        severity=severity, kept_open=len(alive), opened=len(legs), shared_ids=n_shared,
        policy=policy, connections=[leg.summary() for leg in legs])]


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _payloads(events: list[EventRec]) -> list[tuple[str, int]]:
    """(type, data hash) of the data events that carry data: what identifies an event when
    its id does not (heartbeat-typed and empty events say nothing)."""
    return [(e.type, e.data_hash) for e in events if e.size > 0 and is_data_event(e.type)]


def _consecutive(ids: list[str]) -> bool:
    """Numeric ids that count up by one: only then does a jump on resume mean lost events
    (timestamps or sparse counters jump anyway)."""
    nums = [_int(i) for i in ids]
    if any(n is None for n in nums):
        return False
    return all(b == a + 1 for a, b in zip(nums, nums[1:]))


def check_resume(first: Leg, second: Leg) -> list[Finding]:
    """resume-replay / resume-gap / no-event-ids from a stream read, aborted, and resumed with
    Last-Event-ID set to the last id the first connection saw. Ids are compared first; when
    they prove nothing (fresh opaque ids on every connection, sparse numbers) the payloads
    are: a resumed stream that starts again from the first payload seen restarted, and one
    that sends payloads already received replays them."""
    events1, events2 = first.obs.events, second.obs.events
    ids1 = [e.id for e in events1 if e.id]
    if not ids1:
        return [finding("no-event-ids",
                        f"The first connection's {first.items} events carried no id, so a "
                        "client cannot resume: every reconnect starts over or loses events.",
                        events=first.items)]
    last = events1[-1].id
    if not events2:
        return []  # the caller reports a refused or silent resume as reconnect-rejected
    got = events2[0]
    evidence = {"last_event_id": last, "first_ids": ids1[:10],
                "resumed_ids": [e.id for e in events2[:10]]}
    same_start = (got.id == events1[0].id and got.data_hash == events1[0].data_hash)
    last_n, got_n = _int(last), _int(got.id)
    if last_n is not None and got_n is not None:
        if got_n <= last_n:
            start = " from the very start" if same_start else ""
            return [finding(
                "resume-replay",
                f"Resumed with Last-Event-ID: {last}, the server sent id {got.id} again{start}: "
                f"a client sees {last_n - got_n + 1} events twice.",
                **evidence)]
        if got_n > last_n + 1 and _consecutive(ids1):
            return [finding(
                "resume-gap",
                f"Resumed with Last-Event-ID: {last}, the next event was id {got.id}: "
                f"{got_n - last_n - 1} events ({last_n + 1}..{got_n - 1}) were never delivered.",
                missing=got_n - last_n - 1, **evidence)]
        if _consecutive(ids1):
            return []
    # Opaque ids: a replay shows as an id (or the same first event) seen before.
    if got.id in ids1 or same_start:
        return [finding(
            "resume-replay",
            f"Resumed with Last-Event-ID: {last}, the server sent id {got.id!r} again, which "
            "the first connection had already received.",
            **evidence)]
    return _content_replay(events1, events2, last, evidence)


def _content_replay(events1: list[EventRec], events2: list[EventRec], last: str,
                    evidence: dict[str, Any]) -> list[Finding]:
    seen, again = _payloads(events1), _payloads(events2)
    # Payloads identify events only when the first connection never repeated one.
    if not seen or not again or len(set(seen)) != len(seen):
        return []
    shown = next((e.data for e in events2 if e.data is not None and e.size > 0), "") or ""
    evidence = {**evidence, "resumed_payload": shown[:200]}
    if again[0] == seen[0]:
        return [finding(
            "resume-replay",
            f"Resumed with Last-Event-ID: {last}, the server started the stream over: its ids "
            f"are new ({', '.join(map(repr, evidence['resumed_ids'][:2]))}...) but the "
            f"payloads begin again with the first one the first connection received "
            f"({shown[:80]!r}). A client sees those events twice.",
            restarted=True, **evidence)]
    repeated = sum(1 for p in again if p in set(seen))
    if repeated:
        return [finding(
            "resume-replay",
            f"Resumed with Last-Event-ID: {last}, {repeated} of the {len(again)} payloads "
            "received after the resume had already arrived on the first connection, under "
            "new ids: the server replays events it already sent.",
            restarted=False, replayed_payloads=repeated, **evidence)]
    return []


# --- each experiment's checks, on what its engine recorded -------------------------------------
Checked = tuple[list[Finding], list[str]]  # findings, codes checked


def start_failure(leg: Leg) -> Checked:
    """The first connection was not served: the experiment cannot run; say why the way
    the probe would."""
    if leg.protocol == "ws":
        from sse_doctor.checks.ws_checks import run_ws_checks
        from sse_doctor.ws.options import WsOptions

        return run_ws_checks(leg.obs, WsOptions())
    from sse_doctor.checks.selection import run_sse_checks

    return run_sse_checks(leg.obs, ProbeOptions())


def disconnect_checks(obs: ExperimentObservation, mode: str, grace: float,
                      leak_code: str = "cleanup-leak") -> Checked:
    """`leak_code`: what a watched value that stays up means (an MCP call whose stream was
    closed: mcp-call-not-cancelled, since closing the stream cancels the call)."""
    if obs.stats.get("started") is False:
        return start_failure(obs.legs[0])
    drops = obs.stats.get("drops", 0)
    findings = check_reconnect(obs.reconnect, obs.reconnect_attempts,
                               f"{drops} abrupt disconnect{'s' if drops != 1 else ''} "
                               f"({mode.upper()})", obs.reconnect_wants_items)
    run = ["reconnect-rejected"]
    if obs.series:
        findings += leak_findings(obs.series, leak_code, grace, "the disconnects")
        run.append(leak_code)
    if any(s.kind == "port" for s in obs.series):
        findings += close_wait_findings(obs.series, grace)
        run.append("close-wait-leak")
    return findings, run


def duplicates_checks(obs: ExperimentObservation, policy: str, held_s: float,
                      grace: float) -> Checked:
    if obs.stats.get("started") is False:
        return start_failure(obs.legs[0])
    findings = check_duplicates(obs.legs, policy, held_s)
    run = ["duplicate-streams-allowed"]
    if obs.series:
        findings += leak_findings(obs.series, "cleanup-leak", grace,
                                  "the duplicate streams closed")
        run.append("cleanup-leak")
    return findings, run


def storm_checks(obs: ExperimentObservation, cycles: int, grace: float) -> Checked:
    if obs.stats.get("started") is False and obs.legs:
        return start_failure(obs.legs[0])
    findings = check_reconnect(obs.reconnect, obs.reconnect_attempts,
                               f"a storm of {cycles} connect/reset cycles",
                               obs.reconnect_wants_items)
    run = ["reconnect-rejected"]
    if obs.series:
        findings += leak_findings(obs.series, "storm-leak", grace, "the storm")
        run.append("storm-leak")
    return findings, run


def resume_checks(obs: ExperimentObservation) -> Checked:
    run = ["no-event-ids", "resume-replay", "resume-gap", "reconnect-rejected"]
    findings: list[Finding] = []
    if obs.stats.get("started") is False:
        return start_failure(obs.legs[0])
    if obs.legs and obs.reconnect is not None:
        first = obs.legs[0]
        findings = check_resume(first, obs.reconnect)
        findings += check_reconnect(obs.reconnect, 1, "a drop, reconnecting with Last-Event-ID")
        for f in findings:
            if f.code in ("resume-replay", "resume-gap"):
                f.evidence["resumed"] = obs.reconnect.summary()
    elif obs.legs and not any(e.id for e in obs.legs[0].obs.events) and obs.legs[0].items:
        findings = check_resume(obs.legs[0], obs.legs[0])  # no ids: nothing to resume from
    return findings, run
