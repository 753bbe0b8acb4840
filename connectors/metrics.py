"""Prometheus metrics of the connectors, served at `GET /metrics` on the Rasa server's port.

`count(name, *labels)` is what the connectors call; every name is a Prometheus counter
`loom_<name>_total` with the label names listed in `COUNTERS`. Latencies and queue lengths have their
own objects below. Everything lives in `REGISTRY`, a registry of our own rather than prometheus_client's
default one: the Rasa process imports many libraries, and whatever one of them registers in the default
registry (or a clash with our names) must not end up in, or break, our endpoint. Process, platform and
garbage-collector metrics are added to it explicitly.

One process, one registry: with `SANIC_WORKERS` above 1 each worker would answer with its own numbers
(Rasa's default is one worker).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

from bot import metrics as shared
from bot.metrics import CHALLENGE, LATENCY_BUCKETS, PREFIX, metrics_token_from_env, refusal

__all__ = [
    "CHALLENGE",
    "LATENCY_BUCKETS",
    "PREFIX",
    "count",
    "exposition",
    "metrics_token_from_env",
    "refusal",
    "value",
]

REGISTRY = shared.new_registry()  # with process, platform and GC metrics; no `*_created` series

# name → (help, label names). `count(name, *labels)` must give one value per label name.
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "webhook_events": (
        "Webhook events received (after dropping redeliveries), by platform and event type",
        ("platform", "type"),
    ),
    "messages_in": ("Customer messages handed to the assistant", ("platform", "kind")),
    "messages_out": (
        "Messages sent to customers through the platform's API (bot and agents), by result",
        ("platform", "result"),
    ),
    "webhook_rejected": ("Webhooks refused, by reason (signature, malformed)", ("platform", "reason")),
    "webhook_duplicates": ("Redelivered webhook events dropped", ("platform",)),
    "webhook_unsupported": ("Webhook events of an unknown kind (logged)", ("platform", "kind")),
    "processing_errors": ("Events whose processing failed (logged with the stack)", ("platform",)),
    "send_retries": ("Platform API calls retried after a transient failure", ("platform",)),
    "graph_api_sent": ("Successful Graph API calls (messages and sender actions)", ("platform",)),
    "graph_api_errors": (
        "Failed Graph API attempts, by Graph error code or HTTP status",
        ("platform", "code"),
    ),
    "x_api_sent": ("Successful X API calls (DMs and media uploads)", ()),
    "x_api_errors": ("Failed X API attempts, by HTTP status (0: unreachable)", ("status",)),
    "replies_lost": (
        "Bot replies that could not be delivered (after retries, or outside the window)",
        ("platform",),
    ),
    "agent_replies": (
        "Agent replies from the desk, by result (sent, replayed, or the refusal's error)",
        ("platform", "result"),
    ),
    "agent_replies_unrecorded": ("Agent replies sent but not recorded in the tracker", ("platform",)),
    "outbox_skipped": (
        "Bot replies not sent again when an inbound event was processed again (the outbox had them)",
        ("platform",),
    ),
    "outbox_uncertain": (
        "Bot replies sent again after an earlier attempt ended mid-send (may have arrived twice)",
        ("platform",),
    ),
    "human_takeovers": ("Conversations taken over by a person outside the bot (Meta inbox)", ("platform",)),
    "mentions_stored": (
        "Public items (comments, mentions) stored for monitoring and engagement",
        ("platform",),
    ),
    "mentions_duplicate": ("Public items already stored (redeliveries)", ("platform",)),
    "public_actions": (
        "Public actions (reply, private_reply, hide, unhide, replayed, or the refusal's error)",
        ("platform", "result"),
    ),
    "inbox_retries": ("Inbox entries whose handling failed and is retried", ("platform",)),
    "inbox_failed": ("Inbox entries given up after every retry (logged with the event)", ("platform",)),
    "turns_replayed": (
        "Inbox entries handled again whose message the tracker already had (no second turn)",
        ("platform",),
    ),
}
_COUNTERS = {
    name: Counter(f"{PREFIX}{name}", doc, labels, registry=REGISTRY)
    for name, (doc, labels) in COUNTERS.items()
}

WEBHOOK_SECONDS = Histogram(
    f"{PREFIX}webhook_seconds",
    "Webhook handling time: receipt to acknowledgement (events verified, parsed and queued)",
    ("platform",),
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
PROCESSING_SECONDS = Histogram(
    f"{PREFIX}processing_seconds",
    "Time from queueing an event to the end of its processing (waiting behind its conversation included)",
    ("platform",),
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
SEND_SECONDS = Histogram(
    f"{PREFIX}platform_send_seconds",
    "Time to send one message through the platform's API, retries included",
    ("platform",),
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
QUEUE_JOBS = Gauge(
    f"{PREFIX}queue_jobs", "Events queued or being processed", ("platform",), registry=REGISTRY
)
QUEUE_CONVERSATIONS = Gauge(
    f"{PREFIX}queue_conversations",
    "Conversations with events queued or being processed",
    ("platform",),
    registry=REGISTRY,
)


def count(name: str, *labels: str) -> None:
    """Add one to the counter `name` with these labels (e.g. platform, error code)."""
    counter = _COUNTERS[name]
    (counter.labels(*labels) if labels else counter).inc()


def value(name: str, *labels: str) -> float:
    """The current value of a counter (for tests)."""
    label_names = COUNTERS[name][1]
    found = REGISTRY.get_sample_value(f"{PREFIX}{name}_total", dict(zip(label_names, labels, strict=True)))
    return found or 0.0


@contextmanager
def measured_send(platform: str) -> Iterator[None]:
    """Time one message sent to a platform and count it as sent, or failed when the block raises."""
    started = time.perf_counter()
    result = "failed"
    try:
        yield
        result = "sent"
    finally:
        SEND_SECONDS.labels(platform).observe(time.perf_counter() - started)
        count("messages_out", platform, result)


def exposition(accept: str | None) -> tuple[bytes, str]:
    """The registry in the format the scraper asks for (Prometheus text by default), and its type."""
    return shared.exposition(REGISTRY, accept)
