"""`make shell`: chat with the assistant in the terminal through its REST channel.

Uses the server of a running `make run` if there is one; otherwise starts the services for the length
of the session, after the same set-up as `make run` (migrations, demo data, the catalogue index, each
step printed as it goes), holding the same run lock, and stopping them as `make run` does.

Buttons are numbered: type the number to press one. The REST channel wants its bearer token:
`REST_CHANNEL_TOKEN` from the environment, else the one a local `make run` generated and left in
`$VAR_DIR/run/` for this user.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import uuid
from typing import Any

from bot.devtools.devstack import (
    ConfigurationError,
    Ports,
    Stack,
    StackError,
    follow_parent,
    http_ok,
    rest_token_file,
    send_rest,
    var_dir,
)

PROMPT = "you> "


def running_token(ports: Ports) -> str | None:
    """The REST token for a server already running: the environment's, or the file `make run` left."""
    if os.environ.get("REST_CHANNEL_TOKEN"):
        return os.environ["REST_CHANNEL_TOKEN"]
    path = rest_token_file(var_dir(os.environ), ports.rasa)
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


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


def chat(base_url: str, token: str, sender: str) -> None:
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
            replies = send_rest(base_url, token, sender, resolve_button(text, buttons), timeout=30.0)
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
    parser = argparse.ArgumentParser(prog="python -m bot.devtools.shell", description=__doc__.splitlines()[0])
    parser.add_argument("--sender", default=f"shell-{uuid.uuid4().hex[:8]}", help="conversation id")
    args = parser.parse_args(argv)
    ports = Ports.from_env()
    base_url = f"http://127.0.0.1:{ports.rasa}"
    if http_ok(f"{base_url}/"):  # the root needs no token (Rasa's API does)
        token = running_token(ports)
        if token is None:
            sys.exit("a server is running, but REST_CHANNEL_TOKEN is not set: set it to that server's token")
        chat(base_url, token, args.sender)
        return
    from bot.devtools.launcher import AlreadyRunning, Stopper, hold_run_lock, prepare_database, say
    from bot.settings import Settings

    try:
        lock = hold_run_lock(var_dir(os.environ), "make shell (with its own services)")
    except AlreadyRunning as err:  # a make run still setting up: its Rasa does not answer yet
        sys.exit(f"{err}\nits server is not up yet: run make shell again once it says it is running")
    stopper = Stopper().install()
    follow_parent()
    try:
        stack = Stack(ports)
    except ConfigurationError as err:
        sys.exit(f"configuration: {err}")
    say("No running server found; setting up and starting one for this session ...")
    try:
        prepare_database(Settings.from_env(), progress=say)
        say("starting the services (Rasa takes about a minute) ...")
        stack.start(progress=lambda line: say(f"  {line}"))
        chat(base_url, str(stack.env["REST_CHANNEL_TOKEN"]), args.sender)
    except StackError as err:
        sys.exit(f"could not start: {err}")
    except KeyboardInterrupt:
        say("\nstopping ...")
    finally:
        stopper.stopping = True
        stack.stop()
        lock.close()


if __name__ == "__main__":
    main()
