"""sse-doctor: a command-line doctor for Server-Sent Events and WebSocket endpoints."""

__version__ = "0.1.0"
