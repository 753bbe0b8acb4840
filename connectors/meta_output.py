"""Replies to Messenger and Instagram through the Send API, within Meta's messaging window.

Rasa's generic messages become Send API messages: long text is split at the platform limit, buttons
become quick replies (or a template for links), product results a generic-template carousel.
https://developers.facebook.com/docs/messenger-platform/send-messages
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from rasa.core.channels.channel import OutputChannel

from connectors.graph_api import GraphApiClient, GraphApiError
from connectors.outbox import Outbox
from connectors.platform_client import send_reply
from connectors.state import ConnectorState

logger = logging.getLogger(__name__)

RESPONSE_WINDOW_MS = 24 * 3600 * 1000
HUMAN_AGENT_WINDOW_MS = 7 * 24 * 3600 * 1000
MAX_QUICK_REPLIES = 13
QUICK_REPLY_TITLE = 20
MAX_ELEMENTS = 10
ELEMENT_TEXT = 80
MAX_BUTTONS = 3
INDICATOR_WAIT = 2.0  # seconds the first reply waits for mark_seen/typing_on before going anyway
# The typing bubble shows only when the answer is not out this many seconds after the turn started:
# Meta asks that typing_on never be followed unnaturally soon by the answer, and a fast answer needs none.
TYPING_AFTER = 1.0
BUTTON_TITLE = 20


class OutsideWindowError(Exception):
    """Meta would refuse this message: the person last wrote too long ago."""


@dataclass(frozen=True)
class Platform:
    """What differs between Messenger and Instagram when sending."""

    name: str
    text_limit: int
    button_template: bool  # Instagram has no button template; a one-card generic template is used


MESSENGER = Platform("messenger", text_limit=2000, button_template=True)
INSTAGRAM = Platform("instagram", text_limit=1000, button_template=False)


def messaging_type(last_inbound_ms: int | None, now_ms: int, human: bool) -> tuple[str, str | None]:
    """`messaging_type` and `tag` for a message, or OutsideWindowError.

    https://developers.facebook.com/docs/messenger-platform/policy/policy-overview#24hours_window
    Within 24 hours of the person's last message anything may be sent as RESPONSE; after that only a
    person (not the bot) may answer, tagged HUMAN_AGENT, up to 7 days. Without a known last message
    we send RESPONSE and let Meta decide.
    """
    if last_inbound_ms is None:
        return "RESPONSE", None
    age = now_ms - last_inbound_ms
    if age <= RESPONSE_WINDOW_MS:
        return "RESPONSE", None
    if human and age <= HUMAN_AGENT_WINDOW_MS:
        return "MESSAGE_TAG", "HUMAN_AGENT"
    hours = age / 3_600_000
    who = "a human agent (7-day limit)" if human else "the bot (24-hour limit)"
    raise OutsideWindowError(f"the customer last wrote {hours:.0f} h ago: too late for {who}")


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at paragraph, line, sentence or word boundaries."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind(sep) for sep in ("\n\n", "\n", ". ", "! ", "? ", " "))
        cut = cut + 1 if cut > limit // 2 else limit
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        pieces.append(rest)
    return pieces


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis."""
    text = str(text or "")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quick_replies(buttons: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rasa buttons as Messenger/Instagram quick replies (payload buttons only, at most 13)."""
    return [
        {
            "content_type": "text",
            "title": shorten(button.get("title", ""), QUICK_REPLY_TITLE),
            "payload": str(button.get("payload") or button.get("title", ""))[:1000],
        }
        for button in list(buttons)[:MAX_QUICK_REPLIES]
    ]


def template_button(button: dict[str, Any]) -> dict[str, Any]:
    """A Rasa button as a template button: a link, or a postback carrying the payload."""
    title = shorten(button.get("title", ""), BUTTON_TITLE)
    if button.get("url"):
        return {"type": "web_url", "url": button["url"], "title": title}
    return {"type": "postback", "title": title, "payload": str(button.get("payload") or title)[:1000]}


def generic_element(element: dict[str, Any]) -> dict[str, Any]:
    """A card of a generic template (title, subtitle, image, link, up to 3 buttons)."""
    card: dict[str, Any] = {"title": shorten(element.get("title", ""), ELEMENT_TEXT)}
    if element.get("subtitle"):
        card["subtitle"] = shorten(element["subtitle"], ELEMENT_TEXT)
    if element.get("image_url"):
        card["image_url"] = element["image_url"]
    if element.get("default_action"):
        card["default_action"] = element["default_action"]
    buttons = [template_button(b) for b in element.get("buttons", [])[:MAX_BUTTONS]]
    if buttons:
        card["buttons"] = buttons
    return card


def generic_template(elements: list[dict[str, Any]]) -> dict[str, Any]:
    """A carousel message."""
    return {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": elements}}}


class MetaOutputChannel(OutputChannel):
    """Sends the bot's (or an agent's) messages to one platform."""

    def __init__(self, platform: Platform, client: GraphApiClient, state: ConnectorState) -> None:
        self.platform = platform
        self.client = client
        self.state = state
        self.outbox = Outbox(state.store)  # bot replies of a re-processed event go once
        self._indicators: asyncio.Task[None] | None = None
        self._answering = asyncio.Event()

    @classmethod
    def name(cls) -> str:
        """Rasa's name for this channel's output."""
        return "meta"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Text, split at the platform's length limit."""
        for piece in split_text(text, self.platform.text_limit):
            await self._send(recipient_id, {"text": piece})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Quick replies for payload buttons; a template when a button is a link."""
        *before, last = split_text(text, self.platform.text_limit) or [""]
        for piece in before:
            await self._send(recipient_id, {"text": piece})
        if any(button.get("url") for button in buttons):
            await self._send(recipient_id, self._link_buttons(last, buttons))
        else:
            await self._send(recipient_id, {"text": last or "…", "quick_replies": quick_replies(buttons)})

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Rasa's quick replies are buttons here."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        """An image by URL."""
        await self._send(recipient_id, {"attachment": {"type": "image", "payload": {"url": image}}})

    async def send_elements(
        self, recipient_id: str, elements: Iterable[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Cards as generic-template carousels of at most 10."""
        cards = [generic_element(element) for element in elements]
        for start in range(0, len(cards), MAX_ELEMENTS):
            await self._send(recipient_id, generic_template(cards[start : start + MAX_ELEMENTS]))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        """A Send API `message` object as given (or `{"sender_action": ...}`)."""
        if "sender_action" in json_message:
            await self.send_action(recipient_id, str(json_message["sender_action"]))
        else:
            await self._send(recipient_id, dict(json_message.get("message", json_message)))

    async def send_action(self, recipient_id: str, action: str) -> None:
        """typing_on / typing_off / mark_seen; best effort (a lost typing bubble harms nobody)."""
        try:
            await self.client.send_action(recipient_id, action)
        except GraphApiError as err:
            logger.info("%s sender action %s to %s failed: %s", self.platform.name, action, recipient_id, err)

    def start_indicators(self, recipient_id: str) -> None:
        """mark_seen at once, and typing_on only if the turn has not answered within TYPING_AFTER s.

        Both go while the turn runs instead of before it: Graph API round trips (hundreds of
        milliseconds against Meta) no longer delay the answer. A fast answer gets no typing bubble: Meta
        asks that the bubble never flash just before the answer, and it saves a call per message against
        the Page's rate limit. The first reply waits for what is in flight (`indicators_sent`), so the
        bubble never shows after the answer.
        """
        self._answering = asyncio.Event()
        self._indicators = asyncio.get_running_loop().create_task(
            self._send_indicators(recipient_id, self._answering, time.monotonic() + TYPING_AFTER)
        )

    async def _send_indicators(self, recipient_id: str, answering: asyncio.Event, typing_at: float) -> None:
        await self.send_action(recipient_id, "mark_seen")
        try:
            await asyncio.wait_for(answering.wait(), max(0.0, typing_at - time.monotonic()))
            return  # answered in time: no bubble
        except asyncio.TimeoutError:
            pass
        await self.send_action(recipient_id, "typing_on")

    async def indicators_sent(self) -> None:
        """Wait for the sender actions of this turn (at most INDICATOR_WAIT s; then they are dropped)."""
        task, self._indicators = self._indicators, None
        if task is None:
            return
        self._answering.set()  # a bubble not yet shown is no longer wanted
        done, _ = await asyncio.wait({task}, timeout=INDICATOR_WAIT)
        if not done:
            task.cancel()
            logger.info("%s sender actions slower than %.0f s: dropped", self.platform.name, INDICATOR_WAIT)
        elif not task.cancelled() and task.exception() is not None:
            logger.info("%s sender actions failed: %s", self.platform.name, task.exception())

    async def send_human_text(self, recipient_id: str, text: str) -> list[str]:
        """An agent's reply: allowed up to 7 days after the customer's last message. Raises on failure."""
        return [
            await self._deliver(recipient_id, {"text": p}, human=True)
            for p in split_text(text, self.platform.text_limit)
        ]

    async def _send(self, recipient_id: str, message: dict[str, Any]) -> None:
        """A bot message: failures are deferred or logged and counted, the conversation carries on."""
        await self.indicators_sent()
        send = partial(self._deliver, recipient_id, message, human=False)
        name = self.platform.name
        await send_reply(send, name, name, recipient_id, logger, final=(OutsideWindowError,))

    async def _deliver(self, recipient_id: str, message: dict[str, Any], human: bool) -> str:
        last = await self.state.last_inbound(self.platform.name, recipient_id)
        kind, tag = messaging_type(last, int(time.time() * 1000), human)
        # Agent replies have their own idempotency (the desk's client id): never through the outbox.
        outbox = None if human else self.outbox
        mid = await self.client.send_message(
            recipient_id, message, messaging_type=kind, tag=tag, outbox=outbox
        )
        if mid:
            await self.state.remember_sent(self.platform.name, mid)
        return mid

    def _link_buttons(self, text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
        rendered = [template_button(b) for b in buttons[:MAX_BUTTONS]]
        if self.platform.button_template:
            payload = {"template_type": "button", "text": shorten(text, 640), "buttons": rendered}
            return {"attachment": {"type": "template", "payload": payload}}
        card = {"title": shorten(text, ELEMENT_TEXT), "buttons": rendered}
        return generic_template([card])
