"""The wait for a response head (sse_doctor/sse/transport.py `_head`): a cancel is never lost,
not even one that comes in the loop iteration the head does (asyncio.wait_for up to Python 3.11
returned the response then, and a Ctrl-C'd `disconnect --after 30` held its stream 30 s)."""

from __future__ import annotations

import asyncio

import pytest

from sse_doctor.sse.transport import _head


class FakeResponse:
    closed = False

    async def aclose(self) -> None:
        self.closed = True


async def _cancel_as_the_head_arrives() -> tuple[bool, FakeResponse]:
    loop = asyncio.get_running_loop()
    arrived: asyncio.Future[FakeResponse] = loop.create_future()
    response = FakeResponse()

    async def send() -> FakeResponse:
        return await arrived

    waiting = asyncio.ensure_future(_head(send(), 10, None))
    for _ in range(3):
        await asyncio.sleep(0)  # _head waits on the send
    arrived.set_result(response)
    await asyncio.sleep(0)  # the send has its response: its waiter is woken next iteration
    waiting.cancel()
    try:
        await waiting
    except asyncio.CancelledError:
        return True, response
    return False, response


def test_a_cancel_as_the_head_arrives_is_raised_and_the_response_closed() -> None:
    cancelled, response = asyncio.run(_cancel_as_the_head_arrives())
    assert cancelled
    assert response.closed


def test_the_head_in_time_is_returned_and_a_late_one_times_out() -> None:
    async def send(after: float) -> FakeResponse:
        await asyncio.sleep(after)
        return FakeResponse()

    assert isinstance(asyncio.run(_head(send(0), 5, None)), FakeResponse)
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(_head(send(5), 0.05, None))
