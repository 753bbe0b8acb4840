"""The monitoring service: `python -m bot.monitoring`, one active worker whatever the replica count.

Every replica serves `/health` (live), `/readyz` (the database, and Redis when configured, answer; the
answer says whether this replica holds the lease) and `/metrics` (bearer METRICS_TOKEN, as the desk's)
on MONITORING_HOST:MONITORING_PORT (127.0.0.1:5095). Only the replica that holds the lease
(bot/monitoring/lease.py) runs monitoring rounds (bot/monitoring/monitor.py): the holder renews it every
third of MONITORING_LEASE_SECONDS (15 s), standbys ask for it every tenth, so a standby takes over
within about the TTL after the holder died. SIGTERM: the round under way finishes, the lease is
released (a standby takes it at its next ask), the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import Counter, Gauge, Histogram

from bot.config_files import WatchedFile
from bot.conversations.api_auth import jwt_secret_from_env
from bot.conversations.rasa_api import RasaClient
from bot.conversations.tracker_store import tracker_database_url
from bot.live_bus import Bus
from bot.metrics import CHALLENGE, LATENCY_BUCKETS, PREFIX, exposition, metrics_token_from_env, new_registry
from bot.metrics import refusal as metrics_refusal
from bot.monitoring.config import ModerationSettings, MonitoringConfig
from bot.monitoring.engagement.worker import engagement_worker
from bot.monitoring.lease import Lease, make_lease
from bot.monitoring.monitor import Monitor
from bot.readiness import Readiness, dependencies
from bot.settings import Settings, number_setting, port_setting
from bot.storage.db import Database

logger = logging.getLogger(__name__)
LEASE_NAME = "monitoring"

REGISTRY = new_registry()
LEASE_HELD = Gauge(
    f"{PREFIX}monitoring_lease_held",
    "1 while this replica holds the lease and runs monitoring",
    registry=REGISTRY,
)
ROUNDS = Counter(f"{PREFIX}monitoring_rounds", "Monitoring rounds run by this replica", registry=REGISTRY)
RECORDED = Counter(
    f"{PREFIX}monitoring_recorded_messages", "Customer messages recorded into message_log", registry=REGISTRY
)
ROUND_SECONDS = Histogram(
    f"{PREFIX}monitoring_round_seconds",
    "Time of one monitoring round",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the monitoring process needs, read once at start-up."""

    settings: Settings
    monitoring: MonitoringConfig
    tracker_database_url: str
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""  # RASA_JWT_SECRET: pause/resume on mutes, /model/parse for mentions
    desk_api_token: str = ""  # DESK_API_TOKEN: the connectors' public_action route (engagement answers)
    desk_url: str = "http://127.0.0.1:5090"  # links in alert webhooks
    host: str = "127.0.0.1"
    port: int = 5095
    lease_seconds: float = 15.0
    # After the bot's answer, this long without a customer message ends a conversation it handled alone
    # (and it is asked for the assistant's rating): BOT_CSAT_QUIET_MINUTES.
    bot_csat_quiet: dt.timedelta = dt.timedelta(minutes=30)
    lease_name: str = LEASE_NAME  # another name only for deployments that share one Redis or database
    metrics_token: str | None = None
    # monitoring.yml as editors change it: a new version takes effect at the next round.
    monitoring_file: WatchedFile[MonitoringConfig] | None = field(default=None, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServiceConfig:
        """DATABASE_URL, REDIS_URL, VAR_DIR, RASA_URL, RASA_JWT_SECRET, DESK_PUBLIC_URL, MONITORING_*."""
        env = os.environ if env is None else env
        settings = Settings.from_env(env)
        lease_seconds = number_setting(env, "MONITORING_LEASE_SECONDS", 15.0, minimum=0.1)
        quiet_minutes = number_setting(env, "BOT_CSAT_QUIET_MINUTES", 30.0, minimum=0.01)
        monitoring_file = MonitoringConfig.watch(env)
        return cls(
            settings=settings,
            monitoring=monitoring_file.value,
            monitoring_file=monitoring_file,
            tracker_database_url=tracker_database_url(env),  # the choice Rasa's own store makes
            rasa_url=env.get("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_token=jwt_secret_from_env(env) or "",
            desk_api_token=env.get("DESK_API_TOKEN", ""),
            desk_url=env.get("DESK_PUBLIC_URL") or f"http://127.0.0.1:{env.get('DESK_PORT', '5090')}",
            host=env.get("MONITORING_HOST", "127.0.0.1"),
            port=port_setting(env, "MONITORING_PORT", 5095),
            lease_seconds=lease_seconds,
            bot_csat_quiet=dt.timedelta(minutes=quiet_minutes),
            lease_name=env.get("MONITORING_LEASE_NAME") or LEASE_NAME,
            metrics_token=metrics_token_from_env(env),
        )


class MonitoringService:
    """The lease, the rounds it allows, and the small HTTP endpoint."""

    def __init__(self, config: ServiceConfig, lease: Lease | None = None) -> None:
        self.config = config
        self.database = Database(config.settings.database_url)
        same = config.tracker_database_url == config.settings.database_url
        self.trackers = self.database if same else Database(config.tracker_database_url)
        self.bus = Bus(config.settings.redis_url)
        # Never sends agent replies; the desk token is for the engagement worker's public answers.
        self.rasa = RasaClient(config.rasa_url, config.rasa_token, config.desk_api_token)
        self.engagement = engagement_worker(config.settings, self.database, self.rasa, self._moderation)
        self.monitor = self._monitor(config.monitoring)
        self.lease = lease or make_lease(
            config.settings.redis_url, self.database, config.lease_name, config.lease_seconds
        )
        self.stopping = asyncio.Event()
        self._retiring: set[asyncio.Task[None]] = set()  # monitors replaced by new settings
        self.readiness = Readiness(
            "monitoring", dependencies(self.database, self.trackers), config.settings.redis_url
        )

    def _monitor(self, settings: MonitoringConfig) -> Monitor:
        return Monitor(
            settings,
            self.database,
            self.trackers,
            self.bus,
            self.rasa,
            desk_url=self.config.desk_url,
            engagement=self.engagement,
            bot_csat_quiet=self.config.bot_csat_quiet,
        )

    def _moderation(self) -> ModerationSettings:
        """monitoring.yml's moderation settings as of this round (engagement flags abuse the same way)."""
        return self.monitor.config.moderation

    async def _latest_settings(self) -> None:
        """Monitoring.yml changed: the next round runs with the new settings (cursors are in the database)."""
        if self.config.monitoring_file is None:
            return
        latest = self.config.monitoring_file.value
        if latest is not self.monitor.config:
            logger.info(
                "monitoring settings changed (%s): applied from this round", self.config.monitoring_file.path
            )
            retired, self.monitor = self.monitor, self._monitor(latest)
            retiring = asyncio.create_task(retired.retire())  # its alert deliveries still finish
            self._retiring.add(retiring)
            retiring.add_done_callback(self._retiring.discard)

    @property
    def renew_every(self) -> float:
        """How often the holder renews: three times per TTL, so one late renewal does not lose it."""
        return self.config.lease_seconds / 3

    @property
    def ask_every(self) -> float:
        """How often a standby asks for the lease."""
        return self.config.lease_seconds / 10

    async def _keep_lease(self) -> None:
        """Hold or ask for the lease until stopping; LEASE_HELD follows."""
        was = False
        while not self.stopping.is_set():
            held = await self.lease.hold()
            if held != was:
                logger.info("monitoring lease %s: %s", "taken" if held else "not held", self.lease.holder)
                was = held
            LEASE_HELD.set(1 if held else 0)
            await self._sleep(self.renew_every if held else self.ask_every)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _rounds(self) -> None:
        """A monitoring round every interval while this replica holds the lease."""
        while not self.stopping.is_set():
            if not self.lease.held:
                await self._sleep(min(self.ask_every, 1.0))
                continue
            await self._latest_settings()
            started = time.monotonic()
            recorded = await self.monitor.tick()  # runs to its end even after SIGTERM
            ROUNDS.inc()
            RECORDED.inc(recorded)
            ROUND_SECONDS.observe(time.monotonic() - started)
            await self._sleep(self.monitor.config.interval_seconds)

    async def run(self) -> None:
        """Serve HTTP and run until `stopping` is set; then release the lease and close everything."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.config.host, self.config.port).start()
        await self.bus.start()
        logger.info(
            "monitoring service on http://%s:%s (lease %s, %s s)",
            self.config.host,
            self.config.port,
            "in Redis" if self.config.settings.redis_url else "in the database",
            self.config.lease_seconds,
        )
        self.engagement.warm()  # the photo models load while the lease is asked for
        try:
            await asyncio.gather(self._keep_lease(), self._rounds())
        finally:
            await self.lease.release()
            LEASE_HELD.set(0)
            await self.lease.close()
            await runner.cleanup()
            for retired in list(self._retiring):
                retired.cancel()  # as at any shutdown: their alerts stay `pending`
            await asyncio.gather(*self._retiring, return_exceptions=True)
            await self.monitor.close()
            await self.bus.stop()
            await self.rasa.close()
            await self.readiness.close()
            await self.database.close()
            if self.trackers is not self.database:
                await self.trackers.close()
            logger.info("monitoring service stopped")

    # HTTP

    def app(self) -> web.Application:
        """`/health`, `/readyz`, `/metrics`."""
        app = web.Application()
        app.router.add_get("/health", self.health)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        return app

    async def health(self, _: web.Request) -> web.Response:
        """Liveness: the process answers."""
        return web.Response(text="ok")

    async def readyz(self, _: web.Request) -> web.Response:
        """Ready when the database (and Redis) answer; `lease` says whether this replica is the worker."""
        lease = "held" if self.lease.held else "standby"
        failed = await self.readiness.problems()
        if failed:
            answer = {"status": "unavailable", "problems": failed, "lease": lease}
            return web.json_response(answer, status=503)
        return web.json_response({"status": "ready", "lease": lease})

    async def metrics(self, request: web.Request) -> web.Response:
        """Prometheus metrics of this replica, behind METRICS_TOKEN's bearer (403 when unset)."""
        if refused := metrics_refusal(request.headers.get("Authorization"), self.config.metrics_token):
            return web.Response(status=refused[0], text=refused[1], headers=CHALLENGE)
        body, content_type = exposition(REGISTRY, request.headers.get("Accept"))
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response


async def serve(config: ServiceConfig) -> None:
    """Run the service until SIGTERM or SIGINT."""
    service = MonitoringService(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.stopping.set)
    await service.run()
