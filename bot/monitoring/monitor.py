"""One round of monitoring: record new messages, file unsure ones for review, look for spikes now and then.

The monitoring service (bot/monitoring/service.py) calls `tick` every `interval_seconds` while it holds
the lease; every `spikes.every_seconds` a round also looks for spikes (bot/monitoring/alerts.py), per
channel, overall and per tracked keyword (monitoring.yml's `brand:`). An error is logged and the next
round tries again: the cursors make sure nothing is lost meanwhile.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bot.conversations.rasa_api import RasaClient
from bot.live_bus import Bus
from bot.monitoring.alerts import Alerts
from bot.monitoring.bot_csat import DEFAULT_QUIET, BotCsat
from bot.monitoring.config import ROOT, MonitoringConfig
from bot.monitoring.ingest import Recorder
from bot.monitoring.moderation import Moderation
from bot.monitoring.review_reader import ReviewReader
from bot.monitoring.webhook import WebhookClient
from bot.sentiment.scorer import Lexicon, SentimentScorer
from bot.storage.db import Database

if TYPE_CHECKING:
    from bot.monitoring.engagement.worker import EngagementWorker

logger = logging.getLogger(__name__)
LEXICON = ROOT / "data" / "sentiment" / "lexicon.yml"


class Monitor:
    """Recorder, moderation and alerts, driven one round at a time."""

    def __init__(
        self,
        config: MonitoringConfig,
        database: Database,
        trackers: Database,
        bus: Bus,
        rasa: RasaClient,
        desk_url: str = "",
        lexicon: Path = LEXICON,
        engagement: EngagementWorker | None = None,
        bot_csat_quiet: dt.timedelta = DEFAULT_QUIET,
    ) -> None:
        self.config = config
        self.moderation = Moderation(database, config.moderation, rasa)
        scorer = SentimentScorer(Lexicon.load(lexicon))
        self.recorder = Recorder(database, trackers, scorer, rasa, self.moderation)
        self.webhook = WebhookClient(config.webhook) if config.webhook.enabled else None
        self.alerts = Alerts(database, config.spikes, bus, self.webhook, desk_url, config.brand)
        self._last_spike_check = float("-inf")
        self.engagement = (
            engagement  # public items filed and answered (bot/monitoring/engagement), after recording
        )
        self.review = ReviewReader(database, trackers)  # unsure messages for content editors
        self.bot_csat = BotCsat(database, trackers, rasa, bot_csat_quiet)  # the assistant's own rating

    async def tick(self, now: dt.datetime | None = None) -> int:
        """One round: record, maybe look for spikes; how many messages were recorded."""
        recorded = 0
        try:
            recorded = await self.recorder.catch_up()
        except Exception as err:  # the database or Rasa's table may be briefly away: next round
            logger.warning("monitoring could not record new messages: %s", err, exc_info=True)
        if self.engagement is not None:
            try:
                await self.engagement.catch_up()
            except Exception as err:  # Rasa may be briefly away: the cursor keeps the place
                logger.warning("engagement could not file new public items: %s", err, exc_info=True)
        try:
            await self.bot_csat.tick()
        except Exception as err:  # the cursor keeps the place; a marked question is retried
            logger.warning("monitoring could not follow the bot's conversations: %s", err, exc_info=True)
        try:
            await self.review.catch_up()
        except Exception as err:  # the cursor keeps the place
            logger.warning("monitoring could not file messages for review: %s", err, exc_info=True)
        if time.monotonic() - self._last_spike_check >= self.config.spikes.every_seconds:
            self._last_spike_check = time.monotonic()
            try:
                await self.alerts.check(now)
            except Exception as err:
                logger.warning("monitoring could not look for spikes: %s", err, exc_info=True)
        return recorded

    async def retire(self) -> None:
        """Replaced by new settings: webhook deliveries under way finish first, then the client closes."""
        await self.alerts.drain()
        if self.webhook is not None:
            await self.webhook.close()

    async def close(self) -> None:
        """Abandon webhook deliveries under way (their alerts stay `pending`) and close the client."""
        await self.alerts.stop()
        if self.webhook is not None:
            await self.webhook.close()
