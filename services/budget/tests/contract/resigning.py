"""A test-only ASGI wrapper that makes each replayed hook call a fresh delivery, signed afresh.

Why it exists: `X-Hook-Signature` covers the request's time and body, budget refuses a stale
timestamp, and it refuses a delivery id it has seen (a replay). A pact can only record the
header's shape (with a stale example value) and an example delivery id, so replaying it verbatim
would get 401, then 409. The wrapper gives the body a new `delivery_id` and replaces the header
with a valid signature for that body and the current time, so that budget's real checks run
unchanged; a provider state that wants a bad signature sets `secret` to one budget does not know.
"""

import json
import time
import uuid

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
        body = _new_delivery(await _read_body(receive))
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


def _new_delivery(body: bytes) -> bytes:
    """The same call with a delivery id of its own (the pact's example is replayed each time)."""
    try:
        call = json.loads(body)
    except ValueError:
        return body  # not JSON: budget's own validation answers it
    if isinstance(call, dict) and "delivery_id" in call:
        call["delivery_id"] = str(uuid.uuid4())
        return json.dumps(call).encode()
    return body
