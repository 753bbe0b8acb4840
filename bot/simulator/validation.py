"""Send API request checks, as Meta makes them: pure functions, body in, `SendRequest` or `GraphError` out.

Reference: https://developers.facebook.com/docs/messenger-platform/reference/send-api/ (Messenger) and
https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message (Instagram).
Instagram's examples omit `messaging_type`, so it defaults to RESPONSE there; Messenger requires it.
A private reply (https://developers.facebook.com/docs/messenger-platform/discovery/private-replies)
names the comment instead of the person, `recipient: {"comment_id"}`, and Meta's examples omit
`messaging_type` there too, so it defaults to RESPONSE on both platforms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.simulator.const import (
    BUTTON_TEMPLATE_TEXT_MAX,
    BUTTON_TITLE_MAX,
    BUTTON_TYPES,
    BUTTONS_MAX,
    GENERIC_ELEMENTS_MAX,
    GENERIC_SUBTITLE_MAX,
    GENERIC_TITLE_MAX,
    INSTAGRAM,
    MEDIA_ATTACHMENT_TYPES,
    MESSAGE_TAGS,
    MESSAGING_TYPES,
    PAYLOAD_MAX,
    QUICK_REPLIES_MAX,
    QUICK_REPLY_CONTENT_TYPES,
    QUICK_REPLY_TITLE_MAX,
    SENDER_ACTIONS,
    TEXT_LIMIT,
)
from bot.simulator.graph_errors import GraphError, invalid_parameter

# The ways a Send API call can name its recipient; the simulator takes `id` and `comment_id`.
RECIPIENT_KEYS = ("id", "comment_id", "post_id", "user_ref", "phone_number", "notification_messages_token")


@dataclass(frozen=True)
class SendRequest:
    """What an accepted request asks for: a message (with its messaging type) or a sender action.

    A private reply has `comment_id` and no `recipient_id` (the comment's author, found later).
    """

    recipient_id: str | None
    sender_action: str | None = None
    messaging_type: str | None = None
    tag: str | None = None
    comment_id: str | None = None


def recipient_of(body: Any) -> str | None:
    """The recipient id of a body, if it has one (used for recording and failure matching)."""
    if isinstance(body, Mapping) and isinstance(body.get("recipient"), Mapping):
        rid = body["recipient"].get("id")
        if isinstance(rid, str | int) and not isinstance(rid, bool):
            return str(rid)
    return None


def comment_of(body: Any) -> str | None:
    """The comment a private reply answers (`recipient.comment_id`), if the body names one."""
    if isinstance(body, Mapping) and isinstance(body.get("recipient"), Mapping):
        comment_id = body["recipient"].get("comment_id")
        if isinstance(comment_id, str | int) and not isinstance(comment_id, bool):
            return str(comment_id)
    return None


def text_of(body: Any) -> str | None:
    """The message text of a body, if it has one (recorded with private replies)."""
    message = body.get("message") if isinstance(body, Mapping) else None
    text = message.get("text") if isinstance(message, Mapping) else None
    return text if isinstance(text, str) else None


def kind_of(body: Any) -> str | None:
    """What the call asks for before validation: `message`, `sender_action`, or None."""
    if isinstance(body, Mapping):
        for kind in ("sender_action", "message"):
            if kind in body:
                return kind
    return None


def validate_send(body: Any, platform: str) -> SendRequest:
    """Check a decoded JSON body for `platform`; raises `GraphError` (code 100) on the first problem."""
    if not isinstance(body, Mapping):
        raise invalid_parameter("The request body must be a JSON object")
    recipient_id, comment_id = _recipient(body.get("recipient"))
    has_message = "message" in body
    has_action = "sender_action" in body
    if has_message == has_action:
        raise invalid_parameter("Exactly one of message or sender_action must be set")
    if has_action:
        if recipient_id is None:
            raise invalid_parameter("sender_action needs recipient[id]; a comment cannot be typed at")
        return _sender_action(body, recipient_id)
    messaging_type, tag = _messaging_type(body, platform, private_reply=comment_id is not None)
    _message(body["message"], platform)
    return SendRequest(recipient_id, messaging_type=messaging_type, tag=tag, comment_id=comment_id)


def _recipient(recipient: Any) -> tuple[str | None, str | None]:
    """(id, comment_id) of a recipient that names exactly one of them."""
    if not isinstance(recipient, Mapping) or not recipient:
        raise invalid_parameter("The parameter recipient is required")
    named = [key for key in RECIPIENT_KEYS if key in recipient]
    if len(named) != 1 or set(recipient) != set(named):
        raise invalid_parameter(f"param recipient must have exactly one of {', '.join(RECIPIENT_KEYS)}")
    if named[0] not in ("id", "comment_id"):
        raise invalid_parameter(f"recipient[{named[0]}] is not supported by the simulator (id or comment_id)")
    value = recipient[named[0]]
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
        raise invalid_parameter("The parameter recipient is required")
    return (str(value), None) if named[0] == "id" else (None, str(value))


def _sender_action(body: Mapping[str, Any], recipient_id: str) -> SendRequest:
    action = body["sender_action"]
    if action not in SENDER_ACTIONS:
        raise invalid_parameter(f"param sender_action must be one of {{{', '.join(SENDER_ACTIONS)}}}")
    extra = sorted(set(body) - {"recipient", "sender_action", "access_token"})
    if extra:
        raise invalid_parameter(f"sender_action cannot be sent with {', '.join(extra)}")
    return SendRequest(recipient_id=recipient_id, sender_action=action)


def _messaging_type(
    body: Mapping[str, Any], platform: str, private_reply: bool = False
) -> tuple[str, str | None]:
    messaging_type = body.get("messaging_type")
    if messaging_type is None and (platform == INSTAGRAM or private_reply):
        messaging_type = "RESPONSE"
    if messaging_type not in MESSAGING_TYPES:
        raise invalid_parameter(f"param messaging_type must be one of {{{', '.join(MESSAGING_TYPES)}}}")
    tag = body.get("tag")
    if messaging_type == "MESSAGE_TAG":
        if tag is None:
            raise invalid_parameter("The parameter tag is required when messaging_type is MESSAGE_TAG")
        if tag not in MESSAGE_TAGS[platform]:
            raise invalid_parameter(f"param tag must be one of {{{', '.join(MESSAGE_TAGS[platform])}}}")
    elif tag is not None:
        raise invalid_parameter("param tag can only be used with messaging_type MESSAGE_TAG")
    return messaging_type, tag


def _message(message: Any, platform: str) -> None:
    if not isinstance(message, Mapping):
        raise invalid_parameter("param message must be a JSON object")
    has_text = "text" in message
    has_attachment = "attachment" in message
    if has_text == has_attachment:
        raise invalid_parameter("message must have exactly one of text or attachment")
    if has_text:
        _text(message["text"], "message[text]", TEXT_LIMIT[platform], allow_empty=False)
    else:
        _attachment(message["attachment"])
    if "quick_replies" in message:
        _quick_replies(message["quick_replies"])


def _text(value: Any, name: str, limit: int, allow_empty: bool = True) -> None:
    if not isinstance(value, str):
        raise invalid_parameter(f"param {name} must be a string")
    if not allow_empty and not value.strip():
        raise invalid_parameter(f"param {name} must be a non-empty UTF-8 encoded string")
    if len(value) > limit:
        raise invalid_parameter(f"Length of param {name} must be less than or equal to {limit}")


def _quick_replies(replies: Any) -> None:
    if not isinstance(replies, list) or not replies:
        raise invalid_parameter("param message[quick_replies] must be a non-empty array")
    if len(replies) > QUICK_REPLIES_MAX:
        raise invalid_parameter(f"param message[quick_replies] must have at most {QUICK_REPLIES_MAX} items")
    for index, reply in enumerate(replies):
        name = f"message[quick_replies][{index}]"
        if not isinstance(reply, Mapping):
            raise invalid_parameter(f"param {name} must be a JSON object")
        content_type = reply.get("content_type")
        if content_type not in QUICK_REPLY_CONTENT_TYPES:
            raise invalid_parameter(
                f"param {name}[content_type] must be one of {{{', '.join(QUICK_REPLY_CONTENT_TYPES)}}}"
            )
        if content_type == "text":
            _required_text(reply, "title", name, QUICK_REPLY_TITLE_MAX)
            _required_text(reply, "payload", name, PAYLOAD_MAX)


def _required_text(obj: Mapping[str, Any], key: str, name: str, limit: int) -> None:
    if key not in obj:
        raise invalid_parameter(f"param {name}[{key}] is required")
    _text(obj[key], f"{name}[{key}]", limit, allow_empty=False)


def _attachment(attachment: Any) -> None:
    if not isinstance(attachment, Mapping):
        raise invalid_parameter("param message[attachment] must be a JSON object")
    kind = attachment.get("type")
    payload = attachment.get("payload")
    if not isinstance(payload, Mapping):
        raise invalid_parameter("param message[attachment][payload] must be a JSON object")
    if kind in MEDIA_ATTACHMENT_TYPES:
        if ("url" in payload) == ("attachment_id" in payload):
            raise invalid_parameter("Attachment payload must have exactly one of url or attachment_id")
        if "url" in payload and not _is_url(payload["url"]):
            raise invalid_parameter("param message[attachment][payload][url] must be a valid URL")
    elif kind == "template":
        _template(payload)
    else:
        kinds = ", ".join((*MEDIA_ATTACHMENT_TYPES, "template"))
        raise invalid_parameter(f"param message[attachment][type] must be one of {{{kinds}}}")


def _template(payload: Mapping[str, Any]) -> None:
    name = "message[attachment][payload]"
    template_type = payload.get("template_type")
    if template_type == "generic":
        elements = payload.get("elements")
        if not isinstance(elements, list) or not elements:
            raise invalid_parameter(f"param {name}[elements] must be a non-empty array")
        if len(elements) > GENERIC_ELEMENTS_MAX:
            raise invalid_parameter(f"param {name}[elements] must have at most {GENERIC_ELEMENTS_MAX} items")
        for index, element in enumerate(elements):
            _element(element, f"{name}[elements][{index}]")
    elif template_type == "button":
        _required_text(payload, "text", name, BUTTON_TEMPLATE_TEXT_MAX)
        buttons = payload.get("buttons")
        if not isinstance(buttons, list) or not buttons:
            raise invalid_parameter(f"param {name}[buttons] must have 1 to {BUTTONS_MAX} items")
        _buttons(buttons, f"{name}[buttons]")
    else:
        # Meta has more templates (media, receipt, ...); our connectors send only these two.
        raise invalid_parameter(f"param {name}[template_type] must be generic or button (simulator)")


def _element(element: Any, name: str) -> None:
    if not isinstance(element, Mapping):
        raise invalid_parameter(f"param {name} must be a JSON object")
    _required_text(element, "title", name, GENERIC_TITLE_MAX)
    if "subtitle" in element:
        _text(element["subtitle"], f"{name}[subtitle]", GENERIC_SUBTITLE_MAX)
    if not any(key in element for key in ("subtitle", "image_url", "default_action", "buttons")):
        raise invalid_parameter(f"{name} must set at least one property in addition to title")
    if "image_url" in element and not _is_url(element["image_url"]):
        raise invalid_parameter(f"param {name}[image_url] must be a valid URL")
    if "default_action" in element:
        action = element["default_action"]
        is_web_url = isinstance(action, Mapping) and action.get("type") == "web_url"
        if not is_web_url or not _is_url(action.get("url")):
            raise invalid_parameter(f"param {name}[default_action] must be a web_url action with a url")
        if "title" in action:
            raise invalid_parameter(f"param {name}[default_action] cannot have a title")
    if "buttons" in element:
        buttons = element["buttons"]
        if not isinstance(buttons, list):
            raise invalid_parameter(f"param {name}[buttons] must be an array")
        _buttons(buttons, f"{name}[buttons]")


def _buttons(buttons: list[Any], name: str) -> None:
    if len(buttons) > BUTTONS_MAX:
        raise invalid_parameter(f"param {name} must have at most {BUTTONS_MAX} items")
    for index, button in enumerate(buttons):
        where = f"{name}[{index}]"
        if not isinstance(button, Mapping) or button.get("type") not in BUTTON_TYPES:
            raise invalid_parameter(f"param {where}[type] must be one of {{{', '.join(BUTTON_TYPES)}}}")
        _required_text(button, "title", where, BUTTON_TITLE_MAX)
        if button["type"] == "postback":
            _required_text(button, "payload", where, PAYLOAD_MAX)
        elif not _is_url(button.get("url")):
            raise invalid_parameter(f"param {where}[url] must be a valid URL")


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) > 8


__all__ = ["GraphError", "SendRequest", "comment_of", "kind_of", "recipient_of", "text_of", "validate_send"]
