"""A test-only ASGI wrapper that signs each replayed hook call afresh.

Why it exists: `X-Hook-Signature` covers the request's time and body, and budget refuses a
timestamp more than 300 s old. A pact can only record the header's shape (with a stale example
value), so replaying it verbatim would always get 401. The wrapper replaces the header with a
valid signature for the current body and time, so that budget's real signature check runs
unchanged; a provider state that wants a bad signature sets `secret` to one budget does not know.
"""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.hooks import HOOK_PATH
from contracts.signing import SIGNATURE_HEADER, sign

_HEADER = SIGNATURE_HEADER.lower().encode()


class ResigningApp:
    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self.default_secret = secret
        self.secret = secret  # what the next hook call is signed with; states change it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != HOOK_PATH:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        signature = sign(body, self.secret, int(time.time())).encode()
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != _HEADER]
        headers.append((_HEADER, signature))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # http.disconnect, once the client goes away
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
