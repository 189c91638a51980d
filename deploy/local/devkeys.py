"""Development identity: an RS256 key pair and a hook secret, made once under `.dev/`."""

from __future__ import annotations

import os
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from contracts.identity import DEV_KEY_MARKER

AUDIENCE = "todos-budget"
ADMIN_ROLE = "budget:admin"
DEFAULT_DEV_DIR = Path(__file__).resolve().parents[2] / ".dev"
_SUBSCRIBER = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class DevSecrets:
    """Paths and values of the development key pair and hook secret."""

    private_key_file: Path
    public_key_file: Path
    hook_secret: str

    def subscriber_secret(self, name: str) -> str:
        """The hook secret of subscriber `name` (budget's is `hook_secret`), made on first use.

        Every subscriber its own: one that holds it cannot sign a call for another.
        """
        if not _SUBSCRIBER.fullmatch(name):
            raise ValueError(f"a hook subscriber's name is [A-Za-z0-9_-]{{1,64}}: {name!r}")
        path = self.private_key_file.parent / f"hook-secret.{name}"
        if not path.exists():
            _write(path, secrets.token_hex(32).encode(), 0o600)
        return path.read_text().strip()

    def token(self, owner: str, *, admin: bool = False, expires_in: int = 3600) -> str:
        """A token for `owner`, signed with the development key."""
        now = int(time.time())
        claims: dict[str, object] = {
            "sub": str(uuid.UUID(owner)),
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + expires_in,
            "roles": [ADMIN_ROLE] if admin else [],
        }
        return jwt.encode(claims, self.private_key_file.read_bytes(), algorithm="RS256")


def _write(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` from its first byte (no window in which others may read it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # an existing file keeps its mode on O_CREAT; make it ours
        os.write(fd, data)
    finally:
        os.close(fd)


def ensure(dev_dir: Path = DEFAULT_DEV_DIR) -> DevSecrets:
    """Create the key pair and hook secret on first use; reuse them afterwards."""
    dev_dir.mkdir(parents=True, exist_ok=True)
    private, public = dev_dir / "jwt-private.pem", dev_dir / "jwt-public.pem"
    secret_file = dev_dir / "hook-secret"
    if not (private.exists() and public.exists()):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pkcs8 = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write(private, pkcs8, 0o600)
        spki = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # The marker line (text before BEGIN is allowed in PEM) lets production refuse this key
        # by its content, wherever it is mounted.
        _write(public, f"{DEV_KEY_MARKER}\n".encode() + spki, 0o644)
    elif DEV_KEY_MARKER not in (pem := public.read_text()):
        _write(public, f"{DEV_KEY_MARKER}\n{pem}".encode(), 0o644)  # a pair made before the marker
    if not secret_file.exists():
        _write(secret_file, secrets.token_hex(32).encode(), 0o600)
    return DevSecrets(private, public, secret_file.read_text().strip())
