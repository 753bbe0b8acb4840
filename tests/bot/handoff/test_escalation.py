"""The frustration trend and every escalation trigger, including the ones that must not fire."""

from __future__ import annotations

import pytest

from bot.handoff.escalation import (
    EscalationConfig,
    Turn,
    decide,
    frustration_trend,
    priority,
)

CONFIG = EscalationConfig.load()


def neg(intent: str = "order_status", score: float = -0.6, *signals: str) -> Turn:
    return Turn(intent=intent, score=score, label="negative", signals=signals, text="...")


def neutral(intent: str = "order_status") -> Turn:
    return Turn(intent=intent, score=0.0, label="neutral", text="...")


def test_trend_is_an_exponentially_weighted_average():
    assert frustration_trend([], 0.5) == 0.0
    assert frustration_trend([-1.0], 0.5) == -0.5
    assert frustration_trend([-1.0, -1.0], 0.5) == -0.75
    assert frustration_trend([-1.0, 1.0], 0.5) == 0.25
    assert frustration_trend([0.8] * 10, 0.5) == pytest.approx(0.8, abs=0.001)


def test_config_comes_from_escalation_yml():
    assert CONFIG.fallbacks_in_a_row == 2 and CONFIG.same_question_times == 3
    assert {"money", "safety", "legal"} == CONFIG.strong_signals
    assert CONFIG.is_vip(["someone", "@LoomVIP"]) and not CONFIG.is_vip(["someone", None])


def test_one_mildly_annoyed_message_does_not_escalate():
    assert not decide([Turn("order_status", -0.3, "negative")], CONFIG).escalate


def test_sustained_negative_sentiment_escalates():
    turns = [neutral("greet"), neg(score=-0.5), neg(score=-0.6)]
    decision = decide(turns, CONFIG)
    assert decision.reason == "sustained_negative"
    assert decision.trend < CONFIG.sustained_trend


def test_negative_then_recovering_does_not_escalate():
    assert not decide([neg(score=-0.7), Turn("thank", 0.6, "positive")], CONFIG).escalate


@pytest.mark.parametrize("signal", ["money", "safety", "legal"])
def test_one_strongly_negative_message_about_money_safety_or_law_escalates(signal):
    assert decide([neg("complaint", -0.7, signal)], CONFIG).reason == f"high_stakes_{signal}"


def test_strongly_negative_without_high_stakes_waits():
    assert not decide([neg("complaint", -0.8, "waiting")], CONFIG).escalate


def test_asking_for_a_human_escalates_at_once():
    assert decide([neutral("request_human")], CONFIG).reason == "customer_request"


def test_two_fallbacks_in_a_row_escalate_one_does_not():
    assert not decide([neutral("nlu_fallback")], CONFIG).escalate
    assert decide([neutral("nlu_fallback"), neutral("nlu_fallback")], CONFIG).reason == "repeated_fallback"
    assert not decide([neutral("nlu_fallback"), neutral("greet"), neutral("nlu_fallback")], CONFIG).escalate


def test_the_same_question_three_times_is_a_loop():
    assert not decide([neutral(), neutral()], CONFIG).escalate
    assert decide([neutral(), neutral(), neutral()], CONFIG).reason == "repeated_question"
    assert not decide([neutral("thank")] * 3, CONFIG).escalate


def test_insults_are_never_rewarded_with_a_human():
    first = decide([neg("insult", -0.9)], CONFIG)
    assert not first.escalate and not first.abusive
    again = decide([neg("insult", -0.9), neg("insult", -0.9), neg("insult", -0.9)], CONFIG)
    assert not again.escalate and again.abusive


def test_vip_customers_escalate_on_their_first_negative_message():
    turn = Turn("complaint", -0.2, "negative")
    assert not decide([turn], CONFIG).escalate
    assert decide([turn], CONFIG, vip=True).reason == "vip_negative"


def test_a_vip_message_the_model_calls_neutral_is_not_a_complaint():
    """The learned model's score is p(positive) - p(negative): a neutral message can sit below -0.05."""
    leaning = Turn("order_status", -0.2, "neutral")
    assert decide([leaning], CONFIG, vip=True).reason is None


def test_priority():
    assert priority("high_stakes_safety", -0.8, vip=False) > priority("customer_request", 0.0, vip=False)
    assert priority("customer_request", 0.0, vip=True) > priority("customer_request", 0.0, vip=False)


@pytest.mark.parametrize(
    "text",
    [
        "i want to speak to a human, my refund never came",
        "Can I talk with a real person about order 104523?",
        "just connect me to an agent",
        "put me through to your manager",
        "human please",
        "Let me chat to someone, this refund is taking forever",
    ],
)
def test_asking_for_a_person_inside_another_request_escalates(text):
    turn = Turn(intent="refund_status", score=-0.2, label="negative", text=text)
    assert decide([turn], CONFIG).reason == "customer_request"


@pytest.mark.parametrize(
    "text",
    [
        "i don't need to talk to a human, just tell me where my refund is",
        "no need to speak to a person, thanks",
        "the person who delivered it was rude",
        "my agent code is 1234",
        "is a human reading this?",
    ],
)
def test_mentioning_people_without_asking_for_one_does_not(text):
    turn = Turn(intent="refund_status", score=-0.2, label="negative", text=text)
    assert decide([turn], CONFIG).reason is None


def foreign(intent: str = "nlu_fallback", code: str = "es") -> Turn:
    return Turn(intent=intent, text="¿dónde está mi pedido?", language=code, language_trained=False)


@pytest.mark.parametrize("intent", ["nlu_fallback", "order_status", "insult", "greet"])
def test_a_language_the_assistant_is_not_trained_for_goes_to_a_person(intent):
    decision = decide([neutral(), foreign(intent)], CONFIG)
    assert (decision.reason, decision.abusive) == ("language", False)


def test_a_trained_language_or_an_unsure_message_never_escalates_for_language():
    english = Turn(intent="order_status", text="where is my order", language="en", language_trained=True)
    assert decide([english], CONFIG).reason is None
    assert decide([foreign(), Turn(intent="thank", text="ok", language="en")], CONFIG).reason is None


def test_language_tickets_wait_like_a_customer_request():
    assert priority("language", 0.0, vip=False) == priority("customer_request", 0.0, vip=False)
