"""Next-action prediction that asks TEDPolicy only when its answer can matter.

Rasa 3.6 runs every policy for every prediction (two or three per message) and then lets its
ensemble pick one. On this assistant the rules and the memoized stories decide almost every turn
with confidence 1.0, and TED, the one policy that calls TensorFlow, cost a fifth of a message
(bench/PROFILE.md) to be outvoted. Here the cheap policies run first; TED runs only when the
ensemble could choose it. The choice is the ensemble's own (`DefaultPolicyPredictionEnsemble.
_pick_best_policy`), so it is the same as Rasa's whenever TED is left out because it cannot win:

- a "no user" prediction of a cheap policy (a loop's happy path) outranks every other; TED never
  makes one;
- a cheap policy predicting with confidence 1.0 and a higher priority than TED's wins: TED's
  confidences are a softmax (at most 1.0) and a tie goes to the higher priority;
- unless TED can predict from the message text (end-to-end training data, not used here), or the
  last action was rejected (the ensemble then lowers that action in every prediction): then TED
  always runs.

TED's place in the ensemble is taken by a prediction of zeros, which no rule of the ensemble picks.
Any other policy set (UnexpecTED, a custom policy or ensemble) keeps Rasa's way. `install()` is
called by `python -m bot.rasa_server`; tests/bot/rasa_server/test_prediction.py compares both ways
on every turn of the training stories.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """The graph nodes of one model: the ensemble, the policies that run first, and TED."""

    ensemble: str
    cheap: tuple[str, ...]
    ted: str


def plan_for(graph_runner: Any, target: str | None) -> Plan | None:
    """The plan for this model's graph, or None when its policies are not ones this module knows."""
    from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.policies.ted_policy import TEDPolicy
    from rasa.core.policies.unexpected_intent_policy import UnexpecTEDIntentPolicy
    from rasa.engine.constants import PLACEHOLDER_TRACKER
    from rasa.shared.nlu.constants import TEXT

    schema = getattr(graph_runner, "_graph_schema", None)
    nodes = getattr(graph_runner, "_instantiated_nodes", None)
    if not target or schema is None or nodes is None or target not in schema.nodes:
        return None
    if not issubclass(schema.nodes[target].uses, DefaultPolicyPredictionEnsemble):
        return None
    cheap, ted = [], []
    for needed in schema.nodes[target].needs.values():
        node = schema.nodes.get(needed)
        if needed == PLACEHOLDER_TRACKER or node is None or node.fn != "predict_action_probabilities":
            continue
        if issubclass(node.uses, UnexpecTEDIntentPolicy):
            return None
        if issubclass(node.uses, TEDPolicy):
            ted.append(needed)
        elif issubclass(node.uses, (RulePolicy, MemoizationPolicy)):
            cheap.append(needed)
        else:
            return None
    if len(ted) != 1 or not cheap:
        return None
    component = getattr(nodes[ted[0]], "_component", None)
    if component is None or TEXT in getattr(component, "fake_features", {TEXT: None}):
        return None  # not loaded, or trained end to end: it may predict from the text
    return Plan(target, tuple(cheap), ted[0])


def ted_can_matter(predictions: list[Any], ted_priority: int, tracker: Any) -> bool:
    """Whether the ensemble could pick TED's prediction over these (see the module docstring)."""
    from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected

    last_action = next(
        (e for e in reversed(tracker.events) if isinstance(e, (ActionExecuted, ActionExecutionRejected))),
        None,
    )
    if isinstance(last_action, ActionExecutionRejected):
        return True
    if any(p.is_no_user_prediction or p.is_end_to_end_prediction for p in predictions):
        return False  # TED makes neither kind, and the ensemble compares only within that kind
    return not any(p.max_confidence >= 1.0 and p.policy_priority > ted_priority for p in predictions)


def abstention(ted: Any, domain: Any) -> Any:
    """TED's place in the ensemble when it did not run: zero for every action."""
    from rasa.core.policies.policy import PolicyPrediction

    return PolicyPrediction([0.0] * domain.num_actions, type(ted).__name__, ted.priority)


def predict(processor: Any, tracker: Any, plan: Plan) -> Any:
    """The ensemble's prediction for `tracker`, with TED run only when it can matter."""
    from rasa.engine.constants import PLACEHOLDER_TRACKER

    runner = processor.graph_runner
    first = runner.run(inputs={PLACEHOLDER_TRACKER: tracker}, targets=list(plan.cheap))
    inputs: dict[str, Any] = {PLACEHOLDER_TRACKER: tracker, **first}
    ted = runner._instantiated_nodes[plan.ted]._component
    if not ted_can_matter(list(first.values()), ted.priority, tracker):
        inputs[plan.ted] = abstention(ted, processor.domain)
    return runner.run(inputs=inputs, targets=[plan.ensemble])[plan.ensemble]


def install() -> None:
    """Route Rasa's next-action prediction through `predict` where a plan exists (idempotent)."""
    from rasa.core.processor import MessageProcessor

    rasa_predict = MessageProcessor._predict_next_with_tracker
    if getattr(rasa_predict, "skips_ted", False):
        return

    def predict_next_with_tracker(self: Any, tracker: Any) -> Any:
        if tracker.followup_action:
            return rasa_predict(self, tracker)
        if not hasattr(self, "ted_plan"):  # once per processor, i.e. per loaded model
            self.ted_plan = plan_for(self.graph_runner, self.model_metadata.core_target)
            logger.info("TED only when it can matter: %s", "on" if self.ted_plan else "off (other policies)")
        if self.ted_plan is None:
            return rasa_predict(self, tracker)
        return predict(self, tracker, self.ted_plan)

    predict_next_with_tracker.skips_ted = True  # type: ignore[attr-defined]
    MessageProcessor._predict_next_with_tracker = predict_next_with_tracker
