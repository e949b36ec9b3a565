"""Which checks run on an observation. `run_sse_checks` runs the ones that apply and
says which codes it evaluated (one JUnit testcase each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sse_doctor.checks import (
    content_checks,
    divergence,
    http_checks,
    lifecycle_checks,
    timing_checks,
)
from sse_doctor.model import Finding, ProbeOptions, SseObservation

Check = Callable[[SseObservation, ProbeOptions], list[Finding]]


def _plain(fn: Callable[[SseObservation], list[Finding]]) -> Check:
    return lambda obs, opts: fn(obs)


# (code, check). A check may only emit its own code.
HEAD_CHECKS: list[tuple[str, Check]] = [
    ("http-error", _plain(http_checks.check_status)),
    ("not-event-stream", _plain(http_checks.check_content_type)),
]
STREAM_CHECKS: list[tuple[str, Check]] = [
    ("missing-no-cache", _plain(http_checks.check_cache_control)),
    ("compressed-stream", _plain(http_checks.check_compression)),
    ("delayed-headers", _plain(http_checks.check_delayed_headers)),
    ("buffered-delivery", _plain(timing_checks.check_buffered)),
    ("no-heartbeat", timing_checks.check_no_heartbeat),
    ("stalled-stream", _plain(timing_checks.check_stalled)),
    ("repeated-payload", _plain(content_checks.check_repeated)),
    ("missing-expected-event", content_checks.check_expected_events),
    ("error-event", content_checks.check_error_event),
    ("no-server-timeout", lifecycle_checks.check_server_timeout),
    ("premature-close", lifecycle_checks.check_premature_close),
    ("stream-ended", lifecycle_checks.check_stream_ended),
    ("low-retry", _plain(content_checks.check_retry)),
    ("no-event-ids", _plain(content_checks.check_event_ids)),
    ("malformed-stream", _plain(content_checks.check_malformed)),
    ("client-divergence", _plain(divergence.check_divergence)),
]
HTTP2_CHECK = ("http1-only", _plain(http_checks.check_http_version))


# Checks of an expectation the user gave: evaluated (and a JUnit testcase, and "incomplete"
# after Ctrl-C) only when it was given.
EXPECTATION_CHECKS: dict[str, Callable[[ProbeOptions], bool]] = {
    "missing-expected-event": lambda opts: bool(opts.expect_events),
    "no-server-timeout": lambda opts: opts.expect_close is not None,
}


def run_sse_checks(obs: SseObservation, opts: ProbeOptions) -> tuple[list[Finding], list[str]]:
    if obs.unreachable is not None:
        return http_checks.check_unreachable(obs), ["target-unreachable"]
    selected = list(HEAD_CHECKS)
    if obs.streamed:
        selected += [(code, check) for code, check in STREAM_CHECKS
                 if code not in EXPECTATION_CHECKS or EXPECTATION_CHECKS[code](opts)]
        if obs.http2_offered:
            selected.append(HTTP2_CHECK)
    return run_selected(selected, obs, opts)


def run_selected(selected: list[tuple[str, Callable[[Any, Any], list[Finding]]]], obs: Any,
                 opts: Any) -> tuple[list[Finding], list[str]]:
    """Run (code, check) pairs; a check may only emit its own code."""
    findings: list[Finding] = []
    for code, check in selected:
        for f in check(obs, opts):
            assert f.code == code, f"check for {code} emitted {f.code}"
            findings.append(f)
    return findings, [code for code, _ in selected]
