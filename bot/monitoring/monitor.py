"""Monitoring as a background task of the desk: record new messages, look for spikes, keep counts fresh.

Every `interval_seconds` it records what is new (bot/monitoring/ingest.py); every `spikes.every_seconds`
it looks for spikes (bot/monitoring/alerts.py). An error is logged and the next round tries again: the
cursors make sure nothing is lost meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from pathlib import Path

from bot.conversations.rasa_api import RasaClient
from bot.live_bus import Bus
from bot.monitoring.alerts import Alerts
from bot.monitoring.config import ROOT, MonitoringConfig
from bot.monitoring.ingest import Recorder
from bot.monitoring.moderation import Moderation
from bot.monitoring.webhook import WebhookClient
from bot.sentiment.scorer import Lexicon, SentimentScorer
from bot.storage.db import Database

logger = logging.getLogger(__name__)
LEXICON = ROOT / "data" / "sentiment" / "lexicon.yml"


class Monitor:
    """Recorder, moderation and alerts, and the loop that drives them."""

    def __init__(
        self,
        config: MonitoringConfig,
        database: Database,
        trackers: Database,
        bus: Bus,
        rasa: RasaClient,
        desk_url: str = "",
        lexicon: Path = LEXICON,
    ) -> None:
        self.config = config
        self.moderation = Moderation(database, config.moderation, rasa)
        scorer = SentimentScorer(Lexicon.load(lexicon))
        self.recorder = Recorder(database, trackers, scorer, rasa, self.moderation)
        self.webhook = WebhookClient(config.webhook) if config.webhook.enabled else None
        self.alerts = Alerts(database, config.spikes, bus, self.webhook, desk_url)
        self.open_alerts = 0  # for the desk's header: refreshed every round and after an acknowledgement
        self._task: asyncio.Task[None] | None = None
        self._last_spike_check = float("-inf")

    async def tick(self, now: dt.datetime | None = None) -> int:
        """One round: record, maybe look for spikes, count open alerts; how many messages were recorded."""
        recorded = 0
        try:
            recorded = await self.recorder.catch_up()
        except Exception as err:  # the database or Rasa's table may be briefly away: next round
            logger.warning("monitoring could not record new messages: %s", err, exc_info=True)
        if time.monotonic() - self._last_spike_check >= self.config.spikes.every_seconds:
            self._last_spike_check = time.monotonic()
            try:
                await self.alerts.check(now)
            except Exception as err:
                logger.warning("monitoring could not look for spikes: %s", err, exc_info=True)
        await self.refresh_count()
        return recorded

    async def refresh_count(self) -> None:
        """Count the open alerts again."""
        try:
            self.open_alerts = await self.alerts.open_count()
        except Exception as err:
            logger.warning("monitoring could not count open alerts: %s", err)

    async def _run(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self.config.interval_seconds)

    async def start(self) -> None:
        """Run in the background (unless interval_seconds is 0)."""
        if self.config.interval_seconds > 0:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the loop and any webhook delivery under way."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.alerts.stop()
        if self.webhook is not None:
            await self.webhook.close()
