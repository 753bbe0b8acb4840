"""Engagement tests: the migrated databases of the desk's tests, and Rasa's HTTP side as the worker uses it.

The Rasa side here answers `/model/parse` and the connectors' `public_action` route by their contracts
(bearer token, idempotency on client_id); the real route and the platforms' fake APIs are tested in
tests/connectors/test_public_actions.py, and the whole path in tests/e2e/test_engagement.py.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.conversations.rasa_api import RasaClient
from bot.monitoring.config import ModerationSettings
from bot.monitoring.engagement.photos import PhotoLookup
from bot.monitoring.engagement.policy import EngagementConfig
from bot.monitoring.engagement.worker import EngagementWorker
from bot.monitoring.monitor import LEXICON
from bot.sentiment.scorer import Lexicon, SentimentScorer
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import Mention, Product

from ...desk.conftest import (  # noqa: F401  (fixtures are found by name)
    PASSWORD,
    accounts,
    database,
    database_url,
    people,
    quick_hashing,
)
from ..conftest import RASA_TOKEN, FakeRasa

DESK_TOKEN = "engagement-desk-token"


class RasaWithChannels(FakeRasa):
    """Also the connectors' public_action route: one result per client id, every call kept."""

    def __init__(self) -> None:
        super().__init__()
        self.actions: list[dict[str, Any]] = []
        self.done: dict[str, dict[str, Any]] = {}
        self.failing = 0  # answer this many calls with a 502 first
        self.entities: dict[str, tuple[str, str]] = {}  # word in the text -> (entity, value) parsed

    async def _parse(self, request: web.Request) -> web.Response:
        answer = await super()._parse(request)
        parsed = json.loads(answer.body)  # type: ignore[arg-type]
        text = parsed["text"].lower()
        found = [{"entity": e, "value": v} for word, (e, v) in self.entities.items() if word in text]
        return web.json_response({**parsed, "entities": found})

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_post("/webhooks/{route}/public_action", self._public_action)
        return app

    async def _public_action(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {DESK_TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        self.actions.append({"route": request.match_info["route"], **body})
        if self.failing:
            self.failing -= 1
            return web.json_response({"error": "platform_error", "detail": "HTTP 500"}, status=502)
        answer = self.done.setdefault(
            body["client_id"], {"status": "done", "action": body["action"], "id": uuid.uuid4().hex}
        )
        return web.json_response(answer)

    def sent(self, action: str = "reply") -> list[dict[str, Any]]:
        """What `action` made on the platform: one per client id that succeeded (a replay counts once)."""
        made = {
            a["client_id"]: a for a in self.actions if a["action"] == action and a["client_id"] in self.done
        }
        return list(made.values())


@pytest.fixture
async def channels() -> AsyncIterator[RasaWithChannels]:
    fake = RasaWithChannels()
    fake.intents = {"order": "order_status", "ship": "shipping_info", "love": "compliment", "idiot": "insult"}
    async with TestServer(fake.app()) as server:
        fake.url = str(server.make_url("")).rstrip("/")
        yield fake


def worker_for(
    db: Database,
    fake: RasaWithChannels,
    tmp_path: Path,
    policies: str = "",
    photo_hosts: tuple[str, ...] = (),
) -> EngagementWorker:
    """A worker on the database, with engagement.yml as committed (or these policies instead).

    `photo_hosts`: where the test serves photos from (the fetch policy refuses any other host).
    """
    config = EngagementConfig.load()
    if policies:
        path = tmp_path / "engagement.yml"
        path.write_text(policies, encoding="utf-8")
        config = EngagementConfig.load(path)
    settings = Settings(database_url="sqlite://", var_dir=str(tmp_path), photo_allowed_hosts=photo_hosts)
    return EngagementWorker(
        db,
        RasaClient(fake.url, RASA_TOKEN, DESK_TOKEN),
        SentimentScorer(Lexicon.load(LEXICON)),
        PhotoLookup(settings, db),
        lambda: config,
        lambda: ModerationSettings(block_list=("idiot*",)),
    )


async def add_product(db: Database, title: str, price: str = "45.00") -> Product:
    """A catalogue product, as the seed makes them."""
    slug = title.lower().replace(" ", "-")
    product = Product(
        sku=slug.upper()[:40],
        title=title,
        category="tops",
        price=Decimal(price),
        url=f"https://loomandco.example/products/{slug}",
    )
    async with db.sessions() as session, session.begin():
        session.add(product)
    return product


async def add_mention(db: Database, text: str, channel: str = "facebook", **fields: Any) -> Mention:
    """A public item as a channel stores it."""
    external = fields.pop("external_id", uuid.uuid4().hex[:20])
    mention = Mention(
        channel=channel,
        kind=fields.pop("kind", "comment"),
        external_id=external,
        account_id="104556789012345",
        author_id=fields.pop("author_id", "6123456789012345"),
        author_name=fields.pop("author_name", "Jane Doe"),
        author_handle=fields.pop("author_handle", ""),
        text=text,
        url="https://www.facebook.com/104556789012345/posts/1",
        posted_at=dt.datetime.now(dt.timezone.utc),
        post_id="104556789012345_1",
        **fields,
    )
    async with db.sessions() as session, session.begin():
        session.add(mention)
    return mention
