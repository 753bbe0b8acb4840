"""The webhook ingress process: credentials.yml's channels, storing and acknowledging, never answering."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from sanic import Sanic

from connectors.inbox import inbox_from_env
from connectors.ingress import build_app
from connectors.security import hub_signature

from .conftest import free_port, fresh

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

SECRETS = {
    "META_APP_SECRET": "ingress-app-secret",
    "META_VERIFY_TOKEN": "verify",
    "META_PAGE_ACCESS_TOKEN": "page-token",
    "INSTAGRAM_ACCESS_TOKEN": "ig-token",
    "X_CONSUMER_KEY": "ck",
    "X_CONSUMER_SECRET": "cs",
    "X_ACCESS_TOKEN": "at",
    "X_ACCESS_TOKEN_SECRET": "ats",
    "X_USER_ID": "1000000000",
    "REST_CHANNEL_TOKEN": "rest-token",
}


@pytest.fixture
async def ingress(tmp_path, monkeypatch):
    """The ingress app built from the project's credentials.yml, served on a free port."""
    for name, value in {**SECRETS, "VAR_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    Sanic.test_mode = True
    app = build_app("credentials.yml")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    await server.after_start()
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


async def test_a_webhook_is_stored_and_acknowledged_and_nothing_is_answered(ingress, tmp_path):
    app, url = ingress
    body = json.loads((FIXTURES / "messenger" / "message__text.json").read_text(encoding="utf-8"))
    raw = json.dumps(fresh(body)).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": hub_signature(raw, SECRETS["META_APP_SECRET"]),
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/webhooks/messenger/webhook", data=raw, headers=headers) as answer:
            assert (answer.status, await answer.text()) == (200, "EVENT_RECEIVED")
        async with session.get(f"{url}/readyz") as answer:
            assert answer.status == 200  # no model, and none needed
        async with session.post(
            f"{url}/webhooks/rest/webhook", json={"sender": "a", "message": "hi"}
        ) as answer:
            assert answer.status == 404  # the REST channel needs a model: not served here
    inbox = inbox_from_env({"VAR_DIR": str(tmp_path)})
    assert await inbox.count_pending("messenger") == 1  # stored for a Rasa replica, not handled here
    await inbox.close()
    assert all(not channel.worker.running for channel in app.ctx.input_channels)


async def test_a_bad_signature_is_still_refused(ingress):
    _, url = ingress
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/webhooks/twitter/webhook", data=b"{}", headers={}) as answer,
    ):
        assert answer.status == 403
