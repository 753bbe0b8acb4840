"""`rasa data validate --fail-on-warnings` without Rasa's warning about responses that actions send.

Every reply of the bot is a response in domain.yml, and most are sent by actions by name
(`actions/replies.py`), which Rasa 3.6's validator cannot see: it warns "The utterance 'utter_x' is
not used in any story or rule" for each of them (without failing the run), and 56 such lines bury the
warnings that matter. That one warning is left out here; tests/actions/test_replies.py checks the same
thing properly (every response is sent by a rule, a story, the form or an action; every response an
action names exists). Runtime A: `.venv-rasa/bin/python scripts/validate_data.py` (`make validate`).
"""

from __future__ import annotations

import sys

UNUSED_RESPONSE = r"The utterance 'utter_\w+' is not used in any story or rule\."


def main() -> None:
    """Run Rasa's validator with that warning expected."""
    from rasa.__main__ import main as rasa_main
    from rasa.utils import common

    common.EXPECTED_WARNINGS.append((UserWarning, UNUSED_RESPONSE))
    sys.argv = ["rasa", "data", "validate", "--fail-on-warnings", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
