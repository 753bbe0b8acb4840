"""The review queue's reader: which customer messages Rasa's events file for content editors, and why."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from bot.content import review
from bot.handoff.tickets import RESOLVED, HandoffService
from bot.monitoring.review_reader import ReviewReader
from bot.storage.bot_ratings import BotRatings, Rated
from bot.storage.models import BotSession, HandoffTicket, ReviewItem, utcnow


def said(
    text: str, intent: str, confidence: float, ranking: list[tuple[str, float]] | None = None, **extra: Any
):
    """A customer message as Rasa stores it; `ranking` as FallbackClassifier leaves it."""
    entities = extra.pop("entities", [])
    ranking = ranking or [(intent, confidence)]
    return {
        "event": "user",
        "text": text,
        "input_channel": "messenger",
        "parse_data": {
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
            "entities": entities,
        },
        "metadata": {},
        **extra,
    }


def action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name}


async def items(database) -> dict[str, ReviewItem]:
    async with database.sessions() as session:
        return {row.text: row for row in await session.scalars(select(ReviewItem).order_by(ReviewItem.id))}


async def test_a_fallback_is_filed_with_the_intent_the_classifier_would_have_chosen(database, store_event):
    fallback = said(
        "do u lot do gift wrap",
        "nlu_fallback",
        0.5,
        [("nlu_fallback", 0.5), ("store_info", 0.41), ("discount_inquiry", 0.2)],
        entities=[{"start": 12, "end": 21, "entity": "product", "value": "gift wrap"}],
    )
    await store_event("c1", fallback)
    await store_event("c1", said("where is my order", "order_status", 0.98))
    await store_event("c1", said("/affirm", "affirm", 0.2))  # a button: nothing to teach
    external = said("EXTERNAL: EXTERNAL_csat_request", "EXTERNAL_csat_request", 0.1)
    await store_event("c1", external)

    assert await ReviewReader(database, database).catch_up() == 1
    filed = await items(database)
    assert list(filed) == ["do u lot do gift wrap"]
    row = filed["do u lot do gift wrap"]
    assert (row.intent, round(row.confidence, 2), row.reasons, row.status) == (
        "store_info",
        0.41,
        "fallback",
        "open",
    )
    # the value is the text itself, so it is not kept as a synonym
    assert json.loads(row.entities) == [{"start": 12, "end": 21, "entity": "product", "value": None}]
    assert row.conversation_id == "c1" and row.channel == "messenger"


async def test_low_confidence_without_a_fallback_is_filed_too(database, store_event):
    await store_event("c1", said("cn i swap it for a bigger one", "return_item", 0.55))
    await store_event("c1", said("can i swap it for a bigger size", "return_item", 0.61))
    assert await ReviewReader(database, database).catch_up() == 1
    assert (await items(database))["cn i swap it for a bigger one"].reasons == "low confidence"


async def test_a_rephrase_request_files_the_message_it_answered_even_when_the_nlu_was_sure(
    database, store_event
):
    await store_event("c1", said("hi", "greet", 0.99))
    await store_event("c1", said("my parcel went to the neighbours bin", "order_status", 0.93))
    await store_event("c1", action("action_fallback"))
    assert await ReviewReader(database, database).catch_up() == 1
    filed = await items(database)
    assert list(filed) == ["my parcel went to the neighbours bin"]
    assert filed["my parcel went to the neighbours bin"].reasons == "asked to rephrase"


async def test_a_second_reason_is_added_to_the_same_row_never_a_second_row(database, store_event):
    await store_event(
        "c1", said("wat abt the thing", "nlu_fallback", 0.5, [("nlu_fallback", 0.5), ("complaint", 0.3)])
    )
    await store_event("c1", action("action_fallback"))
    reader = ReviewReader(database, database)
    assert await reader.catch_up() == 2  # filed, then given its second reason
    assert await reader.catch_up() == 0
    assert await ReviewReader(database, database).catch_up() == 0  # a restarted reader resumes at its cursor
    (row,) = (await items(database)).values()
    assert row.reasons == "fallback,asked to rephrase"


async def test_a_handoff_after_a_misunderstanding_files_the_unsure_messages_before_it(database, store_event):
    await store_event("c1", said("the zip on my coat broke", "product_issue", 0.7))
    await store_event(
        "c1", said("thats not what i asked", "nlu_fallback", 0.5, [("nlu_fallback", 0.5), ("deny", 0.4)])
    )
    await store_event("c1", said("person pls", "request_human", 0.97))
    await store_event("c1", action("action_handoff"))
    # A handoff the customer asked for straight away is no misunderstanding.
    await store_event("c2", said("can i speak to a human", "request_human", 0.99))
    await store_event("c2", action("action_handoff"))

    await ReviewReader(database, database).catch_up()
    filed = await items(database)
    assert set(filed) == {"the zip on my coat broke", "thats not what i asked"}
    assert filed["the zip on my coat broke"].reasons == review.HANDOFF
    assert filed["thats not what i asked"].reasons == f"{review.FELL_BACK},{review.HANDOFF}"


async def test_a_low_rating_files_what_the_bot_handled_before_the_person_took_over(database, store_event):
    handoff = HandoffService(database)
    for conversation, stars in (("c1", 1), ("c2", 5)):
        await store_event(conversation, said(f"jumper shrank {conversation}", "product_issue", 0.72))
        await store_event(conversation, action("action_handoff"))
        async with database.sessions() as session, session.begin():  # a person resolved the handoff
            session.add(
                HandoffTicket(
                    conversation_id=conversation,
                    channel="messenger",
                    reason="sentiment",
                    status=RESOLVED,
                    resolved_at=utcnow(),
                )
            )
        await store_event(conversation, said(f"thanks for sorting {conversation}", "thank", 0.8))
        await store_event(conversation, said(str(stars), "rate_service", 0.99))
        assert await handoff.record_csat(conversation, stars) is not None  # what action_record_csat does
        await store_event(conversation, action("action_record_csat"))

    await ReviewReader(database, database).catch_up()
    filed = await items(database)
    assert list(filed) == ["jumper shrank c1"]
    assert filed["jumper shrank c1"].reasons == review.LOW_CSAT


async def test_a_low_rating_of_the_assistant_files_what_it_handled_before_its_question(database, store_event):
    for conversation, stars in (("b1", 2), ("b2", 4)):
        await store_event(conversation, said(f"the belt buckle snapped {conversation}", "product_issue", 0.7))
        await store_event(conversation, said(f"ok thanks {conversation}", "thank", 0.95))
        async with database.sessions() as session, session.begin():  # the monitoring service asked
            session.add(
                BotSession(
                    conversation_id=conversation,
                    channel="messenger",
                    state="ended",
                    started_at=utcnow(),
                    last_customer_at=utcnow(),
                    topic="product_issue",
                    asked_at=utcnow(),
                )
            )
        await store_event(conversation, action("action_ask_bot_csat"))
        await store_event(conversation, said(str(stars), "rate_service", 0.99))
        assert await BotRatings(database).record(conversation, stars) is Rated.STORED  # the CSAT action
        await store_event(conversation, action("action_record_csat"))

    await ReviewReader(database, database).catch_up()
    filed = await items(database)
    assert list(filed) == ["the belt buckle snapped b1"]
    assert filed["the belt buckle snapped b1"].reasons == review.LOW_CSAT
