"""The platforms' secrets and addresses: the real ones from the environment, or the local simulator's.

One rule for every way the channels start (`make run`, a plain `rasa run` or `rasa shell`, a deployment):
no platform variable set means the local simulator (bot/simulator), whose demo secrets are public and
whose fake Graph and X APIs listen on 127.0.0.1; any one set means the real platforms, and then every
channel's variables must be, so a half-real set-up never accepts webhooks signed with the simulator's
public secrets. Rasa's own `${VAR}` substitution in credentials.yml has no defaults (a plain `rasa shell`
would stop on the first unset one), so the channels read these here instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# What each channel needs from the environment (or from its entry in credentials.yml).
PLATFORM_VARIABLES: dict[str, tuple[str, ...]] = {
    "Messenger": ("META_APP_SECRET", "META_VERIFY_TOKEN", "META_PAGE_ACCESS_TOKEN"),
    "Instagram": ("META_APP_SECRET", "META_VERIFY_TOKEN", "INSTAGRAM_ACCESS_TOKEN"),
    "X": ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", "X_USER_ID"),
}
# Optional (the channels default to Meta's and X's own addresses), but setting one still means "real".
OPTIONAL_PLATFORM_VARIABLES = ("META_APP_ID", "META_GRAPH_API_URL", "X_API_URL")

DEFAULT_SIM_PORT = 5080
SIM_GRAPH_API_PATH = "/v21.0"
SIM_X_API_PATH = "/x"
# The simulator's demo values (bot/simulator/config.py takes its defaults from here). Public: they sign
# nothing but local test traffic, and replies to them go only to the simulator on 127.0.0.1.
SIMULATOR_SECRETS: dict[str, str] = {
    "META_APP_SECRET": "sim-app-secret",
    "META_VERIFY_TOKEN": "sim-verify-token",
    "META_PAGE_ACCESS_TOKEN": "sim-page-token",
    "INSTAGRAM_ACCESS_TOKEN": "sim-ig-token",
    "META_APP_ID": "100000000000042",
    "X_CONSUMER_KEY": "sim-x-consumer-key",
    "X_CONSUMER_SECRET": "sim-x-consumer-secret",
    "X_ACCESS_TOKEN": "sim-x-access-token",
    "X_ACCESS_TOKEN_SECRET": "sim-x-access-secret",
    "X_USER_ID": "1500000000000000001",
}


class PlatformConfigError(ValueError):
    """Some platform variables are set and others are missing."""


def required_platform_variables() -> list[str]:
    """Every variable the channels need, once each, in the channels' order."""
    return list(dict.fromkeys(name for names in PLATFORM_VARIABLES.values() for name in names))


def simulator_values(sim_url: str) -> dict[str, str]:
    """The channels' settings that point them at the simulator listening on `sim_url`."""
    base = sim_url.rstrip("/")
    return {
        **SIMULATOR_SECRETS,
        "META_GRAPH_API_URL": base + SIM_GRAPH_API_PATH,
        "X_API_URL": base + SIM_X_API_PATH,
    }


def real_variables(env: Mapping[str, str | None]) -> list[str]:
    """The platform variables (required or optional) set in `env`: any one means the real platforms."""
    return [name for name in (*required_platform_variables(), *OPTIONAL_PLATFORM_VARIABLES) if env.get(name)]


def warn_simulated(channel: str, address: str) -> None:
    """Say at start-up that a channel talks to the simulator with its public secrets."""
    logger.warning(
        "%s: no META_* or X_* variable set: talking to the local simulator at %s with its public "
        "demo secrets (set them all for the real platforms: connectors/README.md)",
        channel,
        address,
    )


def default_sim_url(env: Mapping[str, str | None]) -> str:
    """Where a local simulator listens: `SIM_PORT` on 127.0.0.1 (5080 unless set)."""
    return f"http://127.0.0.1:{env.get('SIM_PORT') or DEFAULT_SIM_PORT}"


@dataclass(frozen=True)
class PlatformSettings:
    """The channels' platform variables, and whether they are the simulator's."""

    values: dict[str, str]
    simulated: bool

    def get(self, name: str) -> str | None:
        """One variable's value (None: unset, for an optional one on the real platforms)."""
        return self.values.get(name) or None


def channel_settings(
    required: Mapping[str, str],
    optional: Mapping[str, str],
    credentials: Mapping[str, object] | None,
    env: Mapping[str, str | None] | None = None,
) -> PlatformSettings:
    """One channel's values by credentials key (`required` and `optional` map each key to its variable).

    The channel's entry in credentials.yml wins over the environment. The simulator's values only when
    neither the environment holds any platform variable nor the entry any value; otherwise every
    `required` one must be given (PlatformConfigError names the missing variables), and an `optional`
    one not given is left out (the channel then uses the platform's own address).
    """
    env = os.environ if env is None else env
    credentials = credentials or {}
    names = {**required, **optional}
    given = {key: str(credentials[key]) for key in names if credentials.get(key)}
    if not given and not real_variables(env):
        simulator = simulator_values(default_sim_url(env))
        return PlatformSettings({key: simulator[name] for key, name in names.items()}, simulated=True)
    values = {key: given.get(key) or str(env.get(name) or "") for key, name in names.items()}
    missing = [name for key, name in required.items() if not values[key]]
    if missing:
        raise PlatformConfigError(
            f"missing {', '.join(missing)}: set them in the environment (credentials.yml)"
        )
    return PlatformSettings({key: value for key, value in values.items() if value}, simulated=False)


def platform_settings(env: Mapping[str, str | None] | None = None) -> PlatformSettings:
    """The real platforms' variables from `env`, or the simulator's when none is set.

    Raises PlatformConfigError naming the missing variables when only some are set.
    """
    env = os.environ if env is None else env
    required = required_platform_variables()
    real = real_variables(env)
    if not real:
        return PlatformSettings(simulator_values(default_sim_url(env)), simulated=True)
    missing = [name for name in required if not env.get(name)]
    if missing:
        raise PlatformConfigError(
            f"{', '.join(real)} set, so the channels talk to the real platforms, but "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing. Set every one of "
            f"{', '.join(required)} (see connectors/README.md), or none of them to use the local simulator."
        )
    return PlatformSettings({name: str(env[name]) for name in real}, simulated=False)
