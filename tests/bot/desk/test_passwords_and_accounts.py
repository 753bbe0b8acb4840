"""scrypt at OWASP's cost; sign-in throttled per name and per address, one refusal message; sessions."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from sqlalchemy import select, update

from bot.desk import accounts as accounts_module
from bot.desk import passwords
from bot.desk.accounts import REFUSED, AccountError, Accounts, SignInError
from bot.desk.config import Lockout
from bot.desk.passwords import WeakPasswordError, hash_password, verify_password
from bot.desk.throttle import SignInThrottle
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


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def refused(accounts: Accounts, username: str, password: str, address: str = "10.0.0.1") -> str:
    with pytest.raises(SignInError) as caught:
        await accounts.sign_in(username, password, address)
    return str(caught.value)


async def test_a_name_is_throttled_after_repeated_failures(database, people):
    clock = Clock()
    lockout = Lockout(attempts=3, minutes=15, ip_attempts=100)
    accounts = Accounts(database, lockout, throttle=SignInThrottle(lockout, clock=clock))
    for n in range(3):
        await refused(accounts, "ada", "not the password", f"10.0.0.{n}")  # from three addresses
    assert await refused(accounts, "ada", PASSWORD, "10.9.9.9") == REFUSED  # even the right password
    assert (await accounts.sign_in("bob", PASSWORD, "10.0.0.1")).agent.username == "bob"  # others go on
    clock.now += 15 * 60 + 1
    assert (await accounts.sign_in("ada", PASSWORD, "10.0.0.1")).agent.username == "ada"
    async with database.sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "ada")))
    assert actions.count("sign_in_failed") == 2 and "account_throttled" in actions
    assert actions.count("signed_in") == 1


async def test_an_address_is_throttled_across_names(database, people):
    lockout = Lockout(attempts=100, minutes=15, ip_attempts=4)
    accounts = Accounts(database, lockout)
    for name in ("ada", "bob", "nobody", "sam"):
        await refused(accounts, name, "guess guess guess", "203.0.113.7")
    assert await refused(accounts, "bob", PASSWORD, "203.0.113.7") == REFUSED
    assert (await accounts.sign_in("bob", PASSWORD, "198.51.100.1")).agent.username == "bob"


async def test_a_success_resets_the_names_count(accounts, people):
    for _ in range(2):
        await refused(accounts, "ada", "nope nope nope")
    await accounts.sign_in("ada", PASSWORD, "10.0.0.1")
    for _ in range(2):
        await refused(accounts, "ada", "nope nope nope")
    assert (await accounts.sign_in("ada", PASSWORD, "10.0.0.1")).agent.username == "ada"


async def test_unknown_wrong_and_throttled_get_one_message(accounts, people):
    unknown = await refused(accounts, "nobody", PASSWORD)
    wrong = await refused(accounts, "ada", "not the password")
    for _ in range(3):
        await refused(accounts, "ada", "not the password", "10.0.0.2")
    throttled = await refused(accounts, "ada", PASSWORD, "10.0.0.3")
    assert unknown == wrong == throttled == REFUSED
    assert "lock" not in REFUSED  # nothing says an account exists and is locked


async def test_unknown_names_are_throttled_like_real_ones(accounts, people):
    for _ in range(3):
        await refused(accounts, "nobody", "guess guess guess")
    for _ in range(3):
        await refused(accounts, "ada", "guess guess guess")
    assert accounts.throttle is not None
    assert await accounts.throttle.blocked("nobody", "10.9.9.9") and await accounts.throttle.blocked(
        "ada", ""
    )


async def test_an_unknown_name_costs_a_hash_at_todays_parameters_in_a_thread(accounts, people, monkeypatch):
    checked: list[tuple[object, int]] = []
    real = accounts_module.verify_password

    def recording(password: str, stored: str) -> bool:
        checked.append((passwords.stored_cost(stored), threading.get_ident()))
        return real(password, stored)

    monkeypatch.setattr(accounts_module, "verify_password", recording)
    await refused(accounts, "nobody", PASSWORD)
    await refused(accounts, "ada", "not the password")
    assert [cost for cost, _ in checked] == [passwords.CURRENT, passwords.CURRENT]
    assert all(thread != threading.get_ident() for _, thread in checked)


async def test_the_throttle_is_shared_through_redis(database, people, redis_url):
    lockout = Lockout(attempts=3, minutes=15, ip_attempts=100)
    replicas = [Accounts(database, lockout, throttle=SignInThrottle(lockout, redis_url)) for _ in range(2)]
    name = f"r{uuid.uuid4().hex[:10]}"
    await replicas[0].add(name, "Redis Test", PASSWORD)
    try:
        for n in range(3):
            await refused(replicas[n % 2], name, "not the password", f"10.1.0.{n}")
        assert await refused(replicas[1], name, PASSWORD, "10.1.1.1") == REFUSED
        assert await refused(replicas[0], name, PASSWORD, "10.1.1.2") == REFUSED
    finally:
        await replicas[0].throttle.succeeded(name)
        for replica in replicas:
            await replica.close()


def test_new_hashes_use_owasps_minimum(owasp_cost):
    stored = hash_password(PASSWORD)
    assert passwords.stored_cost(stored) == passwords.Cost(2**17, 8, 1) == owasp_cost
    assert verify_password(PASSWORD, stored) and not passwords.needs_rehash(stored)


async def test_old_hashes_verify_and_are_rehashed_at_sign_in(database, owasp_cost):
    accounts = Accounts(database, Lockout())
    old = hash_password(PASSWORD, passwords.Cost(2**14, 8, 1))  # what the desk stored before
    assert verify_password(PASSWORD, old) and passwords.needs_rehash(old)
    async with database.sessions() as session, session.begin():
        session.add(Agent(username="old", display_name="Old", role="agent", password_hash=old))
    assert (await accounts.sign_in("old", PASSWORD, "10.0.0.1")).agent.username == "old"
    stored = (await accounts.get("old")).password_hash
    assert stored != old and passwords.stored_cost(stored) == owasp_cost
    assert verify_password(PASSWORD, stored)
    async with database.sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "old")))
    assert actions == ["password_rehashed", "signed_in"]


async def test_account_rules(accounts, people):
    with pytest.raises(AccountError, match="taken"):
        await accounts.add("Ada", "Other Ada", PASSWORD)
    with pytest.raises(AccountError, match="role"):
        await accounts.add("eve", "Eve", PASSWORD, role="admin")
    with pytest.raises(AccountError, match="usernames"):
        await accounts.add("e ve<script>", "Eve", PASSWORD)
    with pytest.raises(WeakPasswordError):
        await accounts.add("eve", "Eve", "123")


async def test_without_redis_the_throttle_still_counts_in_the_process(caplog):
    lockout = Lockout(attempts=2, minutes=15, ip_attempts=100)
    throttle = SignInThrottle(lockout, "redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        assert not await throttle.blocked("ada", "10.0.0.1")
        await throttle.failed("ada", "10.0.0.1")
        assert await throttle.failed("ada", "10.0.0.2")  # the second failure reaches the limit
        assert await throttle.blocked("ada", "10.0.0.3")
    finally:
        await throttle.close()
    assert "Redis unavailable" in caplog.text
