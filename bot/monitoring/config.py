"""Monitoring settings, from `monitoring.yml` at the project root.

The file holds what a brand tunes; secrets may come from the environment (`MONITORING_WEBHOOK_URL`,
`MONITORING_WEBHOOK_SECRET`), and `MONITORING_CONFIG` names another file.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bot.config_files import CHECK_EVERY_SECONDS, WatchedFile, read_yaml
from bot.monitoring.const import DM, GROUPS, MAX_KEYWORDS, PUBLIC_KINDS
from bot.monitoring.terms import pattern, usable
from bot.settings import PROJECT_ROOT
from bot.settings import ConfigError as SettingsError

ROOT = PROJECT_ROOT
MONITORING_YML = ROOT / "monitoring.yml"


class ConfigError(SettingsError):
    """monitoring.yml (or the environment) asks for something that cannot work."""


@dataclass(frozen=True)
class SpikeSettings:
    """When negative messages count as a spike (see bot/monitoring/spikes.py)."""

    every_seconds: float = 60.0
    window_minutes: float = 15.0
    baseline_hours: float = 24.0
    sensitivity: float = 4.0
    std_floor: float = 1.0
    min_count: int = 5
    share_margin: float = 0.25
    cooldown_minutes: float = 60.0
    max_messages: int = 50

    @property
    def window(self) -> dt.timedelta:
        """The recent window compared with the baseline."""
        return dt.timedelta(minutes=self.window_minutes)

    @property
    def baseline_windows(self) -> int:
        """How many windows of the same length make the baseline."""
        return max(1, int(self.baseline_hours * 60 // self.window_minutes))

    @property
    def cooldown(self) -> dt.timedelta:
        """No second alert for a scope this soon after the last."""
        return dt.timedelta(minutes=self.cooldown_minutes)


@dataclass(frozen=True)
class WebhookSettings:
    """Where alerts are posted (optional), signed with `secret`."""

    url: str = ""
    secret: str = ""
    attempts: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    timeout_seconds: float = 10.0

    @property
    def enabled(self) -> bool:
        """Whether alerts are posted at all."""
        return bool(self.url)


@dataclass(frozen=True)
class ModerationSettings:
    """What gets flagged, and what repeated abuse leads to."""

    block_list: tuple[str, ...] = ()
    insult_intents: frozenset[str] = frozenset({"insult"})
    repeated_flags: int = 3
    repeated_window_minutes: float = 60.0
    auto_mute: bool = False

    @property
    def repeated_window(self) -> dt.timedelta:
        """Flags of one author within this long count as repeated abuse."""
        return dt.timedelta(minutes=self.repeated_window_minutes)


@dataclass(frozen=True)
class Keyword:
    """A tracked name: what charts and alerts call it, its group, and the words or @handles meaning it."""

    name: str
    group: str  # own | products | competitors
    terms: tuple[str, ...]


@dataclass(frozen=True)
class BrandSettings:
    """Brand tracking: the keywords, which messages count as mentions, and whether keywords alert."""

    keywords: tuple[Keyword, ...] = ()
    include_dms: bool = False
    spike_alerts: bool = True  # each keyword is checked for negative spikes as a channel is ...
    volume_alerts: bool = True  # ... and for mentions far above usual, whatever their mood

    @property
    def kinds(self) -> tuple[str, ...]:
        """The message kinds that count as mentions: the public ones, and DMs when asked."""
        return (*PUBLIC_KINDS, DM) if self.include_dms else PUBLIC_KINDS


@dataclass(frozen=True)
class MonitoringConfig:
    """Everything monitoring needs."""

    interval_seconds: float = 2.0
    spikes: SpikeSettings = field(default_factory=SpikeSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    moderation: ModerationSettings = field(default_factory=ModerationSettings)
    brand: BrandSettings = field(default_factory=BrandSettings)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> MonitoringConfig:
        """Build from the YAML structure; unknown keys are errors (a typo must not silently do nothing)."""
        env = {} if env is None else env
        data = dict(data)
        spikes = _section(SpikeSettings, data.pop("spikes", None), "spikes")
        hook = dict(data.pop("webhook", None) or {})
        hook["url"] = env.get("MONITORING_WEBHOOK_URL") or hook.get("url") or ""
        hook["secret"] = env.get("MONITORING_WEBHOOK_SECRET") or hook.get("secret") or ""
        webhook = _section(WebhookSettings, hook, "webhook")
        if webhook.enabled and not webhook.secret:
            raise ConfigError("webhook.url is set but no secret: set MONITORING_WEBHOOK_SECRET")
        if webhook.attempts < 1:
            raise ConfigError("webhook.attempts must be at least 1")
        moderation = _moderation(data.pop("moderation", None) or {})
        brand = _brand(data.pop("brand", None) or {})
        interval = float(data.pop("interval_seconds", cls.interval_seconds))
        if data:
            raise ConfigError(f"unknown monitoring settings: {', '.join(sorted(data))}")
        if spikes.window_minutes <= 0 or spikes.baseline_hours * 60 < spikes.window_minutes:
            raise ConfigError("spikes: window_minutes must be positive and shorter than baseline_hours")
        return cls(
            interval_seconds=interval, spikes=spikes, webhook=webhook, moderation=moderation, brand=brand
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MonitoringConfig:
        """monitoring.yml (or the file named by MONITORING_CONFIG), with the environment's secrets."""
        env = os.environ if env is None else env
        return cls.load(config_path(env), env)

    @classmethod
    def load(cls, path: Path, env: Mapping[str, str] | None = None) -> MonitoringConfig:
        """The settings in `path` (defaults without the file), with the environment's secrets."""
        data = read_yaml(path, missing={}) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of monitoring settings")
        return cls.from_dict(data, env)

    @classmethod
    def watch(
        cls, env: Mapping[str, str] | None = None, every: float = CHECK_EVERY_SECONDS, **options: Any
    ) -> WatchedFile[MonitoringConfig]:
        """monitoring.yml (or MONITORING_CONFIG's file), re-read when editors change it.

        The environment is read once, here; a broken file at start-up is a ConfigFileError.
        """
        env = dict(os.environ if env is None else env)
        return WatchedFile(config_path(env), functools.partial(cls.load, env=env), every, **options)


def config_path(env: Mapping[str, str]) -> Path:
    """`MONITORING_CONFIG`, else monitoring.yml at the project root."""
    return Path(env.get("MONITORING_CONFIG") or MONITORING_YML)


def _section(kind: type, values: Mapping[str, Any] | None, name: str) -> Any:
    values = dict(values or {})
    unknown = set(values) - {f.name for f in fields(kind)}
    if unknown:
        raise ConfigError(f"{name}: unknown settings {', '.join(sorted(unknown))}")
    try:
        return kind(**{key: type(getattr(kind, key))(value) for key, value in values.items()})
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{name}: {err}") from err


def _moderation(data: Mapping[str, Any]) -> ModerationSettings:
    data = dict(data)
    repeated = dict(data.pop("repeated_abuse", None) or {})
    block_list = data.pop("block_list", None) or ()
    for index, term in enumerate(block_list):
        _term(term, f"moderation.block_list[{index}]")
    settings = ModerationSettings(
        block_list=tuple(str(term) for term in block_list),
        insult_intents=frozenset(str(i) for i in data.pop("insult_intents", None) or ("insult",)),
        repeated_flags=int(repeated.pop("flags", ModerationSettings.repeated_flags)),
        repeated_window_minutes=float(
            repeated.pop("window_minutes", ModerationSettings.repeated_window_minutes)
        ),
        auto_mute=bool(data.pop("auto_mute", False)),
    )
    if data or repeated:
        raise ConfigError(f"moderation: unknown settings {', '.join(sorted({*data, *repeated}))}")
    return settings


BRAND_SWITCHES = ("include_dms", "spike_alerts", "volume_alerts")
KEYWORD_KEYS = ("name", "terms")
MAX_NAME = 80


def _term(term: Any, where: str) -> str:
    """A word, phrase or @handle that can be matched; ConfigError naming `where` otherwise."""
    if not isinstance(term, (str, int, float)) or isinstance(term, bool):
        raise ConfigError(f"{where}: expected a word, phrase or @handle, got {term!r}")
    text = str(term).strip()
    if not usable(text):
        raise ConfigError(f"{where}: empty term")
    try:
        pattern(text)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from err
    return text


def _keyword(entry: Any, group: str, where: str) -> Keyword:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a mapping with `name` and `terms`, got {entry!r}")
    unknown = set(entry) - set(KEYWORD_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown settings {', '.join(sorted(map(str, unknown)))}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise ConfigError(f"{where}.name: expected a name of 1 to {MAX_NAME} characters, got {name!r}")
    terms = entry.get("terms")
    if not isinstance(terms, list) or not terms:
        raise ConfigError(f"{where}.terms: expected a list of words, phrases or @handles, got {terms!r}")
    found = tuple(_term(term, f"{where}.terms[{index}]") for index, term in enumerate(terms))
    return Keyword(name=" ".join(name.split()), group=group, terms=found)


def _brand(data: Any) -> BrandSettings:
    """The `brand:` section: keywords by group, and the switches."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"brand: expected a mapping of groups ({', '.join(GROUPS)}), got {data!r}")
    unknown = set(data) - {*GROUPS, *BRAND_SWITCHES}
    if unknown:
        raise ConfigError(f"brand: unknown settings {', '.join(sorted(map(str, unknown)))}")
    switches = {}
    for key in BRAND_SWITCHES:
        value = data.get(key, getattr(BrandSettings, key))
        if not isinstance(value, bool):
            raise ConfigError(f"brand.{key}: expected true or false, got {value!r}")
        switches[key] = value
    keywords: list[Keyword] = []
    for group in GROUPS:
        entries = data.get(group) or []
        if not isinstance(entries, list):
            raise ConfigError(f"brand.{group}: expected a list of keywords, got {entries!r}")
        keywords += [_keyword(entry, group, f"brand.{group}[{i}]") for i, entry in enumerate(entries)]
    seen: dict[str, Keyword] = {}
    for keyword in keywords:
        twin = seen.setdefault(keyword.name.casefold(), keyword)
        if twin is not keyword:
            raise ConfigError(
                f"brand: the keyword name {keyword.name!r} is used twice ({twin.group} and {keyword.group});"
                " names tell keywords apart in charts and alerts"
            )
    if len(keywords) > MAX_KEYWORDS:
        raise ConfigError(f"brand: {len(keywords)} keywords, more than the {MAX_KEYWORDS} allowed")
    return BrandSettings(keywords=tuple(keywords), **switches)
