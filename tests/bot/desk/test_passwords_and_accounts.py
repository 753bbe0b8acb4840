"""Passwords are hashed with scrypt; sign-in locks an account after repeated failures; sessions end."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.desk.accounts import AccountError, SignInError
from bot.desk.passwords import WeakPasswordError, hash_password, verify_password
from bot.storage.models import Agent, AuditEntry, DeskSession, utcnow

from .conftest import PASSWORD


def test_hashes_are_salted_and_verify():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second and first.startswith("scrypt$") and PASSWORD not in first
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + "x", first)
    assert not verify_password(PASSWORD, "md5$abc") and not verify_password(PASSWORD, "garbage")
    with pytest.raises(WeakPasswordError):
        hash_password("short")


async def test_sign_in_and_out(accounts, people):
    signed_in = await accounts.sign_in("ADA ", PASSWORD)
    assert signed_in.agent.username == "ada"
    agent, csrf = await accounts.session(signed_in.token)
    assert agent.id == people["ada"].id and csrf == signed_in.csrf_token
    await accounts.sign_out(signed_in.token)
    assert await accounts.session(signed_in.token) is None
    assert await accounts.session("made-up") is None and await accounts.session(None) is None


async def test_session_table_holds_no_usable_token(accounts, people, database):
    signed_in = await accounts.sign_in("ada", PASSWORD)
    async with database.sessions() as session:
        stored = list(await session.scalars(select(DeskSession.token_hash)))
    assert stored and signed_in.token not in stored


async def test_expired_sessions_are_refused(accounts, people, database):
    signed_in = await accounts.sign_in("ada", PASSWORD)
    async with database.sessions() as session, session.begin():
        await session.execute(update(DeskSession).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert await accounts.session(signed_in.token) is None


async def test_lockout_after_repeated_failures(accounts, people, database):
    for _ in range(3):
        with pytest.raises(SignInError, match="wrong username or password"):
            await accounts.sign_in("ada", "not the password")
    with pytest.raises(SignInError, match="locked"):
        await accounts.sign_in("ada", PASSWORD)  # even the right password, while locked
    assert (await accounts.sign_in("bob", PASSWORD)).agent.username == "bob"  # others are not affected
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(Agent)
            .where(Agent.username == "ada")
            .values(locked_until=utcnow() - dt.timedelta(seconds=1))
        )
    assert (await accounts.sign_in("ada", PASSWORD)).agent.username == "ada"
    async with database.sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "ada")))
    assert actions.count("sign_in_failed") == 2 and "account_locked" in actions
    assert "sign_in_refused_locked" in actions and actions.count("signed_in") == 1


async def test_a_success_resets_the_failure_count(accounts, people):
    for _ in range(2):
        with pytest.raises(SignInError):
            await accounts.sign_in("ada", "nope nope nope")
    await accounts.sign_in("ada", PASSWORD)
    for _ in range(2):
        with pytest.raises(SignInError):
            await accounts.sign_in("ada", "nope nope nope")
    assert (await accounts.sign_in("ada", PASSWORD)).agent.username == "ada"


async def test_unknown_users_get_the_same_answer(accounts, people):
    with pytest.raises(SignInError, match="wrong username or password"):
        await accounts.sign_in("nobody", PASSWORD)


async def test_account_rules(accounts, people):
    with pytest.raises(AccountError, match="taken"):
        await accounts.add("Ada", "Other Ada", PASSWORD)
    with pytest.raises(AccountError, match="role"):
        await accounts.add("eve", "Eve", PASSWORD, role="admin")
    with pytest.raises(AccountError, match="usernames"):
        await accounts.add("e ve<script>", "Eve", PASSWORD)
    with pytest.raises(WeakPasswordError):
        await accounts.add("eve", "Eve", "123")
