"""MemoizationPolicy's prediction without the deep copy Rasa makes for a debug line nobody logs.

Rasa 3.6's `MemoizationPolicy.predict_action_probabilities` passes `copy.deepcopy(states)` to a
structlog debug call on every prediction (two a message); the copy is made whether or not debug lines
are logged. In a py-spy profile of the Rasa server at 20 conversations it was 2% of what the process
did (bench/PROFILE.md, sixth round). Here the same prediction runs without it unless the policy's
logger is at DEBUG (`--debug`), where Rasa's own method runs and logs as before.
tests/bot/rasa_server/test_prediction.py compares both on every turn of the training stories.
"""

from __future__ import annotations

import logging
from typing import Any


def install() -> None:
    """Replace the method once per process, before a model is loaded (graph nodes keep the method)."""
    from rasa.core.policies import memoization
    from rasa.core.policies.memoization import MemoizationPolicy

    rasa_predict = MemoizationPolicy.predict_action_probabilities
    if getattr(rasa_predict, "loom_no_debug_copy", False):
        return

    def predict_action_probabilities(
        self: Any,
        tracker: Any,
        domain: Any,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        if memoization.logger.isEnabledFor(logging.DEBUG):
            return rasa_predict(self, tracker, domain, rule_only_data=rule_only_data, **kwargs)
        # Rasa's steps, in Rasa's order, without the debug lines.
        result = self._default_predictions(domain)
        states = self._prediction_states(tracker, domain, rule_only_data=rule_only_data)
        predicted = self.recall(states, tracker, domain, rule_only_data=rule_only_data)
        if predicted is not None:
            result = self._prediction_result(predicted, tracker, domain)
        return self._prediction(result)

    predict_action_probabilities.loom_no_debug_copy = True  # type: ignore[attr-defined]
    predict_action_probabilities.__doc__ = rasa_predict.__doc__
    MemoizationPolicy.predict_action_probabilities = predict_action_probabilities  # type: ignore[method-assign]
