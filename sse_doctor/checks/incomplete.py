"""Which checks an interrupted observation cannot decide.

Ctrl-C (or SIGTERM) ends a probe before its window: what arrived is evidence, but a check
that needs the whole window has not passed just because nothing was found yet. A pure
function from the finished result to (findings that stand, checks incomplete):

- nothing but the connection attempt was seen (no response head): every check is
  incomplete;
- a check that needs the whole window and only ever finds something in it (a silence over
  the limit, a stall, a close): its finding stands, its absence is incomplete;
- a check that a later arrival could clear (an expected event or message not seen yet, a
  protocol profile's conversation not finished): its finding is dropped, it is incomplete.
"""

from __future__ import annotations

from typing import Any

from sse_doctor.model import Finding

# A finding stands; no finding means "not yet", not "passed".
FOUND_STANDS = frozenset({
    "no-heartbeat", "stalled-stream", "no-server-timeout", "premature-close", "stream-ended",
    "ws-no-keepalive", "ws-pong-timeout", "ws-early-close", "ws-abnormal-close",
    "ws-server-closed",
})
# A later arrival could clear the finding: never reported from a partial window.
LATER_MAY_CLEAR = frozenset({"missing-expected-event", "ws-missing-expected-message"})


def _head_seen(obs: Any) -> bool:
    if obs is None:
        return False
    if getattr(obs, "unreachable", None):
        return True  # an unreachable target is decided: nothing answered within --timeout
    return getattr(obs, "status", None) is not None


def settle_incomplete(findings: list[Finding], checks_run: list[str], obs: Any,
           profile_codes: frozenset[str] = frozenset(),
           profile_stands: frozenset[str] = frozenset()) -> tuple[list[Finding], list[str]]:
    """(findings that stand, checks incomplete) for an observation cut short by a signal.

    `profile_codes` are the codes of the profile that read the stream; of those, only
    `profile_stands` keep their findings (an error seen in the stream stays an error)."""
    if not _head_seen(obs):
        return [], list(checks_run)
    later = LATER_MAY_CLEAR | (profile_codes - profile_stands)
    kept = [f for f in findings if f.code not in later]
    found = {f.code for f in kept}
    incomplete = [c for c in checks_run
                  if c in later or (c in FOUND_STANDS and c not in found)]
    return kept, incomplete


def interrupted_result(result: Any, codes: frozenset[str] = frozenset(),
                       stands: frozenset[str] = frozenset()) -> Any:
    """Settle a Result whose observation a signal cut short (in place; returned).
    `codes`: its profile's codes, undecided unless in `stands` (conclude.interrupted passes
    them)."""
    result.findings, incomplete = settle_incomplete(result.findings, result.checks_run,
                                         result.observation, codes, stands)
    result.checks_incomplete = incomplete
    return result


# What an experiment's first connection decides before anything else runs.
DECIDED_AT_START = frozenset({"target-unreachable", "http-error", "not-event-stream",
                              "ws-handshake-failed"})


def interrupted_experiment(result: Any) -> Any:
    """Settle the result of an experiment a signal stopped midway (in place; returned): its
    checks compare before, during and after (a reconnect, a return to the baseline within
    the grace), so none of them is decided, except a first connection that was refused."""
    result.findings = [f for f in result.findings if f.code in DECIDED_AT_START]
    result.checks_incomplete = [c for c in result.checks_run if c not in DECIDED_AT_START]
    return result
