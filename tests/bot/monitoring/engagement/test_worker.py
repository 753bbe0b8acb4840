"""The engagement worker and the actions: each public item filed once, answered once, hidden as told."""

from __future__ import annotations

import datetime as dt
import io
import json
import random

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from bot.catalog.demo_images import load_base
from bot.catalog.demo_logo import draw_logo, logo_in_scene
from bot.conversations.rasa_api import DeliveryError
from bot.monitoring.engagement.actions import EngagementActions, EngagementError
from bot.monitoring.engagement.queue import ANSWERED, HIDDEN, RECORDED, TO_ANSWER, EngagementQueue
from bot.storage.models import AuditEntry, EngagementItem, LogoSighting

from .conftest import add_mention, add_product, worker_for


async def items(database) -> list[EngagementItem]:
    async with database.sessions() as session:
        return list(await session.scalars(select(EngagementItem).order_by(EngagementItem.id)))


async def test_a_question_waits_for_an_agent_with_a_suggestion(database, channels, tmp_path) -> None:
    await add_mention(database, "Do you ship to Norway?")
    worker = worker_for(database, channels, tmp_path)

    assert await worker.catch_up() == 1

    [item] = await items(database)
    assert (item.category, item.decision, item.status, item.intent) == (
        "question",
        "queue",
        "open",
        "shipping_info",
    )
    assert item.suggestion.startswith("Hi Jane!")
    assert channels.actions == []  # nothing goes out before an agent decides
    [row] = await EngagementQueue(database).rows(TO_ANSWER)
    assert row.item.id == item.id and row.mention.text == "Do you ship to Norway?"


async def test_praise_naming_a_product_is_thanked_by_its_name(database, channels, tmp_path) -> None:
    await add_product(database, "Linen Shirt")
    await add_product(database, "Alpaca Wool Jumper")
    channels.entities = {"linen shirt": ("product", "linen shirt")}
    await add_mention(database, "I love my new linen shirt!", channel="instagram", author_handle="mia")

    await worker_for(database, channels, tmp_path).catch_up()

    [item] = await items(database)
    assert (item.category, item.product_title, item.product_confidence) == ("praise", "Linen Shirt", None)
    assert item.suggestion == "Thank you so much, @mia! We're so glad you love the Linen Shirt."


async def test_each_item_is_filed_once_however_often_it_is_read(database, channels, tmp_path) -> None:
    await add_mention(database, "hello there")
    first, second = worker_for(database, channels, tmp_path), worker_for(database, channels, tmp_path)

    assert await first.catch_up() == 1
    await database.engine.dispose()  # a fresh reader: its cursor is the stored one
    assert await second.catch_up() == 0
    assert len(await items(database)) == 1


async def test_abuse_is_recorded_and_hidden_once_on_the_platform(database, channels, tmp_path) -> None:
    mention = await add_mention(database, "you are all idiots")
    worker = worker_for(database, channels, tmp_path)

    await worker.catch_up()

    [item] = await items(database)
    assert (item.category, item.decision, item.hidden) == ("abuse", "record", True)
    assert item.suggestion == ""  # never answered
    [hide] = channels.actions
    assert (hide["route"], hide["action"], hide["item_id"], hide["actor"]) == (
        "messenger",
        "hide",
        mention.external_id,
        "bot",
    )
    assert [r.item.id for r in await EngagementQueue(database).rows(HIDDEN)] == [item.id]
    assert [r.item.id for r in await EngagementQueue(database).rows(RECORDED)] == [item.id]
    assert await EngagementQueue(database).counts() == {
        "to_answer": 0,
        "answered": 0,
        "recorded": 1,
        "hidden": 1,
        "dismissed": 0,
        "all": 1,
    }
    async with database.sessions() as session:
        audit = list(await session.scalars(select(AuditEntry.action)))
    assert audit == ["engagement_hide"]


async def test_an_auto_policy_answers_in_public_once(database, channels, tmp_path) -> None:
    mention = await add_mention(database, "do you ship to Norway?", channel="instagram", author_handle="jane")
    worker = worker_for(database, channels, tmp_path, policies="categories: {question: auto}\n")

    await worker.catch_up()
    await worker.catch_up()

    [item] = await items(database)
    assert (item.status, item.replied_by, item.reply_kind) == ("sent", "bot", "public")
    [reply] = channels.sent("reply")
    assert (reply["route"], reply["item_id"]) == ("instagram", mention.external_id)
    assert reply["text"] == item.suggestion == item.reply_text and reply["text"].startswith("Hi @jane!")
    assert item.reply_id == channels.done[reply["client_id"]]["id"]
    assert [r.item.id for r in await EngagementQueue(database).rows(ANSWERED)] == [item.id]
    counts = await EngagementQueue(database).counts()
    assert (counts["answered"], counts["to_answer"], counts["all"]) == (1, 0, 1)


async def test_a_failed_bot_answer_stays_for_an_agent(database, channels, tmp_path) -> None:
    await add_mention(database, "do you ship to Norway?")
    worker = worker_for(database, channels, tmp_path, policies="categories: {question: auto}\n")
    channels.failing = 1

    await worker.catch_up()

    [item] = await items(database)
    assert (item.status, item.decision) == ("open", "auto")
    assert channels.sent("reply") == [] and len(channels.actions) == 1
    [row] = await EngagementQueue(database).rows(TO_ANSWER)
    assert row.item.id == item.id


async def test_an_answer_a_dead_process_left_half_done_is_finished_once(database, channels, tmp_path) -> None:
    await add_mention(database, "do you ship to Norway?")
    worker = worker_for(database, channels, tmp_path, policies="categories: {question: auto}\n")
    await worker.catch_up()
    [item] = await items(database)
    # As if the process had died after the platform answered but before the row said so.
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(EngagementItem)
            .where(EngagementItem.id == item.id)
            .values(status="sending", updated_at=long_ago)
        )

    assert await worker.actions.resume_stuck() == 1

    [again] = await items(database)
    assert again.status == "sent" and again.reply_id == item.reply_id
    assert len(channels.sent("reply")) == 1 and len(channels.actions) == 2  # asked twice, done once


async def test_an_agent_answers_once_and_a_second_answer_is_refused(
    database, channels, people, tmp_path
) -> None:
    await add_mention(database, "Do you ship to Norway?")
    worker = worker_for(database, channels, tmp_path)
    await worker.catch_up()
    [item] = await items(database)
    actions = worker.actions

    made = await actions.reply(item.id, people["ada"], "  Hi Jane, we do: 3-5 days.  ", "private")

    with pytest.raises(EngagementError, match="answered or dismissed"):
        await actions.reply(item.id, people["bob"], "Hi again", "public")
    [sent] = await items(database)
    assert (sent.status, sent.reply_kind, sent.replied_by, sent.reply_text) == (
        "sent",
        "private",
        "ada",
        "Hi Jane, we do: 3-5 days.",
    )
    [call] = channels.actions
    assert call["action"] == "private_reply" and call["actor"] == "ada" and made == sent.reply_id


async def test_a_refused_answer_goes_back_to_the_queue(database, channels, people, tmp_path) -> None:
    await add_mention(database, "Do you ship to Norway?")
    worker = worker_for(database, channels, tmp_path)
    await worker.catch_up()
    [item] = await items(database)
    channels.failing = 1

    with pytest.raises(DeliveryError, match="502"):
        await worker.actions.reply(item.id, people["ada"], "Hi Jane", "public")

    assert (await items(database))[0].status == "open"
    await worker.actions.reply(item.id, people["ada"], "Hi Jane", "public")
    assert (await items(database))[0].status == "sent"


async def test_dismiss_and_reopen_are_audited(database, channels, people, tmp_path) -> None:
    await add_mention(database, "nice weather")
    await add_mention(database, "Do you ship to Norway?")
    worker = worker_for(database, channels, tmp_path)
    await worker.catch_up()
    item = next(i for i in await items(database) if i.category == "question")
    actions = EngagementActions(database, worker.actions._rasa)

    await actions.dismiss(item.id, people["ada"])
    with pytest.raises(EngagementError):
        await actions.dismiss(item.id, people["ada"])
    await actions.dismiss(item.id, people["ada"], reopen=True)

    async with database.sessions() as session:
        query = (
            select(AuditEntry.action).where(AuditEntry.action.like("engagement_%")).order_by(AuditEntry.id)
        )
        audit = list(await session.scalars(query))
    assert audit == ["engagement_dismiss", "engagement_reopen"]
    assert (await items(database))[1].status == "open"


async def test_our_logo_in_a_public_photo_is_shown_and_counted_for_analytics(
    database, channels, tmp_path
) -> None:
    scene = logo_in_scene(draw_logo(), load_base("coffee"), random.Random(3))
    buffer = io.BytesIO()
    scene.save(buffer, "JPEG", quality=85)

    async def photo(_: web.Request) -> web.Response:
        return web.Response(body=buffer.getvalue(), content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/photo.jpg", photo)
    async with TestServer(app) as server:
        url = str(server.make_url("/photo.jpg"))
        host = f"127.0.0.1:{server.port}"
        mention = await add_mention(database, "love this", media_urls=json.dumps([url]))
        await worker_for(database, channels, tmp_path, photo_hosts=(host,)).catch_up()

    [item] = await items(database)
    assert item.logos == "Loom & Co" and item.product_title is None  # no catalogue index here
    async with database.sessions() as session:
        [seen] = list(await session.scalars(select(LogoSighting)))
    assert (seen.conversation_id, seen.channel, seen.logo, seen.ours) == (
        f"facebook:{mention.external_id}",
        "facebook",
        "Loom & Co",
        True,
    )
    assert seen.photo_url == url and seen.sentiment_label == item.sentiment_label
