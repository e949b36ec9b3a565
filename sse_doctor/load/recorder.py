"""What one load generator (a worker process, or a Locust user's process) counts: fleet-level
counters and fixed-memory histograms, never a per-stream timeline. Pure: the stream cores
call it, the driver snapshots it once a second and hands it to the parent as plain dicts."""

from __future__ import annotations

from math import frexp as _frexp
from typing import Any

from sse_doctor.load.histogram import HIGH_EXP, LOW_EXP, SIZE, SUB, Histogram

HISTOGRAMS = ("headers_ms", "first_byte_ms", "first_event_ms", "gap_ms", "lag_ms")
BANDS = 10  # load bands: the share of this generator's streams open when a value was recorded
PHASES = ("ramp", "hold")


class PhaseStats:
    __slots__ = ("opened", "failed", "dropped", "lag_ms", "first_event_ms")

    def __init__(self) -> None:
        self.opened = self.failed = self.dropped = 0
        self.lag_ms = Histogram()
        self.first_event_ms = Histogram()

    def to_wire(self) -> dict[str, Any]:
        return {"opened": self.opened, "failed": self.failed, "dropped": self.dropped,
                "lag_ms": self.lag_ms.to_wire(), "first_event_ms": self.first_event_ms.to_wire()}


class LoadRecorder:
    """Counters of one generator. ``share`` is how many streams it was asked to hold (the load
    bands are fractions of it); ``t0`` is the run's origin on the perf_counter clock, which on
    Linux is one clock (CLOCK_MONOTONIC) for every process of the machine."""

    def __init__(self, share: int, t0: float) -> None:
        self.share = max(1, share)
        self.t0 = t0
        self.started = self.opened = self.failed = self.ended = self.dropped = 0
        self.reconnected = self.open = self.opening = self.peak_open = 0
        self.stalled = 0  # streams whose longest silence exceeded the idle limit
        self.malformed = 0  # streams whose bytes broke the event-stream format
        self.diagnostics: dict[str, int] = {}  # the parser's diagnostics, by kind
        self.items = 0  # events + comments (SSE) or messages (WS) received
        self.bytes = 0
        self.refusals: dict[str, int] = {}
        self.drops: dict[str, int] = {}  # how streams were lost: "ended" | "broken" | ...
        self._hist = {name: Histogram() for name in HISTOGRAMS}
        self._gap = self._hist["gap_ms"]
        self.phases = {name: PhaseStats() for name in PHASES}
        self.phase = self.phases["ramp"]
        self.phase_name = "ramp"
        self.lag_bands = [Histogram() for _ in range(BANDS)]
        self.first_event_bands = [Histogram() for _ in range(BANDS)]
        self.first_refusal: tuple[float, int] | None = None  # (t_s, streams started then)
        self.first_drop_s: float | None = None
        self.last_drop_s: float | None = None
        self.local_errors: dict[str, int] = {}  # our own failures (EMFILE...), by errno name
        # the current second, for the series
        self.sec_items = 0
        self.sec_lag = Histogram()
        # Lags since the last fold: a heartbeat's lag is recorded once, here, and added to the
        # four histograms it belongs to (all, phase, second, load band) when a second ends,
        # the phase or the load band changes, or a reader looks: one histogram update per
        # heartbeat instead of four.
        self._pend = Histogram()
        self._pend_band = 0

    @property
    def hist(self) -> dict[str, Histogram]:
        self._fold()
        return self._hist

    def _band(self) -> int:
        return min(BANDS - 1, self.open * BANDS // self.share)

    def _fold(self) -> None:
        pend = self._pend
        if not pend.count:
            return
        filled = [(i, n) for i, n in enumerate(pend.counts) if n]
        for h in (self._hist["lag_ms"], self.phase.lag_ms, self.sec_lag,
                  self.lag_bands[self._pend_band]):
            counts = h.counts
            for i, n in filled:
                counts[i] += n
            h.count += pend.count
            h.total += pend.total
            if pend.max > h.max:
                h.max = pend.max
        pend.clear()

    def _open_changed(self) -> None:
        band = self._band()
        if band != self._pend_band:
            self._fold()  # the pending lags were recorded in the band that ends here
            self._pend_band = band

    def hold(self) -> None:
        """The ramp is over: from now on values count for the hold phase."""
        self._fold()
        self.phase = self.phases["hold"]
        self.phase_name = "hold"

    # --- stream life ---------------------------------------------------------------------------
    def connecting(self) -> None:
        self.started += 1
        self.opening += 1

    def refused(self, kind: str, now: float) -> None:
        """A stream got no usable response: an HTTP status, "timeout", "reset", "closed"
        (the server closed before any response), "refused" (nothing listens),
        "not-event-stream", "bad-response"."""
        self.opening -= 1
        self.failed += 1
        self.phase.failed += 1
        self.refusals[kind] = self.refusals.get(kind, 0) + 1
        if self.first_refusal is None:
            self.first_refusal = (now - self.t0, self.started)

    def local_error(self, name: str) -> None:
        """A connection we could not even try (our own limits): counted apart."""
        self.opening -= 1
        self.failed += 1
        self.phase.failed += 1
        self.local_errors[name] = self.local_errors.get(name, 0) + 1

    def opened_stream(self, headers_ms: float, reconnect: bool) -> None:
        self.opening -= 1
        self.opened += 1
        self.phase.opened += 1
        self.open += 1
        self._open_changed()
        if reconnect:
            self.reconnected += 1
        if self.open > self.peak_open:
            self.peak_open = self.open
        self._hist["headers_ms"].record(headers_ms)

    def first_byte(self, ms: float) -> None:
        self._hist["first_byte_ms"].record(ms)

    def first_event(self, ms: float) -> None:
        self._hist["first_event_ms"].record(ms)
        self.phase.first_event_ms.record(ms)
        self.first_event_bands[self._band()].record(ms)

    def item(self, gap_ms: float | None, lag_ms: float | None) -> None:
        """An event or comment (SSE) or message (WS) arrived: its gap since the previous item
        of its stream and its lag, when stamped. Called for every heartbeat of every stream,
        so Histogram.record is written out here (bucket_of inline: tests check they agree)."""
        self.items += 1
        self.sec_items += 1
        for h, ms in ((self._gap, gap_ms), (self._pend, lag_ms)):
            if ms is None:
                continue
            if ms <= 0.0:
                i = 0
            else:
                m, e = _frexp(ms)
                i = 0 if e <= LOW_EXP else SIZE - 1 if e > HIGH_EXP else \
                    (e - 1 - LOW_EXP) * SUB + int((m - 0.5) * 2 * SUB) + 1
            h.counts[i] += 1
            h.count += 1
            h.total += ms
            if ms > h.max:
                h.max = ms

    def closed(self, how: str, now: float, stalled: bool) -> None:
        """An open stream ended: "client" (we closed it at the end of the run), or a drop:
        "ended" (the server ended it cleanly), "broken" (reset, incomplete body), "closed"
        (a WebSocket close frame)."""
        self.open -= 1
        self._open_changed()
        if stalled:
            self.stalled += 1
        if how == "client":
            return
        self.dropped += 1
        self.phase.dropped += 1
        self.drops[how] = self.drops.get(how, 0) + 1
        t = now - self.t0
        if self.first_drop_s is None:
            self.first_drop_s = t
        self.last_drop_s = t

    def diagnostic(self, kind: str, first_of_stream: bool) -> None:
        """The SSE parser found the stream breaking the format (parser.DIAG_* kinds)."""
        self.diagnostics[kind] = self.diagnostics.get(kind, 0) + 1
        if first_of_stream:
            self.malformed += 1

    # --- snapshots -------------------------------------------------------------------------------
    def second(self, now: float, cpu_percent: float) -> dict[str, Any]:
        """This second's sample (then the per-second counters restart)."""
        self._fold()
        sample = {"t_s": round(now - self.t0, 3), "open": self.open, "opening": self.opening,
                  "failed": self.failed, "dropped": self.dropped, "items": self.sec_items,
                  "lag": self.sec_lag.to_wire(), "cpu": cpu_percent}
        self.sec_items = 0
        self.sec_lag.clear()
        return sample

    def to_wire(self) -> dict[str, Any]:
        """Everything, as plain data for the parent process."""
        self._fold()
        return {
            "counts": {k: getattr(self, k) for k in (
                "started", "opened", "failed", "ended", "dropped", "reconnected", "open",
                "opening", "peak_open", "stalled", "malformed", "items", "bytes")},
            "refusals": dict(self.refusals), "drops": dict(self.drops),
            "local_errors": dict(self.local_errors), "diagnostics": dict(self.diagnostics),
            "hist": {k: h.to_wire() for k, h in self._hist.items()},
            "phases": {k: p.to_wire() for k, p in self.phases.items()},
            "lag_bands": [h.to_wire() for h in self.lag_bands],
            "first_event_bands": [h.to_wire() for h in self.first_event_bands],
            "first_refusal": self.first_refusal, "first_drop_s": self.first_drop_s,
            "last_drop_s": self.last_drop_s,
        }
