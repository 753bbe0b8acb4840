"""The tables the assistant reads and writes: customers, catalogue, orders and stores."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Numeric, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        """Refuse naive datetimes: their zone would be a guess."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC datetimes only")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        """Mark values read back from SQLite as UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime."""
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of all tables."""


class Customer(Base):
    """Someone who bought from the shop."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    orders: Mapped[list[Order]] = relationship(back_populates="customer")
    identities: Mapped[list[CustomerIdentity]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )


class CustomerIdentity(Base):
    """A platform identity (a Messenger PSID, an Instagram-scoped id, an X user id) linked to a customer.

    Whoever writes from a linked identity sees that customer's orders without a second factor
    (bot/shop/order_access.py). Rows come from `bot customers link` (or a shop's account linking), never
    from what someone says in a conversation.
    """

    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # Rasa's input channel: messenger | instagram | twitter
    external_id: Mapped[str] = mapped_column(String(128))  # the platform's user id = Rasa's sender id
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="identities")


class Product(Base):
    """A catalogue item; what can actually be bought is one of its variants."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(80), index=True)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    url: Mapped[str] = mapped_column(String(500))

    variants: Mapped[list[ProductVariant]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="ProductVariant.id"
    )
    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="ProductImage.position"
    )


class ProductVariant(Base):
    """One colour and size of a product, with its stock."""

    __tablename__ = "product_variants"
    __table_args__ = (UniqueConstraint("product_id", "color", "size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    color: Mapped[str] = mapped_column(String(40))
    size: Mapped[str] = mapped_column(String(20))
    stock: Mapped[int] = mapped_column(default=0)

    product: Mapped[Product] = relationship(back_populates="variants")


class ProductImage(Base):
    """A photo of a product: where it came from and the stored copy (content-addressed by sha256)."""

    __tablename__ = "product_images"
    __table_args__ = (UniqueConstraint("product_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    color: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(1000))  # the path or URL the import named
    path: Mapped[str] = mapped_column(String(500))  # stored file, relative to the image folder
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(default=0)
    height: Mapped[int] = mapped_column(default=0)

    product: Mapped[Product] = relationship(back_populates="images")


class Order(Base):
    """An order; `id` is the public order number customers quote (6 digits starting with 1)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # see bot.shop.orders.OrderStatus
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    shipped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    estimated_delivery: Mapped[dt.date | None]
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    carrier: Mapped[str | None] = mapped_column(String(40))
    tracking_url: Mapped[str | None] = mapped_column(String(500))
    total: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    refund_status: Mapped[str] = mapped_column(String(20), default="none")  # see bot.shop.orders.RefundStatus
    refund_amount: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    refund_issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The delivery postcode: with the customer's e-mail, the second factor that unlocks the order.
    shipping_postcode: Mapped[str | None] = mapped_column(String(10))

    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.id"
    )


class OrderItem(Base):
    """A line of an order."""

    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("product_variants.id"))
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))

    order: Mapped[Order] = relationship(back_populates="items")
    variant: Mapped[ProductVariant] = relationship()


class Store(Base):
    """A physical shop."""

    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    city: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str] = mapped_column(String(40))
    opening_hours: Mapped[str] = mapped_column(String(200))


class Mention(Base):
    """A public item about the brand: an X mention, or a comment under our Facebook or Instagram posts.

    Written by the channels in the Rasa process with plain SQL (see connectors/mentions.py), so
    the columns stay simple; `raw` keeps the platform's JSON. `kind` is "mention" or "comment";
    `account_id` is our account it came to (the Page, the Instagram account, our X user), which the
    public replies go out from; `author_followers` is the author's reach where the platform says it (X).
    """

    __tablename__ = "mentions"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[str] = mapped_column(String(64))
    author_handle: Mapped[str] = mapped_column(String(100), default="")
    author_name: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(500))
    in_reply_to: Mapped[str | None] = mapped_column(String(64))
    posted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    raw: Mapped[str] = mapped_column(Text, default="{}")
    kind: Mapped[str] = mapped_column(String(20), default="mention", server_default="mention")
    post_id: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    author_followers: Mapped[int | None] = mapped_column()
    media_urls: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list


class HandoffTicket(Base):
    """A conversation handed to a person: why, how frustrated, what the agent should read first."""

    __tablename__ = "handoff_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(40))
    sentiment_trend: Mapped[float] = mapped_column(default=0.0)
    priority: Mapped[int] = mapped_column(default=0)
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Ownership (bot/desk/ownership.py): open = queued; assigned = an agent (assignee_id) or a person
    # outside the desk (external_owner, e.g. "meta_inbox"); resolved = back with the bot.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    external_owner: Mapped[str | None] = mapped_column(String(40))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    csat_score: Mapped[int | None] = mapped_column()
    csat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The customer's language (ISO 639-1) when the ticket opened, for an agent who speaks it.
    language: Mapped[str | None] = mapped_column(String(16), index=True)
    # Automatic assignment (bot/desk/assignment.py): a supervisor's pin (only this agent gets it) or
    # hold (`manual_only`: claimed by hand only); who last released it (never handed straight back);
    # SLA breaches already counted in `priority` (first response; the customer message whose next
    # response was late), so each breach raises it once.
    pinned_to: Mapped[int | None] = mapped_column()
    manual_only: Mapped[bool] = mapped_column(default=False, server_default=false())
    released_by: Mapped[int | None] = mapped_column()
    first_breach_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_breach_for: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Agent(Base):
    """A person who works the desk: an agent, or a supervisor who may also see and move everyone's work."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20), default="agent")
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The languages this person answers customers in: ISO 639-1 codes, comma-separated ("en,es").
    languages: Mapped[str] = mapped_column(String(200), default="en", server_default="en")
    # Automatic assignment: set "away" in the desk's header; at most `capacity` active conversations
    # (None: desk.yml's, and never for supervisors; 0: manual claims only); `channels` it may be given
    # ("messenger,instagram"; empty: every channel).
    away: Mapped[bool] = mapped_column(default=False, server_default=false())
    capacity: Mapped[int | None] = mapped_column()
    channels: Mapped[str] = mapped_column(String(200), default="", server_default="")


class AgentPresence(Base):
    """When an agent's desk page last beat, and when the assigner last gave them a conversation.

    An open page beats through its live stream; round-robin gives the next conversation to the online
    agent who has waited longest for one.
    """

    __tablename__ = "agent_presence"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_assigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class DeskSession(Base):
    """A signed-in browser: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "desk_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AgentMessage(Base):
    """A reply an agent sent (or tried to send) from the desk; `client_id` makes a double submit harmless."""

    __tablename__ = "agent_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("handoff_tickets.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="sending")  # sending | sent | failed
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketNote(Base):
    """An internal note on a ticket: agents only, never sent to the customer."""

    __tablename__ = "ticket_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("handoff_tickets.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Who did what to which ticket, when: claims, replies, transfers, resolves, sign-ins."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    actor: Mapped[str] = mapped_column(String(80))  # username, or "bot" / "meta_inbox" / "system"
    action: Mapped[str] = mapped_column(String(40))
    ticket_id: Mapped[int | None] = mapped_column(index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class ModerationFlag(Base):
    """A message flagged for a supervisor to review (repeated abuse)."""

    __tablename__ = "moderation_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Review (issue: monitoring): open → confirmed or dismissed by a supervisor, reversible.
    author: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message_log.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LoggedMessage(Base):
    """Every customer message (DM or public mention) as monitoring sees it: who, where, when, what mood."""

    __tablename__ = "message_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(60), unique=True)  # "event:<rasa event id>" / "mention:<id>"
    kind: Mapped[str] = mapped_column(String(10))  # dm | mention
    channel: Mapped[str] = mapped_column(String(20), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(128), index=True)
    author: Mapped[str | None] = mapped_column(String(200))
    link: Mapped[str | None] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text, default="")
    intent: Mapped[str | None] = mapped_column(String(80), index=True)
    sentiment_label: Mapped[str] = mapped_column(String(10), default="neutral")
    sentiment_score: Mapped[float] = mapped_column(default=0.0)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    language: Mapped[str | None] = mapped_column(String(16))  # ISO 639-1; None: read before detection


class MonitorCursor(Base):
    """How far a monitoring reader got in a source (Rasa's events, mentions): restarts resume here."""

    __tablename__ = "monitor_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)


class Alert(Base):
    """A spike of negative messages on one channel (or all): what, when, against which baseline."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(20), index=True)  # a channel, or "all"
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    negative_count: Mapped[int] = mapped_column(default=0)
    total_count: Mapped[int] = mapped_column(default=0)
    baseline_count: Mapped[float] = mapped_column(default=0.0)
    baseline_share: Mapped[float] = mapped_column(default=0.0)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open | acknowledged
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # disabled (no webhook configured) | pending | sent | failed
    webhook_status: Mapped[str] = mapped_column(String(20), default="disabled")
    webhook_attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertMessage(Base):
    """The messages that made an alert."""

    __tablename__ = "alert_messages"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("message_log.id", ondelete="CASCADE"), primary_key=True
    )


class MutedAuthor(Base):
    """An author the bot no longer answers (reversible by a supervisor)."""

    __tablename__ = "muted_authors"
    __table_args__ = (UniqueConstraint("channel", "author_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[str] = mapped_column(String(128))  # the Rasa sender id (DMs) or the platform user id
    reason: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    muted_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    muted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    unmuted_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    unmuted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PhotoLookup(Base):
    """One customer photo looked up in the catalogue, and how it went (for the hit rate)."""

    __tablename__ = "photo_lookups"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))  # confident | several | none | bad_image
    top_score: Mapped[float | None] = mapped_column()
    product_id: Mapped[int | None] = mapped_column()
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class LogoSighting(Base):
    """A brand logo seen in a customer's photo (bot/catalog/logos.py), with the message's sentiment."""

    __tablename__ = "logo_sightings"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    photo_url: Mapped[str] = mapped_column(Text)  # as the customer's message carried it (the desk shows it)
    logo: Mapped[str] = mapped_column(String(100))
    ours: Mapped[bool] = mapped_column()
    inliers: Mapped[int] = mapped_column()
    sentiment_label: Mapped[str | None] = mapped_column(String(10))
    sentiment_score: Mapped[float | None] = mapped_column()
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class OrderCheckFailure(Base):
    """A failed (or in-flight) second-factor attempt on an order, rate-limited in bot/shop/order_access.py.

    In SQL so that every action-server replica counts the same attempts.
    """

    __tablename__ = "order_check_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(20))
    sender_id: Mapped[str] = mapped_column(String(128), index=True)  # also the conversation's id in Rasa
    order_id: Mapped[int] = mapped_column(index=True)  # the number tried; it may not exist


class ServiceLease(Base):
    """Who runs a single-worker service now (`monitoring`), until when; taken over once it expires.

    Used without Redis (bot/monitoring/lease.py); with Redis the lease is a Redis key instead.
    """

    __tablename__ = "service_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class EngagementItem(Base):
    """A public item as the engagement queue sees it (bot/monitoring/engagement): what it is, what happened.

    One row per `mentions` row, made once by the engagement worker. `decision` is what the policy
    (engagement.yml) chose: "auto" (the bot answers publicly on its own), "queue" (an agent decides) or
    "record" (kept for monitoring only). `status`: open → sending → sent, or dismissed; `hidden` is the
    moderation state on the platform, changed only through hide/unhide (audited).
    """

    __tablename__ = "engagement_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(20), index=True)
    category: Mapped[str] = mapped_column(String(20), index=True)
    intent: Mapped[str | None] = mapped_column(String(80))
    sentiment_label: Mapped[str] = mapped_column(String(10), default="neutral")
    sentiment_score: Mapped[float] = mapped_column(default=0.0)
    product_id: Mapped[int | None] = mapped_column()
    product_title: Mapped[str | None] = mapped_column(String(200))
    product_confidence: Mapped[float | None] = mapped_column()
    logos: Mapped[str] = mapped_column(String(300), default="")  # names of the logos seen, comma-separated
    urgency: Mapped[int] = mapped_column(default=0, index=True)
    reach: Mapped[int] = mapped_column(default=0)
    rule: Mapped[str] = mapped_column(String(80), default="")  # the policy rule that decided
    decision: Mapped[str] = mapped_column(String(10), index=True)
    suggestion: Mapped[str] = mapped_column(Text, default="")
    suggestion_kind: Mapped[str] = mapped_column(String(10), default="public")  # public | private
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    hidden: Mapped[bool] = mapped_column(default=False)
    reply_text: Mapped[str | None] = mapped_column(Text)
    reply_kind: Mapped[str | None] = mapped_column(String(10))
    reply_id: Mapped[str | None] = mapped_column(String(128))
    replied_by: Mapped[str | None] = mapped_column(String(80))  # an agent's username, or "bot"
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewItem(Base):
    """A customer message the assistant was unsure about, for a content editor (bot/content/review.py).

    One row per Rasa `user` event, filed by the monitoring service's review reader with the reasons it
    was picked. `status`: open → accepted (the editor's intent and example, not yet in the YAML) →
    written (in `written_to`), or dismissed (not useful). The customer's text stays here as Rasa stored
    it; editors only ever see it masked (bot/content/masking.py), and never the conversation's id.
    """

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(unique=True)  # Rasa's events.id
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    channel: Mapped[str] = mapped_column(String(40), default="")
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(80), index=True)  # predicted (before any fallback)
    confidence: Mapped[float | None] = mapped_column()
    entities: Mapped[str] = mapped_column(Text, default="[]")  # predicted: [{start, end, entity, value}]
    reasons: Mapped[str] = mapped_column(String(200), default="")  # comma-separated, bot/content/review.py
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    decided_intent: Mapped[str | None] = mapped_column(String(80))
    example: Mapped[str | None] = mapped_column(Text)  # the training line, in Rasa's [value](entity) markup
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    written_to: Mapped[str | None] = mapped_column(String(300))
    heldout: Mapped[bool | None] = mapped_column()
    said_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerProfile(Base):
    """A customer's name, handle and picture as their platform gave them (bot/customers/profiles.py).

    A cache, one row per platform user: `status` "ok" (fetched, or taken from X's webhook) or "failed"
    (the platform refused or did not answer; retried sooner than a good profile is refreshed). The
    picture is the platform's URL, only ever fetched by the desk's media proxy, never shown to browsers.
    """

    __tablename__ = "customer_profiles"
    __table_args__ = (UniqueConstraint("channel", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(128))  # PSID, IGSID or X user id: the conversation id
    name: Mapped[str | None] = mapped_column(String(200))
    handle: Mapped[str | None] = mapped_column(String(200))  # Instagram username / X screen name, no @
    picture_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="ok")
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BotSession(Base):
    """A conversation the bot handled alone, from the customer's first message to its end, and its rating.

    Written by the monitoring service as it reads Rasa's events (bot/monitoring/bot_sessions.py): a row
    opens with a customer message and follows the conversation until Rasa starts a new session. `state`:
    open → ended (thanks/bye, or quiet for BOT_CSAT_QUIET_MINUTES after a bot answer), or handed (a
    handoff, a pause, a person answering: not the bot's alone). An ended row may be asked for the
    assistant's 1-5 rating once (`asked_at`, set before Rasa is asked, so a restart never asks twice);
    the rating action stores `score`. Analytics reads `topic` to see whether the customer came back
    about the same thing within 48 h (verified containment, bot/monitoring/analytics/conversations.py).
    """

    __tablename__ = "bot_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    channel: Mapped[str] = mapped_column(String(20), default="")
    state: Mapped[str] = mapped_column(String(10), default="open", index=True)  # open | ended | handed
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_customer_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_bot_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_event_id: Mapped[int] = mapped_column(default=0)  # Rasa's events.id: a re-read changes nothing
    topic: Mapped[str | None] = mapped_column(String(80), index=True)  # the first intent asked about
    intents: Mapped[str] = mapped_column(String(400), default="")  # every intent, comma-separated, in order
    in_form: Mapped[bool] = mapped_column(default=False)
    session_over: Mapped[bool] = mapped_column(default=False)  # Rasa started a new session after it
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    end_reason: Mapped[str | None] = mapped_column(String(10))  # thanks | quiet
    asked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    not_asked: Mapped[str | None] = mapped_column(String(20))  # why an ended session was never asked
    ask_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ask_attempts: Mapped[int] = mapped_column(default=0)
    score: Mapped[int | None] = mapped_column()
    rated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
