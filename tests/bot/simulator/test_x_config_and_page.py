"""X settings from the environment, and X on the customer page."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient

from bot.simulator.config import SimulatorConfig

STATIC = Path(__file__).resolve().parents[3] / "bot" / "simulator" / "static"


def test_x_defaults() -> None:
    config = SimulatorConfig.from_env({}, port=5080)
    assert (config.x_consumer_key, config.x_consumer_secret) == (
        "sim-x-consumer-key",
        "sim-x-consumer-secret",
    )
    assert (config.x_access_token, config.x_access_token_secret) == (
        "sim-x-access-token",
        "sim-x-access-secret",
    )
    assert (config.x_user_id, config.x_screen_name) == ("1500000000000000001", "loomandco")
    assert config.webhook_url("twitter") == "http://127.0.0.1:5005/webhooks/twitter/webhook"
    assert config.x_api_url("http://127.0.0.1:5080") == "http://127.0.0.1:5080/x"
    assert config.account_id("twitter") == "1500000000000000001"


def test_x_environment_overrides() -> None:
    env = {
        "X_CONSUMER_KEY": "ck",
        "X_CONSUMER_SECRET": "cs",
        "X_ACCESS_TOKEN": "at",
        "X_ACCESS_TOKEN_SECRET": "ats",
        "X_USER_ID": "42",
        "SIM_X_SCREEN_NAME": "brand",
        "SIM_WEBHOOK_BASE": "http://bot:5005/webhooks",
    }
    config = SimulatorConfig.from_env(env)
    assert (config.x_consumer_key, config.x_consumer_secret, config.x_access_token) == ("ck", "cs", "at")
    assert (config.x_access_token_secret, config.x_user_id, config.x_screen_name) == ("ats", "42", "brand")
    assert config.webhook_url("twitter") == "http://bot:5005/webhooks/twitter/webhook"


def test_page_offers_x_dms_and_mentions() -> None:
    html = (STATIC / "index.html").read_text()
    assert '<option value="twitter">' in html and 'id="mention"' in html
    script = (STATIC / "app.js").read_text()
    assert "/_sim/x/mention" in script and "/_sim/x/media/" in script
    assert "/x/1.1/ton" not in script  # the page never needs OAuth: it uses the simulator's own media route


async def test_meta_only_control_routes_refuse_twitter(sim: TestClient) -> None:
    for path, body in (
        ("/_sim/verify", {"platform": "twitter"}),
        ("/_sim/inbound_time", {"platform": "twitter", "user_id": "1", "timestamp": 1}),
    ):
        response = await sim.post(path, json=body)
        assert response.status == 400 and "messenger, instagram" in (await response.json())["error"]
