"""LLM-shaped lab routes: an OpenAI-compatible chat completion endpoint with switches, an
Anthropic Messages endpoint and a Responses endpoint, each healthy and broken.

Paths end like the real APIs (``.../v1/chat/completions``, ``.../v1/messages``,
``.../v1/responses``), so the official SDKs can be pointed at them with ``base_url``
(tests/e2e/test_llm_sdk_agreement.py does). Every stream is short: the demo's window is 4 s.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .sse_routes import LabStream, sse_headers

TOKENS = ("Hello", "!", " The", " lab", " streams", " this", " answer", " one", " token",
          " at", " a", " time", ".")
TOKEN_GAP = 0.03  # seconds between tokens of a healthy answer
STALL = 2.6  # the stall variant's silence: above the demo's 2 s idle limit
SLOW_FIRST = 1.5  # the slow-first variant's wait before its first token
HANG_KEEPALIVE = 0.5  # the hang variant's comment keepalives after the answer
CREATED = 1_760_000_000
MAX_BODY = 1 << 20

Body = AsyncIterator[bytes]


def _data(doc: object) -> bytes:
    return b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\n\n"


def _named(event: str, doc: dict) -> bytes:
    return b"event: " + event.encode() + b"\n" + _data(doc)


async def _request(request: Request) -> dict:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return {}
    try:
        doc = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


# --- OpenAI chat completions -----------------------------------------------------------------
def _chunk(model: str, delta: dict, finish: str | None = None) -> dict:
    return {"id": "chatcmpl-lab", "object": "chat.completion.chunk", "created": CREATED,
            "model": model, "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None,
                         "finish_reason": finish}]}


def _usage_chunk(model: str) -> dict:
    return {"id": "chatcmpl-lab", "object": "chat.completion.chunk", "created": CREATED,
            "model": model, "choices": [],
            "usage": {"prompt_tokens": 9, "completion_tokens": len(TOKENS),
                      "total_tokens": 9 + len(TOKENS)}}


async def chat_body(variant: str, model: str, usage: bool) -> Body:
    empty_finish = "" if variant == "empty-finish" else None
    yield _data(_chunk(model, {"role": "assistant", "content": ""}, empty_finish))
    if variant == "slow-first":
        await asyncio.sleep(SLOW_FIRST)
    batch: list[bytes] = []
    for i, token in enumerate(TOKENS):
        await asyncio.sleep(TOKEN_GAP if variant != "buffered" else 0.07)
        doc = _chunk(model, {"content": token}, empty_finish)
        if variant == "split-json" and i == 5:
            text = json.dumps(doc, separators=(",", ":"))
            yield b"data: " + text[:40].encode() + b"\n\ndata: " + text[40:].encode() + b"\n\n"
            continue
        if variant == "buffered":
            # A proxy that holds the stream back and releases it in blocks.
            batch.append(_data(doc))
            if len(batch) == 5:
                yield b"".join(batch)
                batch = []
            continue
        yield _data(doc)
        if variant == "keepalive" and i in (3, 8):
            yield b"data: : keepalive\n\n"
        if variant == "error" and i == 3:
            yield _data({"error": {"message": "The server had an error while processing your "
                                              "request.", "type": "server_error",
                                   "param": None, "code": None}})
            return
        if variant == "stall" and i == 3:
            await asyncio.sleep(STALL)
    tail = [_data(_chunk(model, {}, "stop"))]
    if usage and variant != "no-usage":
        tail.append(_data(_usage_chunk(model)))
    if variant not in ("no-done", "hang"):
        tail.append(b"data: [DONE]\n\n")
    if variant == "after-done":
        tail.append(_data(_chunk(model, {"content": " (one more)"})))
    yield b"".join(batch) + b"".join(tail)
    if variant == "hang":
        # The answer is complete but the stream never ends: a gateway that keeps the
        # connection (and its keepalives) going without [DONE].
        while True:
            await asyncio.sleep(HANG_KEEPALIVE)
            yield b": keepalive\n\n"


# --- Anthropic Messages ------------------------------------------------------------------------
async def anthropic_body(variant: str, model: str) -> Body:
    yield _named("message_start", {
        "type": "message_start",
        "message": {"id": "msg_lab", "type": "message", "role": "assistant", "model": model,
                    "content": [], "stop_reason": None, "stop_sequence": None,
                    "usage": {"input_tokens": 9, "output_tokens": 1}}})
    if variant == "out-of-order":
        yield _named("content_block_delta", {"type": "content_block_delta", "index": 0,
                                             "delta": {"type": "text_delta", "text": "Hi"}})
    yield _named("content_block_start", {"type": "content_block_start", "index": 0,
                                         "content_block": {"type": "text", "text": ""}})
    yield _named("ping", {"type": "ping"})
    for i, token in enumerate(TOKENS):
        await asyncio.sleep(TOKEN_GAP)
        yield _named("content_block_delta", {"type": "content_block_delta", "index": 0,
                                             "delta": {"type": "text_delta", "text": token}})
        if variant == "error" and i == 2:
            yield _named("error", {"type": "error", "error": {"type": "overloaded_error",
                                                              "message": "Overloaded"}})
            return
    yield _named("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield _named("message_delta", {"type": "message_delta",
                                   "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                   "usage": {"output_tokens": len(TOKENS)}})
    yield _named("message_stop", {"type": "message_stop"})


# --- OpenAI Responses --------------------------------------------------------------------------
def _response(model: str, status: str, text: str | None) -> dict:
    output = []
    if text is not None:
        output = [{"id": "msg_lab", "type": "message", "status": "completed",
                   "role": "assistant",
                   "content": [{"type": "output_text", "text": text, "annotations": []}]}]
    out = {"id": "resp_lab", "object": "response", "created_at": CREATED, "status": status,
           "model": model, "output": output, "parallel_tool_calls": True, "tool_choice": "auto",
           "tools": [], "error": None, "incomplete_details": None}
    if status == "completed":
        out["usage"] = {"input_tokens": 9, "output_tokens": len(TOKENS),
                        "total_tokens": 9 + len(TOKENS),
                        "input_tokens_details": {"cached_tokens": 0},
                        "output_tokens_details": {"reasoning_tokens": 0}}
    return out


async def responses_body(variant: str, model: str) -> Body:
    seq = 0

    def ev(kind: str, **fields: object) -> bytes:
        nonlocal seq
        doc = {"type": kind, "sequence_number": seq, **fields}
        seq += 1
        return _named(kind, doc)

    item = {"id": "msg_lab", "type": "message", "status": "in_progress", "role": "assistant",
            "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    yield ev("response.created", response=_response(model, "in_progress", None))
    yield ev("response.in_progress", response=_response(model, "in_progress", None))
    yield ev("response.output_item.added", output_index=0, item=item)
    yield ev("response.content_part.added", item_id="msg_lab", output_index=0,
             content_index=0, part=part)
    for i, token in enumerate(TOKENS):
        await asyncio.sleep(TOKEN_GAP)
        if variant == "sequence-gap" and i == 6:
            seq += 1  # one event lost between the model and the client
        yield ev("response.output_text.delta", item_id="msg_lab", output_index=0,
                 content_index=0, delta=token, logprobs=[])
    text = "".join(TOKENS)
    yield ev("response.output_text.done", item_id="msg_lab", output_index=0, content_index=0,
             text=text, logprobs=[])
    yield ev("response.content_part.done", item_id="msg_lab", output_index=0, content_index=0,
             part={**part, "text": text})
    yield ev("response.output_item.done", output_index=0,
             item={**item, "status": "completed",
                   "content": [{**part, "text": text}]})
    yield ev("response.completed", response=_response(model, "completed", text))


# --- endpoints -------------------------------------------------------------------------------
def _chat(variant: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        doc = await _request(request)
        if doc.get("stream") is not True:
            return JSONResponse({"error": {"message": "the lab streams only: set stream=true",
                                           "type": "invalid_request_error"}}, 400)
        opts = doc.get("stream_options")
        usage = isinstance(opts, dict) and opts.get("include_usage") is True
        model = str(doc.get("model") or "lab-gpt")
        return LabStream(chat_body(variant, model, usage), headers=sse_headers())
    return endpoint


def _anthropic(variant: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        doc = await _request(request)
        model = str(doc.get("model") or "lab-claude")
        return LabStream(anthropic_body(variant, model), headers=sse_headers())
    return endpoint


def _responses(variant: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        doc = await _request(request)
        model = str(doc.get("model") or "lab-gpt")
        return LabStream(responses_body(variant, model), headers=sse_headers())
    return endpoint


CHAT_VARIANTS = ("healthy", "no-done", "hang", "error", "keepalive", "split-json", "stall",
                 "buffered", "empty-finish", "no-usage", "after-done", "slow-first")
ANTHROPIC_VARIANTS = ("healthy", "error", "out-of-order")
RESPONSES_VARIANTS = ("healthy", "sequence-gap")


def chat_path(variant: str) -> str:
    return f"/llm/openai/{variant}/v1/chat/completions"


def anthropic_path(variant: str) -> str:
    return f"/llm/anthropic/{variant}/v1/messages"


def responses_path(variant: str) -> str:
    return f"/llm/responses/{variant}/v1/responses"


# scenario name -> (endpoint, HTTP methods), as sse_routes.HANDLERS
LLM_HANDLERS: dict[str, tuple[Callable[[Request], Awaitable[Response]], tuple[str, ...]]] = {
    **{f"llm-openai-{v}": (_chat(v), ("POST",)) for v in CHAT_VARIANTS},
    **{f"llm-anthropic-{v}": (_anthropic(v), ("POST",)) for v in ANTHROPIC_VARIANTS},
    **{f"llm-responses-{v}": (_responses(v), ("POST",)) for v in RESPONSES_VARIANTS},
}


# --- the queueing LLM route (load --profile llm) -------------------------------------------------
# A model server in miniature: `limit` answers generate at once and the rest wait in a queue for
# a slot, so time to first token grows past the limit while the token rate of each answer holds
# (the knee a sweep must find). The head and a role-only chunk go out at once, before the slot,
# as many gateways do: a client that stops its first-token clock there measures nothing.
QUEUE_FAILS = ("429", "503", "error", "no-done", "invalid-json", "cut", "stall")


class QueueParams:
    """The route's query: what to generate, how fast, and which requests fail how."""

    def __init__(self, request: Request) -> None:
        q = request.query_params

        def num(name: str, default: float, low: float, high: float) -> float:
            raw = q.get(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number, not {raw!r}") from None
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low:g} and {high:g}")
            return value

        self.key = str(request.url.query)  # each distinct query has its own queue and counter
        self.limit = int(num("limit", 4, 1, 10_000))
        self.ttft_s = num("ttft_ms", 50, 0, 60_000) / 1000
        self.tokens = int(num("length", 16, 1, 100_000))  # not "tokens": reports redact it
        self.token_s = num("itl_ms", 20, 0, 10_000) / 1000
        self.reasoning = int(num("reasoning", 0, 0, 100_000))
        self.every = int(num("fail_every", 1, 1, 1_000_000))
        self.stall_s = num("stall_s", 30, 0, 3600)
        self.fail = q.get("fail") or None
        if self.fail is not None and self.fail not in QUEUE_FAILS:
            raise ValueError(f"fail must be one of {', '.join(QUEUE_FAILS)}")
        self.ignore_cancel = q.get("cancel") == "ignore"


class QueueState:
    """Every key's queue (a semaphore of `limit` slots) and request counter, and the gauges
    GET /llm/queue/state shows: generations running (slot held) and waiting."""

    def __init__(self) -> None:
        self.slots: dict[str, asyncio.Semaphore] = {}
        self.counts: dict[str, int] = {}
        self.running = 0
        self.waiting = 0
        self.served = 0
        self.tasks: set[asyncio.Task] = set()  # generations, held so they are not collected

    def slot(self, p: QueueParams) -> asyncio.Semaphore:
        return self.slots.setdefault(p.key, asyncio.Semaphore(p.limit))

    def number(self, p: QueueParams) -> int:
        self.counts[p.key] = self.counts.get(p.key, 0) + 1
        return self.counts[p.key]


def _reasoning_chunk(model: str, text: str) -> dict:
    return _chunk(model, {"reasoning_content": text})


async def _generate(p: QueueParams, state: QueueState, failing: bool, model: str, usage: bool,
                    out: asyncio.Queue) -> None:
    """One answer, put chunk by chunk on `out` (None ends it; an exception object cuts the
    connection). Runs as its own task so that `cancel=ignore` can outlive the client."""
    fail = p.fail if failing else None
    state.waiting += 1
    try:
        await state.slot(p).acquire()
    finally:
        state.waiting -= 1
    state.running += 1
    try:
        await asyncio.sleep(p.ttft_s)
        for i in range(p.reasoning):
            await out.put(_data(_reasoning_chunk(model, f"thought {i} ")))
            await asyncio.sleep(p.token_s)
        for i in range(p.tokens):
            if i:
                await asyncio.sleep(p.token_s)
            if i == p.tokens // 2 and fail is not None:
                if fail == "error":
                    await out.put(_data({"error": {"message": "The server is overloaded.",
                                                   "type": "server_error", "code": 503}}))
                    return
                if fail == "invalid-json":
                    await out.put(b'data: {"choices": [{"delta": {"content": "x"\n\n')
                elif fail == "cut":
                    await out.put(ConnectionResetError("the lab cut the answer short"))
                    return
                elif fail == "stall":
                    await asyncio.sleep(p.stall_s)
            await out.put(_data(_chunk(model, {"content": f"tok{i} "})))
        tail = _data(_chunk(model, {}, "stop"))
        if usage:
            tail += _data({"id": "chatcmpl-lab", "object": "chat.completion.chunk",
                           "created": CREATED, "model": model, "choices": [],
                           "usage": {"prompt_tokens": 9, "completion_tokens": p.tokens,
                                     "total_tokens": 9 + p.tokens}})
        if fail != "no-done":
            tail += b"data: [DONE]\n\n"
        await out.put(tail)
        state.served += 1
    finally:
        state.running -= 1
        state.slot(p).release()
        out.put_nowait(None)


async def _queued_body(p: QueueParams, state: QueueState, failing: bool, model: str,
                       usage: bool) -> Body:
    out: asyncio.Queue = asyncio.Queue()
    task = asyncio.ensure_future(_generate(p, state, failing, model, usage, out))
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)
    try:
        yield _data(_chunk(model, {"role": "assistant", "content": ""}))
        while True:
            item = await out.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        if not p.ignore_cancel:  # a server that stops generating when its client leaves
            task.cancel()


def llm_load_routes() -> list:
    from starlette.routing import Route

    state = QueueState()

    async def queued(request: Request) -> Response:
        try:
            p = QueueParams(request)
        except ValueError as exc:
            return JSONResponse({"error": {"message": str(exc)}}, 400)
        doc = await _request(request)
        if doc.get("stream") is not True:
            return JSONResponse({"error": {"message": "the lab streams only: set stream=true",
                                           "type": "invalid_request_error"}}, 400)
        failing = p.fail is not None and state.number(p) % p.every == 0
        if failing and p.fail in ("429", "503"):
            return JSONResponse({"error": {"message": "overloaded, retry later",
                                           "type": "rate_limit_error"}}, int(p.fail),
                                headers={"Retry-After": "1"})
        opts = doc.get("stream_options")
        usage = isinstance(opts, dict) and opts.get("include_usage") is True
        model = str(doc.get("model") or "lab-gpt")
        return LabStream(_queued_body(p, state, failing, model, usage), headers=sse_headers())

    async def gauges(request: Request) -> Response:
        return JSONResponse({"running": state.running, "waiting": state.waiting,
                             "served": state.served})

    return [Route(QUEUE_PATH, queued, methods=["POST"]),
            Route("/llm/queue/state", gauges, methods=["GET"])]


QUEUE_PATH = "/llm/queue/v1/chat/completions"
