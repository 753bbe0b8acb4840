"""Sending a reply: a response `utter_<key>` of domain.yml, rendered by Rasa with the action's values.

Every text the bot says is a response in domain.yml. An action names one and gives the values of its
`{placeholders}`; the Rasa server's response generator picks a variant for the conversation's output
channel and fills them in (`RemoteAction._utter_responses`, `TemplatedNaturalLanguageGenerator`). Rasa
fills a placeholder the action did not give from a slot of that name, or, failing that, sends the raw
template: tests/actions/test_replies.py checks that every action gives every placeholder of what it sends.
The values also end up in the `bot` event's metadata, so their names stay clear of the keys of Rasa's
messages and of our own (bot/conversations/metadata.py); the same test checks that too.
"""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from bot.shop.orders import Reply

RESPONSE_PREFIX = "utter_"
LINK_PREFIXES = ("http://", "https://")


def response_name(key: str) -> str:
    """The domain.yml response of a reply key: "order_shipped" -> "utter_order_shipped"."""
    return f"{RESPONSE_PREFIX}{key}"


def inert(value: str) -> str:
    """The value as `say` gives it, so that Rasa 3.6 fills it in rather than sending the raw template.

    Rasa's interpolator (rasa/core/nlg/interpolator.py) rewrites `{name}` to `{0[name]}` before filling,
    and takes any "0[" left in the filled text for a placeholder it could not fill: it then sends the
    template itself (`I couldn't find "{product}"`). A value can hold "0[" (a product name as a customer
    typed it, "size 10[uk]"): in text it becomes "0 [", in a link "0%5B" (the same character, encoded).
    Braces in a value need nothing: values are not read for placeholders again.
    """
    if value.startswith(LINK_PREFIXES):
        return value.replace("0[", "0%5B")
    return value.replace("0[", "0 [")


def say(dispatcher: CollectingDispatcher, reply: Reply | str, **values: str) -> None:
    """Send the response of `reply` (a `Reply`, or a key with its values) through the dispatcher."""
    if isinstance(reply, str):
        reply = Reply(reply, values)
    filled = {name: inert(str(value)) for name, value in reply.values.items()}
    dispatcher.utter_message(response=response_name(reply.key), **filled)
