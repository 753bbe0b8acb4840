"""Typed app keys shared by the simulator's route modules."""

from __future__ import annotations

import asyncio

from aiohttp import ClientSession, web

from bot.simulator.config import SimulatorConfig
from bot.simulator.state import SimState

CONFIG_KEY = web.AppKey("config", SimulatorConfig)
STATE_KEY = web.AppKey("state", SimState)
# Opened at start-up and closed at shutdown (see app.py), used to deliver webhooks to our connectors.
SESSION_KEY = web.AppKey("session", ClientSession)
# Webhook deliveries still running after an answer (X echoes, our own comments), cancelled at shutdown
# before the session closes (see background.py).
TASKS_KEY = web.AppKey("tasks", set[asyncio.Task[None]])
