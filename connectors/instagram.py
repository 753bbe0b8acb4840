"""Instagram DMs channel: `connectors.instagram.InstagramInput` in credentials.yml."""

from __future__ import annotations

from connectors.meta_input import MetaInput
from connectors.meta_output import INSTAGRAM


class InstagramInput(MetaInput):
    """Instagram messaging webhooks at /webhooks/instagram/webhook; replies through the Send API."""

    platform = INSTAGRAM
    webhook_object = "instagram"
    token_key = "access_token"
    public_channel = "instagram"
    comment_limit = 2200
    comment_field = "comments"
    token_env = "INSTAGRAM_ACCESS_TOKEN"
