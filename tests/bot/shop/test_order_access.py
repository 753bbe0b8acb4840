"""Who may see an order: linked identities, second factors, and the limit on failed attempts.

The pure parts (finding and comparing factors) first, then `OrderAccess` on both supported databases
(real PostgreSQL and a SQLite file) with the demo data.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.shop.order_access import (
    AttemptLimits,
    CheckOutcome,
    Factor,
    Identity,
    OrderAccess,
    factor_matches,
    find_factor,
    is_attempt,
)
from bot.storage.db import Database, create_sync_engine
from bot.storage.models import CustomerIdentity, Order, OrderCheckFailure
from bot.storage.seed import seed

AMY_MESSENGER = Identity("messenger", "sim-amy")  # seeded link: Amy Clarke, orders 104523 and 112930
STRANGER = Identity("messenger", "2400000000000099")
AMY_ORDER, JORDAN_ORDER, NO_SUCH_ORDER = 104523, 100871, 199999


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("N1 9GU", Factor("postcode", "N19GU")),
        ("its n1 9gu thanks", Factor("postcode", "N19GU")),
        ("postcode: EC2A4NE", Factor("postcode", "EC2A4NE")),
        ("sw1a  1aa", Factor("postcode", "SW1A1AA")),
        ("  Amy.Clarke@Example.COM ", Factor("email", "amy.clarke@example.com")),
        ("email is jordan.p@example.com, postcode M4 5JD", Factor("email", "jordan.p@example.com")),
    ],
)
def test_factors_are_found_and_normalised(text, expected):
    assert find_factor(text) == expected


@pytest.mark.parametrize("text", ["", None, "I don't know", "104523", "size M", "N1", "call 07700 900123"])
def test_no_factor_in_other_text(text):
    assert find_factor(text) is None


@pytest.mark.parametrize(
    ("text", "attempt"),
    [("I don't know", False), ("no idea sorry", False), ("N1 9GU", True), ("x@y", True), ("flat 4", True)],
)
def test_only_text_with_an_at_sign_or_a_digit_is_an_attempt(text, attempt):
    assert is_attempt(text) is attempt


def test_factors_match_only_the_right_kind_and_value():
    email, postcode = "Amy.Clarke@example.com", "N1 9GU"
    assert factor_matches(Factor("email", "amy.clarke@example.com"), email, postcode)
    assert factor_matches(Factor("postcode", "N19GU"), email, postcode)
    assert not factor_matches(Factor("postcode", "N19GV"), email, postcode)
    assert not factor_matches(Factor("email", "n19gu"), email, postcode)  # a postcode is not an e-mail
    assert not factor_matches(None, email, postcode)
    # No order (or an order without a postcode): nothing matches, not even an empty answer.
    assert not factor_matches(Factor("postcode", ""), None, None)
    assert not factor_matches(Factor("email", "\x00"), None, None)


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request, fresh_database) -> str:
    """A migrated, seeded database of the test's own: PostgreSQL or a SQLite file."""
    url = fresh_database(request.param)
    engine = create_sync_engine(url)
    seed(engine)
    engine.dispose()
    return url


class Clock:
    """A settable clock for the failure window."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def access(database_url):
    database = Database(database_url)
    yield OrderAccess(database, AttemptLimits(max_failures=3, window=dt.timedelta(minutes=30)), Clock())
    await database.close()


def failures(database_url: str) -> int:
    engine = create_sync_engine(database_url)
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(OrderCheckFailure))
    finally:
        engine.dispose()


async def test_a_linked_identity_sees_its_customers_orders_only(access):
    assert await access.is_linked(AMY_MESSENGER, AMY_ORDER)
    assert await access.is_linked(AMY_MESSENGER, 112930)
    assert not await access.is_linked(AMY_MESSENGER, JORDAN_ORDER)
    assert not await access.is_linked(AMY_MESSENGER, NO_SUCH_ORDER)
    assert not await access.is_linked(STRANGER, AMY_ORDER)
    # The same id on another channel is another person; REST senders are never linked.
    assert not await access.is_linked(Identity("instagram", "sim-amy"), AMY_ORDER)
    assert not await access.is_linked(Identity("rest", "sim-amy"), AMY_ORDER)
    assert not await access.is_linked(Identity(None, "sim-amy"), AMY_ORDER)


async def test_may_see_a_verified_order(access):
    assert not await access.may_see(STRANGER, AMY_ORDER, [])
    assert await access.may_see(STRANGER, AMY_ORDER, ["112930", "104523"])
    assert await access.may_see(AMY_MESSENGER, AMY_ORDER, [])


async def test_the_orders_email_or_postcode_verifies_it(access, database_url):
    assert await access.check(STRANGER, AMY_ORDER, "its n1 9gu") is CheckOutcome.VERIFIED
    assert await access.check(STRANGER, AMY_ORDER, "AMY.CLARKE@example.com") is CheckOutcome.VERIFIED
    # Amy's other order went to her work postcode: each order has its own.
    assert await access.check(STRANGER, 112930, "EC2A 4NE") is CheckOutcome.VERIFIED
    assert await access.check(STRANGER, 112930, "N1 9GU") is CheckOutcome.MISMATCH
    # Another customer's details do not open the order.
    assert await access.check(STRANGER, AMY_ORDER, "jordan.p@example.com") is CheckOutcome.MISMATCH
    assert await access.check(STRANGER, AMY_ORDER, "I don't know") is CheckOutcome.NOT_AN_ATTEMPT
    assert failures(database_url) == 2  # only the two wrong answers count


async def test_a_missing_order_is_a_mismatch_like_any_other(access):
    assert await access.check(STRANGER, NO_SUCH_ORDER, "N1 9GU") is CheckOutcome.MISMATCH
    assert await access.check(STRANGER, NO_SUCH_ORDER, "amy.clarke@example.com") is CheckOutcome.MISMATCH


async def test_after_the_limit_even_the_right_answer_is_refused_until_the_window_passes(access):
    for wrong in ["E1 6AN", "E1 6AB", "E1 6AD"]:
        assert await access.check(STRANGER, AMY_ORDER, wrong) is CheckOutcome.MISMATCH
    assert await access.check(STRANGER, AMY_ORDER, "N1 9GU") is CheckOutcome.LOCKED
    assert await access.recent_failures(STRANGER, AMY_ORDER) == (3, 3, 3)  # refusals are not counted
    access._clock.now += dt.timedelta(minutes=31)
    assert await access.check(STRANGER, AMY_ORDER, "N1 9GU") is CheckOutcome.VERIFIED


async def test_limits_hold_per_order_across_conversations(access):
    for number in range(3):
        other = Identity("messenger", f"24000000000001{number}")
        assert await access.check(other, AMY_ORDER, "E1 6AN") is CheckOutcome.MISMATCH
    # A fresh conversation cannot keep guessing this order's postcode ...
    assert await access.check(Identity("twitter", "3999"), AMY_ORDER, "N1 9GU") is CheckOutcome.LOCKED
    # ... but may still prove another order (and the order's linked customer never needs a factor).
    assert await access.check(Identity("twitter", "3999"), JORDAN_ORDER, "M4 5JD") is CheckOutcome.VERIFIED
    assert await access.is_linked(AMY_MESSENGER, AMY_ORDER)


async def test_limits_hold_per_conversation_across_orders(access):
    for number in [110001, 110002, 110003]:
        assert await access.check(STRANGER, number, "E1 6AN") is CheckOutcome.MISMATCH
    assert await access.check(STRANGER, JORDAN_ORDER, "M4 5JD") is CheckOutcome.LOCKED
    assert await access.recent_failures(STRANGER, JORDAN_ORDER) == (3, 3, 0)


async def test_simultaneous_wrong_answers_cannot_pass_the_limit(access):
    outcomes = await asyncio.gather(*(access.check(STRANGER, AMY_ORDER, f"E1 {n}AN") for n in range(10)))
    assert set(outcomes) <= {CheckOutcome.MISMATCH, CheckOutcome.LOCKED}
    assert outcomes.count(CheckOutcome.MISMATCH) <= 3
    assert await access.check(STRANGER, AMY_ORDER, "N1 9GU") is (
        CheckOutcome.LOCKED if outcomes.count(CheckOutcome.MISMATCH) == 3 else CheckOutcome.VERIFIED
    )


async def test_link_and_unlink(access, database_url):
    customer = await access.link("instagram", "ig-777", " Jordan.P@example.com")
    assert customer.name == "Jordan Patel"
    assert await access.is_linked(Identity("instagram", "ig-777"), JORDAN_ORDER)
    await access.link("instagram", "ig-777", "amy.clarke@example.com")  # moved, not duplicated
    assert not await access.is_linked(Identity("instagram", "ig-777"), JORDAN_ORDER)
    assert await access.is_linked(Identity("instagram", "ig-777"), AMY_ORDER)
    assert await access.unlink("instagram", "ig-777")
    assert not await access.unlink("instagram", "ig-777")
    assert not await access.is_linked(Identity("instagram", "ig-777"), AMY_ORDER)
    with pytest.raises(ValueError):
        await access.link("rest", "anyone", "amy.clarke@example.com")
    with pytest.raises(LookupError):
        await access.link("messenger", "x", "nobody@example.com")


def test_seeded_orders_have_postcodes_and_personas_are_linked(database_url):
    engine = create_sync_engine(database_url)
    try:
        with Session(engine) as session:
            postcodes = {
                row.id: row.shipping_postcode
                for row in session.execute(select(Order.id, Order.shipping_postcode))
            }
            identities = session.scalar(select(func.count()).select_from(CustomerIdentity))
    finally:
        engine.dispose()
    assert postcodes[AMY_ORDER] == "N1 9GU" and postcodes[112930] == "EC2A 4NE"
    assert all(postcodes.values())
    assert identities == 15  # five personas on Messenger, Instagram and X


def test_the_cli_links_and_unlinks_a_platform_user(database_url, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    main(["customers", "link", "twitter", "3777", "Mia.Rossi@example.com"])
    assert "twitter user 3777 now sees the orders of mia.rossi@example.com" in capsys.readouterr().out
    engine = create_sync_engine(database_url)
    try:
        with Session(engine) as session:
            [row] = session.scalars(select(CustomerIdentity).where(CustomerIdentity.external_id == "3777"))
            assert (row.channel, row.customer.email) == ("twitter", "mia.rossi@example.com")
    finally:
        engine.dispose()
    main(["customers", "unlink", "twitter", "3777"])
    assert "no longer linked" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="was not linked"):
        main(["customers", "unlink", "twitter", "3777"])
    with pytest.raises(SystemExit, match="cannot link 'rest'"):
        main(["customers", "link", "rest", "anyone", "mia.rossi@example.com"])
    with pytest.raises(SystemExit, match="no customer with the e-mail"):
        main(["customers", "link", "messenger", "p1", "nobody@example.com"])
