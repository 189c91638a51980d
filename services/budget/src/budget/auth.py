"""Bearer JWT verification (RS256, `aud`, `exp`): the token's claims as a `Caller`.

No web framework here: the HTTP edge (`entrypoints/deps.py`) extracts the token and maps
`UnauthenticatedError` to 401.
"""

import json
import time
from typing import Any
from uuid import UUID

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from contracts.identity import Caller
from contracts.ids import OwnerId

VERIFIED_CACHE_SIZE = 4096


class UnauthenticatedError(Exception):
    """No usable bearer token: missing, expired, badly signed, or no key to check it."""


class JwtVerifier:
    """Verifies tokens against one PEM public key or a JWKS document (keys chosen by `kid`)."""

    def __init__(self, key_material: str, audience: str) -> None:
        self._audience = audience
        self._verified: dict[str, tuple[Caller, float]] = {}
        self._keys: dict[str | None, Any]
        if key_material.lstrip().startswith("{"):
            jwks = jwt.PyJWKSet.from_dict(json.loads(key_material))
            self._keys = {k.key_id: k for k in jwks.keys}
        else:
            self._keys = {None: load_pem_public_key(key_material.encode())}

    def verify(self, token: str) -> Caller:
        """The caller the token names, or `UnauthenticatedError`.

        A token verified before is answered from a small cache until its `exp` (the same
        bytes verify the same way): a client reuses its token for many requests.
        """
        known = self._verified.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        caller, expires = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()  # rare; simpler than LRU and bounded all the same
        self._verified[token] = (caller, expires)
        return caller

    def _verify(self, token: str) -> tuple[Caller, float]:
        try:
            key = self._key_for(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self._audience,
                options={"require": ["exp", "sub", "aud"]},
            )
            owner_id = OwnerId(UUID(str(claims["sub"])))
            roles = claims.get("roles", [])
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise jwt.InvalidTokenError("roles must be a list of strings")
        except (jwt.InvalidTokenError, ValueError) as exc:
            raise UnauthenticatedError(f"Invalid token: {exc}") from exc
        return Caller(owner_id=owner_id, roles=frozenset(roles)), float(claims["exp"])

    def _key_for(self, token: str) -> Any:
        if None in self._keys:
            return self._keys[None]
        kid = jwt.get_unverified_header(token).get("kid")
        if kid not in self._keys:
            raise jwt.InvalidTokenError("unknown signing key")
        return self._keys[kid]
