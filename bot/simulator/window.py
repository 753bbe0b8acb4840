"""Meta's messaging window: standard messages within 24 h of the user's last message, HUMAN_AGENT 7 days.

https://developers.facebook.com/docs/messenger-platform/policy/policy-overview#24hours_window
"""

from __future__ import annotations

from bot.simulator.const import HUMAN_AGENT, HUMAN_AGENT_WINDOW_SECONDS, STANDARD_WINDOW_SECONDS
from bot.simulator.graph_errors import GraphError, outside_window
from bot.simulator.validation import SendRequest


def window_error(request: SendRequest, last_inbound: float | None, now: float) -> GraphError | None:
    """The error Meta gives for a send outside its window, or None when the send is allowed.

    Sender actions are not checked. Other message tags (Messenger's ACCOUNT_UPDATE, ...) are meant
    for use outside the window and are not checked either.
    """
    if request.sender_action is not None:
        return None
    if request.messaging_type == "MESSAGE_TAG":
        if request.tag != HUMAN_AGENT:
            return None
        allowed = HUMAN_AGENT_WINDOW_SECONDS
    else:
        allowed = STANDARD_WINDOW_SECONDS
    if last_inbound is None or now - last_inbound > allowed:
        return outside_window()
    return None
