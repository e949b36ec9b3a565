"""The lab: a zoo of misbehaving SSE and WebSocket servers (Starlette under uvicorn on
127.0.0.1)."""

from .app import create_app
from .scenarios import DEMO_ARGS, SCENARIOS, LabScenario
from .server import LabServer

__all__ = ["DEMO_ARGS", "SCENARIOS", "LabScenario", "LabServer", "create_app"]
