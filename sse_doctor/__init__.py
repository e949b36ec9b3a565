"""sse-doctor: a command-line doctor for Server-Sent Events and WebSocket endpoints, and a
Python API over the same commands (`sse_doctor.probe(url, **options) -> Report`; see
sse_doctor.api for the stability note).

The API is imported on first use: `import sse_doctor` stays as cheap as the command line's
start-up needs it to be.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sse_doctor.version import __version__ as __version__  # re-exported

__all__ = [
    "OptionError", "Report", "CheckReport", "Finding",
    "probe", "aprobe", "disconnect", "adisconnect", "duplicates", "aduplicates",
    "storm", "astorm", "resume", "aresume", "checkup", "acheckup", "load_test", "aload_test",
    "check", "acheck", "validate_check", "check_keys", "output_options", "load_report",
    "warm_up",
]

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports it
    from sse_doctor.api import (
        CheckReport,
        Finding,
        OptionError,
        Report,
        acheck,
        acheckup,
        adisconnect,
        aduplicates,
        aload_test,
        aprobe,
        aresume,
        astorm,
        check,
        check_keys,
        checkup,
        disconnect,
        duplicates,
        load_report,
        load_test,
        output_options,
        probe,
        resume,
        storm,
        validate_check,
        warm_up,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sse_doctor import api

        return getattr(api, name)
    raise AttributeError(f"module 'sse_doctor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
