"""The desk's work, independent of HTTP: the queue, a conversation's view, replies, hand-back to the bot."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversations.events import Line, taken_outside
from bot.conversations.rasa_api import DeliveryError, RasaClient
from bot.conversations.tail import Transcripts
from bot.customers.graph_profiles import GraphProfiles
from bot.customers.profiles import CustomerProfiles, Profile
from bot.desk import overrides, sla
from bot.desk.accounts import Accounts
from bot.desk.config import DeskConfig
from bot.desk.ownership import Change, NotFound, Ownership, OwnershipError, can_act, can_view, owner
from bot.desk.presence import Presence
from bot.desk.throttle import SignInThrottle
from bot.handoff.escalation import EscalationConfig, frustration_trend
from bot.handoff.tickets import ACTIVE, ASSIGNED, OPEN
from bot.live_bus import Bus
from bot.monitoring.moderation import is_muted
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.models import Agent, AgentMessage, HandoffTicket, TicketNote, utcnow

logger = logging.getLogger(__name__)
WAIT_BONUS_EVERY = dt.timedelta(minutes=2)  # waiting this long adds a point of urgency ...
WAIT_BONUS_CAP = 30  # ... up to this many
MAX_REPLY = 4000


async def last_agent_replies(session: AsyncSession, ticket_ids: list[int]) -> dict[int, dt.datetime]:
    """When an agent last sent a reply on each of these tickets (the next-response SLA starts there)."""
    rows = await session.execute(
        select(AgentMessage.ticket_id, func.max(AgentMessage.created_at))
        .where(AgentMessage.ticket_id.in_(ticket_ids), AgentMessage.status == "sent")
        .group_by(AgentMessage.ticket_id)
    )
    return dict(rows.all())


@dataclass(frozen=True)
class Customer:
    """Who the agent is talking to: the best name the desk has, and whether there is a picture."""

    label: str  # the platform's name, else the name the ticket was opened with, else @handle, else the id
    name: str | None  # a real name, for canned replies ("Hi {name}")
    handle: str | None
    has_picture: bool

    @classmethod
    def of(cls, ticket: HandoffTicket, profile: Profile) -> Customer:
        """The ticket's customer as their profile (or, failing that, the ticket) names them."""
        name = profile.name or ticket.customer_name
        label = name or (f"@{profile.handle}" if profile.handle else ticket.conversation_id)
        return cls(label, name, profile.handle, bool(profile.picture_url))


@dataclass(frozen=True)
class QueueItem:
    """One row of the queue page."""

    ticket: HandoffTicket
    owner: str
    assignee_name: str | None
    urgency: int
    waiting: dt.timedelta
    first_response: sla.Timer
    next_response: sla.Timer
    window: sla.Window
    last_customer: dt.datetime | None
    customer: Customer


@dataclass
class ConversationView:
    """Everything the conversation page shows."""

    ticket: HandoffTicket
    item: QueueItem
    lines: list[Line]
    notes: list[tuple[TicketNote, str]]
    past: list[HandoffTicket]
    replies: list[AgentMessage]
    may_act: bool
    may_claim: bool
    sentiment_points: list[float] = field(default_factory=list)
    trend: float = 0.0  # now; the ticket keeps the trend at handoff


def urgency(ticket: HandoffTicket, waiting: dt.timedelta) -> int:
    """The escalation's priority (reason, frustration, VIP) plus a point per two minutes waited."""
    return ticket.priority + min(WAIT_BONUS_CAP, int(waiting / WAIT_BONUS_EVERY))


class Desk:
    """What agents do, with every rule about who may do it."""

    def __init__(
        self,
        config: DeskConfig,
        database: Database,
        trackers: Database,
        bus: Bus,
        profiles: CustomerProfiles | None = None,
    ) -> None:
        self.config = config
        self.db = database
        # Names and pictures from the platforms (None: the environment names no platform, as in unit tests).
        self.profiles = profiles or CustomerProfiles(
            database, GraphProfiles.from_env(), config.profile_expiry
        )
        throttle = SignInThrottle(config.lockout, config.settings.redis_url)
        self.accounts = Accounts(database, config.lockout, config.session_hours, throttle)
        self.ownership = Ownership(database)
        self.transcripts = Transcripts(trackers)
        self.rasa = RasaClient(config.rasa_url, config.rasa_token, config.desk_api_token)
        self.bus = bus
        self.presence = Presence(database, config.assignment.presence_seconds)  # online, away (assigner)
        self.escalation = EscalationConfig.watch()  # the trend as escalation.yml weighs it, edits included

    async def _items(self, tickets: list[HandoffTicket], now: dt.datetime) -> list[QueueItem]:
        last_seen = await self.transcripts.last_customer_times([t.conversation_id for t in tickets])
        profiles = await self.profiles.many((t.channel, t.conversation_id) for t in tickets)
        ids = [t.id for t in tickets]
        async with self.db.sessions() as session:
            names = dict((await session.execute(select(Agent.id, Agent.display_name))).all())
            last_replies = await last_agent_replies(session, ids)
        items = []
        for ticket in tickets:
            seen = last_seen.get(ticket.conversation_id)
            last_customer = dt.datetime.fromtimestamp(seen, dt.timezone.utc) if seen else None
            last_reply = last_replies.get(ticket.id)
            if last_reply is not None and last_reply.tzinfo is None:
                last_reply = last_reply.replace(tzinfo=dt.timezone.utc)
            waiting = now - ticket.created_at
            items.append(
                QueueItem(
                    ticket=ticket,
                    owner=owner(ticket),
                    assignee_name=names.get(ticket.assignee_id)
                    if ticket.assignee_id
                    else ticket.external_owner,
                    urgency=urgency(ticket, waiting),
                    waiting=waiting,
                    first_response=sla.first_response(
                        ticket.created_at, ticket.first_response_at, self.config.sla
                    ),
                    next_response=sla.next_response(
                        last_customer, last_reply, ticket.first_response_at, self.config.sla
                    ),
                    window=sla.reply_window(ticket.channel, last_customer, now),
                    last_customer=last_customer,
                    customer=Customer.of(ticket, profiles[(ticket.channel, ticket.conversation_id)]),
                )
            )
        return items

    async def queue(self, agent: Agent) -> tuple[list[QueueItem], list[QueueItem]]:
        """(waiting, in progress): the queue by urgency, then the open work this agent may see."""
        async with self.db.sessions() as session:
            tickets = list(
                await session.scalars(select(HandoffTicket).where(HandoffTicket.status.in_(ACTIVE)))
            )
        visible = [t for t in tickets if can_view(agent, t)]
        items = await self._items(visible, utcnow())
        waiting = sorted(
            (i for i in items if i.ticket.status == OPEN), key=lambda i: (-i.urgency, i.ticket.created_at)
        )
        working = sorted((i for i in items if i.ticket.status == ASSIGNED), key=lambda i: i.ticket.created_at)
        return waiting, working

    async def conversation(self, agent: Agent, ticket_id: int) -> ConversationView:
        """The conversation page of a ticket the agent may see."""
        ticket = await self.ownership.ticket(ticket_id, agent)
        [item] = await self._items([ticket], utcnow())
        lines = await self.transcripts.lines(ticket.conversation_id)
        async with self.db.sessions() as session:
            notes = (
                await session.execute(
                    select(TicketNote, Agent.display_name)
                    .join(Agent, Agent.id == TicketNote.agent_id)
                    .where(TicketNote.ticket_id == ticket_id)
                    .order_by(TicketNote.id)
                )
            ).all()
            past = list(
                await session.scalars(
                    select(HandoffTicket)
                    .where(
                        HandoffTicket.conversation_id == ticket.conversation_id, HandoffTicket.id != ticket_id
                    )
                    .order_by(HandoffTicket.id.desc())
                    .limit(20)
                )
            )
            replies = list(
                await session.scalars(
                    select(AgentMessage).where(AgentMessage.ticket_id == ticket_id).order_by(AgentMessage.id)
                )
            )
        points = [line.sentiment_score for line in lines if line.sentiment_score is not None]
        return ConversationView(
            ticket=ticket,
            item=item,
            lines=lines,
            notes=[(note, name) for note, name in notes],
            past=past,
            replies=replies,
            may_act=can_act(agent, ticket),
            may_claim=ticket.status == OPEN,
            sentiment_points=points,
            trend=frustration_trend(points, self.escalation.value.alpha)
            if points
            else ticket.sentiment_trend,
        )

    async def _announce(self, change: Change) -> None:
        await self.bus.publish({"kind": "queue"})
        await self.bus.publish({"kind": "conversation", "conversation_id": change.conversation_id})

    async def claim(self, agent: Agent, ticket_id: int) -> Change:
        """Claim a queued ticket (atomic)."""
        change = await self.ownership.claim(ticket_id, agent)
        await self._announce(change)
        return change

    async def release(self, agent: Agent, ticket_id: int) -> Change:
        """Back to the queue."""
        change = await self.ownership.release(ticket_id, agent)
        await self._announce(change)
        return change

    async def transfer(self, agent: Agent, ticket_id: int, to_agent_id: int) -> Change:
        """To another agent."""
        change = await self.ownership.transfer(ticket_id, agent, to_agent_id)
        await self._announce(change)
        return change

    async def route(self, supervisor: Agent, ticket_id: int, choice: str) -> Change:
        """A supervisor pins a queued ticket to an agent, holds it for a claim, or frees it again."""
        change = await overrides.route(self.db, supervisor, ticket_id, choice)
        await self._announce(change)
        return change

    async def note(self, agent: Agent, ticket_id: int, body: str) -> None:
        """An internal note."""
        conversation_id = await self.ownership.add_note(ticket_id, agent, body)
        await self.bus.publish({"kind": "conversation", "conversation_id": conversation_id})

    async def reply(self, agent: Agent, ticket_id: int, text: str, client_id: str) -> AgentMessage:
        """Send through the conversation's channel; a repeated client_id sends nothing new."""
        text = text.strip()
        if not text:
            raise OwnershipError("an empty reply cannot be sent")
        if len(text) > MAX_REPLY:
            raise OwnershipError(f"replies are limited to {MAX_REPLY} characters")
        if not client_id or len(client_id) > 64:
            raise OwnershipError("the reply form is stale; reload the page")
        async with self.db.sessions() as session:
            existing = await session.scalar(select(AgentMessage).where(AgentMessage.client_id == client_id))
        if existing is not None:
            return existing  # a double click or a resubmitted form
        async with self.db.sessions() as session, session.begin():
            ticket = await session.get(HandoffTicket, ticket_id)
            if ticket is None or not can_view(agent, ticket):
                raise NotFound(f"no ticket #{ticket_id} for you")
            if not can_act(agent, ticket) or ticket.assignee_id is None:
                raise OwnershipError(f"claim ticket #{ticket_id} before replying ({owner(ticket)})")
            message = AgentMessage(ticket_id=ticket_id, agent_id=agent.id, client_id=client_id, text=text)
            session.add(message)
            try:
                await session.flush()
            except IntegrityError:
                raise OwnershipError("this reply was already sent") from None
            channel, conversation_id = ticket.channel, ticket.conversation_id
        author = {"id": agent.id, "name": agent.display_name}
        try:
            await self.rasa.send_reply(channel, conversation_id, text, client_id, author)
            status, error = "sent", None
        except DeliveryError as err:
            status, error = "failed", str(err)
        async with self.db.sessions() as session, session.begin():
            message = await session.get(AgentMessage, message.id)
            assert message is not None
            message.status, message.error = status, error
            ticket = await session.get(HandoffTicket, ticket_id)
            if status == "sent" and ticket is not None and ticket.first_response_at is None:
                ticket.first_response_at = utcnow()
            audit.record(
                session, agent, "replied" if status == "sent" else "reply_failed", ticket_id, error=error
            )
        await self.bus.publish({"kind": "conversation", "conversation_id": conversation_id})
        await self.bus.publish({"kind": "queue"})
        if error:
            raise DeliveryError(error)
        return message

    async def resolve(self, agent: Agent, ticket_id: int, ask_csat: bool = True) -> Change:
        """Give the conversation back to the bot, then have it ask for a rating."""
        ticket = await self.ownership.check_can_resolve(ticket_id, agent)
        muted = await is_muted(self.db, ticket.channel, ticket.conversation_id)
        if not muted:  # a muted author stays paused: the bot must not answer them
            await self.rasa.resume(ticket.conversation_id)
        change = await self.ownership.resolve(ticket_id, agent)
        if ask_csat and not muted:
            try:
                await self.rasa.ask_csat(ticket.conversation_id)
            except DeliveryError as err:  # the hand-back stands; only the rating question is lost
                logger.warning("CSAT question for ticket #%s not sent: %s", ticket_id, err)
        await self._announce(change)
        return change

    async def on_tracker_event(self, conversation_id: str, event: dict[str, Any]) -> None:
        """A person answered in Meta's own inbox: they own the conversation now (the bot already paused)."""
        source = taken_outside(event)
        if source is not None:
            channel = await self.transcripts.input_channel(conversation_id) or "unknown"
            change = await self.ownership.taken_outside(conversation_id, channel, source)
            logger.info("ticket #%s: %s replied outside the desk and owns it", change.ticket_id, source)
            await self.bus.publish({"kind": "queue"})
