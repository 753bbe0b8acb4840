"""When to hand a conversation to a person: the frustration trend and the escalation triggers.

Pure functions over the customer's recent turns, so they are easy to test; `actions/escalation.py`
reads the turns from the tracker and writes the decision into slots that rules act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config_files import CHECK_EVERY_SECONDS, WatchedFile, read_yaml
from bot.conversations import metadata
from bot.conversations.events import since_handoff
from bot.settings import PROJECT_ROOT

ROOT = PROJECT_ROOT
CONFIG_FILE = ROOT / "escalation.yml"
# Short social turns are not "the same question asked again".
# Asking for a person inside another request ("i want to speak to a human, my refund never came"):
# NLU picks the topic as the intent, and the request for a person must still win.
PERSON = (
    r"(?:a |an |the |some |your |real |actual |live |proper )*"
    r"(?:human|person|agent|someone|somebody|manager|representative|rep|staff|people)\b"
)
HUMAN_REQUEST = re.compile(
    rf"\b(?:speak|talk|chat)(?:ing)? (?:to|with) {PERSON}"
    rf"|\b(?:get|give|put|connect|transfer|pass) me (?:to |through to |with )?{PERSON}"
    r"|\b(?:human|real person|live agent|real agent)(?: please| pls| now)\b",
    re.IGNORECASE,
)
NEGATED = re.compile(r"\b(?:don'?t|do not|dont|no need to|never|not)\b[^.!?,]{0,25}$", re.IGNORECASE)


def asks_for_a_person(text: str) -> bool:
    """Whether the message explicitly asks for a person (not "i don't need to talk to a human")."""
    text = text or ""
    return any(not NEGATED.search(text[: match.start()]) for match in HUMAN_REQUEST.finditer(text))


LANGUAGE_REASON = "language"  # the customer writes in a language the assistant is not trained for

NOT_QUESTIONS = frozenset(
    {"greet", "goodbye", "thank", "affirm", "deny", "compliment", "nlu_fallback", "insult", "rate_service"}
)


@dataclass(frozen=True)
class EscalationConfig:
    """Thresholds and the VIP list, from escalation.yml."""

    alpha: float = 0.5
    sustained_trend: float = -0.35
    sustained_negatives: int = 2
    strong_score: float = -0.5
    strong_signals: frozenset[str] = frozenset({"money", "safety", "legal"})
    fallbacks_in_a_row: int = 2
    same_question_times: int = 3
    insults_before_flag: int = 2
    vip_score: float = -0.05
    vips: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def load(cls, path: Path = CONFIG_FILE) -> EscalationConfig:
        """Read escalation.yml (missing keys keep their defaults); ValueError for a file that cannot work."""
        data: dict[str, Any] = read_yaml(path) or {}
        if not isinstance(data, dict):
            raise ValueError("expected a mapping of escalation settings")
        default = cls()
        sustained = data.get("sustained_negative", {})
        strong = data.get("strong_negative", {})
        vip = data.get("vip", {})
        return cls(
            alpha=float(data.get("trend", {}).get("alpha", default.alpha)),
            sustained_trend=float(sustained.get("trend_below", default.sustained_trend)),
            sustained_negatives=int(sustained.get("negative_messages", default.sustained_negatives)),
            strong_score=float(strong.get("score_below", default.strong_score)),
            strong_signals=frozenset(strong.get("signals", default.strong_signals)),
            fallbacks_in_a_row=int(data.get("fallbacks_in_a_row", default.fallbacks_in_a_row)),
            same_question_times=int(data.get("same_question_times", default.same_question_times)),
            insults_before_flag=int(
                data.get("abuse", {}).get("flag_after_insults", default.insults_before_flag)
            ),
            vip_score=float(vip.get("score_below", default.vip_score)),
            vips=frozenset(str(v).lower() for v in vip.get("customers", [])),
        )

    @classmethod
    def watch(
        cls, path: Path = CONFIG_FILE, every: float = CHECK_EVERY_SECONDS, **options: Any
    ) -> WatchedFile[EscalationConfig]:
        """escalation.yml, re-read when editors change it (a broken file at start-up: ConfigFileError)."""
        return WatchedFile(path, cls.load, every, **options)

    def is_vip(self, identities: Sequence[str | None]) -> bool:
        """Whether any of the customer's ids, @handle or e-mail is on the VIP list."""
        return any(i and i.lower() in self.vips for i in identities)


@dataclass(frozen=True)
class Turn:
    """One customer message as escalation sees it."""

    intent: str
    score: float = 0.0
    label: str = "neutral"
    signals: tuple[str, ...] = ()
    text: str = ""
    language: str | None = None
    language_trained: bool = True  # False: the assistant cannot understand it; a person must


@dataclass(frozen=True)
class Decision:
    """What the latest message means for the conversation."""

    trend: float
    reason: str | None = None  # set when the conversation should go to a person
    abusive: bool = False  # repeated abuse: flag for moderation, never a reward of a human

    @property
    def escalate(self) -> bool:
        """Whether to hand over now."""
        return self.reason is not None


def turns_since_handoff(events: Iterable[Mapping[str, Any]]) -> list[Turn]:
    """The customer's messages (Rasa event dicts) since the session started or the last handoff / resume."""
    return [
        Turn(
            intent=message.intent or "",
            score=message.sentiment_score or 0.0,
            label=message.sentiment_label or "neutral",
            signals=message.signals,
            text=message.text,
            language=message.language,
            language_trained=message.language_trained,
        )
        for message in since_handoff(events)
    ]


def identities(sender_id: str, latest_metadata: Any, email: str | None) -> list[str | None]:
    """What a VIP list may name: the platform id, the @handle, the e-mail."""
    handle = metadata.screen_name(latest_metadata)
    return [sender_id, f"@{handle}" if handle else None, email]


def escalation_slots(
    events: Iterable[Mapping[str, Any]],
    config: EscalationConfig,
    sender_id: str,
    latest_metadata: Any,
    email: str | None,
) -> dict[str, Any]:
    """The slots every customer message sets (domain.yml's custom mapping of `action_update_sentiment`).

    One function for both places that run that mapping: inside the Rasa server
    (`bot/rasa_server/local_actions.py`) and the action server (`actions/escalation.py`).
    """
    vip = config.is_vip(identities(sender_id, latest_metadata, email))
    decision = decide(turns_since_handoff(events), config, vip=vip)
    return {
        "sentiment_trend": round(decision.trend, 4),
        "escalate": decision.escalate,
        "escalation_reason": decision.reason,
        "abusive": decision.abusive,
        "has_photo": bool(metadata.image_urls(latest_metadata)),
    }


def frustration_trend(scores: Sequence[float], alpha: float) -> float:
    """Exponentially weighted sentiment of the messages so far (newest weighs `alpha`)."""
    trend = 0.0
    for score in scores:
        trend = alpha * score + (1 - alpha) * trend
    return trend


def _in_a_row(turns: Sequence[Turn], intent: str) -> int:
    count = 0
    for turn in reversed(turns):
        if turn.intent != intent:
            break
        count += 1
    return count


def decide(turns: Sequence[Turn], config: EscalationConfig, vip: bool = False) -> Decision:
    """Whether the latest turn should hand the conversation to a person, and why."""
    if not turns:
        return Decision(trend=0.0)
    trend = frustration_trend([t.score for t in turns], config.alpha)
    last = turns[-1]
    if not last.language_trained:
        # Whatever the trained model made of it (even "insult"), the assistant cannot answer it: a
        # person who speaks it can.
        return Decision(trend, reason=LANGUAGE_REASON)
    if last.intent == "insult":
        insults = sum(t.intent == "insult" for t in turns)
        return Decision(trend, abusive=insults >= config.insults_before_flag)
    reason = None
    recent = turns[-3:]
    if last.intent == "request_human" or asks_for_a_person(last.text):
        reason = "customer_request"
    elif _in_a_row(turns, "nlu_fallback") >= config.fallbacks_in_a_row:
        reason = "repeated_fallback"
    elif last.score <= config.strong_score and (stakes := sorted(config.strong_signals & set(last.signals))):
        reason = f"high_stakes_{stakes[0]}"
    elif (
        trend <= config.sustained_trend
        and sum(t.label == "negative" for t in recent) >= config.sustained_negatives
    ):
        reason = "sustained_negative"
    elif last.intent not in NOT_QUESTIONS and _in_a_row(turns, last.intent) >= config.same_question_times:
        reason = "repeated_question"
    elif vip and last.label == "negative" and last.score <= config.vip_score:
        reason = "vip_negative"
    return Decision(trend, reason=reason)


PRIORITY = {
    "high_stakes_safety": 100,
    "high_stakes_legal": 90,
    "high_stakes_money": 80,
    "vip_negative": 70,
    "sustained_negative": 60,
    "customer_request": 50,
    LANGUAGE_REASON: 50,  # waiting for a person who speaks the language; the bot cannot help meanwhile
    "repeated_question": 40,
    "repeated_fallback": 30,
}


def priority(reason: str, trend: float, vip: bool) -> int:
    """Queue priority of a ticket: the reason first, then how frustrated, VIPs up."""
    return PRIORITY.get(reason, 20) + round(max(0.0, -trend) * 20) + (25 if vip else 0)
