"""Names and numbers of the customer profile cache."""

from __future__ import annotations

import datetime as dt

PROFILE_TTL = dt.timedelta(days=7)  # a good profile is asked again after this (names and pictures change)
FAILURE_TTL = dt.timedelta(hours=1)  # a refused or unanswered one: not re-asked on every page view
RENEW_AFTER = dt.timedelta(minutes=10)  # a picture URL that stopped working: ask for a new one, not oftener
FETCH_TIMEOUT = 3.0  # seconds for one profile call: the page renders with the handle rather than wait
MAX_TEXT = 200  # the columns' width: a longer name or handle is cut, never refused

# X's picture for users who never set one (https://abs.twimg.com/sticky/default_profile_images/...).
X_DEFAULT_PICTURE = "/default_profile_images/"
OK = "ok"
FAILED = "failed"
MESSENGER, INSTAGRAM, TWITTER = "messenger", "instagram", "twitter"
# Graph's User Profile API fields per platform (PSID on Messenger, IGSID on Instagram):
# https://developers.facebook.com/docs/messenger-platform/identity/user-profile
# https://developers.facebook.com/docs/messenger-platform/instagram/features/user-profile
GRAPH_FIELDS = {MESSENGER: "first_name,last_name,profile_pic", INSTAGRAM: "name,username,profile_pic"}
