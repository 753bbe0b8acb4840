"""The services actions use, built on first use from the action server's settings (never at import time).

The environment is read once, by bot/action_server/settings.py `ActionServerSettings.from_env`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from bot.action_server.settings import ActionServerSettings
from bot.catalog.availability import CatalogService
from bot.catalog.fetch import FetchPolicy, media_policy_for
from bot.catalog.logos import ConfiguredLogos
from bot.catalog.photo_config import PhotoConfig
from bot.catalog.product_search import ProductSearch, product_search_for
from bot.config_files import WatchedFile
from bot.customers.graph_profiles import GraphProfiles
from bot.customers.profiles import CustomerProfiles
from bot.handoff.escalation import EscalationConfig
from bot.handoff.language_replies import LanguageReplies
from bot.handoff.tickets import HandoffService
from bot.settings import Settings
from bot.shop.locations import StoreService
from bot.shop.orders import OrderService
from bot.storage.bot_ratings import BotRatings
from bot.storage.db import Database
from bot.x_oauth import OAuth1Credentials, x_credentials


@dataclass(frozen=True)
class Services:
    """Everything an action may call."""

    settings: Settings
    database: Database
    orders: OrderService
    catalog: CatalogService
    stores: StoreService
    handoff: HandoffService
    bot_ratings: BotRatings
    escalation_file: WatchedFile[EscalationConfig]
    search: ProductSearch
    photo_policy: FetchPolicy
    photos_file: WatchedFile[PhotoConfig]
    logos: ConfiguredLogos
    x: OAuth1Credentials | None  # our X account: X serves DM photos only to requests it signed
    profiles: CustomerProfiles  # customers' names and pictures (the ticket's name)
    languages_file: WatchedFile[LanguageReplies]

    @property
    def languages(self) -> LanguageReplies:
        """languages.yml as editors left it (re-read when it changed)."""
        return self.languages_file.value

    @property
    def photos(self) -> PhotoConfig:
        """photos.yml as editors left it (re-read when it changed)."""
        return self.photos_file.value

    @property
    def escalation(self) -> EscalationConfig:
        """escalation.yml as editors left it (re-read when it changed, checked at most every 2 s)."""
        return self.escalation_file.value


@functools.cache
def services() -> Services:
    """The process-wide services; the action server builds them on the first action call."""
    settings = ActionServerSettings.from_env().settings
    database = Database(settings.database_url)
    photos = PhotoConfig.watch()
    return Services(
        settings=settings,
        database=database,
        orders=OrderService(database),
        catalog=CatalogService(database),
        stores=StoreService(database),
        handoff=HandoffService(database),
        bot_ratings=BotRatings(database),
        escalation_file=EscalationConfig.watch(),
        search=product_search_for(settings, database, lambda: photos.value),
        photo_policy=media_policy_for(settings),
        photos_file=photos,
        logos=ConfiguredLogos(lambda: photos.value),
        x=x_credentials(),  # the X channel's variables, as the desk and monitoring read them
        profiles=CustomerProfiles(database, GraphProfiles.from_env()),
        languages_file=LanguageReplies.watch(),
    )
