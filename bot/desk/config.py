"""Desk settings.

`desk.yml` at the project root holds what a team tunes (SLA, lock-out); the environment says where
things run and holds the secrets.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.conversations.api_auth import jwt_secret_from_env
from bot.customers.profiles import ProfileExpiry
from bot.desk import canned
from bot.desk.canned import CANNED_YML
from bot.metrics import metrics_token_from_env
from bot.settings import PROJECT_ROOT, ConfigError, Settings, number_setting, port_setting

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
ROOT = PROJECT_ROOT
DESK_YML = ROOT / "desk.yml"


@dataclass(frozen=True)
class Sla:
    """Response-time targets, in minutes."""

    first_response: int = 5
    next_response: int = 15


@dataclass(frozen=True)
class Lockout:
    """Sign-in throttle: `attempts` failures per user name and `ip_attempts` per address in `minutes`."""

    attempts: int = 5
    minutes: int = 15
    ip_attempts: int = 20


@dataclass(frozen=True)
class Assignment:
    """Automatic assignment (bot/desk/assignment.py).

    Off unless desk.yml turns it on, so an upgrade never starts handing out conversations by surprise.
    """

    enabled: bool = False
    capacity: int = 3  # active conversations per agent (an agent's own `bot agents capacity` wins)
    presence_seconds: float = 60.0  # an agent whose page has not beaten for this long is offline
    interval_seconds: float = 2.0  # how often the assigner looks at the queue
    sla_bump: int = 25  # priority added when a ticket breaches an SLA timer (once per breach)
    primary_language: str = "en"  # what a ticket without a language is (the assistant's trained one)
    lease_seconds: float = 15.0  # one desk replica assigns; another takes over this long after it died

    @classmethod
    def from_yaml(cls, tuned: Any) -> Assignment:
        """desk.yml's `assignment:` section; a ConfigError naming the key for anything that cannot work."""
        if tuned is None:
            return cls()
        if not isinstance(tuned, dict):
            raise ConfigError("desk.yml: assignment must be a mapping (enabled, capacity, ...)")
        unknown = sorted(set(tuned) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"desk.yml: assignment.{unknown[0]} is not a setting")
        default, values = cls(), {}
        for name, value in tuned.items():
            expected = type(getattr(default, name))
            if expected is bool:
                ok = isinstance(value, bool)
            elif expected is float:
                ok = isinstance(value, int | float) and not isinstance(value, bool)
            elif expected is int:
                ok = isinstance(value, int) and not isinstance(value, bool)
            else:
                ok = isinstance(value, str) and bool(CODE.match(value))
            if not ok:
                raise ConfigError(f"desk.yml: assignment.{name} must be {_KINDS[expected]}, got {value!r}")
            values[name] = float(value) if expected is float else value
        made = cls(**values)
        if made.capacity < 0 or made.sla_bump < 0:
            raise ConfigError("desk.yml: assignment.capacity and assignment.sla_bump cannot be negative")
        if made.presence_seconds < 5 or made.interval_seconds <= 0 or made.lease_seconds < 1:
            raise ConfigError(
                "desk.yml: assignment.presence_seconds must be at least 5, interval_seconds above 0 "
                "and lease_seconds at least 1"
            )
        return made


_KINDS = {bool: "true or false", float: "a number", int: "a whole number", str: "a language code (en)"}
CODE = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class DeskConfig:
    """Everything the desk process needs."""

    settings: Settings
    port: int = 5090
    host: str = "127.0.0.1"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = (
        ""  # secret of the JWTs for Rasa's HTTP API (resume, CSAT): bot/conversations/api_auth.py
    )
    desk_api_token: str = ""  # the connectors' agent_reply route
    public_url: str = "http://127.0.0.1:5090"
    session_hours: int = 12
    poll_seconds: float = 0.5
    sla: Sla = Sla()
    lockout: Lockout = Lockout()
    demo_agent: bool = False  # seed demo accounts (make run only)
    trusted_proxies: tuple[Network, ...] = ()  # load balancers whose X-Forwarded-For names the client
    metrics_token: str | None = None  # METRICS_TOKEN: GET /metrics wants it as a bearer (closed when unset)
    content_root: Path = ROOT  # data/nlu/*.yml, tests/nlu, models/: what the review pages write and read
    profile_expiry: ProfileExpiry = field(default_factory=ProfileExpiry)  # names and pictures (desk.yml)
    assignment: Assignment = Assignment()  # automatic assignment (desk.yml `assignment:`)

    @property
    def https(self) -> bool:
        """Whether agents reach the desk over HTTPS (HSTS and `Secure` cookies then)."""
        return self.public_url.lower().startswith("https://")

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS when the desk is served over HTTPS."""
        return self.https

    @property
    def tracker_database_url(self) -> str:
        """Where Rasa keeps conversations: bot/conversations/tracker_store.py `tracker_database_url`."""
        return self.settings.tracker_database_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, path: Path = DESK_YML) -> DeskConfig:
        """The desk's environment (see README's configuration table) plus desk.yml, read once at start-up.

        A value that cannot work is a ConfigError naming the variable (or file), before anything starts.
        """
        env = os.environ if env is None else env
        tuned: dict[str, Any] = yaml.safe_load(path.read_text()) if path.exists() else {}
        canned.watched(CANNED_YML)  # a broken canned_responses.yml stops the desk here, at start-up
        port = port_setting(env, "DESK_PORT", 5090)
        return cls(
            settings=Settings.from_env(env),
            port=port,
            host=env.get("DESK_HOST", "127.0.0.1"),
            rasa_url=env.get("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_token=jwt_secret_from_env(env) or "",  # RASA_JWT_SECRET (or the older RASA_API_TOKEN)
            desk_api_token=env.get("DESK_API_TOKEN", ""),
            public_url=env.get("DESK_PUBLIC_URL", f"http://127.0.0.1:{port}"),
            session_hours=int(tuned.get("session_hours", 12)),
            poll_seconds=number_setting(
                env, "DESK_POLL_SECONDS", float(tuned.get("poll_seconds", 0.5)), 0.01
            ),
            sla=Sla(**(tuned.get("sla") or {})),
            lockout=Lockout(**(tuned.get("lockout") or {})),
            demo_agent=env.get("DESK_DEMO_AGENT", "") == "1",
            trusted_proxies=networks(env.get("DESK_TRUSTED_PROXIES", "")),
            metrics_token=metrics_token_from_env(env),
            content_root=Path(env.get("CONTENT_ROOT") or ROOT).resolve(),
            profile_expiry=ProfileExpiry(**(tuned.get("customer_profiles") or {})),
            assignment=Assignment.from_yaml(tuned.get("assignment")),
        )


def networks(value: str) -> tuple[Network, ...]:
    """Comma-separated addresses or networks; a typo stops the desk at start-up, not each sign-in."""
    parsed = []
    for word in (w.strip() for w in value.split(",")):
        if not word:
            continue
        try:
            parsed.append(ipaddress.ip_network(word, strict=False))
        except ValueError as err:
            raise ConfigError(f"DESK_TRUSTED_PROXIES: {word!r} is not an address or network") from err
    return tuple(parsed)


def new_token() -> str:
    """A secret shared by the processes of one `make run` when none is configured."""
    return secrets.token_urlsafe(32)
