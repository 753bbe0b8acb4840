"""Rasa's dialogue states of a tracker, carried forward as the turn adds events instead of rebuilt.

RulePolicy and MemoizationPolicy turn the session into one state per action taken
(`Domain.states_for_tracker_history`): Rasa replays every event of the session into a fresh tracker
and reads a state off it at each action, for every policy and every prediction: two or three
predictions a message, RulePolicy twice each. At 20 conversations that was a fifth of the Rasa
server's busy time (bench/PROFILE.md), and it grows with the session.

Here the replay is kept, per conversation and kind of states (the policies' flags), together with
the states read so far. The next call replays only the events added since, when the tracker's
applied events still begin with the very event objects replayed before (identity, not equality: a
tracker read anew from the database, an undone turn or a restart starts again from the first event;
the tracker the store kept from the last save has the same objects, so the next turn carries on too,
bot/rasa_server/sql_events.py).
The states are Rasa's own, read by Rasa's own functions in the same order; each call gets its own
copies (callers edit them), with the sharing between states that Rasa's list has (a state after a
bot action can hold the same user sub-state as the one before it).
`install()` is called by `python -m bot.rasa_server`; tests/bot/rasa_server/test_prior_states.py
compares every state list with Rasa's on every story turn and on conversations that grow, revert and
restart.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

CACHED = 512  # conversations x kinds of states kept (two kinds per conversation with this config)

State = dict[str, Any]


@dataclass
class Replay:
    """How far one conversation's states were read: the events replayed and what they gave."""

    domain: Any  # held, so that its id in the key cannot be another domain's
    events: list[Any]  # the applied events replayed, in order (the objects themselves, held)
    tracker: Any  # the replaying tracker, after those events
    states: list[State]  # one per action among them (after the rule-only clean-up when asked)
    rule_only_data: Any
    last_ml_action: Any = None
    turn_was_hidden: bool = False


_replays: OrderedDict[tuple, Replay] = OrderedDict()
_lock = threading.Lock()  # the event loop predicts; a test or tool may call from another thread


def copied(states: list[State]) -> list[State]:
    """New state and sub-state dicts for the caller; sub-states shared in `states` stay shared."""
    seen: dict[int, Any] = {}

    def sub(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        copy = seen.get(id(value))
        if copy is None:
            copy = seen[id(value)] = dict(value)
        return copy

    return [{kind: sub(value) for kind, value in state.items()} for state in states]


def _key(domain: Any, tracker: Any, omit_unset_slots: bool, ignore_rule_only_turns: bool) -> tuple:
    return (
        id(domain),
        tracker.sender_id,
        tuple(tracker.slots),
        tracker.is_rule_tracker,
        tracker._max_event_history,
        omit_unset_slots,
        ignore_rule_only_turns,
    )


def _continues(replay: Replay, domain: Any, applied: list[Any], rule_only_data: Any) -> bool:
    """Whether `applied` begins with exactly the events `replay` replayed (and the same clean-up)."""
    done = replay.events
    if replay.domain is not domain or len(applied) < len(done) or replay.rule_only_data != rule_only_data:
        return False
    return all(new is old for new, old in zip(applied, done, strict=False))


def _read_state(
    domain: Any,
    replay: Replay,
    hide_rule_turn: bool,
    omit_unset_slots: bool,
    ignore_rule_only_turns: bool,
    rule_only_data: Any,
) -> None:
    """One step of Rasa's `states_for_tracker_history` loop, on `replay`'s tracker as it is now."""
    from rasa.shared.core.constants import PREVIOUS_ACTION

    tracker, states = replay.tracker, replay.states
    if ignore_rule_only_turns:
        if not replay.turn_was_hidden:
            replay.last_ml_action = domain._get_prev_action_sub_state(tracker)
        if not tracker.followup_action and tracker.latest_action_name != tracker.active_loop_name:
            replay.turn_was_hidden = hide_rule_turn
        if replay.turn_was_hidden:
            return
    state = domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, rule_only_data)
        if states:
            domain._substitute_rule_only_user_input(state, states[-1])
        if replay.last_ml_action:
            state[PREVIOUS_ACTION] = replay.last_ml_action
    states.append(domain._clean_state(state))


def states_for_tracker_history(
    domain: Any,
    tracker: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[State]:
    """`Domain.states_for_tracker_history`, replaying only the events added since the last call."""
    from rasa.shared.core.events import ActionExecuted

    applied = tracker.applied_events()
    key = _key(domain, tracker, omit_unset_slots, ignore_rule_only_turns)
    with _lock:
        replay = _replays.pop(key, None)
    if replay is None or not _continues(replay, domain, applied, rule_only_data):
        replay = Replay(domain, [], tracker.init_copy(), [], rule_only_data)
    flags = (omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    for event in applied[len(replay.events) :]:
        if isinstance(event, ActionExecuted):
            _read_state(domain, replay, event.hide_rule_turn, *flags)
        replay.tracker.update(event)
        replay.events.append(event)
    # Rasa's last state: the tracker after every event. Read on a copy of the progress, not kept.
    last = dataclasses.replace(replay, states=list(replay.states))
    _read_state(domain, last, False, *flags)
    with _lock:
        _replays[key] = replay
        while len(_replays) > CACHED:
            _replays.popitem(last=False)
    return copied(last.states)


def clear() -> None:
    """Forget every conversation's replay: after a model change they hold the old model's domain.

    Never needed for correctness (a replay is used only with the very domain it was made with); it
    lets the old model's objects go (bot/rasa_server/model_swap.py).
    """
    with _lock:
        _replays.clear()


def install() -> None:
    """Put `states_for_tracker_history` in place of the Domain method (idempotent)."""
    from rasa.shared.core.domain import Domain

    Domain.states_for_tracker_history = states_for_tracker_history  # the domain is its first argument
