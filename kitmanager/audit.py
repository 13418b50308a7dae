"""Who did what: the actor every service takes, and the audit trail it writes."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any

from kitmanager.database import HotStatement
from kitmanager.models import AuditEvent, Role, utcnow

__all__ = ["Actor", "cli_actor", "record_event"]


@dataclass(frozen=True)
class Actor:
    """The person or token behind a change, and the device it came from."""

    name: str  # "user:amina", "token:door-scanner", "cli:root"
    role: Role
    device: str = ""
    user_id: int | None = None

    def allows(self, needed: Role) -> bool:
        return self.role.allows(needed)


def cli_actor() -> Actor:
    """Whoever runs the CLI on the laptop owns it, so they act as an organiser."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(name=f"cli:{who}", role=Role.ORGANISER, device="command line")


# Inline: nothing reads the new row's id back.
_AUDIT_ROW = HotStatement(AuditEvent.__table__.insert().inline())


def record_event(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | None,
    **details: Any,
) -> None:
    """Add one audit row to the current transaction (the caller commits).

    A plain INSERT on the session's connection, not an object for the session to flush:
    audit rows are written on every scan, and nothing reads them back in the same request.
    """
    _AUDIT_ROW.execute(
        {
            "at": utcnow(),
            "actor": actor.name[:120],
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "device": actor.device[:200],
            "details": details,
        },
    )
