"""Prometheus helpers shared by the runtime-B services (the action server and the desk).

Each service keeps its metrics in a registry of its own (`new_registry`), with the process, platform and
garbage-collector collectors added, rather than in prometheus_client's default registry: one test
process imports both services, and each endpoint must show only its own service. The Rasa server's
metrics are in `connectors/metrics.py` (runtime A), with the same token rule: `/metrics` answers only
`Authorization: Bearer $METRICS_TOKEN`, and without `METRICS_TOKEN` it is closed (403 and a log line;
the development stack sets a random one).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from bot.bearer import bearer_matches

logger = logging.getLogger(__name__)

PREFIX = "loom_"
METRICS_TOKEN_ENV = "METRICS_TOKEN"
# Seconds: from a page served from memory (milliseconds) to an action waiting on a slow service.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
UNAUTHORIZED = "metrics need the bearer token"
NOT_CONFIGURED = "metrics are off: set METRICS_TOKEN and scrape with Authorization: Bearer <token>"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="metrics"'}


def new_registry() -> CollectorRegistry:
    """An empty registry with the process, platform and GC metrics.

    Also turns off prometheus_client's `*_created` series (process-wide, for metrics made afterwards):
    they double the series count and Prometheus does not need them.
    """
    disable_created_metrics()
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def metrics_token_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """`METRICS_TOKEN`: /metrics wants `Authorization: Bearer <token>`; None (closed) when unset."""
    env = os.environ if env is None else env
    return env.get(METRICS_TOKEN_ENV) or None


def refusal(header: str | None, token: str | None) -> tuple[int, str] | None:
    """None when the scrape may go on; else the status and text to refuse it with.

    403 when no METRICS_TOKEN is configured (logged: the operator has to set it), 401 with a
    `WWW-Authenticate` challenge (`CHALLENGE`) for a missing or wrong bearer token.
    """
    if token is None:
        logger.warning("GET /metrics refused: %s", NOT_CONFIGURED)
        return 403, NOT_CONFIGURED
    if not bearer_matches(header, token):
        return 401, UNAUTHORIZED
    return None


def exposition(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The registry in the format the scraper asks for (Prometheus text by default), and its type."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
