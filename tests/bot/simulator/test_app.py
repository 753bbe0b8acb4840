"""Configuration from the environment, the customer page, and starting the process for real."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from aiohttp.test_utils import TestClient

from bot.simulator.config import SimulatorConfig

from ...ports import free_port

STATIC = Path(__file__).resolve().parents[3] / "bot" / "simulator" / "static"


def test_defaults_from_an_empty_environment() -> None:
    config = SimulatorConfig.from_env({}, port=5080)
    assert config == SimulatorConfig(
        app_secret="sim-app-secret",
        verify_token="sim-verify-token",
        page_access_token="sim-page-token",
        instagram_access_token="sim-ig-token",
        app_id="100000000000042",
        page_id="100000000000001",
        ig_id="17841400000000001",
        webhook_base="http://127.0.0.1:5005/webhooks",
        public_url="http://127.0.0.1:5080",
    )
    assert SimulatorConfig.from_env({}, port=6000).public_url == "http://127.0.0.1:6000"


def test_environment_overrides() -> None:
    env = {
        "META_APP_SECRET": "s",
        "META_VERIFY_TOKEN": "v",
        "META_PAGE_ACCESS_TOKEN": "p",
        "INSTAGRAM_ACCESS_TOKEN": "i",
        "META_APP_ID": "42",
        "SIM_PAGE_ID": "1",
        "SIM_IG_ID": "2",
        "SIM_WEBHOOK_BASE": "http://bot:5005/webhooks/",
        "SIM_PUBLIC_URL": "http://sim:5080/",
    }
    config = SimulatorConfig.from_env(env)
    assert (config.app_secret, config.verify_token, config.page_access_token) == ("s", "v", "p")
    assert (config.instagram_access_token, config.app_id, config.page_id, config.ig_id) == (
        "i",
        "42",
        "1",
        "2",
    )
    assert config.webhook_url("messenger") == "http://bot:5005/webhooks/messenger/webhook"
    assert config.webhook_url("instagram") == "http://bot:5005/webhooks/instagram/webhook"
    assert config.public_url == "http://sim:5080"


def test_tokens_map_to_platforms() -> None:
    config = SimulatorConfig()
    assert config.platform_for_token("sim-page-token") == "messenger"
    assert config.platform_for_token("sim-ig-token") == "instagram"
    assert config.platform_for_token("sim-app-secret") is None
    assert config.platform_for_token(None) is None
    assert config.platform_for_token("") is None


async def test_page_and_its_assets_are_served(sim: TestClient) -> None:
    page = await sim.get("/")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/app.js" in assets and "/static/style.css" in assets
    for asset in assets:
        assert asset.startswith("/static/"), f"{asset}: no external CDN"
        assert (await sim.get(asset)).status == 200


def test_page_script_never_writes_html() -> None:
    script = (STATIC / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert sink not in script
    assert "textContent" in script
    assert "/_sim/sends?" in script and "/_sim/customer_message" in script and "/_sim/media" in script


def test_module_starts_and_answers_health() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.simulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/health", timeout=1) as response:
                    assert response.read() == b'{"ok": true}'
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=10)
