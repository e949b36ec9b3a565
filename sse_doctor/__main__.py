"""`python -m sse_doctor` and the `sse-doctor` command: the CLI, started with a garbage
collector tuned for a process that builds a lot once and then streams."""

from __future__ import annotations

import gc

# Start-up (imports, Typer's and pydantic's models of the options) allocates a few hundred
# thousand objects that live as long as the process, none of them garbage: with the default
# first threshold (700) the cyclic GC ran about 120 times before the first request, 50-100 ms
# of a 0.5 s start. A higher threshold still collects, so memory stays bounded on an endless
# stream, and what the imports built is frozen out of every later collection.
GC_THRESHOLD = 50_000


def main() -> int:
    gc.set_threshold(max(GC_THRESHOLD, gc.get_threshold()[0]), *gc.get_threshold()[1:])
    from sse_doctor.cli import main as cli_main

    gc.freeze()
    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
