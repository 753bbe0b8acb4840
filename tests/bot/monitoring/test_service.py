"""`python -m bot.monitoring` as real processes on the test database (PostgreSQL and SQLite).

Two replicas: exactly one holds the lease and records; a customer message written into Rasa's events
table lands in message_log once; SIGKILL of the holder hands the work to the standby within the lease's
TTL; SIGTERM finishes the round, releases the lease and exits 0. With REDIS_URL the lease is in Redis.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.monitoring.config import MonitoringConfig
from bot.monitoring.service import LEASE_NAME, MonitoringService, ServiceConfig
from bot.settings import PROJECT_ROOT, ConfigError
from bot.storage.db import Database
from bot.storage.models import LoggedMessage

from ...ports import free_port
from .conftest import user_event

pytestmark = pytest.mark.slow

LEASE_SECONDS = 3.0
METRICS_TOKEN = "monitoring-metrics-token"


class Replica:
    """One `python -m bot.monitoring` process and its HTTP endpoint."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.monitoring"],
                cwd=PROJECT_ROOT,
                env={**env, "MONITORING_PORT": str(self.port)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.log = log

    async def get(self, path: str, **headers: str) -> tuple[int, Any]:
        """Status and body (JSON when it is) of a GET; (0, None) while nothing listens."""
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{self.url}{path}", headers=headers) as answer,
            ):
                body = (
                    await answer.json() if answer.content_type == "application/json" else await answer.text()
                )
                return answer.status, body
        except aiohttp.ClientConnectionError:
            return 0, None

    async def lease(self) -> str | None:
        """`held` or `standby` as /readyz says, None while not ready."""
        status, body = await self.get("/readyz")
        return body["lease"] if status == 200 else None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send `sig` and wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"still running 30 s after {sig}:\n{self.log.read_text()}") from None


async def eventually(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Await `check()` until it returns something true; its value."""
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, f"{what} not met in {timeout} s"
        await asyncio.sleep(0.05)
    return value


@pytest.fixture(params=["database lease", "redis lease"])
def service_env(request, database_url, tmp_path) -> dict[str, str]:
    """The replicas' environment: the test database, quick rounds, a short lease, Rasa away."""
    monitoring_yml = tmp_path / "monitoring.yml"
    monitoring_yml.write_text("interval_seconds: 0.1\nmoderation:\n  block_list: [idiot]\n")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "METRICS_TOKEN")}
    env.update(
        DATABASE_URL=database_url,
        VAR_DIR=str(tmp_path),
        MONITORING_CONFIG=str(monitoring_yml),
        MONITORING_LEASE_SECONDS=str(LEASE_SECONDS),
        MONITORING_LEASE_NAME=f"test-{uuid.uuid4().hex[:8]}",  # Redis is shared with other tests
        RASA_URL="http://127.0.0.1:9",
        RASA_JWT_SECRET="a-rasa-secret-for-the-monitoring-test",
        METRICS_TOKEN=METRICS_TOKEN,
    )
    if request.param == "redis lease":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    return env


@pytest.fixture
async def replicas(service_env, tmp_path) -> AsyncIterator[list[Replica]]:
    """Two replicas, both ready (one holds the lease); killed at the end whatever happened."""
    started = [Replica(service_env, tmp_path / f"monitoring-{n}.log") for n in (1, 2)]
    try:
        await eventually(lambda: _all_ready(started), timeout=60, what="both replicas ready")
        yield started
    finally:
        for replica in started:
            if replica.process.poll() is None:
                replica.process.kill()
                replica.process.wait()


async def _all_ready(replicas: list[Replica]) -> bool:
    for replica in replicas:
        assert replica.process.poll() is None, replica.log.read_text()
    leases = [await replica.lease() for replica in replicas]
    return None not in leases and "held" in leases


async def recorded(database: Database, conversation_id: str | None = None) -> list[LoggedMessage]:
    query = select(LoggedMessage).order_by(LoggedMessage.id)
    if conversation_id:
        query = query.where(LoggedMessage.conversation_id == conversation_id)
    async with database.sessions() as session:
        return list(await session.scalars(query))


async def test_one_replica_records_a_standby_takes_over_and_sigterm_exits_0(replicas, database, store_event):
    leases = [await r.lease() for r in replicas]
    assert sorted(leases) == ["held", "standby"], leases
    holder, standby = (replicas[0], replicas[1]) if leases[0] == "held" else (replicas[1], replicas[0])

    await store_event("psid-service-1", user_event("where is my refund??"))
    [first] = await eventually(lambda: recorded(database, "psid-service-1"), what="first message recorded")
    assert first.intent == "request_refund" and first.sentiment_label == "negative"
    await asyncio.sleep(0.5)  # several more rounds of both replicas
    assert [m.source for m in await recorded(database)] == [first.source]  # nothing else, nothing twice

    status, text = await holder.get("/metrics", Authorization=f"Bearer {METRICS_TOKEN}")
    assert status == 200 and "loom_monitoring_lease_held 1.0" in text
    assert "loom_monitoring_recorded_messages_total 1.0" in text
    assert (await standby.get("/metrics"))[0] == 401
    status, text = await standby.get("/metrics", Authorization=f"Bearer {METRICS_TOKEN}")
    assert "loom_monitoring_lease_held 0.0" in text

    killed = time.monotonic()
    assert holder.stop(signal.SIGKILL) == -signal.SIGKILL  # no release: the lease has to expire
    await eventually(lambda: _holds(standby), timeout=LEASE_SECONDS * 3, what="takeover")
    takeover = time.monotonic() - killed
    assert takeover <= LEASE_SECONDS + 1.5, takeover  # TTL, plus a standby's asking interval and slack
    print(f"takeover after SIGKILL of the holder: {takeover:.2f} s (lease {LEASE_SECONDS} s)")
    await store_event("psid-service-2", user_event("still nothing, this is a joke"))
    await eventually(lambda: recorded(database, "psid-service-2"), what="recorded after the takeover")
    assert len(await recorded(database)) == 2

    assert standby.stop(signal.SIGTERM) == 0
    assert "monitoring service stopped" in standby.log.read_text()


async def test_sigterm_releases_the_lease_to_the_standby_at_once(replicas):
    leases = [await r.lease() for r in replicas]
    holder, standby = (replicas[0], replicas[1]) if leases[0] == "held" else (replicas[1], replicas[0])
    stopped = time.monotonic()
    assert holder.stop(signal.SIGTERM) == 0
    await eventually(lambda: _holds(standby), timeout=LEASE_SECONDS, what="takeover after release")
    assert time.monotonic() - stopped < LEASE_SECONDS  # released, not expired
    assert standby.stop(signal.SIGTERM) == 0


async def _holds(replica: Replica) -> bool:
    return await replica.lease() == "held"


def test_settings_are_read_once_from_the_environment(tmp_path):
    config = ServiceConfig.from_env(
        {
            "DATABASE_URL": "postgresql://loom@db/loom",
            "REDIS_URL": "redis://cache:6379/0",
            "RASA_URL": "http://rasa:5005/",
            "RASA_JWT_SECRET": "s3cret",
            "DESK_PUBLIC_URL": "https://desk.example",
            "MONITORING_CONFIG": str(tmp_path / "absent.yml"),
            "MONITORING_PORT": "6000",
        }
    )
    assert config.tracker_database_url == config.settings.database_url == "postgresql://loom@db/loom"
    assert (config.rasa_url, config.rasa_token, config.desk_url) == (
        "http://rasa:5005",
        "s3cret",
        "https://desk.example",
    )
    assert (config.host, config.port, config.lease_seconds, config.lease_name) == (
        "127.0.0.1",
        6000,
        15.0,
        LEASE_NAME,
    )
    assert config.monitoring.interval_seconds == MonitoringConfig().interval_seconds
    assert config.metrics_token is None
    embedded = ServiceConfig.from_env({"VAR_DIR": str(tmp_path), "MONITORING_CONFIG": "/nonexistent"})
    assert embedded.tracker_database_url == f"sqlite:///{tmp_path}/tracker.db"
    assert embedded.settings.redis_url is None and embedded.desk_url == "http://127.0.0.1:5090"
    assert embedded.bot_csat_quiet == dt.timedelta(minutes=30)


async def test_the_bot_rating_quiet_time_is_a_setting_in_minutes(tmp_path):
    env = {"VAR_DIR": str(tmp_path), "MONITORING_CONFIG": "/nonexistent"}
    config = ServiceConfig.from_env({**env, "BOT_CSAT_QUIET_MINUTES": "0.25"})
    assert config.bot_csat_quiet == dt.timedelta(seconds=15)
    service = MonitoringService(config)
    try:
        assert service.monitor.bot_csat.quiet == dt.timedelta(seconds=15)  # what the rounds use
    finally:
        await service.monitor.close()
        await service.lease.close()
        await service.rasa.close()
        await service.database.close()
    with pytest.raises(ConfigError, match="BOT_CSAT_QUIET_MINUTES"):
        ServiceConfig.from_env({**env, "BOT_CSAT_QUIET_MINUTES": "0"})


async def test_an_edited_monitoring_yml_applies_from_the_next_round(tmp_path):
    path = tmp_path / "monitoring.yml"
    path.write_text("interval_seconds: 2\n")
    env = {"VAR_DIR": str(tmp_path), "MONITORING_CONFIG": str(path)}
    watched = MonitoringConfig.watch(env, every=0)  # checked at every round, for the test
    config = dataclasses.replace(
        ServiceConfig.from_env(env), monitoring=watched.value, monitoring_file=watched
    )
    service = MonitoringService(config)
    try:
        first = service.monitor
        await service._latest_settings()
        assert service.monitor is first  # nothing changed: the same monitor goes on
        path.write_text("interval_seconds: 17\n")
        await service._latest_settings()
        assert service.monitor is not first and service.monitor.config.interval_seconds == 17
        second = service.monitor
        path.write_text("interval_seconds: [unclosed\n")  # a broken edit keeps the last good settings
        await service._latest_settings()
        assert service.monitor is second and service.monitor.config.interval_seconds == 17
    finally:
        await asyncio.gather(*service._retiring)  # the replaced monitors closed themselves
        await service.monitor.close()
        await service.lease.close()
        await service.rasa.close()
        await service.database.close()
        if service.trackers is not service.database:
            await service.trackers.close()
