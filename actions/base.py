"""The one place where failures of our services become a polite reply."""

from __future__ import annotations

import abc
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.replies import say

logger = logging.getLogger(__name__)

# What can fail while an action reads the database: the driver, the network, a locked SQLite file.
SERVICE_ERRORS = (SQLAlchemyError, OSError)


class ServiceAction(Action, abc.ABC):
    """An action that calls services; if they fail, the customer hears so and the bot carries on."""

    @abc.abstractmethod
    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Do the action's work; return its events."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Run `answer`, turning service failures into the `lookup_failed` reply."""
        try:
            return await self.answer(dispatcher, tracker, domain)
        except SERVICE_ERRORS:
            logger.exception("%s failed for conversation %s", self.name(), tracker.sender_id)
            say(dispatcher, "lookup_failed")
            return []
