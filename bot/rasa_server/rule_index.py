"""RulePolicy's rule matching, checking only the rules that can match the conversation's last state.

Rasa 3.6's RulePolicy finds the rules that apply by testing every rule it learned (170 here) against
the conversation's last state, then the survivors against the state before, and so on, twice or
three times per prediction. In a py-spy profile of the Rasa server at 20 conversations that first
pass over every rule was 6.5% of what the process did (bench/PROFILE.md, fourth round).

A rule can only apply if its last state asks for what the conversation's last state holds: the same
previous action (a rule that names one never matches another, or none) and, if the rule names an
intent, the same intent. `RuleIndex` sorts a loaded policy's rules by those two once; a prediction
tests the rules filed under the conversation's own pair, the rules filed under its action alone and
the rules that name no action, each with Rasa's own `_is_rule_applicable`, then goes back in time
as Rasa does. The rules left out are exactly those Rasa's first pass would have rejected, so the
set of rules found is Rasa's (tests/bot/rasa_server/test_rule_index.py, every story and rule turn).

Only policies loaded for serving are indexed (`RulePolicy.load`); training builds and edits its rule
lookup as it goes and keeps Rasa's way. The state text RulePolicy formats for a debug log line is
formatted only when that line is written. `install()` is called by `python -m bot.rasa_server`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

# Rasa's names for the parts of a state, written out: runtime B imports this package's server module
# (for its errors) without Rasa installed. tests/bot/rasa_server/test_rule_index.py checks them.
PREVIOUS_ACTION = "prev_action"  # rasa.shared.core.constants.PREVIOUS_ACTION
USER = "user"  # rasa.shared.core.constants.USER
ACTION_NAME = "action_name"  # rasa.shared.nlu.constants.ACTION_NAME
INTENT = "intent"  # rasa.shared.nlu.constants.INTENT
SHOULD_NOT_BE_SET = "should_not_be_set"  # rasa.shared.core.constants.SHOULD_NOT_BE_SET

State = dict[str, Any]


def required(sub_state: Any, name: str) -> str | None:
    """The value a rule's sub-state requires for `name` (a conversation must hold exactly it), if any."""
    if not isinstance(sub_state, dict):
        return None
    value = sub_state.get(name)
    if isinstance(value, str) and value and value != SHOULD_NOT_BE_SET:
        return value
    return None


class RuleIndex:
    """The rule keys of one lookup, filed by the previous action and intent their last state requires."""

    def __init__(self, lookup: dict[str, str], rule_states: Callable[[str], list[State]]) -> None:
        self.lookup = lookup  # held, so that the id this index is filed under stays this lookup's
        self.size = len(lookup)
        self.anywhere: list[str] = []  # rules whose last state names no previous action
        self.by_action: dict[str, list[str]] = defaultdict(list)
        self.by_action_and_intent: dict[tuple[str, str], list[str]] = defaultdict(list)
        for key in lookup:
            states = rule_states(key)
            last = states[-1] if states else {}
            action = required(last.get(PREVIOUS_ACTION), ACTION_NAME)
            intent = required(last.get(USER), INTENT)
            if action is None:
                self.anywhere.append(key)
            elif intent is None:
                self.by_action[action].append(key)
            else:
                self.by_action_and_intent[(action, intent)].append(key)

    def candidates(self, state: State) -> Iterable[str] | None:
        """The rules that may match `state` as a conversation's last state; None: any of them may."""
        previous = state.get(PREVIOUS_ACTION)
        if not previous:
            return self.anywhere  # a rule naming a previous action needs the conversation to have one
        action = previous.get(ACTION_NAME) if isinstance(previous, dict) else None
        if action is None:
            return self.anywhere
        if not isinstance(action, str):
            return None
        user = state.get(USER)
        intent = user.get(INTENT) if isinstance(user, dict) else None
        found = [*self.anywhere, *self.by_action.get(action, ())]
        if isinstance(intent, str):
            found += self.by_action_and_intent.get((action, intent), ())
        return found


def index_for(policy: Any, lookup: dict[str, str]) -> RuleIndex:
    """The policy's index of `lookup`, built on first use."""
    indexes: dict[int, RuleIndex] = policy.loom_rule_indexes
    index = indexes.get(id(lookup))
    if index is None or index.lookup is not lookup or index.size != len(lookup):
        index = indexes[id(lookup)] = RuleIndex(lookup, policy._rule_key_to_state)
    return index


class LazyStates:
    """RulePolicy's debug text of the states, formatted only if a log line shows it."""

    def __init__(self, format_states: Callable[[list[State]], str], states: list[State]) -> None:
        self._format = format_states
        self._states = states

    def __str__(self) -> str:
        return self._format(self._states)

    __repr__ = __str__

    def __deepcopy__(self, memo: dict[int, Any]) -> LazyStates:
        return self  # RulePolicy deep-copies it for its log line, which (if written) formats it at once


def install() -> None:
    """Index the rules of every RulePolicy loaded from now on (idempotent)."""
    from rasa.core.policies.rule_policy import RulePolicy

    rasa_possible_keys = RulePolicy._get_possible_keys
    if getattr(rasa_possible_keys, "indexed", False):
        return
    rasa_load = RulePolicy.load.__func__  # type: ignore[attr-defined]
    rasa_format = RulePolicy.format_tracker_states

    def load(cls: type, *args: Any, **kwargs: Any) -> Any:
        policy = rasa_load(cls, *args, **kwargs)
        policy.loom_rule_indexes = {}
        return policy

    def get_possible_keys(self: Any, lookup: dict[str, str], states: list[State]) -> set[str]:
        if not states or not hasattr(self, "loom_rule_indexes"):
            return rasa_possible_keys(self, lookup, states)
        last = states[-1]
        candidates = index_for(self, lookup).candidates(last)
        if candidates is None:
            return rasa_possible_keys(self, lookup, states)
        possible = {key for key in candidates if self._is_rule_applicable(key, 0, last)}
        for turn, state in enumerate(reversed(states[:-1]), start=1):
            possible = {key for key in possible if self._is_rule_applicable(key, turn, state)}
        return possible

    def format_tracker_states(states: list[State]) -> LazyStates:
        return LazyStates(rasa_format, states)

    get_possible_keys.indexed = True  # type: ignore[attr-defined]
    RulePolicy._get_possible_keys = get_possible_keys
    RulePolicy.load = classmethod(load)  # type: ignore[method-assign, assignment]
    RulePolicy.format_tracker_states = staticmethod(format_tracker_states)  # type: ignore[method-assign]
