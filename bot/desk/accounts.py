"""Agent accounts and signed-in sessions: hashed passwords, lock-out after repeated failures."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from bot.desk import audit
from bot.desk.config import Lockout
from bot.desk.passwords import DUMMY_HASH, hash_password, verify_password
from bot.storage.db import Database
from bot.storage.models import Agent, DeskSession, utcnow

ROLES = ("agent", "supervisor")


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

    def __init__(self, database: Database, lockout: Lockout, session_hours: int = 12) -> None:
        self._db = database
        self._lockout = lockout
        self._session_hours = session_hours

    async def add(self, username: str, display_name: str, password: str, role: str = "agent") -> Agent:
        """A new account; refuses unknown roles, taken usernames and short passwords."""
        username = username.strip().lower()
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
            raise AccountError("usernames are letters, digits, dots, dashes and underscores")
        async with self._db.sessions() as session, session.begin():
            if await session.scalar(select(Agent).where(Agent.username == username)):
                raise AccountError(f"username {username!r} is taken")
            agent = Agent(
                username=username,
                display_name=display_name.strip() or username,
                role=role,
                password_hash=hash_password(password),
            )
            session.add(agent)
            await session.flush()
            audit.record(session, "system", "account_created", username=username, role=role)
            return agent

    async def get(self, username: str) -> Agent | None:
        """The account called `username`."""
        async with self._db.sessions() as session:
            return await session.scalar(select(Agent).where(Agent.username == username.strip().lower()))

    async def active_agents(self) -> list[Agent]:
        """Everyone who may be given a conversation."""
        async with self._db.sessions() as session:
            return list(await session.scalars(select(Agent).where(Agent.active).order_by(Agent.display_name)))

    async def sign_in(self, username: str, password: str) -> SignedIn:
        """Check the password (with lock-out) and open a session."""
        now = utcnow()
        refusal: str | None = None
        async with self._db.sessions() as session, session.begin():
            # The failure count must be committed, so refusals are raised after the transaction.
            agent = await session.scalar(
                select(Agent).where(Agent.username == username.strip().lower()).with_for_update()
            )
            if agent is None or not agent.active:
                verify_password(password, DUMMY_HASH)
                refusal = "wrong username or password"
            elif agent.locked_until is not None and agent.locked_until > now:
                audit.record(session, agent, "sign_in_refused_locked")
                refusal = "too many failed sign-ins: this account is locked for a while"
            elif not verify_password(password, agent.password_hash):
                agent.failed_logins += 1
                detail = {"failed_logins": agent.failed_logins}
                if agent.failed_logins >= self._lockout.attempts:
                    agent.locked_until = now + dt.timedelta(minutes=self._lockout.minutes)
                    agent.failed_logins = 0
                    audit.record(session, agent, "account_locked", **detail)
                else:
                    audit.record(session, agent, "sign_in_failed", **detail)
                refusal = "wrong username or password"
            else:
                agent.failed_logins = 0
                agent.locked_until = None
                token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
                session.add(
                    DeskSession(
                        token_hash=token_hash(token),
                        agent_id=agent.id,
                        csrf_token=csrf,
                        expires_at=now + dt.timedelta(hours=self._session_hours),
                    )
                )
                audit.record(session, agent, "signed_in")
        if refusal is not None or agent is None:
            raise SignInError(refusal)
        return SignedIn(token, csrf, agent)

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
