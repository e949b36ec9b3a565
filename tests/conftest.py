"""Fixtures for every test, and the `unit` / `e2e` markers, given by folder: tests/unit holds
pure tests (no sockets, no processes), tests/e2e the real command line, the lab and real
servers. Under `-n 2 --dist loadgroup` (an opt-in, not CI's command) pytest-xdist hands each
worker whole groups of modules (tests/support/xdist_groups.py). Helpers live in
tests/support; this file only defines fixtures and hooks."""

from __future__ import annotations

import signal
from typing import Any

import pytest

LAYERS = ("unit", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.parts
        for layer in LAYERS:
            if "tests" in parts and layer in parts[parts.index("tests"):]:
                item.add_marker(getattr(pytest.mark, layer))


# tryfirst: before pytest-xdist's own scheduler for the same option. optionalhook: the `unit`
# extra runs without pytest-xdist.
@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from tests.support.xdist_groups import make_scheduler

    return make_scheduler(config, log)


@pytest.fixture(scope="session", autouse=True)
def _children_get_ctrl_c() -> None:
    """A test run started in the background of a non-interactive shell (`bench/contention.sh
    &`, `nohup`, some CI runners) inherits SIGINT ignored, and every process it starts would
    too: the command lines the tests Ctrl-C on purpose would never see it (POSIX keeps an
    ignored signal ignored across exec). The tests' own children (and the unit tests that signal
    themselves) must get Ctrl-C as a terminal delivers it, so this process takes Python's
    usual handler, which its children start without."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
