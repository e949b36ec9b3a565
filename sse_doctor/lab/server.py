"""Run the lab app under uvicorn in a background thread on a port bound up front."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import warnings
from types import TracebackType

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from .app import create_app
from .experiment_routes import HALF_OPEN_SCOPE_KEY
from .sse_routes import LabCrash
from .ws_routes import LabWebSocketProtocol

# How long uvicorn lets open responses finish on stop before cancelling them. The lab's
# streams end on their own when stop() sets the app's shutdown signal; this is a fallback.
GRACEFUL_SHUTDOWN_SECONDS = 1


def _is_lab_crash(exc: BaseException | None) -> bool:
    if exc is None:
        return False
    if isinstance(exc, LabCrash):
        return True
    return any(_is_lab_crash(inner) for inner in getattr(exc, "exceptions", ()))


class _DropLabCrash(logging.Filter):
    """Keeps the crash scenario's deliberate exception (and its traceback) out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _is_lab_crash(record.exc_info[1]))


_CRASH_FILTER = _DropLabCrash()


def _install_crash_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if _CRASH_FILTER not in logger.filters:
        logger.addFilter(_CRASH_FILTER)


class LabHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol, except on the close-wait route: there a client's FIN leaves the
    connection half-open (CLOSE_WAIT on the server side) while the response runs.

    uvicorn closes the transport on EOF (``eof_received`` returns None), which tells the
    handler the client has gone. Servers that do not read a connection while a response is in
    progress (thread-per-request servers, blocking handlers) never see that EOF; a route marks
    its scope with HALF_OPEN_SCOPE_KEY to behave like one. The route caps its own life (60 s,
    or lab stop), and its response closes the connection when it ends.
    """

    def eof_received(self) -> bool | None:
        cycle = getattr(self, "cycle", None)
        if (cycle is not None and not cycle.response_complete
                and cycle.scope.get(HALF_OPEN_SCOPE_KEY)):
            return True  # keep the transport open: asyncio stops reading and waits
        return super().eof_received()


class LabServer:
    """uvicorn serving create_app() in a background thread on 127.0.0.1.

    The listening socket is bound in ``__init__`` (port 0 = a random free port), so
    :attr:`port` and :attr:`base_url` are known before :meth:`start` and nothing can take
    the port in between. A LabServer runs once: after :meth:`stop` make a new one.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if os.name != "nt":  # on Windows SO_REUSEADDR would allow port stealing
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((host, port))
        except OSError:
            self._sock.close()
            raise
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.app = create_app()
        config = uvicorn.Config(
            self.app,
            host=host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            # WebSockets through the lab's protocol class: a few WS scenarios misbehave below
            # ASGI (no pongs, TCP drops, invalid frames); see ws_routes.py.
            ws=LabWebSocketProtocol or "auto",
            # HTTP through LabHTTPProtocol: the close-wait route keeps half-open connections.
            http=LabHTTPProtocol,
        )
        _install_crash_filter()
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # ----------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url(self, path: str) -> str:
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._server.started

    @property
    def active_requests(self) -> int:
        """How many request handlers are still running (0 once every client has left)."""
        return len(self._server.server_state.tasks)

    # ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # noqa: BLE001 - includes uvicorn's SystemExit on failure
            self._error = exc

    def start(self, timeout: float = 10.0) -> LabServer:
        """Start serving; return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("this LabServer was already started")
        self._thread = threading.Thread(
            target=self._run, name=f"sse-doctor-lab-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._sock.close()
                raise RuntimeError(f"the lab server failed to start: {self._error!r}")
            if time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError(f"the lab server did not start within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, even with endless streams still open; bounded by ``timeout``."""
        thread = self._thread
        if thread is None:
            self._sock.close()
            return
        self.app.state.lab_shutdown.set()  # open streams end their bodies now
        self._server.should_exit = True
        thread.join(timeout * 0.6)
        if thread.is_alive():
            self._server.force_exit = True
            thread.join(timeout * 0.4)
        self._sock.close()
        self.app.state.lab_experiments.close()  # the experiment routes' temp files
        if thread.is_alive():
            warnings.warn(
                f"the lab server thread did not stop within {timeout} s",
                RuntimeWarning,
                stacklevel=2,
            )

    def serve_forever(self) -> None:
        """Serve in the foreground until Ctrl-C (for ``sse-doctor lab``)."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
