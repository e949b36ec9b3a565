"""The lab's Starlette application: every scenario's route plus ``GET /`` listing them."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from .browser_routes import browser_routes
from .experiment_routes import ExperimentState, experiment_routes
from .hint_routes import HINT_HANDLERS
from .llm_routes import LLM_HANDLERS, llm_load_routes
from .load_routes import load_routes
from .mcp_routes import mcp_routes
from .protocol_routes import SIO_WS_HANDLERS
from .scenarios import SCENARIOS
from .sse_routes import HANDLERS, ShutdownSignal
from .ws_routes import WS_HANDLERS


async def index(request: Request) -> Response:
    return JSONResponse([scenario.as_dict() for scenario in SCENARIOS])


def create_app() -> Starlette:
    """The lab app. ``app.state.lab_shutdown.set()`` makes every open stream end cleanly;
    ``app.state.lab_experiments`` holds the experiment routes' state (lab/experiment_routes.py).
    """
    routes = [Route("/", index, methods=["GET"])]
    for scenario in SCENARIOS:
        if scenario.protocol == "ws":
            routes.append(WebSocketRoute(scenario.path, WS_HANDLERS[scenario.name],
                                         name=scenario.name))
            continue
        if scenario.protocol != "sse":
            continue
        endpoint, methods = {**HANDLERS, **LLM_HANDLERS, **HINT_HANDLERS}[scenario.name]
        routes.append(Route(scenario.path, endpoint, methods=list(methods), name=scenario.name))
        if scenario.name in SIO_WS_HANDLERS:  # Socket.IO: the WebSocket on the same path
            routes.append(WebSocketRoute(scenario.path, SIO_WS_HANDLERS[scenario.name]))
    routes += experiment_routes()
    routes += mcp_routes()
    routes += browser_routes()
    routes += load_routes()
    routes += llm_load_routes()
    app = Starlette(routes=routes)
    app.state.lab_shutdown = ShutdownSignal()
    app.state.lab_experiments = ExperimentState()
    return app
