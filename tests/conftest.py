"""Fixtures for every test, and the `unit` / `e2e` markers, given by folder: tests/unit holds
pure tests (no sockets, no processes), tests/e2e the real command line, the lab and real
servers. Helpers live in tests/support; this file only defines fixtures and hooks."""

from __future__ import annotations

import pytest

LAYERS = ("unit", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.parts
        for layer in LAYERS:
            if "tests" in parts and layer in parts[parts.index("tests"):]:
                item.add_marker(getattr(pytest.mark, layer))
