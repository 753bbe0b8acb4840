"""`python -m bot.action_server --actions actions`: the action server with `GET /metrics`.

A module of its own, so that the app factory and the executor that Sanic sends to its worker process
live in `bot.action_server.app`, never in `__main__`.
"""

from __future__ import annotations

from bot.action_server.app import main

if __name__ == "__main__":
    main()
