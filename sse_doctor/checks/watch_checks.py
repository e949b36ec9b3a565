"""Pure checks on watched series: did server state return to its baseline after an experiment?

Input is the Series that sse_doctor.watchers recorded (only their data and summaries are
used here, no I/O). A series "returned" when its last good reading after the experiment's
end is at or below the baseline it had before.

An unreadable watch after the experiment is evidence, not a pass: a watch that answered at
baseline and then gave no good reading within the grace (the state endpoint hung, errored,
or the server stopped listening) gets the same leak finding, whose detail says it stopped
answering. A server that falls over after a storm is exactly what these experiments look for,
and "we could not look" must not read as "it cleaned up".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sse_doctor.model import Finding, finding
from sse_doctor.redact import Redactor

if TYPE_CHECKING:  # the shell's module; only its data classes are used here
    from sse_doctor.watchers import Series

CLOSE_WAIT_PREFIX = "CLOSE_WAIT on :"


def _num(v: float | None) -> str:
    if v is None:
        return "unknown"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


def _grace(grace_s: float) -> str:
    return f"{grace_s:g} s"


def _evidence(s: Series, grace_s: float) -> dict[str, Any]:
    return {
        "series": s.to_json(Redactor()),
        "baseline": s.baseline,
        "final": s.final(),
        "peak": s.peak(),
        "grace_s": grace_s,
    }


def _after_end_error(s: Series) -> str:
    """Why the series has no good reading after the end, in words."""
    end = s.end_ms if s.end_ms is not None else float("-inf")
    reasons = [e for t, e in s.errors if t >= end]
    if reasons:
        return reasons[-1]
    return "no reading completed within the grace"


def is_close_wait(s: Series) -> bool:
    return s.kind == "port" and s.name.startswith(CLOSE_WAIT_PREFIX)


def leak_findings(series: list[Series], code: str, grace_s: float, what: str) -> list[Finding]:
    """One ``code`` finding per watched series (CLOSE_WAIT aside) not back at its baseline
    after the grace; ``what`` names the experiment's action ("the disconnects")."""
    out: list[Finding] = []
    for s in series:
        if is_close_wait(s) or s.baseline is None:
            continue
        if s.returned():
            continue
        base, peak, final = _num(s.baseline), _num(s.peak()), _num(s.final())
        if not s.good_after_end():
            detail = (f"{s.name} was {base} before {what} but could not be read afterwards "
                      f"({_after_end_error(s)}); its last reading was {final}: a watch that "
                      f"stops answering is no sign the server cleaned up")
            out.append(finding(code, detail, unreadable=True, **_evidence(s, grace_s)))
            continue
        if peak == final:
            detail = (f"{s.name} was {base} before {what}, peaked at {peak} and is still "
                      f"{final} after the {_grace(grace_s)} grace")
        else:
            detail = (f"{s.name} was {base} before {what}, peaked at {peak} and is {final} "
                      f"after the {_grace(grace_s)} grace, still above its baseline")
        out.append(finding(code, detail, unreadable=False, **_evidence(s, grace_s)))
    return out


def close_wait_findings(series: list[Series], grace_s: float,
                        what: str = "the clients left") -> list[Finding]:
    """close-wait-leak when sockets on a watched port are still in CLOSE_WAIT after the grace:
    the peer closed, and the server never closed its side."""
    out: list[Finding] = []
    for s in series:
        if not is_close_wait(s):
            continue
        after = s.good_after_end()
        if not after:
            continue  # unreadable: the ESTABLISHED series of the same port reports it
        final = after[-1][1]
        if final <= 0:
            continue
        port = s.name[len(CLOSE_WAIT_PREFIX):]
        n = _num(final)
        sockets = "socket" if final == 1 else "sockets"
        were = "was" if s.baseline == 1 else "were"
        before = "" if not s.baseline else f" ({_num(s.baseline)} {were} already there before)"
        detail = (f"{n} {sockets} on :{port} still in CLOSE_WAIT {_grace(grace_s)} after "
                  f"{what}{before}: the server never closed its side of the connection")
        out.append(finding("close-wait-leak", detail, **_evidence(s, grace_s)))
    return out
