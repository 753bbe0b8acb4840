"""Names and numbers of monitoring, in one place."""

from __future__ import annotations

# Sources of customer messages, as cursor names and as prefixes of `message_log.source`.
EVENTS_CURSOR = "rasa_events"
MENTIONS_CURSOR = "mentions"
EVENT_SOURCE = "event:"
MENTION_SOURCE = "mention:"
DM, MENTION, COMMENT = "dm", "mention", "comment"  # message_log.kind
PUBLIC_KINDS = (MENTION, COMMENT)  # what anyone can read: X mentions, comments on the brand's posts

# PostgreSQL may commit ids out of order (a transaction that took id 7 can commit after the one that took
# id 8): every read looks this many ids behind its cursor again; already recorded ones are skipped.
RESCAN = 200
BATCH = 1000  # rows read per step; more than RESCAN, so a step always makes progress

ALL = "all"  # the scope of a spike over every channel
KEYWORD_SCOPE = "keyword:"  # the scope of a spike in mentions of one tracked keyword: "keyword:<name>"
SPIKE_LEASE = "spike:"  # cursor rows used as per-scope leases: the time (POSIX s) of the scope's last alert
ALERT_MESSAGES_IN_WEBHOOK = 20

# Brand tracking: the groups of tracked keywords, in the order charts show them.
OWN, PRODUCTS, COMPETITORS = "own", "products", "competitors"
GROUPS = (OWN, PRODUCTS, COMPETITORS)
MAX_KEYWORDS = 60  # every keyword is a pattern search per message, and a line or bar on a chart
SEARCHED_CHARS = 2000  # keywords are looked for in this many characters of a message (X: 280; bounded reads)

# Moderation
INSULT, BLOCK_LIST, REPEATED_ABUSE = "insult", "block_list", "repeated_abuse"
OPEN, CONFIRMED, DISMISSED = "open", "confirmed", "dismissed"
REVIEW_STATES = (OPEN, CONFIRMED, DISMISSED)
SYSTEM = "monitoring"  # the audit trail's actor for what monitoring does on its own

SIGNATURE_HEADER = "X-Loom-Signature-256"
