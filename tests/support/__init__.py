"""Helpers shared by the tests (never test modules themselves): import them from here,
`from tests.support import cli, free_port`, or from their module (`tests.support.nginx`...).

conftest.py files only define fixtures; a test never imports from another test module."""

from tests.support.cli import (
    ForkedRun,
    cli,
    cli_fresh,
    finished_json,
    interrupt_once_streaming,
    start_cli,
    start_cli_together,
    stop_with_ctrl_c,
)
from tests.support.net import free_port, wait_listening
from tests.support.paths import FIXTURES, PACKAGE, ROOT

__all__ = ["FIXTURES", "PACKAGE", "ROOT", "ForkedRun", "cli", "cli_fresh",
           "finished_json", "interrupt_once_streaming", "free_port", "start_cli",
           "start_cli_together", "stop_with_ctrl_c", "wait_listening"]
