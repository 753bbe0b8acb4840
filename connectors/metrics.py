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

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from connectors.security import constant_time_equal

PREFIX = "loom_"
METRICS_TOKEN_ENV = "METRICS_TOKEN"
# Seconds: from a fast acknowledgement (milliseconds) to a slow platform send with retries.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

disable_created_metrics()  # no `*_created` series: they double the count and Prometheus needs none
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

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
    "human_takeovers": ("Conversations taken over by a person outside the bot (Meta inbox)", ("platform",)),
    "mentions_stored": ("Public mentions stored for monitoring", ("platform",)),
    "mentions_duplicate": ("Public mentions already stored", ("platform",)),
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


def metrics_token_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """`METRICS_TOKEN`: when set, /metrics wants `Authorization: Bearer <token>`; None (open) otherwise."""
    env = os.environ if env is None else env
    return env.get(METRICS_TOKEN_ENV) or None


def authorized(header: str | None, token: str | None) -> bool:
    """Whether a request with this Authorization header may read the metrics."""
    if token is None:
        return True
    scheme, _, sent = (header or "").strip().partition(" ")
    return scheme.lower() == "bearer" and constant_time_equal(sent.strip(), token)


def exposition(accept: str | None) -> tuple[bytes, str]:
    """The registry in the format the scraper asks for (Prometheus text by default), and its type."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(REGISTRY), content_type
