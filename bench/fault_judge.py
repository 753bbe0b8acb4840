"""Judge one conversation after a fault run: Rasa's tracker and the platform's recorded sends, no guessing.

Pure functions (the harness fetches the inputs), so the rules are unit-tested in tests/bench/.

- A customer message is **answered** when its platform message id is on a `user` event of the tracker,
  its turn (the events up to the next `user` event) has at least one `bot` event, and every one of
  those bot messages reached the platform (an accepted send whose text is the bot text, or pieces of it
  when the connector split a long text, or the text plus numbered options on X).
- **Lost**: acked (the webhook got 200) and not answered.
- **Duplicated**: a message id on more than one `user` event (extra occurrences), and sends the tracker
  does not explain: a bot message sent again, or a send matching no bot message at all.
- **Out of order**: user events not in the order the conversation sent them, and sends not in the
  order of the tracker's bot events; each counted as the number of items that must move to restore
  the order (length minus the longest increasing run), so one swap of neighbours counts 1.

Texts are compared, never assumed: responses with several variants are fine, because the tracker holds
the variant Rasa chose.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PlatformSend:
    """One accepted message send to the customer, as the fake platform recorded it."""

    text: str
    received_at: float


@dataclass
class Utterance:
    """One `bot` event of the tracker and the sends that delivered it."""

    position: int
    text: str
    pieces: list[str] = field(default_factory=list)
    complete: bool = False
    sent_at: float | None = None


@dataclass
class Turn:
    """A `user` event (its platform message id) and the bot messages up to the next one."""

    mid: str | None
    timestamp: float | None = None
    utterances: list[Utterance] = field(default_factory=list)


@dataclass
class Verdict:
    """What happened to one conversation's acked messages."""

    conversation: str
    acked: int = 0
    answered_at: dict[str, float] = field(default_factory=dict)
    processed_at: dict[str, float] = field(default_factory=dict)  # its first `user` event's timestamp
    lost: list[str] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)  # processed, but the turn has no bot message
    unsent: list[str] = field(default_factory=list)  # a bot message of the turn never reached the platform
    duplicate_user_events: int = 0
    duplicate_sends: int = 0
    # Sends nothing explains that reached the platform just before a SIGKILL of our processes: the
    # documented window (sent, the process killed before the outbox recorded it; the re-run sends it
    # again and counts loom_outbox_uncertain_total). Reported apart, not counted in `duplicated`.
    duplicates_at_kill: int = 0
    unknown_user_events: int = 0
    out_of_order_user_events: int = 0
    out_of_order_sends: int = 0

    @property
    def duplicated(self) -> int:
        """User events and sends beyond one per message, but for the crash window's."""
        return self.duplicate_user_events + self.duplicate_sends

    @property
    def out_of_order(self) -> int:
        """User events and sends that must move to restore the order."""
        return self.out_of_order_user_events + self.out_of_order_sends


def normalized(text: str | None) -> str:
    """Whitespace collapsed: the connectors strip the pieces they cut a long text into."""
    return " ".join((text or "").split())


def turns_of(events: Iterable[Mapping[str, Any]]) -> list[Turn]:
    """The tracker's events as turns; bot events before any user event form a turn without a mid."""
    turns: list[Turn] = []
    position = 0
    for event in events:
        kind = event.get("event")
        if kind == "user":
            turns.append(Turn(mid=event.get("message_id"), timestamp=event.get("timestamp")))
        elif kind == "bot":
            if not turns:
                turns.append(Turn(mid=None))
            turns[-1].utterances.append(Utterance(position, normalized(event.get("text"))))
            position += 1
    return turns


def increasing_run(values: Sequence[int], strict: bool = True) -> int:
    """Length of the longest increasing (or, not strict, non-decreasing) subsequence."""
    tails: list[int] = []
    for value in values:
        index = (bisect.bisect_left if strict else bisect.bisect_right)(tails, value)
        if index == len(tails):
            tails.append(value)
        else:
            tails[index] = value
    return len(tails)


def _whole(send: str, bot: str) -> bool:
    """The send carries the whole bot text (X adds numbered options after it)."""
    return send == bot or (bool(bot) and send.startswith(bot))


def _piece(send: str, bot: str) -> bool:
    """The send is one piece of a longer bot text the connector split."""
    return bool(send) and len(send) < len(bot) and send in bot


def _covered(utterance: Utterance) -> bool:
    pieces = utterance.pieces
    return sum(map(len, pieces)) + len(pieces) - 1 >= len(utterance.text)


def _target(utterances: Sequence[Utterance], text: str, cursor: int) -> Utterance | None:
    """The bot message a send with `text` delivers, or None.

    A whole text first, then a piece of a split one; among equal texts the first open one not before
    `cursor` (the last assigned position), else the earliest open one.
    """
    for fits in (
        lambda u: not u.pieces and _whole(text, u.text),
        lambda u: text not in u.pieces and _piece(text, u.text),
    ):
        open_ = [u for u in utterances if not u.complete and fits(u)]
        if open_:
            return next((u for u in open_ if u.position >= cursor), open_[0])
    return None


CRASH_WINDOW = 1.0  # seconds between the platform accepting a send and the SIGKILL that hit its sender


def repeats_at_kills(
    utterances: Sequence[Utterance], sends: Sequence[PlatformSend], kills: Sequence[float]
) -> set[int]:
    """Indexes of the sends that repeat, after a SIGKILL, a reply the platform took just before it.

    The window: our process sent a reply, the platform took it, the process was killed before the
    outbox recorded it; the re-run sends it again, as the first send of that text after the kill. Only
    when a text went out more often than the tracker's bot events hold it (else nothing was repeated).
    """
    repeats: set[int] = set()
    for index, earlier in enumerate(sends):
        text = normalized(earlier.text)
        hit = [kill for kill in kills if 0.0 <= kill - earlier.received_at <= CRASH_WINDOW]
        sent = sum(1 for s in sends if normalized(s.text) == text)
        held = sum(1 for u in utterances if _whole(text, u.text))
        if not hit or sent <= held:
            continue
        later = next(
            (
                i
                for i, s in enumerate(sends)
                if i > index and i not in repeats and normalized(s.text) == text and s.received_at >= hit[0]
            ),
            None,
        )
        if later is not None:
            repeats.add(later)
    return repeats


def match_sends(
    utterances: Sequence[Utterance], sends: Sequence[PlatformSend], skip: set[int] = frozenset()
) -> tuple[list[int], list[PlatformSend]]:
    """Assign each send, in arrival order, to the bot message it completes or continues.

    Bot messages often repeat a text (the same store list for two questions): a send goes to the
    first open one at or after the previous send's, so a reply lost earlier is not blamed on a later
    one, and a real reordering (an earlier text after a later one) still shows. Returns the positions
    the sends were assigned to (in send order) and the sends nothing explains (a message sent
    again, or one no bot event holds). Sends whose index is in `skip` are left out.
    """
    assigned: list[int] = []
    unexplained: list[PlatformSend] = []
    for index, send in enumerate(sends):
        if index in skip:
            continue
        text = normalized(send.text)
        target = _target(utterances, text, assigned[-1] if assigned else 0)
        if target is None:
            unexplained.append(send)
            continue
        target.pieces.append(text)
        target.complete = _whole(text, target.text) or _covered(target)
        target.sent_at = send.received_at if target.sent_at is None else max(target.sent_at, send.received_at)
        assigned.append(target.position)
    return assigned, unexplained


def judge(
    conversation: str,
    acked: Sequence[str],
    events: Iterable[Mapping[str, Any]],
    sends: Sequence[PlatformSend],
    kills: Sequence[float] = (),
) -> Verdict:
    """The verdict for a conversation: `acked` are its acked message ids in the order it sent them.

    `kills`: when our processes were SIGKILLed (epoch seconds), for the crash window.
    """
    verdict = Verdict(conversation, acked=len(acked))
    order = {mid: index for index, mid in enumerate(acked)}
    turns = turns_of(events)
    utterances = [u for turn in turns for u in turn.utterances]
    repeats = repeats_at_kills(utterances, sends, kills)
    assigned, unexplained = match_sends(utterances, sends, repeats)
    verdict.duplicates_at_kill = len(repeats)
    verdict.duplicate_sends = len(unexplained)
    verdict.out_of_order_sends = len(assigned) - increasing_run(assigned, strict=False)

    mids = [turn.mid for turn in turns if turn.mid is not None]
    counts = Counter(mids)
    verdict.duplicate_user_events = sum(n - 1 for n in counts.values())
    verdict.unknown_user_events = sum(1 for mid in counts if mid not in order)
    seen = [order[mid] for mid in dict.fromkeys(mids) if mid in order]
    verdict.out_of_order_user_events = len(seen) - increasing_run(seen)

    first_turn: dict[str, Turn] = {}
    for turn in turns:
        if turn.mid is not None:
            first_turn.setdefault(turn.mid, turn)
    for mid in acked:
        turn = first_turn.get(mid)
        if turn is not None and turn.timestamp is not None:
            verdict.processed_at[mid] = float(turn.timestamp)
        if turn is None:
            verdict.lost.append(mid)
        elif not turn.utterances:
            verdict.lost.append(mid)
            verdict.silent.append(mid)
        elif not all(u.complete for u in turn.utterances):
            verdict.lost.append(mid)
            verdict.unsent.append(mid)
        else:
            verdict.answered_at[mid] = max(u.sent_at or 0.0 for u in turn.utterances)
    return verdict


@dataclass
class Totals:
    """The figures of every conversation of a run, summed."""

    conversations: int = 0
    acked: int = 0
    answered: int = 0
    lost: int = 0
    lost_never_processed: int = 0
    lost_silent_turn: int = 0
    lost_reply_not_sent: int = 0
    duplicated: int = 0
    duplicate_user_events: int = 0
    duplicate_sends: int = 0
    duplicates_at_kill: int = 0
    unknown_user_events: int = 0
    out_of_order: int = 0
    out_of_order_user_events: int = 0
    out_of_order_sends: int = 0
    conversations_out_of_order: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, verdicts: Iterable[Verdict], examples: int = 5) -> Totals:
        """Sum the verdicts; keep a few conversation ids of each kind of failure for the report."""
        totals = cls()
        for v in verdicts:
            totals.conversations += 1
            totals.acked += v.acked
            totals.answered += len(v.answered_at)
            totals.lost += len(v.lost)
            totals.lost_silent_turn += len(v.silent)
            totals.lost_reply_not_sent += len(v.unsent)
            totals.lost_never_processed += len(v.lost) - len(v.silent) - len(v.unsent)
            totals.duplicated += v.duplicated
            totals.duplicate_user_events += v.duplicate_user_events
            totals.duplicate_sends += v.duplicate_sends
            totals.duplicates_at_kill += v.duplicates_at_kill
            totals.unknown_user_events += v.unknown_user_events
            totals.out_of_order += v.out_of_order
            totals.out_of_order_user_events += v.out_of_order_user_events
            totals.out_of_order_sends += v.out_of_order_sends
            totals.conversations_out_of_order += bool(v.out_of_order)
            for kind, bad in (
                ("lost", v.lost),
                ("duplicated", v.duplicated),
                ("out_of_order", v.out_of_order),
            ):
                if bad and len(totals.examples.setdefault(kind, [])) < examples:
                    totals.examples[kind].append(v.conversation)
        return totals
