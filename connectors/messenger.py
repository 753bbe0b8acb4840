"""Facebook Messenger channel: `connectors.messenger.MessengerInput` in credentials.yml."""

from __future__ import annotations

from connectors.meta_input import MetaInput
from connectors.meta_output import MESSENGER


class MessengerInput(MetaInput):
    """Messenger webhooks at /webhooks/messenger/webhook; replies through the Page's Send API."""

    platform = MESSENGER
    webhook_object = "page"
    token_key = "page_access_token"
    public_channel = "facebook"
    comment_limit = 8000
    comment_field = "feed"
    token_env = "META_PAGE_ACCESS_TOKEN"
