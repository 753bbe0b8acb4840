"""The desk's side of automatic assignment: presence beats, the header's away switch, the team list.

The assigner itself (bot/desk/assigner.py) runs in the background; these are what pages show and send.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from bot.desk.assignment import capacity_of
from bot.desk.ownership import SUPERVISOR
from bot.desk.presence import state as presence_state
from bot.desk.service import Desk
from bot.desk.web import AGENT, CONFIG, DESK, redirect
from bot.storage.models import Agent, utcnow

logger = logging.getLogger(__name__)


async def routing(request: web.Request) -> dict[str, Any]:
    """Names of whom queued tickets are pinned to; for supervisors, the team's presence and pins."""
    desk = request.app[DESK]
    people = await desk.accounts.active_agents()
    team: list[tuple[Agent, str, int]] = []
    if request[AGENT].role == SUPERVISOR:
        now, capacity = utcnow(), request.app[CONFIG].assignment.capacity
        for seen in await desk.presence.everyone():
            mark = presence_state(seen.agent, seen.seen_at, now, desk.presence.expiry)
            team.append((seen.agent, mark, capacity_of(seen.agent, capacity)))
    return {
        "names": {a.id: a.display_name for a in people},
        "pinnable": people if request[AGENT].role == SUPERVISOR else [],
        "team": team,
    }


async def beat(desk: Desk, agent: Agent) -> None:
    """A presence beat; a database hiccup costs a beat, never the stream."""
    try:
        await desk.presence.beat(agent.id)
    except Exception as err:  # the next beat tries again
        logger.warning("desk presence beat for %s not stored: %s", agent.username, err)


async def presence_toggle(request: web.Request) -> web.StreamResponse:
    """The header's Online/Away switch; back to the page it was clicked on."""
    form = await request.post()
    away = str(form.get("away", "")) == "1"
    await request.app[DESK].presence.set_away(request[AGENT], away)
    await request.app[DESK].bus.publish({"kind": "queue"})  # supervisors' pages show who is away
    back = str(form.get("next", ""))
    if not back.startswith("/") or back.startswith(("//", "/\\")):
        back = "/queue"
    raise redirect(request, back, "You are away: no conversations are assigned to you." if away else None)


def register(app: web.Application) -> None:
    """The away switch."""
    app.router.add_post("/presence", presence_toggle)
