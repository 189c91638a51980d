"""Request bodies are bounded while they stream in: one over the limit is refused with 413.

The gateway bounds bodies too, but not every caller comes through it (and a protocol the
gateway forwards without a length, such as HTTP/2 without content-length, arrives chunked):
this process never reads more than its limit of a body, whatever the declared length says.
"""

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from budget.entrypoints.problems import problem_response

CODE = "payload_too_large"


class BodyTooLarge(HTTPException):
    """The body passed the limit (an HTTPException, so FastAPI's body parsing lets it through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request bodies are limited to {_size(limit)}.")


class BodyLimitMiddleware:
    """Counts the bytes of each request body; past `limit`, the request gets 413 problem+json."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:  # refused before a byte is read
            await _respond(send, self.limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if started:  # the app answered already: nothing more to say on this request
                return
            await _respond(send, self.limit)


def install_body_limit(app: FastAPI, limit: int) -> None:
    """Bound every request body of `app` to `limit` bytes."""

    async def on_too_large(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(413, CODE, f"Request bodies are limited to {_size(limit)}.")

    app.add_exception_handler(BodyTooLarge, on_too_large)
    app.add_middleware(BodyLimitMiddleware, limit=limit)


async def _respond(send: Send, limit: int) -> None:
    response = problem_response(413, CODE, f"Request bodies are limited to {_size(limit)}.")
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [*response.raw_headers, (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": response.body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _size(limit: int) -> str:
    return f"{limit // 1048576} MiB" if limit % 1048576 == 0 else f"{limit} bytes"
