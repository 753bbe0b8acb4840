"""The audit trail: one row per thing a person (or the bot) did to a ticket or an account."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Agent, AuditEntry


def record(
    session: AsyncSession,
    actor: Agent | str,
    action: str,
    ticket_id: int | None = None,
    **detail: Any,
) -> None:
    """Add an audit row in the caller's transaction, so it commits (or not) with what it describes."""
    session.add(
        AuditEntry(
            actor_id=actor.id if isinstance(actor, Agent) else None,
            actor=actor.username if isinstance(actor, Agent) else actor,
            action=action,
            ticket_id=ticket_id,
            detail=json.dumps(detail, sort_keys=True, default=str) if detail else "",
        )
    )
