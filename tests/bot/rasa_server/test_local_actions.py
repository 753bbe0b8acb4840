"""The escalation slots are computed inside the Rasa server, the same as the action server would.

Runtime A: Rasa's own ActionExtractSlots with the project's domain, and an action endpoint that
records every call it gets (so "nothing went over HTTP" is observed, not assumed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from rasa.core.actions.action import ActionExtractSlots
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ConversationResumed,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.config_files import WatchedFile
from bot.handoff.escalation import EscalationConfig, escalation_slots
from bot.rasa_server import local_actions
from bot.settings import PROJECT_ROOT

from ...ports import free_port
from .action_server_stub import CALLS, start_action_server

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))


def said(text: str, intent: str, score: float, label: str, *signals: str, **metadata: object) -> UserUttered:
    sentiment = {"label": label, "score": score, "confidence": 0.9, "signals": list(signals)}
    parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "sentiment": sentiment}
    return UserUttered(text, parse["intent"], [], parse, metadata=dict(metadata) or None)


def tracker_of(events: list[Event], sender: str = "local-user") -> DialogueStateTracker:
    return DialogueStateTracker.from_events(sender, events, DOMAIN.slots)


def as_action_server_would(tracker: DialogueStateTracker) -> dict:
    """The action server's computation: every event of the tracker, as JSON dicts."""
    latest = tracker.latest_message
    return escalation_slots(
        [event.as_dict() for event in tracker.events],
        EscalationConfig.load(),
        tracker.sender_id,
        latest.metadata if latest else None,
        tracker.get_slot("email"),
    )


def slots(events: list[Event]) -> dict:
    return {e.key: e.value for e in events if isinstance(e, SlotSet)}


CONVERSATIONS = {
    "calm": [said("where is my order", "order_status", 0.0, "neutral")],
    "sustained frustration": [
        said("where is my refund", "refund_status", -0.4, "negative", "money"),
        said("its been 3 weeks and still nothing", "refund_status", -0.6, "negative", "waiting"),
    ],
    "frustration before a handoff does not count": [
        said("this is a joke", "complaint", -0.9, "negative"),
        said("awful", "complaint", -0.8, "negative"),
        ActionExecuted("action_handoff"),
        ConversationResumed(),
        said("thanks, sorted", "thank", 0.6, "positive"),
    ],
    "insults are counted since the session started": [
        said("you idiots", "insult", -0.9, "negative"),
        SessionStarted(),
        said("you idiots", "insult", -0.9, "negative"),
        said("hello", "greet", 0.1, "neutral"),
        said("useless morons", "insult", -0.9, "negative"),
    ],
    "a photo": [
        said("do you have this?", "product_availability", 0.0, "neutral", image_urls=["https://x/y.jpg"])
    ],
    "asks for a person in other words": [
        said("can i talk to a real person please", "order_status", 0.3, "positive")
    ],
}


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_the_slots_are_those_the_action_server_computes(name):
    tracker = tracker_of(CONVERSATIONS[name])
    expected = as_action_server_would(tracker)
    tracker.update_with_events(local_actions.update_sentiment(tracker), DOMAIN)
    assert {key: tracker.get_slot(key) for key in expected} == expected


def test_only_slots_that_change_are_set():
    tracker = tracker_of(CONVERSATIONS["sustained frustration"])
    tracker.update_with_events(local_actions.update_sentiment(tracker), DOMAIN)
    tracker.update(said("and?", "refund_status", -0.6, "negative"))
    changed = slots(local_actions.update_sentiment(tracker))
    assert changed and set(changed) < set(as_action_server_would(tracker))
    tracker.update_with_events([SlotSet(k, v) for k, v in changed.items()], DOMAIN)
    assert {k: tracker.get_slot(k) for k in changed} == {
        k: v for k, v in as_action_server_would(tracker).items() if k in changed
    }


def test_the_walk_back_stops_at_the_latest_boundary():
    tracker = tracker_of(CONVERSATIONS["frustration before a handoff does not count"])
    kinds = [event["event"] for event in local_actions.customer_events(tracker)]
    assert kinds == ["resume", "user"]


@pytest.fixture
async def action_server() -> AsyncIterator[tuple[str, web.AppRunner]]:
    """A real action server that records the actions Rasa asks for."""
    port = free_port()
    runner = await start_action_server(port)
    yield f"http://127.0.0.1:{port}/webhook", runner
    await runner.cleanup()


async def extract_slots(url: str, tracker: DialogueStateTracker) -> list[Event]:
    action = ActionExtractSlots(EndpointConfig(url))
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    return await action.run(CollectingOutputChannel(), nlg, tracker, DOMAIN)


async def test_without_install_rasa_asks_the_action_server(action_server):
    url, runner = action_server
    await extract_slots(url, tracker_of(CONVERSATIONS["sustained frustration"]))
    assert runner.app[CALLS] == ["action_update_sentiment"]


async def test_installed_the_slots_come_from_the_rasa_server_and_nothing_goes_over_http(
    action_server, monkeypatch
):
    url, runner = action_server
    monkeypatch.setattr(ActionExtractSlots, "_run_custom_action", ActionExtractSlots._run_custom_action)
    local_actions.install()
    local_actions.install()  # idempotent: one wrapper, not two
    events = await extract_slots(url, tracker_of(CONVERSATIONS["sustained frustration"]))
    assert slots(events)["escalate"] is True
    assert slots(events)["escalation_reason"] == "sustained_negative"
    assert runner.app[CALLS] == []


def test_a_broken_escalation_file_stops_start_up(monkeypatch, tmp_path):
    broken = tmp_path / "escalation.yml"
    broken.write_text("trend: [unclosed\n")
    monkeypatch.setattr(ActionExtractSlots, "_run_custom_action", ActionExtractSlots._run_custom_action)
    monkeypatch.setattr(local_actions, "_escalation", None)
    monkeypatch.setattr(
        local_actions.EscalationConfig, "watch", lambda: WatchedFile(broken, EscalationConfig.load)
    )
    with pytest.raises(SystemExit, match=r"Rasa server: configuration error: .*escalation\.yml"):
        local_actions.install()
    assert not getattr(ActionExtractSlots._run_custom_action, "runs_local_actions", False)
