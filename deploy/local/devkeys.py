"""Development identity: an RS256 key pair and a hook secret, made once under `.dev/`."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "todos-budget"
ADMIN_ROLE = "budget:admin"
DEFAULT_DEV_DIR = Path(__file__).resolve().parents[2] / ".dev"


@dataclass(frozen=True)
class DevSecrets:
    """Paths and values of the development key pair and hook secret."""

    private_key_file: Path
    public_key_file: Path
    hook_secret: str

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


def ensure(dev_dir: Path = DEFAULT_DEV_DIR) -> DevSecrets:
    """Create the key pair and hook secret on first use; reuse them afterwards."""
    dev_dir.mkdir(parents=True, exist_ok=True)
    private, public = dev_dir / "jwt-private.pem", dev_dir / "jwt-public.pem"
    secret_file = dev_dir / "hook-secret"
    if not (private.exists() and public.exists()):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        private.chmod(0o600)
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    if not secret_file.exists():
        secret_file.write_text(secrets.token_hex(32))
        secret_file.chmod(0o600)
    return DevSecrets(private, public, secret_file.read_text().strip())
