"""Who gets which queued conversation: the pure choice (bot/desk/assignment.py) and its settings."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.desk.assignment import Candidate, Waiting, capacity_of, parse_channels, plan
from bot.desk.config import Assignment
from bot.settings import ConfigError
from bot.storage.models import Agent

T0 = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.timezone.utc)


def ticket(
    n: int, urgency: int = 50, channel: str = "messenger", language: str | None = None, **kw
) -> Waiting:
    return Waiting(n, urgency, T0 + dt.timedelta(seconds=n), channel, language, **kw)


def agent(n: int, languages=("en",), channels=(), capacity=3, load=0, last=None) -> Candidate:
    return Candidate(n, tuple(languages), tuple(channels), capacity, load, last)


def test_round_robin_gives_each_online_agent_one_in_turn_least_recently_assigned_first():
    ada = agent(1, last=T0 + dt.timedelta(minutes=5))
    bob = agent(2, last=T0)  # waited longer for a conversation than Ada
    cy = agent(3)  # never given one: first of all
    pairs = plan([ticket(n) for n in range(1, 6)], [ada, bob, cy], "en")
    assert pairs == [(1, 3), (2, 2), (3, 1), (4, 3), (5, 2)]


def test_the_most_urgent_ticket_goes_first_and_capacity_is_never_exceeded():
    ada = agent(1, capacity=2, load=1)  # room for one more
    pairs = plan([ticket(1, urgency=40), ticket(2, urgency=90), ticket(3, urgency=60)], [ada], "en")
    assert pairs == [(2, 1)]
    assert plan([ticket(1)], [agent(1, capacity=2, load=2)], "en") == []
    assert plan([ticket(1)], [agent(1, capacity=0)], "en") == []  # 0: claims by hand only


def test_equal_urgency_goes_oldest_first():
    pairs = plan([ticket(7), ticket(3), ticket(5)], [agent(1, capacity=1)], "en")
    assert pairs == [(3, 1)]


def test_language_skills_and_the_primary_language_for_tickets_without_one():
    english, spanish = agent(1, languages=("en",)), agent(2, languages=("es",))
    pairs = plan(
        [ticket(1, language="es"), ticket(2, language=None), ticket(3, language="fr")],
        [english, spanish],
        "en",
    )
    assert pairs == [(1, 2), (2, 1)]  # nobody speaks French: it waits
    assert plan([ticket(1, language=None)], [spanish], "es") == [(1, 2)]  # another primary language


def test_channel_skills_empty_means_every_channel():
    meta_only = agent(1, channels=("messenger", "instagram"))
    anyone = agent(2, last=T0)  # would come second in turn
    pairs = plan([ticket(1, channel="twitter"), ticket(2, channel="instagram")], [meta_only, anyone], "en")
    assert pairs == [(1, 2), (2, 1)]


def test_a_pin_sends_the_ticket_to_that_agent_only_skills_aside():
    ada, bob = agent(1), agent(2, languages=("de",), last=T0)
    assert plan([ticket(1, language="en", pinned_to=2)], [ada, bob], "en") == [(1, 2)]
    assert plan([ticket(1, pinned_to=9)], [ada, bob], "en") == []  # pinned to someone not online
    assert plan([ticket(1, pinned_to=2)], [ada, agent(2, capacity=1, load=1)], "en") == []  # no room


def test_a_held_ticket_is_never_assigned_and_a_releaser_never_gets_it_back():
    ada, bob = agent(1), agent(2, last=T0)
    assert plan([ticket(1, manual_only=True)], [ada, bob], "en") == []
    assert plan([ticket(1, released_by=1)], [ada, bob], "en") == [(1, 2)]
    assert plan([ticket(1, released_by=1)], [ada], "en") == []


def test_supervisors_take_conversations_only_when_given_a_capacity():
    sam = Agent(id=5, role="supervisor", capacity=None, languages="en", channels="")
    ada = Agent(id=1, role="agent", capacity=None, languages="en", channels="")
    assert capacity_of(sam, 3) == 0 and capacity_of(ada, 3) == 3
    sam.capacity, ada.capacity = 2, 0
    assert capacity_of(sam, 3) == 2 and capacity_of(ada, 3) == 0
    assert Candidate.of(sam, 1, None, 3) == Candidate(5, ("en",), (), 2, 1, None)


def test_channel_names():
    assert parse_channels("Messenger, x ,instagram") == ("messenger", "twitter", "instagram")
    assert parse_channels("") == () and parse_channels(None) == ()
    with pytest.raises(ValueError, match="channels are messenger, instagram, twitter"):
        parse_channels("messenger,fax")


def test_settings_from_desk_yml():
    assert Assignment.from_yaml(None) == Assignment()
    assert not Assignment().enabled  # off unless desk.yml turns it on
    tuned = Assignment.from_yaml(
        {"enabled": True, "capacity": 5, "presence_seconds": 30, "primary_language": "es"}
    )
    assert (tuned.enabled, tuned.capacity, tuned.presence_seconds, tuned.primary_language) == (
        True,
        5,
        30.0,
        "es",
    )
    for bad, words in (
        ({"capacity": "3"}, "assignment.capacity must be a whole number, got '3'"),
        ({"enabled": "yes"}, "assignment.enabled must be true or false"),
        ({"capacity": -1}, "cannot be negative"),
        ({"presence_seconds": 1}, "presence_seconds must be at least 5"),
        ({"interval_seconds": 0}, "interval_seconds above 0"),
        ({"primary_language": "English"}, "assignment.primary_language must be a language code"),
        ({"capcity": 3}, "assignment.capcity is not a setting"),
        ([1, 2], "assignment must be a mapping"),
    ):
        with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
            Assignment.from_yaml(bad)


def test_the_projects_desk_yml_turns_assignment_on(tmp_path):
    from bot.desk.config import DESK_YML, DeskConfig

    assert DeskConfig.from_env({}, DESK_YML).assignment.enabled
    broken = tmp_path / "desk.yml"
    broken.write_text("assignment:\n  capacity: lots\n")
    with pytest.raises(ConfigError, match="capacity must be a whole number"):
        DeskConfig.from_env({}, broken)
