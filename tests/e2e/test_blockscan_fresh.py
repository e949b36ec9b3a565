"""The compiled block scanner in a fresh process (tests/unit/test_blockscan.py has the rest):
before the parser binds its classes, `bind` refuses classes it cannot fill safely."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sse_doctor.sse import parser as parser_module


@pytest.mark.skipif(not parser_module.COMPILED,
                    reason="the compiled block scanner is not installed")
def test_an_unbound_scanner_refuses_classes_it_cannot_fill_safely():
    # Unbound (a fresh process): classes whose slots are not their own, that share slots
    # or that have their own __new__ are refused before anything is written.
    script = """
import dataclasses, _sse_doctor_blockscan as s
@dataclasses.dataclass(slots=True)
class Big:
    f0: object; f1: object; f2: object; f3: object; f4: object; f5: object; f6: object
class Borrowing:  # another class's slot descriptors, not its own
    type = Big.f0; data = Big.f1; id = Big.f2; retry = Big.f3; t = Big.f4
    truncated = Big.f5; size = Big.f6
class Sharing:
    __slots__ = ("a",)
Sharing.type = Sharing.data = Sharing.id = Sharing.retry = Sharing.t = Sharing.a
Sharing.truncated = Sharing.size = Sharing.a
class OwnNew(Big):
    __slots__ = ()
    def __new__(cls): return object.__new__(cls)
for bad in (Borrowing, Sharing, OwnNew, int):
    try:
        s.bind(bad, Big)
    except TypeError as exc:
        print("refused:", exc)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("refused:") == 4, out.stdout
