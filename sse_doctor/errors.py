"""Errors that end a command with a documented exit code and one line on stderr."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad invocation, option value, URL or file: exit 2."""
