"""The profile cache against the simulator's fake Graph API over real HTTP, on PostgreSQL and SQLite."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from bot.customers.const import FAILED, OK
from bot.customers.graph_profiles import GraphProfiles, parse_profile
from bot.customers.profiles import CustomerProfiles, Profile
from bot.desk.config import DeskConfig
from bot.storage.db import Database
from bot.storage.models import CustomerProfile, utcnow

from .sim_profiles import FakeMeta, fake_meta


@pytest.fixture(params=["postgresql", "sqlite"])
async def database(request, fresh_database) -> AsyncIterator[Database]:
    db = Database(fresh_database(request.param))
    yield db
    await db.close()


@pytest.fixture
async def meta() -> AsyncIterator[FakeMeta]:
    async with fake_meta() as fake:
        yield fake


@pytest.fixture
async def profiles(database, meta) -> AsyncIterator[CustomerProfiles]:
    service = CustomerProfiles(database, meta.graph(timeout=0.5))
    yield service
    await service.close()


async def stored(database: Database, channel: str, user_id: str) -> CustomerProfile | None:
    async with database.sessions() as session:
        return await session.scalar(
            select(CustomerProfile).where(
                CustomerProfile.channel == channel, CustomerProfile.user_id == user_id
            )
        )


async def age(database: Database, channel: str, user_id: str, by: dt.timedelta) -> None:
    """Make the stored profile look `by` older."""
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(CustomerProfile)
            .where(CustomerProfile.channel == channel, CustomerProfile.user_id == user_id)
            .values(fetched_at=utcnow() - by)
        )


async def test_a_messenger_customer_is_named_with_a_picture_and_asked_once(profiles, meta, database):
    await meta.messaged("messenger", "2400510644654077")
    await meta.describe("messenger", "2400510644654077", first_name="Ada", last_name="Lovelace")
    profile = await profiles.get("messenger", "2400510644654077")
    assert (profile.name, profile.label, profile.handle) == ("Ada Lovelace", "Ada Lovelace", None)
    assert profile.picture_url.startswith(f"{meta.base}/_sim/profile_pic/messenger/2400510644654077.png?oe=")
    picture = await meta.client.get(profile.picture_url.removeprefix(meta.base))
    assert (picture.status, picture.content_type) == (200, "image/png")
    assert meta.reads == ["2400510644654077"]
    again = await profiles.get("messenger", "2400510644654077")
    assert again.name == "Ada Lovelace" and meta.reads == ["2400510644654077"]  # from the cache
    row = await stored(database, "messenger", "2400510644654077")
    assert (row.status, row.name) == (OK, "Ada Lovelace")


async def test_an_instagram_customer_has_a_name_and_a_handle(profiles, meta):
    await meta.messaged("instagram", "17841455")
    await meta.describe("instagram", "17841455", first_name="Mia", last_name="Rossi", username="mia.r")
    profile = await profiles.get("instagram", "17841455")
    assert (profile.name, profile.handle, profile.label) == ("Mia Rossi", "mia.r", "Mia Rossi")


async def test_a_profile_instagram_refuses_shows_the_id_and_is_not_asked_again_soon(profiles, meta, database):
    profile = await profiles.get("instagram", "17841466")  # never messaged: no consent (Graph error 230)
    assert profile == Profile("instagram", "17841466", status=FAILED, fetched_at=profile.fetched_at)
    assert profile.label == "17841466"
    assert (await stored(database, "instagram", "17841466")).status == FAILED
    await profiles.get("instagram", "17841466")
    assert meta.reads == ["17841466"]  # a refusal is cached too
    await meta.messaged("instagram", "17841466")
    await age(database, "instagram", "17841466", dt.timedelta(hours=2))  # past the failure expiry
    assert (await profiles.get("instagram", "17841466")).label != "17841466"
    assert meta.reads == ["17841466", "17841466"]


async def test_a_refused_refresh_keeps_the_name_and_handle_already_known(profiles, meta, database):
    await meta.messaged("instagram", "17841477")
    await meta.describe("instagram", "17841477", first_name="Leo", last_name="", username="leo.m")
    assert (await profiles.get("instagram", "17841477")).label == "Leo"
    await meta.describe(
        "instagram", "17841477", first_name="Leo", last_name="", username="leo.m", consent=False
    )
    await age(database, "instagram", "17841477", dt.timedelta(days=8))
    profile = await profiles.get("instagram", "17841477")
    assert (profile.label, profile.handle, profile.status) == ("Leo", "leo.m", FAILED)
    assert len(meta.reads) == 2


async def test_an_unknown_messenger_user_and_a_platform_error_degrade_to_the_id(profiles, meta, caplog):
    await meta.messaged("messenger", "psid-broken")
    await meta.fail_next("messenger", "psid-broken", status=500)
    with caplog.at_level(logging.INFO, logger="bot.customers.profiles"):
        found = await profiles.many([("messenger", "psid-stranger"), ("messenger", "psid-broken")])
    assert [p.label for p in found.values()] == ["psid-stranger", "psid-broken"]
    assert "Graph error 100" in caplog.text and "HTTP 500" in caplog.text


async def test_a_slow_platform_times_out_and_shows_the_id(profiles, meta, database):
    await meta.messaged("messenger", "psid-slow")
    await meta.fail_next("messenger", "psid-slow", delay=2.0)  # the client waits 0.5 s
    profile = await profiles.get("messenger", "psid-slow")
    assert profile.label == "psid-slow" and profile.name is None
    assert (await stored(database, "messenger", "psid-slow")).status == FAILED


async def test_an_expired_profile_is_fetched_again(profiles, meta, database):
    await meta.messaged("messenger", "psid-old")
    await meta.describe("messenger", "psid-old", first_name="Sam", last_name="Old")
    assert (await profiles.get("messenger", "psid-old")).name == "Sam Old"
    await meta.describe("messenger", "psid-old", first_name="Sam", last_name="New")
    await age(database, "messenger", "psid-old", dt.timedelta(days=6))
    assert (await profiles.get("messenger", "psid-old")).name == "Sam Old"  # not expired yet: no call
    await age(database, "messenger", "psid-old", dt.timedelta(days=8))
    assert (await profiles.get("messenger", "psid-old")).name == "Sam New"
    assert meta.reads == ["psid-old", "psid-old"]


async def test_x_profiles_come_from_the_webhook_and_are_never_fetched(profiles, meta):
    await profiles.remember("twitter", "3000000042", None, "jordan_b", "https://pbs.twimg.com/p/a.jpg")
    await profiles.remember("twitter", "3000000043", "Jordan B", "jordan_b2")
    await profiles.remember("twitter", "3000000044", None, None)  # nothing to keep
    egg = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
    await profiles.remember("twitter", "3000000045", "No Picture", None, egg)
    found = await profiles.many([("twitter", f"30000000{n}") for n in (42, 43, 44, 45)])
    assert [p.label for p in found.values()] == ["@jordan_b", "Jordan B", "3000000044", "No Picture"]
    assert found[("twitter", "3000000045")].picture_url is None  # X's egg: no picture of them
    assert found[("twitter", "3000000042")].picture_url == "https://pbs.twimg.com/p/a.jpg"
    assert meta.reads == []


async def test_without_platform_settings_nothing_is_fetched(database, meta):
    service = CustomerProfiles(database, GraphProfiles.from_env({}))
    assert service.graph is None
    assert (await service.get("messenger", "psid-1")).label == "psid-1"
    assert meta.reads == []


async def test_renewing_a_picture_asks_again_only_after_a_while(profiles, meta, database):
    await meta.messaged("messenger", "psid-pic")
    await profiles.get("messenger", "psid-pic")
    assert await profiles.renew("messenger", "psid-pic") is None  # just fetched
    await age(database, "messenger", "psid-pic", dt.timedelta(minutes=11))
    assert (await profiles.renew("messenger", "psid-pic")).picture_url
    assert await profiles.renew("twitter", "3000000042") is None  # X's come with messages
    assert meta.reads == ["psid-pic", "psid-pic"]


def test_graph_answers_are_read_per_platform():
    messenger = parse_profile(
        "messenger", {"first_name": " Ada ", "last_name": "", "profile_pic": "https://x/p"}
    )
    assert (messenger.name, messenger.handle, messenger.picture_url) == ("Ada", None, "https://x/p")
    instagram = parse_profile("instagram", {"name": None, "username": "mia.r", "id": "1"})
    assert (instagram.name, instagram.handle, instagram.picture_url) == (None, "mia.r", None)


async def test_ids_that_are_not_ids_are_never_put_into_a_url(profiles, meta):
    profile = await profiles.get("messenger", "../me/messages?x=")
    assert profile.label == "../me/messages?x=" and meta.reads == []


async def test_the_expiry_is_the_desks_choice(database, meta, tmp_path):
    desk_yml = tmp_path / "desk.yml"
    desk_yml.write_text("customer_profiles:\n  refresh_days: 1\n  retry_hours: 0.5\n")
    expiry = DeskConfig.from_env({}, desk_yml).profile_expiry
    assert (expiry.ttl, expiry.failure_ttl) == (dt.timedelta(days=1), dt.timedelta(minutes=30))
    assert DeskConfig.from_env({}, tmp_path / "none.yml").profile_expiry.ttl == dt.timedelta(days=7)
    service = CustomerProfiles(database, meta.graph(), expiry)
    try:
        await meta.messaged("messenger", "psid-daily")
        await service.get("messenger", "psid-daily")
        await age(database, "messenger", "psid-daily", dt.timedelta(days=2))
        await service.get("messenger", "psid-daily")
        assert meta.reads == ["psid-daily", "psid-daily"]
    finally:
        await service.close()


@pytest.mark.parametrize("tuned", [{"refresh_days": 0}, {"retry_hours": "soon"}, {"refresh_days": True}])
def test_an_expiry_that_cannot_work_stops_the_desk_at_start(tuned, tmp_path):
    desk_yml = tmp_path / "desk.yml"
    desk_yml.write_text(f"customer_profiles: {tuned}\n")
    with pytest.raises(ValueError, match="customer_profiles"):
        DeskConfig.from_env({}, desk_yml)
