"""Bounds on what a webhook may be: body size, JSON nesting, event age.

Everything here runs on bytes whose signature has already been checked, before anything else reads the
payload. The numbers come from the environment when a channel is built (Rasa start-up), never at import.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.state import SEEN_TTL

DEFAULT_MAX_BYTES = 1024 * 1024  # Meta and X send a few kilobytes; 1 MiB leaves a wide margin
MAX_DEPTH = 32  # the deepest real payload (an X tweet with quoted entities) is about 8 levels
# Shorter than the 3-day dedupe TTL (`state.SEEN_TTL`): a replayed signed body is then always either a
# known duplicate (its ids are still remembered) or too old, never new again.
DEFAULT_MAX_AGE_SECONDS = 2 * 24 * 3600
DEFAULT_MAX_FUTURE_SECONDS = 3600  # clocks drift; an event dated an hour ahead is not a real one


class BodyRefused(ValueError):
    """The body is not acceptable JSON (too deep, not UTF-8, NaN, invalid unicode)."""


@dataclass(frozen=True)
class WebhookLimits:
    """What the webhook routes accept."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS
    max_future_seconds: int = DEFAULT_MAX_FUTURE_SECONDS
    max_depth: int = MAX_DEPTH

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebhookLimits:
        """`WEBHOOK_MAX_BYTES`, `WEBHOOK_MAX_AGE_SECONDS` (positive integers; unset or empty: defaults).

        A wrong value stops the server at start-up (`ValueError`), as a missing secret does.
        """
        if env is None:
            from connectors.settings import ConnectorSettings

            return ConnectorSettings.from_env().limits
        max_age = _positive(env, "WEBHOOK_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS)
        if max_age >= SEEN_TTL:  # a replay older than the remembered ids would be new again
            raise ValueError(f"WEBHOOK_MAX_AGE_SECONDS must be below {SEEN_TTL} (how long seen ids are kept)")
        return cls(max_bytes=_positive(env, "WEBHOOK_MAX_BYTES", DEFAULT_MAX_BYTES), max_age_seconds=max_age)

    def age_problem(self, timestamp_ms: int, now: float | None = None) -> str | None:
        """`"too_old"`, `"in_future"` or None for an event dated `timestamp_ms` (ms since the epoch)."""
        now_ms = (time.time() if now is None else now) * 1000
        if timestamp_ms < now_ms - self.max_age_seconds * 1000:
            return "too_old"
        if timestamp_ms > now_ms + self.max_future_seconds * 1000:
            return "in_future"
        return None


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise ValueError(f"{name} must be a positive integer, not {raw!r}") from err
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, not {raw!r}")
    return value


def _no_constants(name: str) -> Any:
    raise BodyRefused(f"{name} is not JSON a platform sends")


def decode_body(raw: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of a signed body, or `BodyRefused`.

    Refused: bytes that are not UTF-8 JSON, `NaN`/`Infinity`, nesting deeper than `max_depth` (the C
    decoder's own recursion limit turns a megabyte of `[` into a RecursionError, caught here; anything
    that passes it is measured without recursion), and strings with lone surrogates, which no platform
    sends and which cannot be stored or sent back as UTF-8.
    """
    try:
        text = raw.decode("utf-8")
        body = json.loads(text, parse_constant=_no_constants)
    except RecursionError as err:
        raise BodyRefused("JSON nested too deeply") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BodyRefused(f"not UTF-8 JSON: {err}") from err
    _check_tree(body, max_depth)
    return body


def _check_tree(body: Any, max_depth: int) -> None:
    """Depth and string checks over the decoded value, with an explicit stack (no recursion)."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, (dict, list)):
            if depth > max_depth:
                raise BodyRefused(f"JSON nested deeper than {max_depth} levels")
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_text(key)
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)


def _check_text(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise BodyRefused("string with a lone surrogate") from err
