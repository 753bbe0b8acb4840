"""The simulator's aiohttp app: fake Send API, fake public Graph and X APIs, control API, media, the page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import ClientSession, web

from bot.simulator import (
    background,
    control,
    graph_mentions,
    graph_public,
    media,
    profiles,
    public_control,
    x_api,
    x_control,
    x_public,
)
from bot.simulator.config import SimulatorConfig
from bot.simulator.keys import CONFIG_KEY, SESSION_KEY, STATE_KEY
from bot.simulator.send_api import ROUTE as SEND_API_ROUTE
from bot.simulator.send_api import send_message
from bot.simulator.state import SimState

STATIC_DIR = Path(__file__).parent / "static"


async def _client_session(app: web.Application) -> AsyncIterator[None]:
    """One HTTP session for delivering webhooks, opened at start-up and closed at shutdown."""
    async with ClientSession() as session:
        app[SESSION_KEY] = session
        yield


async def index(_request: web.Request) -> web.FileResponse:
    """`GET /`: the customer simulator page."""
    return web.FileResponse(STATIC_DIR / "index.html")


def create_app(config: SimulatorConfig, state: SimState | None = None) -> web.Application:
    """Build the app; `state` can be passed in so tests can control the clock."""
    app = web.Application()
    app[CONFIG_KEY] = config
    app[STATE_KEY] = state or SimState()
    app[STATE_KEY].public.seed(config.page_id, config.ig_id, config.x_user_id, config.x_screen_name)
    app.cleanup_ctx.append(_client_session)
    app.cleanup_ctx.append(background.background_tasks)  # after the session's: deliveries stop first
    app.router.add_post(SEND_API_ROUTE, send_message)
    graph_public.add_routes(app)
    graph_mentions.add_routes(app)
    profiles.add_routes(app)
    x_api.add_routes(app)
    x_public.add_routes(app)
    control.add_routes(app)
    x_control.add_routes(app)
    public_control.add_routes(app)
    app.router.add_post("/_sim/media", media.upload_media)
    app.router.add_get("/_sim/media/{media_id}", media.get_media)
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR)
    return app
