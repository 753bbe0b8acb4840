"""Fixtures shared by the Rasa-side tests of the server's changes."""

from __future__ import annotations

import pytest
from rasa.core.actions.action import RemoteAction

from bot.rasa_server import action_connections, action_retry


@pytest.fixture
async def action_retries():
    """Our retrying `RemoteAction.run` for the test; then Rasa's again, and the kept connections closed."""
    original = RemoteAction.run
    action_retry.install(seconds=10)
    yield
    RemoteAction.run = original
    await action_connections.close()
