"""Agent assist's routes: the panel of the conversation page, and the order actions' POSTs.

The POSTs pass the desk's authentication middleware like every other (session, CSRF token), then
bot/desk/order_actions.py's checks (the agent may act on the ticket; the order is the customer's).
After an action the page comes back with the outcome's reply in the reply box (`?draft=`), which the
server recomputes from the order: the link carries no text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from bot.desk.assist_panel import AgentAssist, Panel
from bot.desk.canned import Canned
from bot.desk.order_actions import OrderActions, Outcome
from bot.desk.ownership import NotFound, OwnershipError
from bot.desk.service import ConversationView
from bot.desk.web import AGENT, DESK, redirect

logger = logging.getLogger(__name__)
ASSIST = web.AppKey("agent_assist", AgentAssist)
ORDER_ACTIONS = web.AppKey("order_actions", OrderActions)

DONE = {
    "cancel_done": "Order #{order} is cancelled.",
    "return_how": "Return started for order #{order}.",
}
TELL = " The customer has not been told yet: the message for them is in the reply box, check it and send it."
TELL_OWNER = " The customer has not been told yet: ask the agent who owns the ticket to tell them."


async def panel(request: web.Request, view: ConversationView, canned: Sequence[tuple[Canned, str]]) -> Panel:
    """The assist panel of the conversation on screen."""
    alpha = request.app[DESK].escalation.value.alpha
    return await request.app[ASSIST].panel(
        view.ticket,
        canned,
        alpha,
        draft=request.query.get("draft", "")[:40],
        confirm=request.query.get("confirm_cancel", "")[:12],
    )


def _ids(request: web.Request) -> tuple[int, int]:
    return int(request.match_info["ticket_id"]), int(request.match_info["order_id"])


def _message(outcome: Outcome) -> str:
    order, tell = outcome.order.id, TELL if outcome.by_owner else TELL_OWNER
    if outcome.reply.key in DONE:
        return DONE[outcome.reply.key].format(order=order) + tell
    why = outcome.reply.key.replace("_", " ")
    return f"Nothing changed on order #{order} ({why})." + tell


def _order_action(name: str) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        ticket_id, order_id = _ids(request)
        form = await request.post()
        actions, agent = request.app[ORDER_ACTIONS], request[AGENT]
        try:
            if name == "cancel":
                outcome = await actions.cancel(agent, ticket_id, order_id, form.get("confirm") == "yes")
            else:
                outcome = await actions.start_return(agent, ticket_id, order_id)
        except NotFound as err:
            raise web.HTTPNotFound(text=str(err)) from None
        except OwnershipError as err:
            logger.info(
                "desk: %s %s order %s on #%s refused: %s", agent.username, name, order_id, ticket_id, err
            )
            raise redirect(request, f"/tickets/{ticket_id}", str(err)) from None
        raise redirect(request, f"/tickets/{ticket_id}?draft={outcome.draft}", _message(outcome))

    return handler


def register(app: web.Application) -> None:
    """Add the order actions' routes and services (after the desk is in the app)."""
    desk = app[DESK]
    assist = AgentAssist(desk.db, desk.transcripts)
    app[ASSIST], app[ORDER_ACTIONS] = assist, OrderActions(assist)
    for name in ("cancel", "return"):
        app.router.add_post(
            rf"/tickets/{{ticket_id:\d+}}/orders/{{order_id:\d{{6}}}}/{name}", _order_action(name)
        )
