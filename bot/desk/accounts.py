"""Agent accounts and signed-in sessions: hashed passwords, sign-in throttled per name and per address.

Every refusal says the same thing (`REFUSED`), whether the name is unknown, the password wrong, or the
throttle closed, and an unknown name costs the same scrypt time as a known one. Hashing runs in a worker
thread (at most `HASHING_AT_ONCE` per process: each takes 128 MiB) and never inside a transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from bot.desk.assignment import parse_channels
from bot.desk.config import Lockout
from bot.desk.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from bot.desk.throttle import SignInThrottle
from bot.language.skills import stored
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.models import Agent, DeskSession, utcnow

logger = logging.getLogger(__name__)
ROLES = ("agent", "supervisor", "editor")  # editor: the review queue only (bot/desk/review_pages.py)
EDITOR = "editor"
REFUSED = "wrong username or password, or too many attempts: wait a few minutes and try again"
HASHING_AT_ONCE = 2


class AccountError(ValueError):
    """An account cannot be created as asked."""


class SignInError(Exception):
    """Sign-in refused; the message is safe to show (it never says which part was wrong)."""


@dataclass(frozen=True)
class SignedIn:
    """A session: the cookie value (shown once) and the agent."""

    token: str
    csrf_token: str
    agent: Agent


def token_hash(token: str) -> str:
    """What the sessions table stores instead of the cookie value."""
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Creates agents, checks passwords, opens and closes sessions."""

    def __init__(
        self,
        database: Database,
        lockout: Lockout,
        session_hours: int = 12,
        throttle: SignInThrottle | None = None,
    ) -> None:
        self._db = database
        self._lockout = lockout
        self._session_hours = session_hours
        self.throttle = throttle or SignInThrottle(lockout)
        self._hashing = asyncio.Semaphore(HASHING_AT_ONCE)

    async def _hash(self, password: str) -> str:
        async with self._hashing:
            return await asyncio.to_thread(hash_password, password)

    async def _verify(self, password: str, stored: str) -> bool:
        async with self._hashing:
            return await asyncio.to_thread(verify_password, password, stored)

    async def add(
        self, username: str, display_name: str, password: str, role: str = "agent", languages: str = "en"
    ) -> Agent:
        """A new account; refuses unknown roles, taken usernames, short passwords and bad language codes."""
        username = username.strip().lower()
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        spoken = _languages(languages)
        if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
            raise AccountError("usernames are letters, digits, dots, dashes and underscores")
        if await self.get(username) is not None:  # checked again in the transaction
            raise AccountError(f"username {username!r} is taken")
        password_hash = await self._hash(password)
        async with self._db.sessions() as session, session.begin():
            if await session.scalar(select(Agent).where(Agent.username == username)):
                raise AccountError(f"username {username!r} is taken")
            agent = Agent(
                username=username,
                display_name=display_name.strip() or username,
                role=role,
                password_hash=password_hash,
                languages=spoken,
            )
            session.add(agent)
            await session.flush()
            audit.record(session, "system", "account_created", username=username, role=role, languages=spoken)
            return agent

    async def set_languages(self, username: str, languages: str) -> Agent:
        """Change the languages someone answers customers in ("en,es"); the audit trail says who had what."""
        return await self._change(username, "languages_changed", languages=_languages(languages))

    async def set_capacity(self, username: str, capacity: int | None) -> Agent:
        """How many conversations the assigner gives someone at once (None: desk.yml's; 0: none)."""
        if capacity is not None and not 0 <= capacity <= 1000:
            raise AccountError("a capacity is a number of conversations, 0 to 1000")
        return await self._change(username, "capacity_changed", capacity=capacity)

    async def set_channels(self, username: str, channels: str) -> Agent:
        """The channels the assigner gives someone conversations from ("messenger,instagram"; "" or all)."""
        try:
            names = ",".join(parse_channels("" if channels.strip().lower() == "all" else channels))
        except ValueError as err:
            raise AccountError(str(err)) from err
        return await self._change(username, "channels_changed", channels=names)

    async def _change(self, username: str, action: str, **values: object) -> Agent:
        """Set one account's fields; each change is audited with what it was before."""
        async with self._db.sessions() as session, session.begin():
            agent = await session.scalar(select(Agent).where(Agent.username == username.strip().lower()))
            if agent is None:
                raise AccountError(f"no account called {username!r}")
            for name, value in values.items():
                before = getattr(agent, name)
                setattr(agent, name, value)
                audit.record(session, "system", action, username=agent.username, before=before, after=value)
            return agent

    async def get(self, username: str) -> Agent | None:
        """The account called `username`."""
        async with self._db.sessions() as session:
            return await session.scalar(select(Agent).where(Agent.username == username.strip().lower()))

    async def active_agents(self) -> list[Agent]:
        """Everyone who may be given a conversation (content editors never are)."""
        async with self._db.sessions() as session:
            query = select(Agent).where(Agent.active, Agent.role != EDITOR).order_by(Agent.display_name)
            return list(await session.scalars(query))

    async def sign_in(self, username: str, password: str, address: str = "") -> SignedIn:
        """Check the password (throttled per name and per client address) and open a session."""
        username = username.strip().lower()
        if await self.throttle.blocked(username, address):
            logger.info("desk sign-in for %r from %s refused by the throttle", username, address)
            raise SignInError(REFUSED)
        agent = await self.get(username)
        usable = agent is not None and agent.active
        # (the dummy hash is made at start-up: `start`)
        stored = agent.password_hash if agent is not None and usable else await asyncio.to_thread(dummy_hash)
        if not await self._verify(password, stored) or agent is None or not usable:
            reached = await self.throttle.failed(username, address)
            action = "account_throttled" if reached else "sign_in_failed"
            async with self._db.sessions() as session, session.begin():  # the same work for any name
                if agent is not None:
                    audit.record(session, agent, action, address=address)
                else:
                    audit.record(session, "unknown user", action, username=username[:80], address=address)
            raise SignInError(REFUSED)
        await self.throttle.succeeded(username)
        # A hash made with weaker parameters is replaced now that the password is known (outside the
        # transaction: hashing takes a while, and must not hold a row lock or a connection meanwhile).
        upgraded = await self._hash(password) if needs_rehash(stored) else None
        now = utcnow()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        async with self._db.sessions() as session, session.begin():
            current = await session.get(Agent, agent.id)
            if current is None or not current.active or current.password_hash != stored:
                raise SignInError(REFUSED)  # deactivated, or the password changed meanwhile
            if upgraded is not None:
                current.password_hash = upgraded
                audit.record(session, current, "password_rehashed")
            session.add(
                DeskSession(
                    token_hash=token_hash(token),
                    agent_id=current.id,
                    csrf_token=csrf,
                    expires_at=now + dt.timedelta(hours=self._session_hours),
                )
            )
            audit.record(session, current, "signed_in")
        return SignedIn(token, csrf, current)

    async def start(self) -> None:
        """Make the unknown-user hash now, so the first unknown name costs no more than any other."""
        await asyncio.to_thread(dummy_hash)

    async def close(self) -> None:
        """Release the throttle's connection."""
        await self.throttle.close()

    async def session(self, token: str | None) -> tuple[Agent, str] | None:
        """The agent and CSRF token of a live session, or None."""
        if not token:
            return None
        async with self._db.sessions() as session:
            row = await session.get(DeskSession, token_hash(token))
            if row is None or row.expires_at <= utcnow():
                return None
            agent = await session.get(Agent, row.agent_id)
            if agent is None or not agent.active:
                return None
            return agent, row.csrf_token

    async def sign_out(self, token: str) -> None:
        """End a session (and sweep expired ones)."""
        async with self._db.sessions() as session, session.begin():
            row = await session.get(DeskSession, token_hash(token))
            if row is not None:
                agent = await session.get(Agent, row.agent_id)
                if agent is not None:
                    audit.record(session, agent, "signed_out")
                await session.delete(row)
            await session.execute(delete(DeskSession).where(DeskSession.expires_at <= utcnow()))


def _languages(value: str) -> str:
    """The stored form of a language list, or the reason it is refused."""
    try:
        return stored(value)
    except ValueError as err:
        raise AccountError(str(err)) from err
