"""domain.yml's responses, rendered as the Rasa server renders what an action sends, but strictly.

An action's message names a response (`utter_...`) and carries the values of its placeholders. Rasa 3.6
picks a variant for the output channel and fills `{name}` from the values (or from a slot of that name);
when a value is missing, or the filled text holds "0[", it sends the raw template instead
(rasa/core/nlg/interpolator.py). Here a missing value is a KeyError and a raw template an AssertionError,
so no test passes on a reply that Rasa would send broken.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
RESPONSES: dict[str, list[dict[str, Any]]] = DOMAIN["responses"]
# What rasa-sdk's `utter_message` puts in a message besides the values of placeholders.
MESSAGE_KEYS = frozenset(
    {"text", "buttons", "elements", "custom", "template", "response", "image", "attachment"}
)
REST = "collector"  # the output channel of the REST channel (Rasa's CollectingOutputChannel)


def placeholders(template: str) -> set[str]:
    """The names of the `{placeholders}` in a text (`{{` and `}}` are literal braces)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def templates(variant: Mapping[str, Any]) -> list[str]:
    """Every string Rasa fills in a variant: its text, and its buttons' titles and payloads."""
    found = [variant.get("text") or ""]
    for button in variant.get("buttons") or []:
        found += [str(button.get("title", "")), str(button.get("payload", ""))]
    return found


def fill(template: str, values: Mapping[str, Any]) -> str:
    """The template filled as Rasa fills it: KeyError for a missing value, AssertionError for a raw one."""
    filled = template.format_map(values)
    # Rasa finds "0[" left over where its `{0[name]}` was not filled, and then sends the template. A text
    # with literal braces goes through that path on purpose and comes out right (it has no placeholders).
    assert "0[" not in filled or "{{" in template, f"Rasa would send the raw template {template!r}"
    return filled


def variants(response: str, channel: str = REST) -> list[dict[str, Any]]:
    """The variants Rasa picks from on `channel`: the channel's own if it has any, else the general ones."""
    own = [v for v in RESPONSES[response] if v.get("channel") == channel]
    return own or [v for v in RESPONSES[response] if not v.get("channel")]


def render(message: Mapping[str, Any], channel: str = REST) -> dict[str, Any]:
    """An action's message as the customer gets it (a message without a response is returned as it is)."""
    name = message.get("response")
    if not name:
        return dict(message)
    values = {key: value for key, value in message.items() if key not in MESSAGE_KEYS}
    variant = random.choice(variants(name, channel))
    buttons = [
        {**b, "title": fill(str(b["title"]), values), "payload": fill(str(b["payload"]), values)}
        for b in variant.get("buttons") or []
    ]
    return {**message, "text": fill(variant["text"], values), "buttons": buttons}
