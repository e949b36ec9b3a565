"""How long one probe may take inside a scrape (pure).

Prometheus tells the exporter its scrape timeout in `X-Prometheus-Scrape-Timeout-Seconds`; a
probe that answers after it is lost (the scrape fails, `up` is 0, no `probe_success` at all).
As the blackbox exporter does, the probe gets the scrape timeout minus an offset, or the
module's window when that is shorter. The stream is observed for most of that and the rest is
left for setting up, closing the connection, the checks and the answer.
"""

from __future__ import annotations

import math

HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
DEFAULT_OFFSET_S = 0.5  # the blackbox exporter's --timeout-offset default
MIN_DEADLINE_S = 0.2  # below this nothing useful can be observed


class DeadlineTooShort(ValueError):
    pass


def probe_deadline(window_s: float, scrape_timeout: str | None,
                   offset_s: float = DEFAULT_OFFSET_S) -> float:
    """Seconds the whole probe may take: the module's window, or the scrape timeout minus
    the offset when that is shorter. A header that is not a positive number is ignored."""
    deadline = window_s
    if scrape_timeout:
        try:
            scrape = float(scrape_timeout)
        except ValueError:
            scrape = math.nan
        if math.isfinite(scrape) and scrape > 0:
            deadline = min(deadline, scrape - offset_s)
    if deadline < MIN_DEADLINE_S:
        raise DeadlineTooShort(
            f"the scrape timeout ({scrape_timeout} s) minus the offset ({offset_s:g} s) leaves "
            f"no time to probe: raise scrape_timeout")
    return deadline


def observation_window(deadline_s: float) -> float:
    """The probe's observation window (its --duration) inside the deadline: a fifth of it
    (0.5 s to 1 s) is kept for making the client (TLS contexts are slow to build on a busy
    machine), closing, the checks and the answer."""
    return deadline_s - min(1.0, max(0.5, 0.2 * deadline_s)) if deadline_s > 1.0 \
        else deadline_s / 2
