"""Who gets which queued conversation: the pure choice the assigner (bot/desk/assigner.py) applies.

The most urgent ticket goes first, to the online agent who has waited longest for a conversation
(round-robin), among those with room under their capacity who speak the ticket's language and work its
channel. A supervisor's pin sends a ticket to one agent only (skills aside: the supervisor knows); a
hold keeps it for a manual claim; whoever released a ticket is not handed it straight back.
Presence is decided before: only online agents are candidates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.conversations.rasa_api import REPLY_CHANNELS
from bot.language.skills import spoken
from bot.storage.models import Agent

SUPERVISOR = "supervisor"
CHANNELS = REPLY_CHANNELS  # the channels a person can answer from the desk
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Waiting:
    """A queued ticket as the choice needs it."""

    ticket_id: int
    urgency: int
    created_at: dt.datetime
    channel: str
    language: str | None  # None: the primary language
    pinned_to: int | None = None
    manual_only: bool = False
    released_by: int | None = None


@dataclass(frozen=True)
class Candidate:
    """An online agent as the choice needs them."""

    agent_id: int
    languages: tuple[str, ...]
    channels: tuple[str, ...]  # empty: every channel
    capacity: int
    load: int  # conversations they have now
    last_assigned_at: dt.datetime | None = None

    @classmethod
    def of(cls, agent: Agent, load: int, last_assigned_at: dt.datetime | None, default: int) -> Candidate:
        """From an account, its current load, and desk.yml's capacity."""
        return cls(
            agent.id,
            spoken(agent.languages),
            parse_channels(agent.channels),
            capacity_of(agent, default),
            load,
            last_assigned_at,
        )


def capacity_of(agent: Agent, default: int) -> int:
    """The agent's own capacity, else desk.yml's; supervisors take none unless given one (opt-in)."""
    if agent.capacity is not None:
        return agent.capacity
    return 0 if agent.role == SUPERVISOR else default


def parse_channels(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Channel names from "messenger, X" or a list; empty means every channel; ValueError for others."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    names = tuple(
        dict.fromkeys("twitter" if n == "x" else n for n in (i.strip().lower() for i in items) if n)
    )
    bad = [name for name in names if name not in CHANNELS]
    if bad:
        raise ValueError(f"channels are {', '.join(CHANNELS)} (got {', '.join(bad)})")
    return names


def skilled(candidate: Candidate, ticket: Waiting, primary: str) -> bool:
    """Speaks the ticket's language (none: the primary one) and works its channel."""
    language = (ticket.language or primary).lower()
    works = not candidate.channels or ticket.channel in candidate.channels
    return works and language in candidate.languages


def eligible(candidate: Candidate, ticket: Waiting, primary: str) -> bool:
    """Whether this agent may be given this ticket now (room aside)."""
    if ticket.manual_only:
        return False
    if ticket.pinned_to is not None:
        return candidate.agent_id == ticket.pinned_to
    return candidate.agent_id != ticket.released_by and skilled(candidate, ticket, primary)


def plan(waiting: Sequence[Waiting], candidates: Sequence[Candidate], primary: str) -> list[tuple[int, int]]:
    """(ticket id, agent id) pairs, most urgent ticket first, round-robin within capacity."""
    load = {c.agent_id: c.load for c in candidates}
    # Longest without a conversation first (never given one: first of all); ties by id, for a stable order.
    turn = {c.agent_id: (0, c.last_assigned_at or EPOCH, 0, c.agent_id) for c in candidates}
    given = 0
    pairs = []
    for ticket in sorted(waiting, key=lambda w: (-w.urgency, w.created_at, w.ticket_id)):
        able = [c for c in candidates if load[c.agent_id] < c.capacity and eligible(c, ticket, primary)]
        if not able:
            continue
        chosen = min(able, key=lambda c: turn[c.agent_id]).agent_id
        pairs.append((ticket.ticket_id, chosen))
        load[chosen] += 1
        given += 1
        turn[chosen] = (1, EPOCH, given, chosen)  # to the back of the line
    return pairs
