"""`make shell`: chat with the assistant in the terminal through its REST channel.

Uses the server of a running `make run` if there is one; otherwise starts the services for the length
of the session. Buttons are numbered: type the number to press one.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid
from typing import Any

from bot.devstack import Ports, Stack, StackError, http_ok

PROMPT = "you> "


def send(base_url: str, sender: str, text: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Post one message to the REST channel; the bot's replies."""
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(
        f"{base_url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def render(message: dict[str, Any]) -> list[str]:
    """Terminal lines for one bot message (text, image, numbered buttons)."""
    lines = [f"bot> {line}" for line in (message.get("text") or "").splitlines()]
    if message.get("image"):
        lines.append(f"bot> [image] {message['image']}")
    for number, button in enumerate(message.get("buttons") or [], start=1):
        lines.append(f"     {number}. {button.get('title')}")
    return lines


def resolve_button(text: str, buttons: list[dict[str, Any]]) -> str:
    """A number typed after buttons were shown presses that button."""
    if text.isdigit() and 1 <= int(text) <= len(buttons):
        return str(buttons[int(text) - 1].get("payload") or buttons[int(text) - 1].get("title"))
    return text


def chat(base_url: str, sender: str) -> None:
    """Read-send-print until end of input."""
    print(f"Talking to {base_url} as {sender}. Ctrl-D or /quit to leave.\n")
    buttons: list[dict[str, Any]] = []
    while True:
        try:
            text = input(PROMPT).strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if text in ("/quit", "/exit"):
            return
        if not text:
            continue
        try:
            replies = send(base_url, sender, resolve_button(text, buttons))
        except (urllib.error.URLError, OSError) as err:
            print(f"(could not reach the bot: {err})")
            continue
        buttons = [b for message in replies for b in message.get("buttons") or []]
        for message in replies:
            print("\n".join(render(message)))
        if not replies:
            print("bot> (no reply)")


def main(argv: list[str] | None = None) -> None:
    """Connect to a running server or start one, then chat."""
    parser = argparse.ArgumentParser(prog="python -m bot.shell", description=__doc__.splitlines()[0])
    parser.add_argument("--sender", default=f"shell-{uuid.uuid4().hex[:8]}", help="conversation id")
    args = parser.parse_args(argv)
    ports = Ports.from_env()
    base_url = f"http://127.0.0.1:{ports.rasa}"
    if http_ok(f"{base_url}/"):  # the root needs no token (Rasa's API does)
        chat(base_url, args.sender)
        return
    from bot.launcher import prepare_database
    from bot.settings import Settings

    prepare_database(Settings.from_env())
    stack = Stack(ports)
    print("No running server found; starting one for this session (about a minute) ...", flush=True)
    try:
        stack.start(progress=lambda line: print(f"  {line}", flush=True))
        chat(base_url, args.sender)
    except StackError as err:
        sys.exit(f"could not start: {err}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
