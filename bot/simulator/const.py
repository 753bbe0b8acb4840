"""Names, limits and Meta's error texts used by the simulator, in one place.

Limits follow Meta's Send API reference:
https://developers.facebook.com/docs/messenger-platform/reference/send-api/ and the template pages
(generic: https://developers.facebook.com/docs/messenger-platform/send-messages/template/generic,
button: https://developers.facebook.com/docs/messenger-platform/send-messages/template/button).
"""

from __future__ import annotations

from bot.platform_env import SIM_X_API_PATH

MESSENGER = "messenger"
INSTAGRAM = "instagram"
TWITTER = "twitter"
META_PLATFORMS = (MESSENGER, INSTAGRAM)
PLATFORMS = (MESSENGER, INSTAGRAM, TWITTER)

# What the webhook body's `object` field says for each platform.
WEBHOOK_OBJECT = {MESSENGER: "page", INSTAGRAM: "instagram"}

MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")
SENDER_ACTIONS = ("typing_on", "typing_off", "mark_seen")
HUMAN_AGENT = "HUMAN_AGENT"
# Tags Meta still documents for Messenger; Instagram accepts HUMAN_AGENT only.
# https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags
MESSAGE_TAGS = {
    MESSENGER: (
        "HUMAN_AGENT",
        "ACCOUNT_UPDATE",
        "CONFIRMED_EVENT_UPDATE",
        "POST_PURCHASE_UPDATE",
        "CUSTOMER_FEEDBACK",
    ),
    INSTAGRAM: ("HUMAN_AGENT",),
}

TEXT_LIMIT = {MESSENGER: 2000, INSTAGRAM: 1000}
QUICK_REPLIES_MAX = 13
QUICK_REPLY_TITLE_MAX = 20
PAYLOAD_MAX = 1000
QUICK_REPLY_CONTENT_TYPES = ("text", "user_phone_number", "user_email")
MEDIA_ATTACHMENT_TYPES = ("image", "video", "audio", "file")
GENERIC_ELEMENTS_MAX = 10
GENERIC_TITLE_MAX = 80
GENERIC_SUBTITLE_MAX = 80
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_TEMPLATE_TEXT_MAX = 640
BUTTON_TYPES = ("postback", "web_url")

# The standard messaging window, and how long HUMAN_AGENT extends it.
# https://developers.facebook.com/docs/messenger-platform/policy/policy-overview
STANDARD_WINDOW_SECONDS = 24 * 3600
HUMAN_AGENT_WINDOW_SECONDS = 7 * 24 * 3600

# Graph error codes and texts. https://developers.facebook.com/docs/messenger-platform/error-codes and
# https://developers.facebook.com/docs/graph-api/guides/error-handling
OAUTH_EXCEPTION = "OAuthException"
CODE_INVALID_TOKEN = 190
MSG_INVALID_TOKEN = "Invalid OAuth access token data."
CODE_INVALID_PARAMETER = 100
CODE_UNSUPPORTED_POST = 100
SUBCODE_UNSUPPORTED_POST = 33
CODE_PERMISSION = 10
SUBCODE_OUTSIDE_WINDOW = 2018278
MSG_OUTSIDE_WINDOW = (
    "(#10) This message is sent outside of allowed window. Learn more about the new policy here: "
    "https://developers.facebook.com/docs/messenger-platform/policy-overview"
)
MSG_BAD_APPSECRET_PROOF = "Invalid appsecret_proof provided in the API argument"
# Injected failures: HTTP status -> (code, message, transient). Other statuses fall back to code 1.
INJECTED_ERRORS: dict[int, tuple[int, str, bool]] = {
    400: (100, "(#100) Invalid parameter", False),
    401: (190, MSG_INVALID_TOKEN, False),
    403: (10, "(#10) Application does not have permission for this action", False),
    429: (613, "(#613) Calls to this api have exceeded the rate limit.", True),
    500: (1200, "(#1200) Temporary send message failure. Please try again later", True),
    502: (2, "An unexpected error has occurred. Please retry your request later.", True),
    503: (2, "Service temporarily unavailable", True),
    504: (2, "An unexpected error has occurred. Please retry your request later.", True),
}
UNKNOWN_ERROR = (1, "An unknown error occurred", True)

# Webhook delivery.
SIGNATURE_HEADER = "X-Hub-Signature-256"
LEGACY_SIGNATURE_HEADER = "X-Hub-Signature"
WEBHOOK_PATHS = {
    MESSENGER: "/messenger/webhook",
    INSTAGRAM: "/instagram/webhook",
    TWITTER: "/twitter/webhook",
}
WEBHOOK_TIMEOUT_SECONDS = 10.0
# Messenger's thumbs-up ("like") sticker, sent as an image attachment carrying this id.
# https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/messages
LIKE_STICKER_ID = 369239263222822

# Media uploads (stand-in for Meta's CDN).
MEDIA_MAX_BYTES = 8 * 1024 * 1024
MEDIA_STORE_MAX_BYTES = 64 * 1024 * 1024
MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")

# Recorded Send API calls kept in memory (oldest dropped first) for long `make run` sessions.
SENDS_KEPT = 10_000

# ---- X (Twitter) ------------------------------------------------------------------------------------
# OAuth 1.0a: https://docs.x.com/fundamentals/authentication/oauth-1-0a/creating-a-signature
OAUTH_WINDOW_SECONDS = 5 * 60  # timestamps this far from now are refused; nonces are remembered this long
X_API_PREFIX = SIM_X_API_PATH  # where the channels look for it when they default to the simulator
X_SIGNATURE_HEADER = "x-twitter-webhooks-signature"
# https://docs.x.com/x-api/webhooks/introduction: CRC answers are due within three seconds.
X_CRC_TIMEOUT_SECONDS = 3.0
X_DM_TEXT_MAX = 10_000
X_DM_ATTACHMENTS_MAX = 1
# https://docs.x.com/x-api/media/quickstart/best-practices: images up to 5 MB; categories.
X_MEDIA_MAX_BYTES = 5 * 1024 * 1024
X_IMAGE_CATEGORIES = ("tweet_image", "dm_image", "tweet_gif", "dm_gif")
X_DM_CATEGORIES = ("dm_image", "dm_gif")
X_MEDIA_CATEGORIES = (*X_IMAGE_CATEGORIES, "tweet_video", "dm_video", "amplify_video", "subtitles")
X_MEDIA_EXPIRES_SECONDS = 24 * 3600
# Rate limits, per user and 15-minute window: 200 DM sends (POST /2/dm_conversations/...), 200 tweets
# (POST /2/tweets), 50 hide-reply calls (PUT /2/tweets/:id/hidden); the media figures are the simulator's.
X_RATE_WINDOW_SECONDS = 15 * 60
X_RATE_LIMITS = {
    "message": 200,
    "media_upload": 500,
    "media_download": 900,
    "public_reply": 200,
    "hide": 50,
}
X_DEFAULT_RESET_IN = 2.0
# The brand's display name and the app that "sent" our DMs (shown in echoes' `apps` map).
X_BRAND_NAME = "Loom & Co."
X_APP_ID = "28000042"
X_APP_NAME = "Loom & Co. support"
X_APP_URL = "https://loomandco.example"
X_DEFAULT_AVATAR = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
X_TWEET_SOURCE = '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>'
# Snowflake ids: https://developer.x.com/en/docs/basics/twitter-ids
X_SNOWFLAKE_EPOCH_MS = 1288834974657
# Legacy v1.1 tweets: 140 characters in `text`, the rest in `extended_tweet`.
X_LEGACY_TEXT_MAX = 140
# t.co links are 23 characters: https://t.co/ plus 10.
X_TCO_PREFIX = "https://t.co/"
X_DISPLAY_URL_MAX = 31
X_PROBLEM_INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
X_INVALID_REQUEST_DETAIL = "One or more parameters to your request was invalid."
X_ECHOES_KEPT = 100

# ---- Public engagement: brand posts, comments, mentions ---------------------------------------------
# The control API and /_sim/public name the Page's side "facebook" (its Messenger side is "messenger").
FACEBOOK = "facebook"
PUBLIC_PLATFORMS = (FACEBOOK, INSTAGRAM, TWITTER)
# The Graph token's platform (as /_sim/fail and /_sim/sends name it) for each public platform.
TOKEN_PLATFORM = {FACEBOOK: MESSENGER, INSTAGRAM: INSTAGRAM, TWITTER: TWITTER}
PUBLIC_NAME = {MESSENGER: FACEBOOK, INSTAGRAM: INSTAGRAM, TWITTER: TWITTER}
PAGE_NAME = "Loom & Co."
IG_USERNAME = "loomandco"
# Longest comment text: 8000 characters on Facebook, 2200 on Instagram (as the apps enforce them).
COMMENT_TEXT_LIMIT = {FACEBOOK: 8000, INSTAGRAM: 2200}
# Private replies: https://developers.facebook.com/docs/messenger-platform/discovery/private-replies
# (one message per comment, within 7 days of the comment) and the Page messages edge's errors.
PRIVATE_REPLY_WINDOW_SECONDS = 7 * 24 * 3600
CODE_ALREADY_REPLIED = 10900
MSG_ALREADY_REPLIED = "(#10900) Activity already replied to"
CODE_CANNOT_REPLY = 10903
MSG_CANNOT_REPLY = "(#10903) This user cant reply to this activity"
SUBCODE_NO_MATCHING_USER = 2018001
# https://docs.x.com/x-api/posts/manage-tweets: 280 weighted characters (links count 23).
X_TWEET_TEXT_MAX = 280
X_REPLY_NOT_VISIBLE = "You attempted to reply to a Tweet that is deleted or not visible to you."
PUBLIC_ACTIONS_KEPT = 10_000
# Instagram mentions (reference/ig-user/mentioned_media, mentioned_comment and mentions):
# https://developers.facebook.com/docs/instagram-platform/instagram-api-with-facebook-login/mentions
# A comment mention sits on some other account's post; the simulator makes one up, by this account,
# with the uploaded photo or this stock one (served by the simulator, so our service can fetch it).
IG_OTHER_ACCOUNT_ID = "17841400000000777"
IG_OTHER_USERNAME = "weekend.finds"
IG_OTHER_CAPTION = "Saturday market finds."
IG_STOCK_MEDIA_PATH = "/static/stock-media.png"
# Graph's code for a malformed `fields` parameter (`Syntax error "..." at character n: ...`).
CODE_SYNTAX_ERROR = 2500
