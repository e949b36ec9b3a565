"""Fleet-level checks of a load run (load.observation.LoadObservation): pure, so they run the
same on what `sse-doctor load`, the Locust users or a test fixture counted."""

from __future__ import annotations

from sse_doctor.checks.content_checks import DIAG_WORDS
from sse_doctor.load.histogram import Histogram
from sse_doctor.load.observation import LoadObservation
from sse_doctor.model import Finding, finding, when
from sse_doctor.units import same_unit

LOAD_CHECKS = ["load-refused", "load-dropped", "load-stalled", "load-malformed", "load-degraded",
               "load-generator-saturated"]

SHARE = 0.01  # a share of streams at least this large (and one stream) makes a finding
SATURATED_CPU = 80.0  # % of one core, the busiest worker's average
# load-degraded: the full-load value is this many times the first streams' ...
DEGRADED_RATIO = 5.0
# ... and larger by at least this much (ms), so that 0.1 -> 3 ms lag is no finding
DEGRADED_LAG_MS = 100.0
DEGRADED_FIRST_EVENT_MS = 500.0
MIN_BAND_COUNT = 20  # values a load band needs to be compared


def _share(n: int, of: int) -> bool:
    return n >= 1 and of > 0 and n >= SHARE * of


def _pct(n: int, of: int) -> str:
    return f"{100.0 * n / of:.0f} %" if of else "-"


def check_refused(obs: LoadObservation) -> list[Finding]:
    failed = sum(obs.refusals.values())
    started = obs.counts.get("started", 0)
    if not _share(failed, started):
        return []
    kinds = ", ".join(f"{k} ({n})" for k, n in sorted(obs.refusals.items(), key=lambda x: -x[1]))
    detail = f"{failed} of {started} stream attempts ({_pct(failed, started)}) were turned away: " \
             f"{kinds}."
    evidence: dict = {"refused": failed, "attempts": started, "by_kind": dict(obs.refusals)}
    if obs.first_refusal is not None:
        t_s, started_then = obs.first_refusal
        open_then = obs.open_at(t_s)
        detail += f" The first came {t_s:.1f} s into the run"
        if open_then is not None:
            detail += f" with about {open_then} streams open"
            evidence["open_at_first_refusal"] = open_then
        detail += "."
        evidence["first_refusal_s"] = round(t_s, 2)
        evidence["started_at_first_refusal"] = started_then
    if "timeout" in obs.refusals:
        detail += (" Timeouts: the kernel accepted the connection but no response head came "
                   "within --timeout (a server out of file descriptors or workers does that).")
    return [finding("load-refused", detail, **evidence)]


def check_dropped(obs: LoadObservation) -> list[Finding]:
    drops = dict(obs.drops)
    if obs.settings.reconnect:
        drops.pop("ended", None)  # EventSource reconnects after a clean end: not a loss
    n = sum(drops.values())
    opened = obs.counts.get("opened", 0)
    if not _share(n, opened):
        return []
    hows = ", ".join(f"{k} ({v})" for k, v in sorted(drops.items(), key=lambda x: -x[1]))
    detail = f"{n} of {opened} open streams ({_pct(n, opened)}) were lost before the run " \
             f"ended ({hows})"
    evidence: dict = {"dropped": n, "opened": opened, "by_kind": drops}
    if obs.first_drop_s is not None:
        detail += f", between {obs.first_drop_s:.1f} s and {obs.last_drop_s or 0:.1f} s"
        open_then = obs.open_at(obs.first_drop_s)
        if open_then is not None:
            detail += f"; the first with about {open_then} streams open"
            evidence["open_at_first_drop"] = open_then
        evidence["first_drop_s"] = round(obs.first_drop_s, 2)
        evidence["last_drop_s"] = round(obs.last_drop_s or 0.0, 2)
    return [finding("load-dropped", detail + ".", **evidence)]


def check_stalled(obs: LoadObservation) -> list[Finding]:
    n = obs.counts.get("stalled", 0)
    opened = obs.counts.get("opened", 0)
    if not _share(n, opened):
        return []
    limit = obs.settings.idle_limit
    gap = obs.hist["gap_ms"]
    detail = (f"{n} of {opened} streams ({_pct(n, opened)}) went silent for longer than the "
              f"idle limit ({limit:g} s); " + (
                  f"the longest gap between two items was {when(gap.max)}." if gap.count else
                  "no stream got a second event or comment."))
    return [finding("load-stalled", detail, stalled=n, opened=opened, idle_limit_s=limit,
                    gap_max_ms=round(gap.max, 1) if gap.count else None)]


def check_malformed(obs: LoadObservation) -> list[Finding]:
    n = obs.counts.get("malformed", 0)
    opened = obs.counts.get("opened", 0)
    if not _share(n, opened):
        return []
    kinds = "; ".join(f"{v} x {DIAG_WORDS.get(k, k)}"
                      for k, v in sorted(obs.diagnostics.items(), key=lambda x: -x[1]))
    detail = (f"{n} of {opened} streams ({_pct(n, opened)}) carried bytes that break the "
              f"event-stream format: {kinds}. Browsers drop or mangle what they cannot read, "
              "so those clients saw fewer events than were sent.")
    return [finding("load-malformed", detail, malformed=n, opened=opened,
                    by_kind=dict(obs.diagnostics))]


def _knee(bands: list[Histogram], requested: int, ratio: float,
          min_ms: float) -> tuple[float, float, int] | None:
    """(first streams' median, full load's median, open streams from which it was degraded)
    when the full-load value is ``ratio`` times the first streams' and ``min_ms`` larger;
    else None."""
    # Medians: one stall of a busy machine moves a p95 of a few dozen values, not a median.
    usable = [(i, b.percentile(0.5)) for i, b in enumerate(bands) if b.count >= MIN_BAND_COUNT]
    if len(usable) < 2:
        return None
    (i0, base), (_, full) = usable[0], usable[-1]
    if i0 > 2 or base is None or full is None:
        return None  # no measure from the first streams to compare with
    if full < ratio * max(base, 0.001) or full - base < min_ms:
        return None
    # the knee: the first band already degraded by the same measure
    bent = next(i for i, p in usable if p is not None and p >= ratio * max(base, 0.001)
                and p - base >= min_ms)
    return base, full, round(requested * bent / len(bands))


def check_degraded(obs: LoadObservation) -> list[Finding]:
    out = []
    parts = []
    evidence: dict = {}
    lag = _knee(obs.lag_bands, obs.requested, DEGRADED_RATIO, DEGRADED_LAG_MS)
    if lag:
        parts.append(f"median heartbeat lag went from {when(lag[0])} with the first streams to "
                     f"{when(lag[1])} at full load, bending at about {lag[2]} open streams")
        evidence.update(lag_first_ms=round(lag[0], 2), lag_full_ms=round(lag[1], 2),
                        lag_knee_streams=lag[2])
    fe = _knee(obs.first_event_bands, obs.requested, DEGRADED_RATIO, DEGRADED_FIRST_EVENT_MS)
    if fe:
        fe_from, fe_to = same_unit(fe[0], fe[1])
        parts.append(f"median time to first event went from {fe_from} to {fe_to}, "
                     f"bending at about {fe[2]} open streams")
        evidence.update(first_event_first_ms=round(fe[0], 2),
                        first_event_full_ms=round(fe[1], 2), first_event_knee_streams=fe[2])
    if parts:
        out.append(finding("load-degraded", "; ".join(parts).capitalize() + ".", **evidence))
    return out


def check_generator(obs: LoadObservation) -> list[Finding]:
    problems = []
    if obs.cpu_percent > SATURATED_CPU:
        problems.append(f"the busiest worker used {obs.cpu_percent:.0f} % of a core on average "
                        f"(peak {obs.cpu_max:.0f} %)")
    if obs.local_errors:
        problems.append("connections failed on our side: " + ", ".join(
            f"{n} {k}" for k, n in sorted(obs.local_errors.items())))
    if obs.errors:
        problems.append("a worker failed, its streams are missing from the counts: "
                        + "; ".join(obs.errors))
    if not problems:
        return []
    return [finding("load-generator-saturated",
                    "; ".join(problems).capitalize() + ": lags and times measured here may be "
                    "the generator's, not the server's.",
                    cpu_percent=round(obs.cpu_percent, 1), cpu_max=round(obs.cpu_max, 1),
                    local_errors=dict(obs.local_errors), workers=obs.workers)]


def run_load_checks(obs: LoadObservation) -> list[Finding]:
    out: list[Finding] = []
    for check in (check_refused, check_dropped, check_stalled, check_malformed, check_degraded,
                  check_generator):
        out.extend(check(obs))
    if obs.interrupted:
        # What was seen stays reported; what needed the whole run is not a pass.
        out.append(finding("check-incomplete",
                           f"interrupted after {obs.elapsed_s:.1f} s, before the ramp and hold "
                           "ended: the fleet figures are partial and a finding may be missing",
                           elapsed_s=round(obs.elapsed_s, 1)))
    return out
