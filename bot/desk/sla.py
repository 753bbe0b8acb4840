"""Response-time targets and Meta's reply windows, as deadlines the desk counts down to."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.desk.config import Sla

META_CHANNELS = ("messenger", "instagram")
STANDARD_WINDOW = dt.timedelta(hours=24)  # any message, within a day of the customer's last one
HUMAN_AGENT_WINDOW = dt.timedelta(days=7)  # HUMAN_AGENT tag: a person may answer up to a week later


@dataclass(frozen=True)
class Timer:
    """One deadline: `due` is when it breaches; `done` when it was met (then nothing counts down)."""

    name: str
    due: dt.datetime | None
    done: bool = False

    def state(self, now: dt.datetime) -> str:
        """Met | ok | due_soon | breached | none."""
        if self.done:
            return "met"
        if self.due is None:
            return "none"
        left = (self.due - now).total_seconds()
        if left < 0:
            return "breached"
        return "due_soon" if left < 120 else "ok"


@dataclass(frozen=True)
class Window:
    """Meta's reply window of a conversation: which kind of message may still go, and until when."""

    kind: str  # standard | human_agent | closed | none (not a Meta channel)
    closes: dt.datetime | None


def first_response(created: dt.datetime, first_reply: dt.datetime | None, sla: Sla) -> Timer:
    """From the handoff to the first reply a person sent."""
    return Timer(
        "first response", created + dt.timedelta(minutes=sla.first_response), first_reply is not None
    )


def next_response(
    last_customer: dt.datetime | None,
    last_reply: dt.datetime | None,
    first_reply: dt.datetime | None,
    sla: Sla,
) -> Timer:
    """Once a person is talking: the customer's newest message waits for an answer."""
    if first_reply is None or last_customer is None:
        return Timer("next response", None)
    answered = last_reply is not None and last_reply >= last_customer
    return Timer("next response", last_customer + dt.timedelta(minutes=sla.next_response), answered)


def reply_window(channel: str, last_customer: dt.datetime | None, now: dt.datetime) -> Window:
    """Meta's 24-hour standard window, then the 7-day human agent window, then closed."""
    if channel not in META_CHANNELS:
        return Window("none", None)
    if last_customer is None:
        return Window("closed", None)
    if now < last_customer + STANDARD_WINDOW:
        return Window("standard", last_customer + STANDARD_WINDOW)
    if now < last_customer + HUMAN_AGENT_WINDOW:
        return Window("human_agent", last_customer + HUMAN_AGENT_WINDOW)
    return Window("closed", last_customer + HUMAN_AGENT_WINDOW)
