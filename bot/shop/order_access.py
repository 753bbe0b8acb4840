"""Who may see or change an order: its customer's linked platform identities, or whoever gives its 2nd factor.

An order number alone proves nothing (there are only 100,000 of them). An order is shown or changed only
for a conversation whose platform identity (channel + sender id) is linked to the order's customer in
`customer_identities`, or after the customer gave the order's second factor: the e-mail address of its
customer or its delivery postcode, as shops' order-status pages ask. Failed attempts are counted in SQL
(every action-server replica sees them) per conversation, per platform user and per order number; past
the limit even the right answer is refused for a while. Whether a number exists is never told to someone
who has not proved it is theirs: a wrong answer and an unknown number look the same.
"""

from __future__ import annotations

import datetime as dt
import enum
import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import case, delete, func, or_, select

from bot.storage.db import Database
from bot.storage.models import Customer, CustomerIdentity, Order, OrderCheckFailure, utcnow

# Channels whose sender id is a platform identity (Meta's page-scoped ids, X user ids). Rasa's REST
# channel is not one: its caller names the sender, so a REST conversation is never linked.
LINKABLE_CHANNELS = ("messenger", "instagram", "twitter")

# Failed second-factor attempts allowed per conversation, per platform user and per order number within
# the window; the next attempt (even a right one) is refused until old failures leave the window.
MAX_FAILED_CHECKS = 5
FAILED_CHECKS_WINDOW = dt.timedelta(hours=1)
# Failures older than this are deleted when a new one is recorded (they no longer count).
KEEP_FAILURES = dt.timedelta(days=1)

EMAIL_PATTERN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# UK postcodes: outward code (A9, A99, A9A, AA9, AA99, AA9A), optional space, inward code (9AA).
POSTCODE_PATTERN = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,2}\d[A-Za-z\d]?)\s*(\d[A-Za-z]{2})(?![A-Za-z0-9])"
)


@dataclass(frozen=True)
class Identity:
    """Who is writing: Rasa's input channel and sender id (the conversation is keyed by the sender id)."""

    channel: str | None
    sender_id: str

    @property
    def linkable(self) -> bool:
        """Whether the sender id is a platform identity that can be linked to a customer."""
        return self.channel in LINKABLE_CHANNELS


@dataclass(frozen=True)
class Factor:
    """A normalised second factor found in what the customer wrote."""

    kind: str  # "email" | "postcode"
    value: str


class CheckOutcome(enum.Enum):
    """How a second-factor answer went."""

    VERIFIED = "verified"
    MISMATCH = "mismatch"  # wrong answer, or no such order: the customer is told the same
    LOCKED = "locked"  # too many failures: refused without looking
    NOT_AN_ATTEMPT = "not_an_attempt"  # "I don't know": no '@' and no digit, not counted


@dataclass(frozen=True)
class AttemptLimits:
    """How many failed attempts are allowed in which window (per conversation, user and order)."""

    max_failures: int = MAX_FAILED_CHECKS
    window: dt.timedelta = FAILED_CHECKS_WINDOW


def normalise_email(text: str) -> str:
    """E-mail addresses compare without case or surrounding spaces."""
    return text.strip().lower()


def normalise_postcode(text: str) -> str:
    """Postcodes compare without case or spaces ("sw1a 1aa" == "SW1A1AA")."""
    return re.sub(r"\s+", "", text).upper()


def find_factor(text: object) -> Factor | None:
    """The e-mail address or postcode in a reply ("it's SW1A 1AA", "amy@example.com"), if there is one."""
    text = str(text or "")
    if email := EMAIL_PATTERN.search(text):
        return Factor("email", normalise_email(email.group(0)))
    if postcode := POSTCODE_PATTERN.search(text):
        return Factor("postcode", normalise_postcode(postcode.group(1) + postcode.group(2)))
    return None


def is_attempt(text: object) -> bool:
    """Whether a reply could be a guess at an e-mail or postcode (it has an '@' or a digit)."""
    text = str(text or "")
    return "@" in text or any(ch.isdigit() for ch in text)


def factor_matches(factor: Factor | None, email: str | None, postcode: str | None) -> bool:
    """Constant-time comparison of the given factor with the order's (no order: compare with a dummy)."""
    expected = None
    if factor is not None and factor.kind == "email" and email:
        expected = normalise_email(email)
    elif factor is not None and factor.kind == "postcode" and postcode:
        expected = normalise_postcode(postcode)
    given = factor.value if factor is not None else ""
    # Always one compare_digest, whatever is missing, so a missing order is not faster to refuse.
    same = hmac.compare_digest(given.encode(), (expected or "\x00").encode())
    return same and expected is not None


class OrderAccess:
    """Decides whether a conversation may see an order, checks second factors, counts failures."""

    def __init__(
        self,
        database: Database,
        limits: AttemptLimits | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._db = database
        self.limits = limits or AttemptLimits()
        self._clock = clock

    async def is_linked(self, identity: Identity, order_id: int) -> bool:
        """Whether the order belongs to the customer this platform identity is linked to."""
        if not identity.linkable:
            return False
        query = (
            select(Order.id)
            .join(CustomerIdentity, CustomerIdentity.customer_id == Order.customer_id)
            .where(
                Order.id == order_id,
                CustomerIdentity.channel == identity.channel,
                CustomerIdentity.external_id == identity.sender_id,
            )
        )
        async with self._db.sessions() as session:
            return await session.scalar(query) is not None

    async def may_see(self, identity: Identity, order_id: int, verified: Iterable[str] = ()) -> bool:
        """Linked to the conversation's customer, or verified with its second factor in this conversation."""
        if str(order_id) in {str(v) for v in verified}:
            return True
        return await self.is_linked(identity, order_id)

    async def check(self, identity: Identity, order_id: int, text: object) -> CheckOutcome:
        """Check a second-factor answer for an order, counting it against the limits.

        The attempt is recorded before the count, so simultaneous attempts on several replicas see each
        other and at most `max_failures` get through; a right answer or a refused one removes its row.
        """
        if not is_attempt(text):
            return CheckOutcome.NOT_AN_ATTEMPT
        now = self._clock()
        attempt = OrderCheckFailure(
            at=now,
            channel=identity.channel or "",
            sender_id=identity.sender_id,
            order_id=order_id,
        )
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                delete(OrderCheckFailure).where(
                    OrderCheckFailure.at < now - max(self.limits.window, KEEP_FAILURES)
                )
            )
            session.add(attempt)
        if max(await self.recent_failures(identity, order_id, now)) > self.limits.max_failures:
            await self._forget(attempt.id)
            return CheckOutcome.LOCKED
        query = (
            select(Customer.email, Order.shipping_postcode).join(Order.customer).where(Order.id == order_id)
        )
        async with self._db.sessions() as session:
            row = (await session.execute(query)).first()
        email, postcode = (row.email, row.shipping_postcode) if row else (None, None)
        if factor_matches(find_factor(text), email, postcode):
            await self._forget(attempt.id)
            return CheckOutcome.VERIFIED
        return CheckOutcome.MISMATCH

    async def recent_failures(
        self, identity: Identity, order_id: int, now: dt.datetime | None = None
    ) -> tuple[int, int, int]:
        """Failures within the window: in this conversation, by this platform user, on this order number."""
        since = (now or self._clock()) - self.limits.window
        table = OrderCheckFailure
        in_conversation = table.sender_id == identity.sender_id  # Rasa keys a conversation by its sender
        by_user = (table.channel == (identity.channel or "")) & (table.sender_id == identity.sender_id)
        on_order = table.order_id == order_id

        def tally(condition: object) -> object:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        query = select(tally(in_conversation), tally(by_user), tally(on_order)).where(
            table.at >= since, or_(in_conversation, by_user, on_order)
        )
        async with self._db.sessions() as session:
            row = (await session.execute(query)).one()
        return int(row[0]), int(row[1]), int(row[2])

    async def _forget(self, attempt_id: int) -> None:
        async with self._db.sessions() as session, session.begin():
            await session.execute(delete(OrderCheckFailure).where(OrderCheckFailure.id == attempt_id))

    async def link(self, channel: str, external_id: str, email: str) -> Customer:
        """Link a platform identity to the customer with this e-mail (moved if it was linked elsewhere)."""
        if channel not in LINKABLE_CHANNELS:
            raise ValueError(f"cannot link {channel!r}: only {', '.join(LINKABLE_CHANNELS)} identities")
        if not external_id.strip():
            raise ValueError("the platform user id is empty")
        async with self._db.sessions() as session, session.begin():
            customer = await session.scalar(
                select(Customer).where(func.lower(Customer.email) == normalise_email(email))
            )
            if customer is None:
                raise LookupError(f"no customer with the e-mail {email}")
            existing = await session.scalar(
                select(CustomerIdentity).where(
                    CustomerIdentity.channel == channel, CustomerIdentity.external_id == external_id
                )
            )
            if existing is None:
                session.add(
                    CustomerIdentity(channel=channel, external_id=external_id, customer_id=customer.id)
                )
            else:
                existing.customer_id = customer.id
            return customer

    async def unlink(self, channel: str, external_id: str) -> bool:
        """Remove a link; whether there was one."""
        async with self._db.sessions() as session, session.begin():
            result = await session.execute(
                delete(CustomerIdentity).where(
                    CustomerIdentity.channel == channel, CustomerIdentity.external_id == external_id
                )
            )
        return result.rowcount > 0
