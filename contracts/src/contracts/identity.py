"""Who is calling: the claims both services read from a verified JWT.

See docs/architecture.md#identity.
"""

from dataclasses import dataclass

from contracts.ids import OwnerId

AUDIENCE = "todos-budget"
ADMIN_ROLE = "budget:admin"


@dataclass(frozen=True, slots=True)
class Caller:
    owner_id: OwnerId
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles


# The first line of the development public key that `make run` makes (deploy/local/devkeys.py):
# a service outside development refuses a key carrying it, wherever the file is mounted.
DEV_KEY_MARKER = "todos-budget development key: refused outside ENVIRONMENT=development"
