"""The platforms' side of a fault run: customers, signed webhooks, and delivery through a load balancer.

Bodies are built and signed by the simulator's own functions (bot/simulator/webhooks.py for Messenger
and Instagram, x_payloads.py and x_webhooks.py for X DMs), which follow the platforms' documentation and
the recorded fixtures; they are posted straight to the Rasa replicas, as a load balancer would spread
them. Like Meta and X, a webhook without a 200 (refused, reset, timed out, 4xx/5xx) is posted again,
here on the other replica, until acked: acked means "got 200". A redelivery is the same signed body
posted again after its 200 (platforms do that too).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from bot.simulator.config import SimulatorConfig
from bot.simulator.const import INSTAGRAM, MESSENGER, TWITTER, WEBHOOK_PATHS, X_BRAND_NAME
from bot.simulator.webhooks import CustomerMessage, build_customer_webhook, encode, signature_headers
from bot.simulator.x_payloads import DirectMessage, dm_webhook
from bot.simulator.x_state import XUser
from bot.simulator.x_webhooks import x_signature_headers

# What customers say: each answered by a rule with one bot message (utter_* from domain.yml, or
# action_store_info through the action server, so killing it matters). Consecutive messages of a
# conversation never repeat an intent: three alike in a row would escalate to a person (escalation.yml).
SCRIPT = (
    ("hello", "greet"),
    ("are you a robot", "bot_challenge"),
    ("opening hours?", "store_info"),
    ("how much is delivery", "shipping_info"),
    ("thank you", "thank"),
    ("where are your stores", "store_info"),
    ("do you have any discount codes", "discount_inquiry"),
    ("how can i contact you", "store_info"),
)
PLATFORM_MIX = (MESSENGER, INSTAGRAM, TWITTER, MESSENGER)  # Messenger half, Instagram and X a quarter each
WEBHOOK_TIMEOUT = 10.0  # seconds a platform waits for our answer
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)  # then every 4 s, until the delivery deadline
SNOWFLAKE_EPOCH_MS = 1288834974657
QUICK_FOLLOW_UP = 0.3  # share of messages sent right after the previous one's 200


@dataclass(frozen=True)
class Customer:
    """A person writing to the brand; `user_id` is also Rasa's conversation id."""

    platform: str
    user_id: str


@dataclass
class Webhook:
    """One customer message as the platform delivers it: signed bytes, and what became of them."""

    customer: Customer
    index: int  # position in the conversation
    mid: str  # the platform's message id (Meta `mid`, X DM event id)
    text: str
    path: str
    raw: bytes
    headers: dict[str, str]
    acked_at: float | None = None  # wall clock of the first 200
    acked_by: dict[int, float] = field(default_factory=dict)  # replica -> first 200 from it
    attempts: int = 0


@dataclass(frozen=True)
class Post:
    """One HTTP POST of a webhook: where, when, what came back."""

    replica: int
    mid: str
    started: float
    seconds: float
    status: int | None  # None: no HTTP answer (refused, reset, timeout)
    redelivery: bool


def customers(count: int, rng: random.Random) -> list[Customer]:
    """`count` new customers over the platform mix, with ids no earlier run used."""
    made = []
    for index in range(count):
        platform = PLATFORM_MIX[index % len(PLATFORM_MIX)]
        digits = 16 if platform != TWITTER else 12  # PSID / IGSID, X user id
        made.append(Customer(platform, str(rng.randrange(10 ** (digits - 1), 10**digits))))
    return made


class WebhookFactory:
    """Builds and signs webhooks with the stack's platform secrets (the simulator's, here)."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._sequence = itertools.count(1)

    def build(self, customer: Customer, index: int, text: str) -> Webhook:
        """The webhook for `text` from `customer`, timestamped now."""
        now_ms = int(time.time() * 1000)
        if customer.platform == TWITTER:
            mid = str((now_ms - SNOWFLAKE_EPOCH_MS) << 22 | next(self._sequence) % (1 << 22))
            sender = XUser(
                customer.user_id, f"Customer {customer.user_id[-4:]}", f"c{customer.user_id}", now_ms
            )
            brand = XUser(self.config.x_user_id, X_BRAND_NAME, self.config.x_screen_name, now_ms)
            dm = DirectMessage(event_id=mid, created_ms=now_ms, sender=sender, recipient=brand, text=text)
            raw = encode(dm_webhook(self.config.x_user_id, dm, lambda _: None))
            headers = x_signature_headers(raw, self.config.x_consumer_secret)
        else:
            message = CustomerMessage(
                customer.platform, customer.user_id, text=text, mid="m_" + secrets.token_urlsafe(32)
            )
            account = self.config.account_id(customer.platform)
            body, mid = build_customer_webhook(
                message, account, now_ms, f"{self.config.public_url}/static/like.png"
            )
            raw = encode(body)
            headers = signature_headers(raw, self.config.app_secret)
        return Webhook(
            customer, index, mid, text, f"/webhooks{WEBHOOK_PATHS[customer.platform]}", raw, headers
        )


class LoadBalancer:
    """Round-robin over the Rasa replicas; posts webhooks and records every answer.

    `on_ack(webhook, replica, first)` hears of every 200, `first` for the webhook's first one (the
    harness kills a replica right after it acked something, when its work is surely in flight).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: list[str],
        deadline: float,
        on_ack: Callable[[Webhook, int, bool], None] = lambda _w, _r, _f: None,
    ) -> None:
        self.session = session
        self.urls = urls
        self.deadline = deadline  # seconds a platform keeps retrying one webhook
        self.on_ack = on_ack
        self.posts: list[Post] = []
        self._turn = itertools.count()

    def pick(self) -> int:
        """The next replica in turn (1-based)."""
        return next(self._turn) % len(self.urls) + 1

    def other(self, replica: int) -> int:
        """The replica after `replica` (the same one when there is only one)."""
        return replica % len(self.urls) + 1

    async def post(self, webhook: Webhook, replica: int, redelivery: bool = False) -> int | None:
        """POST once to `replica`; the status, or None without an HTTP answer."""
        started, clock = time.time(), time.perf_counter()
        status: int | None = None
        try:
            async with self.session.post(
                self.urls[replica - 1] + webhook.path,
                data=webhook.raw,
                headers=webhook.headers,
                timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT),
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            status = None
        self.posts.append(
            Post(replica, webhook.mid, started, time.perf_counter() - clock, status, redelivery)
        )
        if status == 200:
            now, first = time.time(), webhook.acked_at is None
            webhook.acked_by.setdefault(replica, now)
            if first:
                webhook.acked_at = now
            self.on_ack(webhook, replica, first)
        return status

    async def deliver(self, webhook: Webhook) -> bool:
        """Post until a 200, each retry on the other replica, until the deadline; whether it was acked."""
        replica = self.pick()
        give_up = time.monotonic() + self.deadline
        for attempt in itertools.count():
            webhook.attempts += 1
            if await self.post(webhook, replica) == 200:
                return True
            if time.monotonic() > give_up:
                return False
            await asyncio.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
            replica = self.other(replica)
        raise AssertionError("unreachable")

    async def redeliver(self, webhook: Webhook, replica: int, delay: float) -> None:
        """The same signed body again, after `delay` seconds, to `replica`."""
        await asyncio.sleep(delay)
        await self.post(webhook, replica, redelivery=True)


@dataclass
class Conversation:
    """One customer's messages, sent one after another: the next after the previous one's 200."""

    customer: Customer
    webhooks: list[Webhook] = field(default_factory=list)

    @property
    def acked(self) -> list[Webhook]:
        """The acked messages, in the order they were sent."""
        return [w for w in self.webhooks if w.acked_at is not None]


async def converse(
    conversation: Conversation,
    texts: list[str],
    factory: WebhookFactory,
    balancer: LoadBalancer,
    rng: random.Random,
    pause: float,
    redeliver: float,
    background: set[asyncio.Task[None]],
) -> None:
    """Send `texts` in order, `pause` seconds apart on average; redeliver a share of the acked ones.

    A share of the messages (QUICK_FOLLOW_UP) follow the previous one at once, as when a person sends
    two short messages in a row: then both are in flight together, often on different replicas.

    A redelivery goes to the other replica, now and then to the same one, a little later, while the
    conversation goes on (the platform does not wait). Stops early if a message cannot be delivered.
    """
    for index, text in enumerate(texts):
        webhook = factory.build(conversation.customer, index, text)
        conversation.webhooks.append(webhook)
        if not await balancer.deliver(webhook):
            return
        if rng.random() < redeliver:
            first = next(iter(webhook.acked_by))
            target = first if rng.random() < 0.2 else balancer.other(first)
            task = asyncio.create_task(balancer.redeliver(webhook, target, rng.uniform(0.0, 2.0)))
            background.add(task)
            task.add_done_callback(background.discard)
        if pause > 0 and index < len(texts) - 1:
            quick = rng.random() < QUICK_FOLLOW_UP
            await asyncio.sleep(rng.uniform(0.0, 0.2) if quick else rng.uniform(0.5 * pause, 1.5 * pause))


def script(conversation_index: int, messages: int) -> list[str]:
    """The texts of one conversation: the script from a different start for each conversation."""
    return [SCRIPT[(conversation_index + i) % len(SCRIPT)][0] for i in range(messages)]
