"""One scrape's probe: a module's check for the scrape's target, run within its deadline, judged
as `sse-doctor run` judges a check (allow list, thresholds, fail_on).

It goes through the Python API's check door (`sse_doctor.api.acheck`) with the scrape's
deadline: at the deadline the probe is stopped as Ctrl-C stops `sse-doctor probe` and the report
is made from what it saw (a probe that does not end within a short grace is cancelled and its
partial observation salvaged). Either way the scrape is answered, in time, with what was seen.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sse_doctor import api
from sse_doctor.exporter.config import Module
from sse_doctor.exporter.deadline import observation_window


class ProbeRefused(Exception):
    """The probe cannot run for this target (an HTTP status and one line for the answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ProbeRun:
    module: Module
    report: api.CheckReport
    deadline_s: float

    @property
    def success(self) -> bool:
        """No finding at or above the module's fail_on that it does not allow."""
        return self.report.passed

    @property
    def cut_short(self) -> bool:
        """The deadline ended the probe before its window did."""
        return self.report.interrupted

    def report_json(self) -> dict[str, Any]:
        return self.report.to_json()

    def text(self) -> str:
        """The human report, as `sse-doctor probe` prints it, in plain text."""
        return self.report.text()


async def probe_module(config_path: str, module: Module, target: str, deadline_s: float,
                       env: Mapping[str, str] | None = None) -> ProbeRun:
    """Probe `target` with `module` within `deadline_s` (ProbeRefused when it cannot run)."""
    try:
        report = await module.check(config_path, target, deadline_s,
                                    observation_window(deadline_s),
                                    os.environ if env is None else env)
    except api.OptionError as exc:
        raise ProbeRefused(400, exc.problems[0]) from None
    except KeyError as exc:
        raise ProbeRefused(500, f"{module.where}: {exc.args[0]}") from None
    except OSError as exc:
        raise ProbeRefused(500, f"{module.where}: cannot read {exc.filename}: "
                                f"{exc.strerror}") from None
    return ProbeRun(module=module, report=report, deadline_s=deadline_s)
