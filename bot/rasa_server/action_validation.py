"""The action server's answers checked against Rasa's schema with a validator built once.

Rasa 3.6 checks every answer of the action server with `jsonschema.validate(answer, schema)`, which
first validates the schema itself against its meta-schema: about 19 ms on this machine for each
action call, far more than checking the answer (0.3 ms) and more than the action server takes to
answer (bench/PROFILE.md). Here the schema is checked once, at the first call, and every answer is
validated by the same validator class `jsonschema.validate` would choose, so what passes, what is
refused and the error Rasa raises are unchanged.
"""

from __future__ import annotations

from typing import Any

_validator: Any = None


def validator() -> Any:
    """A validator for `RemoteAction.action_response_format_spec()`, its schema checked once."""
    global _validator
    if _validator is None:
        from jsonschema.validators import validator_for
        from rasa.core.actions.action import RemoteAction

        schema = RemoteAction.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        _validator = cls(schema)
    return _validator


def install() -> None:
    """Make `RemoteAction._validate_action_result` use the validator built once (idempotent)."""
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    if getattr(RemoteAction._validate_action_result, "schema_checked_once", False):
        return

    def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        try:
            validator().validate(result)
        except ValidationError as error:  # the same message as Rasa's own check
            error.message += (
                ". Failed to validate Action server response from API, "
                "make sure your response from the Action endpoint is valid. "
                f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
            )
            raise error
        return True

    validate_action_result.schema_checked_once = True  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = validate_action_result
