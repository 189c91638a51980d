"""Who is calling: the claims both services read from a verified JWT (SPEC section 3)."""

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
