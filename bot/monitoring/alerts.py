"""Spike alerts: look for spikes in what was recorded, store them with their messages, tell people.

The monitoring service (bot/monitoring/service.py) looks for spikes; the desk lists and acknowledges
alerts through the same class.

A spike (bot/monitoring/spikes.py) becomes an Alert with the negative messages of its window, a nudge
to every desk page, and, when a webhook is configured, a signed POST (bot/monitoring/webhook.py) whose
outcome is kept on the alert. A scope alerts at most once per cooldown, also if two workers ever overlap:
its row in `monitor_cursors` ("spike:<scope>", the POSIX time of its last alert) is moved by one
conditional UPDATE in the transaction that stores the alert, and only one replica can win it.

Tracked keywords (monitoring.yml's `brand:`) are scopes as well. Which keywords a message names is
worked out once per message (its first SEARCHED_CHARS characters) and remembered while the message is
in the windows looked at, so a check reads and matches only the messages recorded since the last one.
A keyword alert's scope is the keyword in quotes (“Loom & Co”, cut to fit the column), its cooldown
row is named by a hash of the keyword, and the webhook's JSON names the keyword and its group.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, update

from bot.live_bus import Bus
from bot.monitoring import spikes
from bot.monitoring.config import BrandSettings, SpikeSettings
from bot.monitoring.const import ALERT_MESSAGES_IN_WEBHOOK, SEARCHED_CHARS, SPIKE_LEASE
from bot.monitoring.keywords import KeywordTracker, tracker
from bot.monitoring.sql import insert_ignore
from bot.monitoring.webhook import DISABLED, PENDING, WebhookClient
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.models import Agent, Alert, AlertMessage, LoggedMessage, MonitorCursor, utcnow

logger = logging.getLogger(__name__)


class AlertError(Exception):
    """An alert cannot be changed as asked; the message says why."""


@dataclass(frozen=True)
class AlertView:
    """An alert with the messages that made it."""

    alert: Alert
    messages: list[LoggedMessage]
    acknowledged_by: str | None


SCOPE_CHARS = 20  # alerts.scope
TEXT_BATCH = 1000  # message texts read per query when keywords are matched


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def shown_scope(scope: str) -> str:
    """What an alert's scope column holds: the channel or "all", or the keyword in quotes, cut to fit."""
    keyword = spikes.keyword_of(scope)
    if keyword is None:
        return scope[:SCOPE_CHARS]
    quoted = f"“{keyword}”"
    return quoted if len(quoted) <= SCOPE_CHARS else f"“{keyword[: SCOPE_CHARS - 3].rstrip()}…”"


def lease_name(scope: str) -> str:
    """The cursor row that holds a scope's last alert time; a keyword's is named by its hash (any length)."""
    keyword = spikes.keyword_of(scope)
    if keyword is None:
        return f"{SPIKE_LEASE}{scope}"[:40]
    return f"{SPIKE_LEASE}kw:{hashlib.sha256(keyword.encode()).hexdigest()[:24]}"


class Alerts:
    """Finds spikes and keeps alerts."""

    def __init__(
        self,
        database: Database,
        settings: SpikeSettings,
        bus: Bus,
        webhook: WebhookClient | None = None,
        desk_url: str = "",
        brand: BrandSettings | None = None,
    ) -> None:
        self._db = database
        self.settings = settings
        self._bus = bus
        self._webhook = webhook
        self._desk_url = desk_url.rstrip("/")
        self._deliveries: set[asyncio.Task[None]] = set()
        alerting = brand is not None and bool(brand.keywords) and brand.spike_alerts
        self.brand: KeywordTracker | None = tracker(brand) if brand is not None and alerting else None
        self._named: dict[int, frozenset[str]] = {}  # message id -> the keywords it names

    async def observations(self, now: dt.datetime) -> tuple[list[spikes.Observation], dt.datetime | None]:
        """The recorded messages of the recent window and its baseline, and when history begins."""
        start = now - self.settings.window * (self.settings.baseline_windows + 1)
        query = select(
            LoggedMessage.id,
            LoggedMessage.kind,
            LoggedMessage.channel,
            LoggedMessage.at,
            LoggedMessage.sentiment_label,
        ).where(LoggedMessage.at > start, LoggedMessage.at <= now)
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).all()
            first = await session.scalar(select(func.min(LoggedMessage.at)))
        named = await self._keywords([r.id for r in rows if self.brand and r.kind in self.brand.kinds])
        found = [
            spikes.Observation(
                r.id, r.channel, _aware(r.at), r.sentiment_label == "negative", named.get(r.id, frozenset())
            )
            for r in rows
        ]
        return found, _aware(first) if first is not None else None

    async def _keywords(self, ids: list[int]) -> dict[int, frozenset[str]]:
        """The keywords each of these messages names: remembered, or read and matched now."""
        if self.brand is None:
            return {}
        known = {i: self._named[i] for i in ids if i in self._named}
        new = [i for i in ids if i not in known]
        for offset in range(0, len(new), TEXT_BATCH):
            chunk = new[offset : offset + TEXT_BATCH]
            query = select(LoggedMessage.id, func.substr(LoggedMessage.text, 1, SEARCHED_CHARS)).where(
                LoggedMessage.id.in_(chunk)
            )
            async with self._db.sessions() as session:
                rows = (await session.execute(query)).all()
            matched = await asyncio.to_thread(self.brand.match_all, [text or "" for _, text in rows])
            known.update((i, frozenset(names)) for (i, _), names in zip(rows, matched, strict=True))
        self._named = known  # messages that left the windows are forgotten
        return known

    async def check(self, now: dt.datetime | None = None) -> list[Alert]:
        """Alert on every scope that spikes now and may alert again; the alerts made."""
        now = now or utcnow()
        observations, since = await self.observations(now)
        keywords = [k.name for k in self.brand.keywords] if self.brand else []
        volume = bool(self.brand and self.brand.settings.volume_alerts)
        made = []
        for verdict in spikes.evaluate_all(observations, now, self.settings, since, keywords, volume):
            if verdict.spike:
                alert = await self._raise(verdict, now)
                if alert is not None:
                    made.append(alert)
        return made

    def _reason(self, verdict: spikes.Verdict) -> str:
        keyword = spikes.keyword_of(verdict.scope)
        if keyword is None or self.brand is None:
            return verdict.reason
        return f"Mentions of “{keyword}” ({self.brand.group_of.get(keyword, '?')}): {verdict.reason}"

    async def _raise(self, verdict: spikes.Verdict, now: dt.datetime) -> Alert | None:
        lease = lease_name(verdict.scope)
        stamp = int(now.timestamp())
        cooled = stamp - int(self.settings.cooldown.total_seconds())
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                insert_ignore(session, MonitorCursor.__table__, ["name"]).values(name=lease, position=0)
            )
            won = await session.execute(
                update(MonitorCursor)
                .where(MonitorCursor.name == lease, MonitorCursor.position <= cooled)
                .values(position=stamp)
            )
            if won.rowcount != 1:
                return None  # this scope alerted within the cooldown (here or on another replica)
            alert = Alert(
                scope=shown_scope(verdict.scope),
                window_start=verdict.window_start,
                window_end=verdict.window_end,
                negative_count=verdict.negative,
                total_count=verdict.total,
                baseline_count=verdict.baseline.mean,
                baseline_share=verdict.baseline.share,
                reason=self._reason(verdict),
                webhook_status=PENDING if self._webhook else DISABLED,
                created_at=now,
            )
            session.add(alert)
            await session.flush()
            kept = verdict.message_ids[-self.settings.max_messages :]
            session.add_all(AlertMessage(alert_id=alert.id, message_id=m) for m in kept)
            audit.record(session, "monitoring", "alert_raised", alert=alert.id, scope=verdict.scope)
        logger.warning("spike alert #%s on %s: %s", alert.id, verdict.scope, alert.reason)
        await self._bus.publish({"kind": "alert"})
        await self._bus.publish({"kind": "queue"})
        if self._webhook is not None:
            payload = await self.payload(alert.id, spikes.keyword_of(verdict.scope), verdict.volume)
            task = asyncio.create_task(self._deliver(alert.id, payload))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        return alert

    async def payload(
        self, alert_id: int, keyword: str | None = None, volume: bool = False
    ) -> dict[str, Any]:
        """What the webhook receives about an alert (`keyword`: the tracked keyword of a keyword alert)."""
        view = await self.get(alert_id)
        alert = view.alert
        group = self.brand.group_of.get(keyword) if self.brand and keyword else None
        return {
            "id": alert.id,
            "scope": alert.scope,
            "keyword": keyword,
            "keyword_group": group,
            "by_volume": volume,
            "window_start": alert.window_start.isoformat(),
            "window_end": alert.window_end.isoformat(),
            "negative_count": alert.negative_count,
            "total_count": alert.total_count,
            "baseline_count": round(alert.baseline_count, 3),
            "baseline_share": round(alert.baseline_share, 3),
            "reason": alert.reason,
            "url": f"{self._desk_url}/monitoring/alerts#alert-{alert.id}",
            "messages": [
                {
                    "channel": m.channel,
                    "kind": m.kind,
                    "at": m.at.isoformat(),
                    "author": m.author,
                    "link": m.link,
                    "text": m.text,
                    "intent": m.intent,
                    "sentiment_score": m.sentiment_score,
                }
                for m in view.messages[-ALERT_MESSAGES_IN_WEBHOOK:]
            ],
        }

    async def _set_webhook(self, alert_id: int, **values: Any) -> None:
        async with self._db.sessions() as session, session.begin():
            await session.execute(update(Alert).where(Alert.id == alert_id).values(**values))

    async def _deliver(self, alert_id: int, payload: dict[str, Any]) -> None:
        assert self._webhook is not None
        try:
            delivery = await self._webhook.deliver(
                payload, on_attempt=lambda n: self._set_webhook(alert_id, webhook_attempts=n)
            )
            await self._set_webhook(
                alert_id, webhook_status=delivery.status, webhook_attempts=delivery.attempts
            )
        except asyncio.CancelledError:
            raise
        except Exception:  # the alert stands in the desk either way
            logger.exception("alert #%s: webhook delivery broke", alert_id)

    async def drain(self) -> None:
        """Wait for webhook deliveries under way (tests, shutdown)."""
        if self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    async def stop(self) -> None:
        """Abandon deliveries under way (their alerts stay `pending`)."""
        for task in list(self._deliveries):
            task.cancel()
        await self.drain()

    async def get(self, alert_id: int) -> AlertView:
        """One alert with its messages."""
        views = await self._views(select(Alert).where(Alert.id == alert_id))
        if not views:
            raise AlertError(f"no alert #{alert_id}")
        return views[0]

    async def recent(self, limit: int = 30) -> tuple[list[AlertView], list[AlertView]]:
        """(open alerts, the latest acknowledged ones), newest first."""
        open_ = await self._views(select(Alert).where(Alert.status == "open").order_by(Alert.id.desc()))
        done = await self._views(
            select(Alert).where(Alert.status != "open").order_by(Alert.id.desc()).limit(limit)
        )
        return open_, done

    async def _views(self, query: Any) -> list[AlertView]:
        async with self._db.sessions() as session:
            alerts = list(await session.scalars(query))
            ids = [a.id for a in alerts]
            pairs = (
                await session.execute(
                    select(AlertMessage.alert_id, LoggedMessage)
                    .join(LoggedMessage, LoggedMessage.id == AlertMessage.message_id)
                    .where(AlertMessage.alert_id.in_(ids))
                    .order_by(LoggedMessage.at, LoggedMessage.id)
                )
            ).all()
            names = dict((await session.execute(select(Agent.id, Agent.display_name))).all())
        messages: dict[int, list[LoggedMessage]] = {i: [] for i in ids}
        for alert_id, message in pairs:
            messages[alert_id].append(message)
        return [
            AlertView(a, messages[a.id], names.get(a.acknowledged_by) if a.acknowledged_by else None)
            for a in alerts
        ]

    async def open_count(self) -> int:
        """How many alerts nobody acknowledged yet."""
        async with self._db.sessions() as session:
            return int(
                await session.scalar(select(func.count()).select_from(Alert).where(Alert.status == "open"))
            )

    async def summary(self) -> tuple[int, int]:
        """(open alerts, the newest alert's id or 0): one cheap query, for the desk's header and refresh."""
        is_open = case((Alert.status == "open", 1), else_=0)
        query = select(func.coalesce(func.sum(is_open), 0), func.coalesce(func.max(Alert.id), 0))
        async with self._db.sessions() as session:
            open_, newest = (await session.execute(query)).one()
        return int(open_), int(newest)

    async def acknowledge(self, agent: Agent, alert_id: int) -> None:
        """Someone has seen it (once; a second click is told so)."""
        async with self._db.sessions() as session, session.begin():
            result = await session.execute(
                update(Alert)
                .where(Alert.id == alert_id, Alert.status == "open")
                .values(status="acknowledged", acknowledged_by=agent.id, acknowledged_at=utcnow())
            )
            if result.rowcount != 1:
                exists = await session.get(Alert, alert_id)
                raise AlertError(
                    f"alert #{alert_id} was already acknowledged" if exists else f"no alert #{alert_id}"
                )
            audit.record(session, agent, "alert_acknowledged", alert=alert_id)
        await self._bus.publish({"kind": "alert"})
        await self._bus.publish({"kind": "queue"})
