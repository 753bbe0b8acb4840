"""Moderation rules (block list, insults, repeated abuse) and review, mute and unmute (both backends)."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest
from sqlalchemy import select

from bot.monitoring.config import ModerationSettings
from bot.monitoring.moderation import BlockList, Moderation, ModerationError, reasons, repeated
from bot.storage.db import Database
from bot.storage.models import AuditEntry, HandoffTicket, LoggedMessage, ModerationFlag, MutedAuthor

T0 = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.timezone.utc)
BLOCK = BlockList(["idiot*", "moron", "shut up", "piece of crap", "scammer"])
RULES = ModerationSettings(block_list=BLOCK.terms, repeated_flags=3, repeated_window_minutes=60)
RESUME = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]
numbers = itertools.count(1)


@pytest.mark.parametrize(
    "text",
    [
        "you are an IDIOT",
        "idiots, all of you",
        "iiiidiooot",
        "1d10t",
        "m.o.r.o.n",
        "m0r0n!!",
        "Shut   up already",
        "what a piece of crap service",
        "you SCAMMERS",  # plurals are the same word
        "scamer",
        "sc4mm3r5",
    ],
)
def test_the_block_list_sees_through_case_repeats_and_lookalikes(text):
    assert BLOCK.matches(text), text


@pytest.mark.parametrize(
    "text",
    [
        "my order is late",
        "oxymoron",  # whole words only
        "shutter up the window",
        "piece of cake",
        "id iot",
        "my order #100871 arrived",
    ],
)
def test_the_block_list_leaves_ordinary_words_alone(text):
    assert not BLOCK.matches(text), text


def test_reasons():
    assert reasons("you idiot", "insult", RULES, BLOCK) == ["insult", "block_list"]
    assert reasons("you are useless", "insult", RULES, BLOCK) == ["insult"]
    assert reasons("where is my order", "order_status", RULES, BLOCK) == []
    assert reasons("shut up", None, RULES, BlockList([])) == []


def test_repeated_abuse_counts_flags_in_the_window():
    minutes = [T0 - dt.timedelta(minutes=m) for m in (0, 30, 59)]
    assert repeated(minutes, T0, RULES)
    assert not repeated(minutes[:2], T0, RULES)
    assert not repeated([*minutes[:2], T0 - dt.timedelta(minutes=61)], T0, RULES)


async def record(
    database: Database, text: str, intent: str = "insult", who: str = "psid-7", minutes: int = 0, **kw
) -> LoggedMessage:
    n = next(numbers)
    values = {
        "source": f"event:{n}",
        "kind": "dm",
        "channel": "messenger",
        "conversation_id": who,
        "text": text,
        "intent": intent,
        "sentiment_label": "negative",
        "sentiment_score": -0.7,
        "at": T0 + dt.timedelta(minutes=minutes),
        **kw,
    }
    async with database.sessions() as session, session.begin():
        message = LoggedMessage(**values)
        session.add(message)
    return message


async def flags_of(database: Database) -> list[ModerationFlag]:
    async with database.sessions() as session:
        return list(await session.scalars(select(ModerationFlag).order_by(ModerationFlag.id)))


async def audit_actions(database: Database) -> list[tuple[str, str, dict]]:
    async with database.sessions() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(a.actor, a.action, json.loads(a.detail) if a.detail else {}) for a in rows]


async def muted_row(database: Database, author: str = "psid-7") -> MutedAuthor | None:
    async with database.sessions() as session:
        return await session.scalar(select(MutedAuthor).where(MutedAuthor.author_id == author))


async def test_an_insult_is_flagged_with_its_message_and_a_polite_message_is_not(database, down_rasa):
    moderation = Moderation(database, RULES, down_rasa)
    assert (
        await moderation.screen(await record(database, "where is my parcel", "order_status"), "psid-7") == []
    )
    message = await record(database, "you useless m0r0n", author="Jo")
    [flag] = await moderation.screen(message, "psid-7")
    assert (flag.reason, flag.message_id, flag.author, flag.conversation_id) == (
        "insult,block_list",
        message.id,
        "Jo",
        "psid-7",
    )
    assert flag.status == "open" and flag.text == "you useless m0r0n"
    assert ("monitoring", "flagged") in [(a, b) for a, b, _ in await audit_actions(database)]


async def test_repeated_abuse_makes_one_flag_and_mutes_when_configured(database, rasa, fake_rasa):
    moderation = Moderation(database, ModerationSettings(**{**RULES.__dict__, "auto_mute": True}), rasa)
    made = [
        await moderation.screen(await record(database, f"idiot {m}", minutes=m), "psid-7") for m in (0, 10)
    ]
    assert [len(m) for m in made] == [1, 1] and fake_rasa.events == []
    third = await moderation.screen(await record(database, "idiot again", minutes=20), "psid-7")
    assert [f.reason for f in third] == ["insult,block_list", "repeated_abuse"]
    fourth = await moderation.screen(await record(database, "and again, idiot", minutes=30), "psid-7")
    assert [f.reason for f in fourth] == ["insult,block_list"]  # one repeated-abuse flag per window
    assert fake_rasa.sent_to("psid-7") == [{"event": "pause"}]
    row = await muted_row(database)
    assert row is not None and row.active and row.muted_by is None and "automatic" in row.reason
    # Someone else's insults are theirs.
    assert len(await moderation.screen(await record(database, "idiot", who="psid-8"), "psid-8")) == 1


async def test_dismissed_flags_do_not_count_towards_repeated_abuse(database, down_rasa, people):
    moderation = Moderation(database, RULES, down_rasa)
    for m in (0, 10):
        [flag] = await moderation.screen(await record(database, "idiot", minutes=m), "psid-7")
        await moderation.review(people["sam"], flag.id, "dismissed")
    assert len(await moderation.screen(await record(database, "idiot", minutes=20), "psid-7")) == 1


async def test_without_auto_mute_repeated_abuse_is_only_flagged(database, rasa, fake_rasa):
    moderation = Moderation(database, RULES, rasa)
    for m in (0, 1, 2):
        await moderation.screen(await record(database, "shut up", minutes=m), "psid-7")
    assert [f.reason for f in await flags_of(database)][-1] == "repeated_abuse"
    assert fake_rasa.events == [] and await muted_row(database) is None


async def test_review_is_reversible_and_audited(database, down_rasa, people):
    moderation = Moderation(database, RULES, down_rasa)
    [flag] = await moderation.screen(await record(database, "idiot"), "psid-7")
    sam = people["sam"]
    assert (await moderation.review(sam, flag.id, "dismissed")).status == "dismissed"
    with pytest.raises(ModerationError, match="already dismissed"):
        await moderation.review(sam, flag.id, "dismissed")
    reopened = await moderation.review(sam, flag.id, "open")
    assert reopened.status == "open" and reopened.reviewed_by == sam.id
    assert (await moderation.review(sam, flag.id, "confirmed")).status == "confirmed"
    with pytest.raises(ModerationError, match="not 'deleted'"):
        await moderation.review(sam, flag.id, "deleted")
    with pytest.raises(ModerationError, match="no flag"):
        await moderation.review(sam, 999999, "open")
    reviews = [(actor, action) for actor, action, _ in await audit_actions(database) if actor == "sam"]
    assert reviews == [("sam", "flag_dismissed"), ("sam", "flag_reopened"), ("sam", "flag_confirmed")]
    assert [row.flag.id for row in await moderation.flags("confirmed")] == [flag.id]
    assert await moderation.flags("open") == []


async def test_mute_pauses_and_unmute_resumes(database, rasa, fake_rasa, people):
    moderation = Moderation(database, RULES, rasa)
    await moderation.mute(people["sam"], "messenger", "psid-7", "abuse")
    assert fake_rasa.sent_to("psid-7") == [{"event": "pause"}]
    assert await moderation.is_muted("messenger", "psid-7")
    assert [(row.author_id, by) for row, by in await moderation.muted()] == [("psid-7", "Sam")]
    assert await moderation.unmute(people["sam"], "messenger", "psid-7") is True
    assert fake_rasa.sent_to("psid-7") == [{"event": "pause"}, RESUME]
    row = await muted_row(database)
    assert not row.active and row.unmuted_by == people["sam"].id
    with pytest.raises(ModerationError, match="not muted"):
        await moderation.unmute(people["sam"], "messenger", "psid-7")
    # Muted again: the same row, active again.
    await moderation.mute(people["sam"], "messenger", "psid-7", "again")
    row = await muted_row(database)
    assert row.active and row.reason == "again" and row.unmuted_at is None
    actions = [(action, detail.get("resumed")) for _, action, detail in await audit_actions(database)]
    assert [a for a in actions if "muted" in a[0]] == [("muted", None), ("unmuted", True), ("muted", None)]


async def test_unmute_leaves_a_conversation_a_person_has_paused(
    database, rasa, fake_rasa, people, open_ticket
):
    moderation = Moderation(database, RULES, rasa)
    await moderation.mute(people["sam"], "messenger", "psid-7", "abuse")
    ticket_id = await open_ticket("psid-7")
    assert await moderation.unmute(people["sam"], "messenger", "psid-7") is False
    assert fake_rasa.sent_to("psid-7") == [{"event": "pause"}]  # no resume: the agent has it
    assert not (await muted_row(database)).active
    [unmuted] = [e for e in await audit_actions(database) if e[1] == "unmuted"]
    assert unmuted[2]["resumed"] is False
    async with database.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "unmuted"))
    assert entry.ticket_id == ticket_id


async def test_nothing_is_muted_when_rasa_cannot_be_paused(database, down_rasa, people):
    moderation = Moderation(database, RULES, down_rasa)
    with pytest.raises(ModerationError, match="not muted"):
        await moderation.mute(people["sam"], "messenger", "psid-7", "abuse")
    assert await muted_row(database) is None
    with pytest.raises(ModerationError, match="mute whom"):
        await moderation.mute(people["sam"], "messenger", " ", "abuse")


async def test_a_muted_author_handed_back_by_an_agent_is_paused_again(
    database, rasa, fake_rasa, people, open_ticket
):
    moderation = Moderation(database, RULES, rasa)
    await moderation.mute(people["sam"], "messenger", "psid-7", "abuse")
    ticket_id = await open_ticket("psid-7")
    await moderation.enforce(await record(database, "hello?", "greet"))
    assert fake_rasa.sent_to("psid-7") == [{"event": "pause"}]  # a person has it: nothing to do
    async with database.sessions() as session, session.begin():
        (await session.get(HandoffTicket, ticket_id)).status = "resolved"
    await moderation.enforce(await record(database, "hello again", "greet"))
    assert fake_rasa.sent_to("psid-7") == [{"event": "pause"}, {"event": "pause"}]
    await moderation.enforce(await record(database, "hi", "greet", who="psid-other"))
    assert fake_rasa.sent_to("psid-other") == []
