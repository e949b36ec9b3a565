"""Ctrl-C and SIGTERM keep the evidence: how every command runs its event loop.

`run(main)` runs `main(stop)` in a fresh event loop with handlers for SIGINT and SIGTERM.
The first signal sets `stop.event` (an observing probe ends its connection and returns what
it saw); whatever is still running after `grace_s` is cancelled, and every transport closes
its connection in its `finally`. Commands that cannot use the event (experiments, suites)
ask for `cancel=True`: the signal cancels them at once and they report what they finished.
A second signal exits at once. The exit code is 130 after SIGINT and 143 after SIGTERM, as
shells and process managers expect (128 + the signal number).

asyncio.run only turns SIGINT into a cancellation and lets SIGTERM kill the process with
nothing written, so the loop is run here with loop signal handlers instead.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

# SIGHUP: the terminal was closed under a running probe; its files are still written.
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_S = 1.0  # what the stop event gets before the rest is cancelled


def exit_code(signum: int) -> int:
    return 128 + int(signum)


@dataclass
class Stop:
    """Whether (and by which signal) the run was interrupted; `event` is set at the signal."""

    signum: int | None = None
    event: asyncio.Event | None = None
    callbacks: list[Callable[[], None]] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return "" if self.signum is None else signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return exit_code(self.signum or signal.SIGINT)

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call `callback` at the first signal (at once when it already came)."""
        if self.signum is not None:
            callback()
        else:
            self.callbacks.append(callback)


class Stopped(Exception):
    """The stop came first: the step awaited was abandoned."""


async def unless_stopped(step: Awaitable[T], stop: asyncio.Event,
                         discard: Callable[[T], Any] | None = None) -> T:
    """`step`'s result, unless `stop` is set first: then the step is cancelled, a result it
    still produced is handed to `discard` (to close it), and Stopped is raised. Used where a
    transport waits on the network for longer than Ctrl-C may take (a response head, an
    opening handshake, up to --timeout)."""
    task = asyncio.ensure_future(step)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        stopper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    await asyncio.wait({task})
    if discard is not None and not task.cancelled() and task.exception() is None:
        closing = discard(task.result())
        if asyncio.iscoroutine(closing):
            await closing
    raise Stopped()


def _exit_now(signum: int, frame: Any = None) -> None:
    # The second signal: the user wants out now, report or not.
    try:
        os.write(2, b"sse-doctor: interrupted again: exiting at once\n")
    finally:
        os._exit(exit_code(signum))


def run(main: Callable[[Stop], Awaitable[T]], *, cancel: bool = False,
        grace_s: float = GRACE_S) -> tuple[T | None, Stop]:
    """Run `main(stop)`; (its result, or None when it was cancelled, and the Stop)."""
    stop = Stop()

    async def guarded() -> T | None:
        loop = asyncio.get_running_loop()
        stop.event = asyncio.Event()
        inner = asyncio.ensure_future(main(stop))

        def on_signal(signum: int) -> None:
            if stop.signum is not None:
                _exit_now(signum)
            stop.signum = signum
            assert stop.event is not None
            stop.event.set()
            for callback in stop.callbacks:
                try:
                    callback()
                except Exception:  # noqa: BLE001 - one listener must not keep the others
                    pass
            if cancel:
                inner.cancel()
            else:
                loop.call_later(grace_s, inner.cancel)

        installed = []
        for s in SIGNALS:
            if signal.getsignal(s) is signal.SIG_IGN:
                continue  # as Python does: an ignored signal stays ignored (nohup, `cmd &`)
            try:
                loop.add_signal_handler(s, on_signal, s)
                installed.append(s)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread (tests, embedding): Ctrl-C stays KeyboardInterrupt
        try:
            return await inner
        except asyncio.CancelledError:
            if stop.signum is None:
                raise
            return None
        finally:
            for s in installed:
                loop.remove_signal_handler(s)

    try:
        result = asyncio.run(guarded())
    except KeyboardInterrupt:
        # A Ctrl-C that came before the handlers were in place (or in a thread without them).
        if stop.signum is None:
            stop.signum = signal.SIGINT
        result = None
    if stop.interrupted and threading.current_thread() is threading.main_thread():
        # Writing the reports takes a moment; a second signal in it exits at once.
        for s in SIGNALS:
            signal.signal(s, _exit_now)
    return result, stop


def say_interrupted(stop: Stop, partial: str = "the report above is partial") -> None:
    try:
        sys.stderr.write(f"sse-doctor: interrupted ({stop.name}): every connection was "
                         f"closed; {partial}\n")
        sys.stderr.flush()
    except OSError:
        pass  # no terminal left to tell (SIGHUP)
