"""Who is acting: the owner an API key or a browser acts for, and what it may do (scopes)."""

from dataclasses import dataclass

READ = "images:read"
WRITE = "images:write"
DELETE = "images:delete"
WEBHOOKS = "webhooks:manage"
ADMIN = "admin"
SCOPES = (READ, WRITE, DELETE, WEBHOOKS, ADMIN)
DEFAULT_SCOPES = frozenset({READ, WRITE, DELETE})
# Images uploaded before owners existed belong to this owner.
LEGACY_OWNER = "legacy"


@dataclass(frozen=True)
class Principal:
    """An owner acting through one key (or one browser), with the scopes it holds."""

    owner_id: str
    scopes: frozenset[str]
    key_id: str | None = None

    @property
    def is_admin(self) -> bool:
        """Whether it acts on every owner's images."""
        return ADMIN in self.scopes

    def may(self, scope: str) -> bool:
        """Whether it holds scope (admin holds every scope)."""
        return self.is_admin or scope in self.scopes

    def sees(self, owner_id: str | None) -> bool:
        """Whether an image of owner_id is visible to it."""
        return self.is_admin or owner_id == self.owner_id
