"""What every page module of the desk shares: app and request keys, templates, render and redirect.

bot/desk/app.py builds the application and its middlewares; the page modules (monitoring_pages.py,
analytics_pages.py) import from here, so nothing imports app.py but its own entry points.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from bot.desk.config import DeskConfig
from bot.desk.media import MediaProxy
from bot.desk.service import Desk
from bot.language.skills import speaks
from bot.storage.models import Agent, utcnow

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "loom_desk"
LOGIN_CSRF_COOKIE = "loom_login_csrf"
FLASH_COOKIE = "loom_flash"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DESK = web.AppKey("desk", Desk)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
CONFIG = web.AppKey("config", DeskConfig)
MEDIA = web.AppKey("media", MediaProxy)
# Signs the desk's fetches of X photos (DMs and tweets) with our account (None without X credentials).
X_SIGNER = web.AppKey("x_signer", object)
STOPPING = web.AppKey("stopping", asyncio.Event)  # set on SIGTERM: live streams end
AGENT = web.RequestKey("agent", Agent)
CSRF = web.RequestKey("csrf", str)


def _duration(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def _sparkline(points: list[float], width: int = 220, height: int = 40) -> str:
    """SVG polyline points for sentiment in [-1, 1] (numbers only: nothing to escape)."""
    if not points:
        return ""
    step = width / max(1, len(points) - 1)
    return " ".join(f"{i * step:.1f},{(1 - (p + 1) / 2) * height:.1f}" for i, p in enumerate(points))


def templates() -> jinja2.Environment:
    """Jinja2 with autoescaping for every template."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["duration"] = _duration
    env.filters["sparkline"] = _sparkline
    env.filters["iso"] = lambda value: value.isoformat() if value else ""
    env.filters["hhmm"] = lambda value: value.strftime("%d %b %H:%M") if value else ""
    # `agent | speaks(ticket.language)`: whether the signed-in person speaks the customer's language.
    env.filters["speaks"] = lambda agent, language: bool(agent) and speaks(agent.languages, language)
    return env


def render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    """A page or fragment, with the signed-in agent, CSRF token and any flash message."""
    flash = request.cookies.get(FLASH_COOKIE)
    body = (
        request.app[TEMPLATES]
        .get_template(name)
        .render(
            agent=request.get(AGENT),
            csrf=request.get(CSRF, ""),
            flash=flash,
            now=utcnow(),
            here=request.path_qs,  # where a header form (the presence toggle) brings the agent back
            assigning=request.app[CONFIG].assignment.enabled,  # the header's Online/Away switch then
            **context,
        )
    )
    response = web.Response(text=body, content_type="text/html", status=status)
    if flash:
        del_cookie(response, request.app[CONFIG], FLASH_COOKIE)
    return response


def redirect(request: web.Request, location: str, flash: str | None = None) -> web.HTTPSeeOther:
    """Post/redirect/get, with an optional one-time message for the next page."""
    response = web.HTTPSeeOther(location)
    if flash:
        set_cookie(response, request.app[CONFIG], FLASH_COOKIE, flash[:300], None)
    return response


def set_cookie(
    response: web.StreamResponse, config: DeskConfig, name: str, value: str, max_age: int | None
) -> None:
    """Every cookie of the desk: HttpOnly, SameSite=Strict, and Secure when served over https."""
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="Strict", secure=config.secure_cookies
    )


def del_cookie(response: web.StreamResponse, config: DeskConfig, name: str) -> None:
    """Expire a cookie with the same attributes it was set with."""
    response.del_cookie(name, path="/", secure=config.secure_cookies, httponly=True, samesite="Strict")
