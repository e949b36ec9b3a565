"""`sse-doctor exporter --config exporter.toml`: the blackbox-style prober for Prometheus.

Loads and validates the configuration (a bad one: its problems, exit 2), binds the listening
address (taken: one line, exit 2), then serves until SIGINT or SIGTERM (exit 130 or 143 once
the probes in flight have been answered or cut)."""

from __future__ import annotations

import sys
from typing import Any

from sse_doctor.errors import EXIT_OK, EXIT_USAGE, UsageError
from sse_doctor.options import validate


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen expects HOST:PORT, like 127.0.0.1:9115, got {text!r}")
    return host, int(port)


def exporter_command(values: dict[str, Any]) -> int:
    from sse_doctor.exporter.config import ConfigInvalid, load_config
    from sse_doctor.exporter.server import ExporterState, bind, log_to_stderr, serve

    validate("exporter", values)
    host, port = _listen(values["listen"])
    try:
        config = load_config(values["config"])
    except ConfigInvalid as exc:
        for line in exc.problems[:-1]:
            sys.stderr.write(line + "\n")
        sys.stderr.write(f"sse-doctor: error: {exc.problems[-1]}\n")
        return EXIT_USAGE
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    log_to_stderr()
    state = ExporterState(config, allow_any_target=values["allow_any_target"],
                          max_concurrent=values["max_concurrent"],
                          timeout_offset=values["timeout_offset"])
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    sys.stderr.write(f"sse-doctor exporter: listening on http://{shown}/ "
                     f"({len(config.modules)} module{'s' if len(config.modules) != 1 else ''}: "
                     f"{', '.join(sorted(config.modules))})\n")
    if values["allow_any_target"]:
        sys.stderr.write("sse-doctor exporter: --allow-any-target: any URL a client asks for "
                         "will be fetched\n")
    sys.stderr.flush()
    serve(state, sock)
    return EXIT_OK
