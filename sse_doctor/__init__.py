"""sse-doctor: a command-line doctor for Server-Sent Events and WebSocket endpoints."""

from sse_doctor.version import __version__

__all__ = ["__version__"]
