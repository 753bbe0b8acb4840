"""Photos from customers: find the product, answer with a card, offer a person when nothing fits."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ServiceAction
from actions.catalog import latest_entity
from actions.replies import say
from actions.services import services
from bot.catalog.availability import ProductInfo, availability_reply
from bot.catalog.fetch import ImageFetchError, fetch_image
from bot.catalog.logos import Sighting
from bot.catalog.lookup_log import record_logo_sightings, record_photo_lookup
from bot.catalog.product_search import ProductResult
from bot.conversations import metadata
from bot.shop.formatting import join_words
from bot.x_oauth import x_signer

logger = logging.getLogger(__name__)
MAX_CARDS = 5


def card(product: ProductInfo) -> dict[str, Any]:
    """A product card: Messenger/Instagram show a generic template, X shows text with the link."""
    colors = product.colors(in_stock_only=True)
    subtitle = (
        f"{product.price} · in stock in {join_words(colors)}" if colors else f"{product.price} · sold out"
    )
    element: dict[str, Any] = {
        "title": product.title,
        "subtitle": subtitle,
        "buttons": [
            {"title": "View", "url": product.url},
            {
                "title": "This one",
                "payload": f'/product_availability{{"product": "{product.title.lower()}"}}',
            },
        ],
    }
    if product.image_url:
        element["image_url"] = product.image_url
    return element


async def remember(tracker: Tracker, outcome: str, results: list[ProductResult] | None = None) -> None:
    """Record the lookup for the hit rate; a failure is logged and never changes the reply."""
    best = results[0] if results else None
    try:
        await record_photo_lookup(
            services().database,
            tracker.sender_id,
            tracker.get_latest_input_channel() or "unknown",
            outcome,
            top_score=best.score if best else None,
            product_id=best.product.id if best else None,
        )
    except Exception:  # analytics only: the customer still gets an answer
        logger.exception("could not record the photo lookup of conversation %s", tracker.sender_id)


async def logos_in(tracker: Tracker, image: Any, url: str) -> list[Sighting]:
    """The brand logos in the photo, stored with the message's sentiment; a failure never stops the reply."""
    try:
        sightings = await asyncio.to_thread(services().logos.detector().detect, image)
    except Exception:  # logo detection is an extra: the customer still gets an answer
        logger.exception("logo detection failed for conversation %s", tracker.sender_id)
        return []
    if sightings:
        sentiment = tracker.latest_message.get("sentiment") or {}
        score = sentiment.get("score")
        try:
            await record_logo_sightings(
                services().database,
                tracker.sender_id,
                tracker.get_latest_input_channel() or "unknown",
                url,
                sightings,
                (sentiment.get("label"), float(score) if isinstance(score, (int, float)) else None),
            )
        except Exception:
            logger.exception("could not record the logos seen by conversation %s", tracker.sender_id)
    return sightings


def is_positive(tracker: Tracker) -> bool:
    """Whether the message praises (its intent, or its sentiment)."""
    latest = tracker.latest_message
    intent = (latest.get("intent") or {}).get("name")
    return intent == "compliment" or (latest.get("sentiment") or {}).get("label") == "positive"


class ActionPhotoLookup(ServiceAction):
    """Recognise the product in the customer's photo."""

    def name(self) -> str:
        return "action_photo_lookup"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        sent = tracker.latest_message.get("metadata")
        urls = metadata.image_urls(sent)  # only well-formed URLs: metadata is what a channel sent
        if not urls:
            say(dispatcher, "photo_missing")
            return []
        auth = metadata.image_auth(sent)
        sign = x_signer(services().x) if auth == metadata.X_OAUTH1 else None
        if auth and sign is None:  # an unknown scheme, or X without our credentials: we cannot download it
            logger.warning(
                "photo from %s needs %r, which this action server cannot do", tracker.sender_id, auth
            )
            say(dispatcher, "photo_cannot_open")
            return []
        try:
            async with aiohttp.ClientSession() as session:
                image, _ = await fetch_image(session, str(urls[0]), services().photo_policy, sign)
        except ImageFetchError as err:
            logger.info("photo from %s not usable: %s", tracker.sender_id, err)
            await remember(tracker, "bad_image")
            say(dispatcher, "photo_unreadable")
            return []
        # Logos and products are looked for at once (each in a worker thread; both release the GIL).
        seen, (kind, results) = await asyncio.gather(
            logos_in(tracker, image, str(urls[0])), services().search.photo_verdict(image)
        )
        ours = [s.name for s in seen if s.ours]
        await remember(tracker, kind, results)
        thank = bool(ours) and services().photos.thank_for_our_logo and is_positive(tracker)
        if kind == "none":
            if ours:  # it is ours, only the item is unclear: never "it may be from another brand"
                say(dispatcher, "photo_our_logo_no_match")
            else:
                say(dispatcher, "photo_no_match")
            if thank:
                say(dispatcher, "photo_logo_thanks", brand=ours[0])
            return [SlotSet("matched_products", [])]
        ids = [str(r.product.id) for r in results]
        if kind == "several":
            say(dispatcher, "photo_several")
            dispatcher.utter_message(elements=[card(r.product) for r in results[:MAX_CARDS]])
            if thank:
                say(dispatcher, "photo_logo_thanks", brand=ours[0])
            return [SlotSet("matched_products", ids)]
        product = results[0].product
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        color, size = latest_entity(tracker, "color"), latest_entity(tracker, "size")
        if intent == "compliment":
            say(dispatcher, "photo_compliment", title=product.title)  # already a thank-you
        elif color or size:
            say(dispatcher, availability_reply(product, color, size))
        else:
            say(dispatcher, "photo_match", title=product.title)
            dispatcher.utter_message(elements=[card(product)])
            if thank:
                say(dispatcher, "photo_logo_thanks", brand=ours[0])
        return [SlotSet("product", product.title.lower()), SlotSet("matched_products", ids)]
