"""One typed settings object, read from the environment once at start-up and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.conversations.tracker_store import tracker_database_url

# The project checkout: where the YAML files editors change live (escalation.yml, desk.yml, ...).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = "var"


SQL_SCHEMES = ("sqlite", "postgresql", "postgres")
REDIS_SCHEMES = ("redis", "rediss")
IMAGE_ENCODERS = ("efficientnet", "clip")


# Names of this machine: a service on one of these is local (tokens left in files, listening addresses).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def local_var_dir(env: Mapping[str, str | None]) -> Path:
    """`$VAR_DIR` (default `var`) as the local tools find it: relative to the project checkout."""
    return PROJECT_ROOT / (env.get("VAR_DIR") or DEFAULT_VAR_DIR)


def action_token_file(var_dir: Path, port: int) -> Path:
    """Where a local action server started by `make run` or `make actions` leaves its secret.

    For Rasa started in another terminal (a plain `rasa shell`, `bot.rasa_server.action_endpoint`);
    readable by this user only (`write_private`).
    """
    return Path(var_dir) / "run" / f"action-server-{port}.token"


def write_private(path: Path, text: str) -> None:
    """Write a secret to a file only this user can read (created with mode 0600, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


class ConfigError(ValueError):
    """A setting cannot work; the message names the variable (or file) and what is wrong with it."""


def fail_clearly(error: ValueError, service: str) -> SystemExit:
    """A configuration error as a one-line exit naming the setting, not a traceback."""
    return SystemExit(f"{service}: configuration error: {error}")


def port_setting(env: Mapping[str, str | None], name: str, default: int) -> int:
    """`name` as a TCP port (unset or empty: `default`); ConfigError naming the variable otherwise."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name} must be a port number, got {raw!r}")
    return int(raw)


def number_setting(env: Mapping[str, str | None], name: str, default: float, minimum: float = 0.0) -> float:
    """`name` as a number of at least `minimum` (unset or empty: `default`); ConfigError otherwise."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value >= minimum:  # also refuses nan
        raise ConfigError(f"{name} must be at least {minimum:g}, got {raw!r}")
    return value


def url_setting(env: Mapping[str, str | None], name: str, schemes: tuple[str, ...]) -> str | None:
    """`name` as a URL with one of `schemes` (driver suffixes allowed), None when unset or empty.

    The error names only the scheme: the URL may hold a password.
    """
    url = (env.get(name) or "").strip()
    if not url:
        return None
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower() if "://" in url else ""
    if scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise ConfigError(
            f"{name} must start with {wanted}, got {(scheme + '://') if scheme else 'no scheme'}"
        )
    return url


@dataclass(frozen=True)
class Settings:
    """What the service needs to know about its surroundings.

    `database_url` is a SQLAlchemy URL in its plain form (`sqlite:///path`, `postgresql://user@host/db`);
    the storage layer picks the drivers. Without `DATABASE_URL` it is a SQLite file in `VAR_DIR`
    (default `var/`, where logs and local state also go). `redis_url` is optional: without it,
    in-process fallbacks are used.

    `image_encoder` (`IMAGE_ENCODER`: efficientnet or clip) and `clip_model` (`CLIP_MODEL`) must be the
    same for the catalogue indexer and the photo search that reads its index. `photo_allowed_hosts`
    (`PHOTO_ALLOWED_HOSTS`, comma-separated) and `sim_public_url` (`SIM_PUBLIC_URL`, the local
    simulator) widen the media policy shared by the photo action and the desk's media proxy.

    `trackers_url` is where Rasa keeps conversations (its SQL `events` table, which the desk, the
    monitoring worker and escalation read): `DATABASE_URL`'s database, else `$VAR_DIR/tracker.db`,
    as bot/conversations/tracker_store.py `tracker_database_url` decides for Rasa itself.
    """

    database_url: str = f"sqlite:///{DEFAULT_VAR_DIR}/loom.db"
    redis_url: str | None = None
    var_dir: str = DEFAULT_VAR_DIR
    trackers_url: str | None = None  # None: the SQLite file in var_dir (what Rasa uses without DATABASE_URL)
    image_encoder: str = "efficientnet"
    clip_model: str = "clip-ViT-B-32"
    photo_allowed_hosts: tuple[str, ...] = ()
    sim_public_url: str | None = None

    @property
    def tracker_database_url(self) -> str:
        """The database holding Rasa's `events` table (the same choice Rasa's tracker store makes)."""
        return self.trackers_url or tracker_database_url({"VAR_DIR": self.var_dir})

    @property
    def catalog_dir(self) -> Path:
        """Catalogue images (`images/`) and the search index (`index/`)."""
        return Path(self.var_dir) / "catalog"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `DATABASE_URL`, `REDIS_URL` and `VAR_DIR`; ConfigError for a wrong scheme."""
        env = os.environ if env is None else env
        var_dir = env.get("VAR_DIR") or DEFAULT_VAR_DIR
        return cls(
            database_url=url_setting(env, "DATABASE_URL", SQL_SCHEMES) or f"sqlite:///{var_dir}/loom.db",
            redis_url=url_setting(env, "REDIS_URL", REDIS_SCHEMES),
            var_dir=var_dir,
            trackers_url=tracker_database_url({**env, "VAR_DIR": var_dir}),
            image_encoder=image_encoder_setting(env),
            clip_model=env.get("CLIP_MODEL", "clip-ViT-B-32") or "clip-ViT-B-32",
            photo_allowed_hosts=tuple(
                h.strip() for h in (env.get("PHOTO_ALLOWED_HOSTS") or "").split(",") if h.strip()
            ),
            sim_public_url=env.get("SIM_PUBLIC_URL") or None,
        )


def image_encoder_setting(env: Mapping[str, str | None]) -> str:
    """`IMAGE_ENCODER`: efficientnet (default) or clip, in any case."""
    value = (env.get("IMAGE_ENCODER") or "efficientnet").strip().lower()
    if value not in IMAGE_ENCODERS:
        raise ConfigError(f"IMAGE_ENCODER must be one of {', '.join(IMAGE_ENCODERS)}, got {value!r}")
    return value
