"""Webhook signatures: `X-Hook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256("<t>.<body>")>`.

The usual scheme of webhook libraries. Several `v1=` values may be sent (during a secret
rotation); one match is enough. What the signature is bound to (its subscriber, its delivery)
is in the body it covers (`contracts.hooks.BeforeCompleteTask`).
"""

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hook-Signature"
DEFAULT_TOLERANCE_SECONDS = 300
_DIGEST_HEX_LENGTH = hashlib.sha256().digest_size * 2
_HEX = frozenset("0123456789abcdef")


class SignatureError(Exception):
    """The signature header is missing, malformed, stale or does not match."""


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The header value signing `body` with `secret` at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_digest(body, secret, timestamp)}"


def verify(
    header: str | None,
    body: bytes,
    secret: str,
    *,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """The signature's timestamp; `SignatureError` unless `header` signs `body` with `secret`,
    within `tolerance` seconds of `now`."""
    if not header:
        raise SignatureError("missing signature")
    timestamp, signatures = _parse(header)
    if abs(now - timestamp) > tolerance:
        raise SignatureError("signature timestamp outside the tolerance")
    expected = _digest(body, secret, timestamp)
    # compare_digest against every candidate, so timing does not reveal which one matched
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("signature does not match")
    return timestamp


def _digest(body: bytes, secret: str, timestamp: int) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _is_ascii_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed signature header")
        if key == "t":
            if not _is_ascii_digits(value) or len(value) > 12:
                raise SignatureError("malformed signature timestamp")
            timestamp = int(value)
        elif key == "v1":
            # hex only: compare_digest raises TypeError on non-ASCII str, int() on "²"
            if len(value) != _DIGEST_HEX_LENGTH or not _HEX.issuperset(value.lower()):
                raise SignatureError("malformed signature value")
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        raise SignatureError("malformed signature header")
    return timestamp, signatures
