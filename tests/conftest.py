"""Fixtures for every test, and the `unit` / `e2e` markers, given by folder: tests/unit holds
pure tests (no sockets, no processes), tests/e2e the real command line, the lab and real
servers. Under `-n 2 --dist loadgroup` (an opt-in, not CI's command) pytest-xdist hands each
worker whole groups of modules (tests/support/xdist_groups.py). Helpers live in
tests/support; this file only defines fixtures and hooks."""

from __future__ import annotations

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
