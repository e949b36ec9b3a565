"""A FastAPI app's SSE endpoint checked from pytest: `sse_doctor_server` serves the app with
uvicorn on a free port for the test, `sse_doctor.probe` watches the stream, and
`assert_healthy` fails with the doctor's verdict and advice.

    pip install sse-doctor fastapi sse-starlette
    pytest examples/pytest/test_fastapi_sse.py
"""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from sse_starlette.sse import EventSourceResponse

from sse_doctor.pytest_plugin import assert_healthy, assert_no_finding

app = FastAPI()


@app.get("/prices")
async def prices() -> EventSourceResponse:
    async def ticks():
        n = 0
        while True:
            n += 1
            yield {"event": "price", "id": str(n), "data": f'{{"n": {n}}}'}
            await asyncio.sleep(0.25)

    # ping: sse-starlette's heartbeat comment, every second here
    return EventSourceResponse(ticks(), ping=1)


@pytest.fixture
def server(sse_doctor_server):
    return sse_doctor_server(app)


def test_prices_stream_is_healthy(server, sse_doctor) -> None:
    report = sse_doctor.probe(server.url("/prices"), duration=3, idle_limit=2)
    assert_healthy(report)
    assert_no_finding(report, "no-heartbeat")


def test_a_dropped_client_gets_back_in(server, sse_doctor) -> None:
    """Drop the stream abruptly (TCP reset) after two events: the app must accept the same
    client again at once."""
    report = sse_doctor.disconnect(server.url("/prices"), after_events=2, duration=3,
                                   grace=1)
    assert_healthy(report)
