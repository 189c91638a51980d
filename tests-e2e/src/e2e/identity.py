"""Tokens signed with the stack's development key (the launcher creates it in the dev dir)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import jwt

from contracts.identity import ADMIN_ROLE, AUDIENCE


class TokenMaker:
    """Signs RS256 tokens like the development identity provider does."""

    def __init__(self, dev_dir: Path) -> None:
        self._private_key = (dev_dir / "jwt-private.pem").read_bytes()

    def token(
        self,
        owner: uuid.UUID | str,
        *,
        admin: bool = False,
        expires_in: int = 600,
        key: Any = None,
        **claims: Any,
    ) -> str:
        """A token for `owner`; override `key` or any claim to make a bad one."""
        now = int(time.time())
        body: dict[str, Any] = {
            "sub": str(owner),
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + expires_in,
            "roles": [ADMIN_ROLE] if admin else [],
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key if key is not None else self._private_key, algorithm="RS256")
