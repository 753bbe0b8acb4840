"""`make actions`: the action server alone, for Rasa's own CLI (`rasa shell`, `rasa run`, `rasa interactive`).

A Rasa developer runs the action server in one terminal and Rasa in another. Ours needs a secret on
every call (`ACTION_SERVER_TOKEN`); so that the other terminal needs nothing exported, this prepares the
database as `make run` does (migrate, demo data, catalogue index), takes the
environment's token, else makes one and leaves it, readable by this user only, where the Rasa side
looks for it (`bot.settings.action_token_file`, read by `bot.rasa_server.action_endpoint`); the next
start replaces it. Listens on 127.0.0.1:$ACTION_PORT (5055).
"""

from __future__ import annotations

import os
import secrets
import sys

from bot.devtools.launcher import prepare_database
from bot.settings import Settings, action_token_file, local_var_dir, write_private

DEFAULT_PORT = 5055


def main() -> None:
    """Prepare the database, leave the token for Rasa, then become the action server (signals reach it)."""
    print(f"database: {prepare_database(Settings.from_env(), progress=lambda line: print(line, flush=True))}")
    port = int(os.environ.get("ACTION_PORT") or DEFAULT_PORT)
    token = os.environ.get("ACTION_SERVER_TOKEN") or secrets.token_urlsafe(32)
    token_file = action_token_file(local_var_dir(os.environ), port)
    write_private(token_file, token)
    print(f"action server: http://127.0.0.1:{port}/webhook (its secret for Rasa: {token_file})", flush=True)
    command = [sys.executable, "-m", "bot.action_server", "--actions", "actions", "--port", str(port)]
    os.execve(sys.executable, command, {**os.environ, "ACTION_SERVER_TOKEN": token})


if __name__ == "__main__":
    main()
