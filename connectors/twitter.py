"""X (Twitter) channel: DMs as conversations, brand mentions to monitoring.

`connectors.twitter.TwitterInput` in credentials.yml; webhook at /webhooks/twitter/webhook (Account
Activity API): CRC on GET, `x-twitter-webhooks-signature` on POST, then the same path as the Meta
channels: dedupe by event id, acknowledge, process each conversation in order.
https://docs.x.com/x-api/account-activity/introduction
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.conversations.metadata import X_OAUTH1, customer_metadata
from bot.platform_env import PlatformConfigError, channel_settings, warn_simulated
from bot.x_oauth import OAuth1Credentials
from connectors.agent_reply import AgentSendError, desk_token_from_env
from connectors.inbox import Entry, Inbox, NewEntry
from connectors.limits import BodyRefused, decode_body
from connectors.mentions import MENTION, MentionStore, PublicItem, StoredItem
from connectors.meta_input import ConnectorConfigError
from connectors.meta_output import split_text
from connectors.metrics import count
from connectors.outbox import Outbox
from connectors.platform_client import send_reply
from connectors.public_actions import HIDE, PRIVATE_REPLY, REPLY, PublicActionRefused
from connectors.security import verify_x_signature, x_signature
from connectors.state import ConnectorState, store_from_env
from connectors.webhook_channel import ACK_FIRST, WebhookChannel
from connectors.x_client import (
    DEFAULT_X_API_URL,
    DM_TEXT_LIMIT,
    MAX_MEDIA_BYTES,
    XApiClient,
    XApiError,
    XClient,
)
from connectors.x_events import (
    DirectMessage,
    MalformedWebhook,
    Mention,
    Unsupported,
    XEvent,
    parse_webhook,
)
from connectors.x_schema import validate_body

logger = logging.getLogger(__name__)

PLATFORM = "twitter"
TWEET_LIMIT = 280
IMAGE_FETCH_TIMEOUT = 10.0
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")  # what X takes as DM images
CRC_TOKEN = re.compile(r"[A-Za-z0-9_\-+/]{8,128}={0,2}")  # X's crc_token: base64 of random bytes


@dataclass(frozen=True)
class XConfig:
    """Credentials and addresses of the X channel."""

    credentials: OAuth1Credentials
    user_id: str
    api_url: str = DEFAULT_X_API_URL

    @classmethod
    def from_credentials(
        cls, credentials: Mapping[str, Any] | None, env: Mapping[str, str | None] | None = None
    ) -> XConfig:
        """credentials.yml, else the environment, else the simulator; a missing value stops start-up.

        The environment rule (all platform variables or none) is `bot.platform_env`'s.
        """
        required = {
            "consumer_key": "X_CONSUMER_KEY",
            "consumer_secret": "X_CONSUMER_SECRET",
            "access_token": "X_ACCESS_TOKEN",
            "access_token_secret": "X_ACCESS_TOKEN_SECRET",
            "user_id": "X_USER_ID",
        }
        try:
            values = channel_settings(required, {"api_url": "X_API_URL"}, credentials, env)
        except PlatformConfigError as err:
            raise ConnectorConfigError(str(err)) from err
        api_url = values.get("api_url") or DEFAULT_X_API_URL
        if values.simulated:
            warn_simulated("X", api_url)
        return cls(
            credentials=OAuth1Credentials(
                consumer_key=values.values["consumer_key"],
                consumer_secret=values.values["consumer_secret"],
                token=values.values["access_token"],
                token_secret=values.values["access_token_secret"],
            ),
            user_id=values.values["user_id"],
            api_url=api_url,
        )


def numbered_options(text: str, buttons: Iterable[dict[str, Any]]) -> tuple[str, list[str]]:
    """X DMs have no buttons: list the options as numbers to type. Returns text and payloads."""
    buttons = list(buttons)
    lines = [f"{i}. {b.get('title', '')}" for i, b in enumerate(buttons, start=1)]
    payloads = [str(b.get("payload") or b.get("title", "")) for b in buttons]
    return f"{text}\n\n" + "\n".join(lines) + "\n(reply with a number)", payloads


def cards_as_text(elements: Iterable[dict[str, Any]]) -> str:
    """Product cards as plain text with links."""
    blocks = []
    for element in elements:
        lines = [f"• {element.get('title', '')}"]
        if element.get("subtitle"):
            lines.append(f"  {element['subtitle']}")
        links = [b["url"] for b in element.get("buttons", []) if b.get("url")]
        url = (element.get("default_action") or {}).get("url") or (links[0] if links else None)
        if url:
            lines.append(f"  {url}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def event_time_ms(event: XEvent) -> int | None:
    """When a DM or mention was sent (ms), for the age limit; None for events without a time."""
    if isinstance(event, DirectMessage):
        return event.timestamp
    if isinstance(event, Mention):
        stamp = event.raw.get("timestamp_ms")  # validated: an int of milliseconds
        if stamp is not None:
            return int(stamp)
        return int(event.created_at.timestamp() * 1000) if event.created_at else None
    return None


class TwitterOutput(OutputChannel):
    """Sends the bot's messages as DMs."""

    def __init__(
        self, client: XClient, state: ConnectorState, session: Callable[[], Awaitable[aiohttp.ClientSession]]
    ) -> None:
        self.client = client
        self.state = state
        self._session = session
        self.outbox = Outbox(state.store)  # bot replies of a re-processed event go once

    @classmethod
    def name(cls) -> str:
        """Rasa's name for this channel's output."""
        return PLATFORM

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Text, split at the DM limit."""
        for piece in split_text(text, DM_TEXT_LIMIT):
            await self._send(recipient_id, text=piece)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Buttons as numbered options; the customer's number is mapped back to the payload."""
        rendered, payloads = numbered_options(text, buttons)
        await self.state.remember_options(PLATFORM, recipient_id, payloads)
        await self.send_text_message(recipient_id, rendered)

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Same as buttons."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_elements(
        self, recipient_id: str, elements: Iterable[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Product results as text with links."""
        await self.send_text_message(recipient_id, cards_as_text(elements))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        """An image as DM media (downloaded, bounded, uploaded); its link if that fails."""
        try:
            data, content_type = await self._download(image)
            media_id = await self.client.upload_image(data, content_type)
            await self._send(recipient_id, media_id=media_id)
        except (XApiError, aiohttp.ClientError, OSError, ValueError) as err:
            logger.warning(
                "image %s not sent as media to %s (%s); sending the link", image, recipient_id, err
            )
            await self._send(recipient_id, text=image)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        """Only a `text` field means something on X."""
        if json_message.get("text"):
            await self.send_text_message(recipient_id, str(json_message["text"]))

    async def _download(self, url: str) -> tuple[bytes, str]:
        """Fetch an image of ours (size, time and type bounded; no redirects)."""
        session = await self._session()
        timeout = aiohttp.ClientTimeout(total=IMAGE_FETCH_TIMEOUT)
        async with session.get(url, timeout=timeout, allow_redirects=False) as answer:
            content_type = answer.headers.get("Content-Type", "").split(";")[0].strip()
            if answer.status != 200 or not content_type.startswith("image/"):
                raise ValueError(f"not an image (HTTP {answer.status}, {content_type or 'no type'})")
            if content_type not in IMAGE_TYPES:
                raise ValueError(f"image type {content_type} not sent (only JPEG, PNG, GIF, WebP)")
            if (answer.content_length or 0) > MAX_MEDIA_BYTES:
                raise ValueError("image larger than 5 MB")
            # `content.read(n)` returns only what is buffered so far: a chunked image would be cut short,
            # and its size never checked. Read to the end with a running total instead.
            data = bytearray()
            async for chunk in answer.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > MAX_MEDIA_BYTES:
                    raise ValueError("image larger than 5 MB")
            return bytes(data), content_type

    async def _send(self, recipient_id: str, text: str | None = None, media_id: str | None = None) -> None:
        send = partial(self.client.send_dm, recipient_id, text=text, media_id=media_id, outbox=self.outbox)
        await send_reply(send, PLATFORM, "X", recipient_id, logger)


class TwitterInput(WebhookChannel):
    """Account Activity webhook: DMs to the assistant, mentions to monitoring."""

    def __init__(
        self,
        config: XConfig,
        state: ConnectorState | None = None,
        mentions: MentionStore | None = None,
        client: XClient | None = None,
        desk_token: str | None = None,
        inbox: Inbox | None = None,
    ) -> None:
        super().__init__(desk_token, inbox)
        self.config = config
        self.state = state or ConnectorState(store_from_env())
        self.mentions = mentions
        self.client = client or XApiClient(config.api_url, config.credentials, self._session)

    public_channel = PLATFORM

    @classmethod
    def name(cls) -> str:
        """The route name: /webhooks/twitter/webhook."""
        return PLATFORM

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TwitterInput:
        """Build from credentials.yml; a missing secret stops the server at start-up."""
        return cls(XConfig.from_credentials(credentials), desk_token=desk_token_from_env())

    def get_output_channel(self) -> TwitterOutput:
        """Where replies go."""
        return TwitterOutput(self.client, self.state, self._session)

    @property
    def agent_text_limit(self) -> int:
        """X's DM limit."""
        return DM_TEXT_LIMIT

    async def send_agent_piece(self, recipient_id: str, text: str) -> str:
        """A human agent's DM (X has no messaging window); its echo comes back from our account, dropped."""
        try:
            return await self.client.send_dm(recipient_id, text=text)
        except XApiError as err:
            raise AgentSendError(str(err)) from err

    async def public_action(self, action: str, item_id: str, item: StoredItem, text: str) -> str:
        """Reply to a mention in public (a tweet) or in private (a DM to its author); hide or show a reply."""
        if action == REPLY:
            if len(text) > TWEET_LIMIT:
                raise PublicActionRefused(f"a reply tweet holds {TWEET_LIMIT} characters")
            return await self.client.reply_to_tweet(item_id, text)
        if action == PRIVATE_REPLY:
            if len(text) > DM_TEXT_LIMIT:
                raise PublicActionRefused(f"an X DM holds {DM_TEXT_LIMIT} characters")
            return await self.client.send_dm(item.author_id, text=text)
        await self.client.hide_reply(item_id, action == HIDE)
        return ""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The webhook routes."""
        hook = self.routes(on_new_message)

        @hook.route("/webhook", methods=["GET"])
        async def crc(request: Request) -> HTTPResponse:
            return self.crc(request.args.get("crc_token"))

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            with ACK_FIRST.webhook(PLATFORM):
                return await self.receive(request, on_new_message)

        return hook

    def crc(self, token: str | None) -> HTTPResponse:
        """X's challenge-response check: prove we hold the consumer secret.

        The answer is the same HMAC as a POST's signature, so signing whatever is asked would sign any
        body (`crc_token={"for_user_id": ...}`). X's tokens are short base64 (24 random bytes, URL-safe
        or standard alphabet); only those are answered. A JSON body never matches: it starts with `{`.
        """
        if not token:
            return response.json({"error": "crc_token missing"}, status=400)
        if not CRC_TOKEN.fullmatch(token):
            count("webhook_rejected", PLATFORM, "crc_token")
            logger.warning("X CRC refused: crc_token of %d characters is not X's format", len(token))
            return response.json({"error": "crc_token is not in X's format"}, status=400)
        return response.json(
            {"response_token": x_signature(token.encode(), self.config.credentials.consumer_secret)}
        )

    async def receive(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        """Verify on the raw body, parse, queue, acknowledge."""
        raw = request.body or b""
        header = request.headers.get("x-twitter-webhooks-signature")
        if not verify_x_signature(raw, header, self.config.credentials.consumer_secret):
            count("webhook_rejected", PLATFORM, "signature")
            logger.warning("X webhook with a missing or wrong signature from %s", request.ip)
            return response.text("invalid signature", status=403)
        try:
            checked = validate_body(decode_body(raw, self.limits.max_depth))
            events = parse_webhook(checked.body)
        except (BodyRefused, MalformedWebhook) as err:
            count("webhook_rejected", PLATFORM, "malformed")
            logger.warning("X webhook refused as malformed: %s", err)
            return response.text(f"malformed webhook: {err}", status=400)
        for problem in checked.rejected:
            count("webhook_rejected", PLATFORM, "malformed_item")
            logger.warning("X webhook item left out as malformed: %s", problem)
        self.attach(request.app, on_new_message)
        return await self.store_or_503(self.entries(events, checked.body), response.text("ok"))

    def entries(self, events: list[XEvent], body: Mapping[str, Any]) -> list[tuple[str, NewEntry]]:
        """DMs and mentions as inbox entries (a one-event Account Activity body each); the rest logged."""
        items: list[tuple[str, NewEntry]] = []
        users = body.get("users") or {}
        for event in sorted(events, key=lambda e: getattr(e, "timestamp", 0)):
            sent_at = event_time_ms(event)
            if sent_at is not None and not self.fresh_enough(sent_at, event.id):
                continue
            if isinstance(event, DirectMessage):
                one = {"for_user_id": event.for_user_id, "direct_message_events": [dict(event.raw)]}
                if event.sender_id in users:
                    one["users"] = {event.sender_id: users[event.sender_id]}
                conversation = event.sender_id
            elif isinstance(event, Mention):
                one = {"for_user_id": event.for_user_id, "tweet_create_events": [dict(event.raw)]}
                conversation = f"mention:{event.id}"
            else:
                count("webhook_events", PLATFORM, type(event).__name__)
                self.note_unhandled(event)
                continue
            entry = NewEntry(f"{type(event).__name__}:{event.id}", conversation, json.dumps(one))
            items.append((type(event).__name__, entry))
        return items

    def note_unhandled(self, event: XEvent) -> None:
        """Our own DMs, typing, reads and the like are ignored; unknown kinds are logged and counted."""
        if isinstance(event, Unsupported):
            count("webhook_unsupported", PLATFORM, event.kind)
            logger.warning("X unsupported webhook event %r", event.kind)
        else:
            logger.debug("X %s event %s ignored", type(event).__name__, event.id)

    async def process(self, entry: Entry) -> None:
        """Handle one stored DM or mention (parsed again from its one-event body)."""
        for event in parse_webhook(json.loads(entry.body)):
            if isinstance(event, DirectMessage):
                await self.answer(event)
            elif isinstance(event, Mention):
                await self.store_mention(event)

    async def answer(self, event: DirectMessage) -> None:
        """Hand a DM to the assistant, once."""
        await self.state.record_inbound(PLATFORM, event.sender_id, event.timestamp)
        text, kind = event.text, "text"
        if event.payload:
            text, kind = event.payload, "quick_reply"
        elif (chosen := await self.state.chosen_option(PLATFORM, event.sender_id, event.text)) is not None:
            text, kind = chosen, "numbered_option"
        metadata = customer_metadata(PLATFORM, kind, event.id)
        metadata.update(
            sender_name=event.sender_name,
            sender_screen_name=event.sender_screen_name,
            sender_picture=event.sender_picture,
        )
        if event.media_url:
            # X's DM media is only served to OAuth-signed requests from our account.
            metadata.update(
                kind="image", image_urls=[event.media_url], image_auth=X_OAUTH1, caption=event.text
            )
            text = event.text or "/share_photo"
        output = self.get_output_channel()

        async def counted() -> None:
            count("messages_in", PLATFORM, kind)

        message = UserMessage(
            text, output, event.sender_id, input_channel=PLATFORM, message_id=event.id, metadata=metadata
        )
        await self.deliver(message, before=counted)

    async def store_mention(self, mention: Mention) -> None:
        """Keep a mention for monitoring and the engagement queue (author, reach, text, photos, link)."""
        await self.store_public(
            PublicItem(
                channel=PLATFORM,
                kind=MENTION,
                external_id=mention.id,
                account_id=mention.for_user_id,
                author_id=mention.author_id,
                author_handle=mention.author_screen_name,
                author_name=mention.author_name,
                author_followers=mention.followers,
                text=mention.text,
                url=mention.url,
                in_reply_to=mention.in_reply_to,
                media_urls=mention.media_urls,
                posted_at=mention.created_at,
                raw=dict(mention.raw),
            )
        )
