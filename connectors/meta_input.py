"""Messenger and Instagram webhooks in: verify, parse, dedupe, acknowledge, then process in order.

Shared by `connectors.messenger` and `connectors.instagram`; they differ only in names and limits.
https://developers.facebook.com/docs/messenger-platform/webhooks
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, ConversationPaused, ConversationResumed, Event
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.conversations.metadata import HUMAN_AGENT, UtteranceMetadata, customer_metadata
from bot.platform_env import PlatformConfigError, channel_settings, warn_simulated
from connectors.agent_reply import AgentSendError, desk_token_from_env
from connectors.graph_api import DEFAULT_GRAPH_API_URL, GraphApiClient, GraphApiError
from connectors.inbox import Entry, Inbox, NewEntry
from connectors.limits import BodyRefused, decode_body
from connectors.mentions import COMMENT, MENTION, PublicItem, StoredItem
from connectors.meta_events import (
    Comment,
    CustomerMessage,
    Echo,
    Handover,
    Ignored,
    InstagramMention,
    MalformedWebhook,
    MetaEvent,
    Standby,
    Unsupported,
    parse_webhook,
)
from connectors.meta_output import MetaOutputChannel, OutsideWindowError, Platform
from connectors.meta_schema import validate_body
from connectors.metrics import count
from connectors.public_actions import HIDE, PRIVATE_REPLY, REPLY, PublicActionRefused
from connectors.security import constant_time_equal, verify_hub_signature
from connectors.state import ConnectorState, store_from_env
from connectors.turns import append_once, log_once
from connectors.webhook_channel import ACK_FIRST, WebhookChannel

logger = logging.getLogger(__name__)

HUB_CHALLENGE = re.compile(r"[A-Za-z0-9_.\-]{1,128}")  # Meta's hub.challenge is a number; allow a little more


def _timestamp(value: Any) -> datetime | None:
    """Graph's `2026-12-06T05:30:00+0000`, or None."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def _moment(timestamp_ms: int) -> datetime | None:
    return datetime.fromtimestamp(timestamp_ms / 1000, timezone.utc) if timestamp_ms else None


class ConnectorConfigError(ValueError):
    """A required secret or setting is missing: the server must not start without it."""


@dataclass(frozen=True)
class MetaConfig:
    """Secrets and addresses of one Meta channel."""

    app_secret: str
    verify_token: str
    access_token: str
    graph_api_url: str = DEFAULT_GRAPH_API_URL
    app_id: str | None = None

    @classmethod
    def from_credentials(
        cls,
        credentials: Mapping[str, Any] | None,
        token_key: str,
        token_env: str,
        env: Mapping[str, str | None] | None = None,
    ) -> MetaConfig:
        """credentials.yml's values, else the environment's, else the simulator's; fail clearly if missing.

        The environment rule (all platform variables or none) is `bot.platform_env`'s.
        """
        required = {
            "app_secret": "META_APP_SECRET",
            "verify_token": "META_VERIFY_TOKEN",
            token_key: token_env,
        }
        optional = {"graph_api_url": "META_GRAPH_API_URL", "app_id": "META_APP_ID"}
        try:
            values = channel_settings(required, optional, credentials, env)
        except PlatformConfigError as err:
            raise ConnectorConfigError(str(err)) from err
        if values.simulated:
            channel = {"META_PAGE_ACCESS_TOKEN": "Messenger", "INSTAGRAM_ACCESS_TOKEN": "Instagram"}
            warn_simulated(channel.get(token_env, token_env), str(values.get("graph_api_url")))
        return cls(
            app_secret=values.values["app_secret"],
            verify_token=values.values["verify_token"],
            access_token=values.values[token_key],
            graph_api_url=values.get("graph_api_url") or DEFAULT_GRAPH_API_URL,
            app_id=values.get("app_id"),
        )


class MetaInput(WebhookChannel):
    """Webhook of one Meta messaging product, at /webhooks/<platform>/webhook."""

    platform: ClassVar[Platform]
    webhook_object: ClassVar[str]  # the `object` field Meta sends: "page" or "instagram"
    token_key: ClassVar[str]
    token_env: ClassVar[str]
    public_channel: ClassVar[str]  # the `mentions.channel` of its comments: "facebook" or "instagram"
    comment_field: ClassVar[str]  # the `changes[].field` of comments: "feed" or "comments"
    comment_limit: ClassVar[int]  # characters in a comment: 8,000 on Facebook, 2,200 on Instagram

    def __init__(
        self,
        config: MetaConfig,
        state: ConnectorState | None = None,
        desk_token: str | None = None,
        inbox: Inbox | None = None,
    ) -> None:
        super().__init__(desk_token, inbox)
        self.config = config
        self.state = state or ConnectorState(store_from_env())
        self.client = GraphApiClient(
            config.graph_api_url, config.access_token, self.platform.name, self._session
        )

    @classmethod
    def name(cls) -> str:
        """The route name: /webhooks/<name>/webhook."""
        return cls.platform.name

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> MetaInput:
        """Build from credentials.yml; a missing secret stops the server at start-up."""
        config = MetaConfig.from_credentials(credentials, cls.token_key, cls.token_env)
        return cls(config, desk_token=desk_token_from_env())

    def get_output_channel(self) -> MetaOutputChannel:
        """Where replies go (the bot's, and the desk's agent replies)."""
        return MetaOutputChannel(self.platform, self.client, self.state)

    @property
    def agent_text_limit(self) -> int:
        """Meta's text limit (2000 Messenger, 1000 Instagram)."""
        return self.platform.text_limit

    async def send_agent_piece(self, recipient_id: str, text: str) -> str:
        """A human agent's message: HUMAN_AGENT-tagged after 24 h, refused after 7 days."""
        try:
            mids = await self.get_output_channel().send_human_text(recipient_id, text)
        except GraphApiError as err:
            if err.outside_window:  # Meta knows better than our record of the customer's last message
                raise OutsideWindowError(str(err)) from err
            raise AgentSendError(str(err)) from err
        return mids[0]

    async def public_action(self, action: str, item_id: str, item: StoredItem, text: str) -> str:
        """Reply under a comment, reply privately (once per comment, Meta's rule), hide or show it."""
        if item.kind == MENTION:  # a mention is on someone else's media: a reply is all we may do
            if action != REPLY:
                raise PublicActionRefused(
                    "an Instagram mention is not on our media: reply to it in public only"
                )
            comment = item_id if item_id != item.post_id else None
            return await self.client.reply_to_mention(item.account_id, item.post_id or item_id, comment, text)
        if action == REPLY:
            if len(text) > self.comment_limit:
                limit = f"a {self.public_channel} comment holds {self.comment_limit} characters"
                raise PublicActionRefused(limit)
            return await self.client.reply_to_comment(item_id, text)
        if action == PRIVATE_REPLY:
            if len(text) > self.platform.text_limit:
                raise PublicActionRefused(f"a private reply holds {self.platform.text_limit} characters")
            try:
                return await self.client.private_reply(item_id, text)
            except GraphApiError as err:
                if err.already_replied:
                    raise PublicActionRefused("this comment had its private reply (Meta allows one)") from err
                raise
        await self.client.set_comment_hidden(item_id, action == HIDE)
        return ""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The webhook routes."""
        hook = self.routes(on_new_message)

        @hook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            return self.verification(request.args)

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            with ACK_FIRST.webhook(self.platform.name):
                return await self.receive(request, on_new_message)

        return hook

    def verification(self, args: Mapping[str, Any]) -> HTTPResponse:
        """Meta's subscription check: echo `hub.challenge` when mode and token are right, else 403."""
        mode, token = args.get("hub.mode"), args.get("hub.verify_token")
        challenge = args.get("hub.challenge")
        if (
            mode == "subscribe"
            and token
            and challenge is not None
            and constant_time_equal(token, self.config.verify_token)
            and HUB_CHALLENGE.fullmatch(str(challenge))  # echo only what Meta sends (digits), never markup
        ):
            return response.text(str(challenge))
        logger.warning("%s webhook verification refused (mode=%r)", self.platform.name, mode)
        return response.text("verification failed", status=403)

    async def receive(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        """Verify the signature on the raw body, parse, queue, and acknowledge at once."""
        raw = request.body or b""
        if not verify_hub_signature(raw, request.headers.get("X-Hub-Signature-256"), self.config.app_secret):
            count("webhook_rejected", self.platform.name, "signature")
            logger.warning(
                "%s webhook with a missing or wrong signature from %s", self.platform.name, request.ip
            )
            return response.text("invalid signature", status=403)
        try:
            checked = validate_body(decode_body(raw, self.limits.max_depth), self.webhook_object)
            events = parse_webhook(self.platform.name, self.webhook_object, checked.body)
        except (BodyRefused, MalformedWebhook) as err:
            count("webhook_rejected", self.platform.name, "malformed")
            logger.warning("%s webhook refused as malformed: %s", self.platform.name, err)
            return response.text(f"malformed webhook: {err}", status=400)
        for problem in checked.rejected:  # the rest of the batch goes on; Meta would retry a 400 for hours
            count("webhook_rejected", self.platform.name, "malformed_item")
            logger.warning("%s webhook item left out as malformed: %s", self.platform.name, problem)
        self.attach(request.app, on_new_message)
        return await self.store_or_503(self.entries(events), response.text("EVENT_RECEIVED"))

    def entries(self, events: list[MetaEvent]) -> list[tuple[str, NewEntry]]:
        """The events that need work, as inbox entries in timestamp order; the rest is logged here.

        Each entry's body is a one-event webhook of Meta's own shape, parsed again when it is handled.
        """
        items: list[tuple[str, NewEntry]] = []
        for event in sorted(events, key=lambda e: e.timestamp):  # stable: batch order breaks ties
            if not self.fresh_enough(event.timestamp, event.dedupe_key):
                continue
            if isinstance(event, (Ignored, Unsupported)):
                count("webhook_events", self.platform.name, type(event).__name__)
                self.note_unhandled(event)
                continue
            if isinstance(event, (Comment, InstagramMention)):  # one post's items in order, apart from chats
                post, field_name = (
                    (event.post_id, self.comment_field)
                    if isinstance(event, Comment)
                    else (event.media_id, "mentions")
                )
                conversation = f"post:{post}"
                change = {"field": field_name, "value": dict(event.raw)}
                entry = {"id": event.recipient_id, "time": event.timestamp, "changes": [change]}
                body: dict[str, Any] = {"object": self.webhook_object, "entry": [entry]}
            else:
                conversation = event.customer_id if isinstance(event, Echo) else event.sender_id
                key = "standby" if isinstance(event, Standby) else "messaging"
                body = {"object": self.webhook_object, "entry": [{key: [dict(event.raw)]}]}
            items.append((type(event).__name__, NewEntry(event.dedupe_key, conversation, json.dumps(body))))
        return items

    def note_unhandled(self, event: Ignored | Unsupported) -> None:
        """Reads, deliveries and reactions are ignored; unknown kinds are logged and counted."""
        if isinstance(event, Ignored):
            logger.debug("%s %s event ignored", self.platform.name, event.kind)
        else:
            count("webhook_unsupported", self.platform.name, event.kind)
            logger.warning(
                "%s unsupported webhook event %r: %s", self.platform.name, event.kind, dict(event.raw)
            )

    async def process(self, entry: Entry) -> None:
        """Handle one stored event (parsed again from its one-event body)."""
        events = parse_webhook(self.platform.name, self.webhook_object, json.loads(entry.body))
        for event in events:
            await self.handle(event)

    async def handle(self, event: MetaEvent) -> None:
        """Do what one event asks for."""
        if isinstance(event, CustomerMessage):
            await self.answer(event)
        elif isinstance(event, Comment):
            await self.store_public(self.public_item(event))
        elif isinstance(event, InstagramMention):
            await self.on_mention(event)
        elif isinstance(event, Echo):
            await self.on_echo(event)
        elif isinstance(event, Standby):
            await self.on_standby(event)
        elif isinstance(event, Handover):
            await self.on_handover(event)
        elif isinstance(event, (Ignored, Unsupported)):
            self.note_unhandled(event)

    async def on_mention(self, event: InstagramMention) -> None:
        """Fetch what an Instagram mention says (the webhook has only ids) and keep it as a public item.

        A failed fetch raises: the inbox tries the entry again later, as for any failed event.
        """
        if self.platform.name != "instagram":
            logger.warning("%s: an Instagram mention on another channel, ignored", self.platform.name)
            return
        found = await self.client.mentioned(event.recipient_id, event.media_id, event.comment_id)
        media = found.get("media") if event.comment_id else found
        media = media if isinstance(media, dict) else {}
        text = str(found.get("text") if event.comment_id else found.get("caption") or "")
        photo = None if event.comment_id else media.get("media_url")  # a caption's photo is theirs
        username = str(found.get("username") or "")
        await self.store_public(
            PublicItem(
                channel=self.public_channel,
                kind=MENTION,
                external_id=event.item_id,
                account_id=event.recipient_id,
                author_id=username,  # Graph gives mentions' authors by username only
                author_handle=username,
                author_name=username,
                text=text or "",
                url=str(media.get("permalink") or ""),
                post_id=event.media_id,
                media_urls=(str(photo),) if isinstance(photo, str) and photo else (),
                posted_at=_timestamp(found.get("timestamp")) or _moment(event.timestamp),
                raw={"webhook": dict(event.raw), "fetched": found},
            )
        )

    def public_item(self, event: Comment) -> PublicItem:
        """A comment as the engagement queue and monitoring keep it."""
        return PublicItem(
            channel=self.public_channel,
            kind=COMMENT,
            external_id=event.comment_id,
            account_id=event.recipient_id,
            author_id=event.sender_id,
            author_handle=event.author_name if self.public_channel == "instagram" else "",
            author_name=event.author_name,
            text=event.text,
            url=event.permalink,
            in_reply_to=event.parent_id,
            post_id=event.post_id,
            media_urls=(event.photo_url,) if event.photo_url else (),
            posted_at=_moment(event.timestamp),
            raw=dict(event.raw),
        )

    def user_message(self, event: CustomerMessage, output: Any) -> UserMessage:
        """The Rasa message for a customer event, with what the text cannot carry in metadata."""
        metadata = customer_metadata(self.platform.name, event.kind, event.mid, event.metadata)
        return UserMessage(
            event.text,
            output,
            event.sender_id,
            input_channel=self.name(),
            message_id=event.mid,
            metadata=metadata,
        )

    async def answer(self, event: CustomerMessage) -> None:
        """Hand a customer's message to the assistant once; replies go out through the Send API."""
        await self.state.record_inbound(self.platform.name, event.sender_id, event.timestamp)
        output = self.get_output_channel()

        async def seen_and_typing() -> None:
            count("messages_in", self.platform.name, event.kind)
            output.start_indicators(event.sender_id)  # while the turn runs; the first reply waits

        try:
            await self.deliver(self.user_message(event, output), before=seen_and_typing)
        finally:
            await output.indicators_sent()

    async def on_echo(self, event: Echo) -> None:
        """Our own echoes are dropped; a message from anyone else on the Page means a person took over."""
        ours = (self.config.app_id is not None and event.app_id == self.config.app_id) or (
            await self.state.was_sent_by_us(self.platform.name, event.mid)
        )
        if ours:
            return
        count("human_takeovers", self.platform.name)
        logger.info(
            "%s: a person replied to %s outside the bot (app %s); pausing the bot",
            self.platform.name,
            event.customer_id,
            event.app_id,
        )
        metadata = UtteranceMetadata(
            author=HUMAN_AGENT, source="meta_inbox", app_id=event.app_id, mid=event.mid
        )
        await self.append_events(
            event.customer_id, [BotUttered(event.text, metadata=metadata), ConversationPaused()], event.mid
        )

    async def on_standby(self, event: Standby) -> None:
        """Another app owns the conversation: record what the customer said, answer nothing."""
        inner = event.inner
        if isinstance(inner, CustomerMessage) and self.agent is not None and self.agent.processor is not None:
            await self.state.record_inbound(self.platform.name, inner.sender_id, inner.timestamp)
            await log_once(
                self.agent, self.user_message(inner, CollectingOutputChannel()), self.platform.name
            )

    async def on_handover(self, event: Handover) -> None:
        """Thread control passed to us resumes the bot; taken by another app pauses it."""
        ours = self.config.app_id is not None and event.new_owner_app_id == self.config.app_id
        logger.info(
            "%s %s for %s (new owner %s)",
            self.platform.name,
            event.action,
            event.sender_id,
            event.new_owner_app_id,
        )
        if event.action == "pass_thread_control" and ours:
            await self.append_events(event.sender_id, [ConversationResumed()])
        elif event.action == "take_thread_control" and not ours:
            await self.append_events(event.sender_id, [ConversationPaused()])

    async def append_events(self, sender_id: str, events: list[Event], mid: str | None = None) -> None:
        """Add events to a conversation under its lock, once per message id (`connectors.turns`)."""
        if self.agent is None or self.agent.processor is None:  # route tests without a model
            logger.warning("no agent loaded; events for %s not recorded: %s", sender_id, events)
            return
        await append_once(self.agent, sender_id, mid, events, self.platform.name)
