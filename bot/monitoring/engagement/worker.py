"""The engagement worker: each new public item understood, filed, answered or queued (engagement.yml).

It follows the `mentions` table (where the channels store comments and mentions) from a cursor kept in
`monitor_cursors`, so a restart resumes where it stopped; it runs inside the monitoring service, whose
lease makes it the only one. Each item gets one `engagement_items` row (unique per item: a second reader
inserts nothing), and only the reader whose insert made the row acts on it, so the bot answers once;
an answer interrupted by a crash is finished later with the same client id (`resume_stuck`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, select

from bot.catalog.availability import CatalogService
from bot.catalog.lookup_log import record_logo_sightings
from bot.conversations.rasa_api import DeliveryError, RasaClient
from bot.conversations.tail import Tail
from bot.monitoring.config import ModerationSettings
from bot.monitoring.const import BATCH, RESCAN
from bot.monitoring.engagement.actions import BOT, PUBLIC, EngagementActions, EngagementError
from bot.monitoring.engagement.classify import (
    ProductSeen,
    Understood,
    category,
    needs_answer,
    suggestion,
    terms,
    urgency,
)
from bot.monitoring.engagement.photos import PhotoFindings, PhotoLookup
from bot.monitoring.engagement.policy import AUTO, PRODUCT_PHOTO, QUEUE, EngagementConfig
from bot.monitoring.ingest import StoredCursor, parsed_sentiment
from bot.monitoring.moderation import reasons
from bot.monitoring.monitor import LEXICON
from bot.monitoring.sql import insert_ignore
from bot.sentiment.scorer import Lexicon, SentimentScorer
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import EngagementItem, Mention
from bot.x_oauth import x_credentials

logger = logging.getLogger(__name__)
CURSOR = "engagement"


def greeting_name(mention: Mention) -> str:
    """How a reply greets the author: a first name (Facebook), else their @handle."""
    if mention.channel == "facebook" and mention.author_name:
        return mention.author_name.split()[0]
    handle = mention.author_handle or mention.author_name
    return f"@{handle}" if handle else ""


def media_urls(mention: Mention) -> list[str]:
    """The item's photos, as the channel stored them."""
    try:
        urls = json.loads(mention.media_urls or "[]")
    except ValueError:
        return []
    return [u for u in urls if isinstance(u, str)] if isinstance(urls, list) else []


def engagement_worker(
    settings: Settings,
    database: Database,
    rasa: RasaClient,
    moderation: Callable[[], ModerationSettings],
) -> EngagementWorker:
    """The worker the monitoring service runs: engagement.yml watched, X photos signed when X is set up."""
    config = EngagementConfig.watch()
    return EngagementWorker(
        database,
        rasa,
        SentimentScorer(Lexicon.load(LEXICON)),
        PhotoLookup(settings, database, x_credentials()),
        lambda: config.value,
        moderation,
    )


class EngagementWorker:
    """Reads new public items and files each one (`step`), finishing stuck answers (`resume_stuck`)."""

    def __init__(
        self,
        database: Database,
        rasa: RasaClient,
        scorer: SentimentScorer,
        photos: PhotoLookup,
        config: Callable[[], EngagementConfig],
        moderation: Callable[[], ModerationSettings],
    ) -> None:
        self._db = database
        self._rasa = rasa
        self._scorer = scorer
        self._photos = photos
        self._config = config
        self._moderation = moderation
        self.actions = EngagementActions(database, rasa)
        self._catalog = CatalogService(database)
        self._tail: Tail[Mention] = Tail(
            self._read,
            StoredCursor(database, CURSOR),
            unhandled=self._unfiled,
            rescan=RESCAN,
            batch=BATCH,
        )

    def warm(self) -> None:
        """Load the photo models in the background."""
        self._photos.warm()

    async def _read(self, after: int, limit: int) -> list[Mention]:
        async with self._db.sessions() as session:
            query = select(Mention).where(Mention.id > after).order_by(Mention.id).limit(limit)
            return list(await session.scalars(query))

    async def _unfiled(self, ids: Sequence[int]) -> set[int]:
        async with self._db.sessions() as session:
            known = set(
                await session.scalars(
                    select(EngagementItem.mention_id).where(EngagementItem.mention_id.in_(ids))
                )
            )
        return set(ids) - known

    async def catch_up(self) -> int:
        """File everything new; how many items were filed."""
        filed, more = 0, True
        while more:
            made, more = await self._tail.step(self._file_all)
            filed += made
        await self.actions.resume_stuck()
        return filed

    async def _file_all(self, mentions: list[Mention]) -> int:
        filed = 0
        for mention in mentions:
            try:
                filed += await self.file(mention)
            except DeliveryError as err:  # Rasa away: the next round reads this item again
                logger.warning("public item %s not filed yet: %s", mention.id, err)
                raise
        return filed

    async def understand(self, mention: Mention) -> tuple[Understood, PhotoFindings | None]:
        """The NLU parse (intent, sentiment, entities), moderation's verdict, and the photo's findings."""
        parsed: dict[str, Any] = await self._rasa.parse(mention.text) if mention.text.strip() else {}
        intent = (parsed.get("intent") or {}).get("name")
        label, score = parsed_sentiment(parsed, mention.text, self._scorer)
        entities = {
            str(e.get("entity")): str(e.get("value"))
            for e in parsed.get("entities") or []
            if isinstance(e, dict)
        }
        settings = self._moderation()
        flags = reasons(mention.text, intent, settings, terms(settings.block_list))
        urls = media_urls(mention)
        findings = await self._photos.look(mention.channel, urls[0]) if urls else None
        product = findings.product if findings else None
        if product is None and entities.get("product"):
            product = await self._named_product(entities["product"])
        item = Understood(
            text=mention.text,
            author=greeting_name(mention),
            intent=str(intent) if intent else None,
            sentiment_label=label,
            sentiment_score=score,
            order_mentioned="order_id" in entities,
            product=product,
            logos=findings.logos if findings else (),
            followers=mention.author_followers,
            flags=tuple(flags),
        )
        return item, findings

    async def _named_product(self, name: str) -> ProductSeen | None:
        """The one catalogue product the text names ("love my linen shirt"), for a thank-you naming it."""
        found = await self._catalog.find(name)
        if len(found) != 1:
            return None
        return ProductSeen(found[0].id, found[0].title, found[0].price, found[0].url)

    async def file(self, mention: Mention) -> int:
        """File one item (1), or nothing when another reader already did (0); then act as its policy says."""
        config = self._config()
        understood, findings = await self.understand(mention)
        kind = category(understood, config)
        policy = config.policy(kind)
        decision, rule = policy.decision, kind
        confidence = understood.product.confidence if understood.product else None
        if decision == AUTO and kind == PRODUCT_PHOTO and (confidence or 0.0) < policy.min_confidence:
            decision, rule = QUEUE, f"{kind} below {policy.min_confidence:.2f}"
        text = suggestion(understood, kind, config) if needs_answer(kind) else ""
        values = {
            "mention_id": mention.id,
            "channel": mention.channel,
            "category": kind,
            "intent": understood.intent,
            "sentiment_label": understood.sentiment_label,
            "sentiment_score": understood.sentiment_score,
            "product_id": understood.product.id if understood.product else None,
            "product_title": understood.product.title if understood.product else None,
            "product_confidence": confidence,
            "logos": ", ".join(understood.logos)[:300],
            "urgency": urgency(understood, kind, config),
            "reach": mention.author_followers or 0,
            "rule": rule[:80],
            "decision": decision,
            "suggestion": text,
            "suggestion_kind": PUBLIC,
            "status": "open",
            "hidden": False,
        }
        table: Table = EngagementItem.__table__  # type: ignore[assignment]
        async with self._db.sessions() as session, session.begin():
            result = await session.execute(
                insert_ignore(session, table, ["mention_id"]).values(**values).returning(table.c.id)
            )
            item_id = result.scalar()
        if item_id is None:
            return 0
        logger.info(
            "public item %s (%s %s) filed as %s: %s",
            item_id,
            mention.channel,
            mention.external_id,
            kind,
            decision,
        )
        if findings is not None and findings.sightings:
            await self._record_logos(mention, understood, findings)
        await self._act(item_id, decision, policy.hide, text)
        return 1

    async def _record_logos(self, mention: Mention, item: Understood, findings: PhotoFindings) -> None:
        """The logos in a public photo, for Analytics' logo chart (as DM photos' are); never stops filing."""
        try:
            await record_logo_sightings(
                self._db,
                f"{mention.channel}:{mention.external_id}",  # no conversation: the public item
                mention.channel,
                media_urls(mention)[0],
                findings.sightings,
                (item.sentiment_label, item.sentiment_score),
            )
        except Exception:  # analytics only
            logger.exception("could not record the logos in public item %s", mention.id)

    async def _act(self, item_id: int, decision: str, hide: bool, text: str) -> None:
        """The policy's own actions: hide at once, answer in public; a failure leaves the item in the desk."""
        if hide:
            try:
                await self.actions.set_hidden(item_id, BOT, True)
            except DeliveryError as err:
                logger.warning("public item %s could not be hidden: %s", item_id, err)
        if decision == AUTO and text:
            try:
                await self.actions.reply(item_id, BOT, text, PUBLIC)
            except (DeliveryError, EngagementError) as err:  # it stays open in the desk for an agent
                logger.warning("public item %s: the bot's answer did not go out: %s", item_id, err)
