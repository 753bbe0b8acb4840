"""The fault harness's judge: each kind of failure it must see, on trackers and sends built by hand."""

from __future__ import annotations

from typing import Any

from bench.fault_judge import PlatformSend, Totals, increasing_run, judge, turns_of

GREETING = "Hey! 👋 Welcome to Loom & Co. Ask me about an order, a return, a refund or a product."
BOT = "I'm Loom & Co.'s virtual assistant, a bot 🤖"
HOURS = "Our Manchester store opens 9:00-18:00.\n\nCall 0161 000 000."


def user(mid: str) -> dict[str, Any]:
    """A `user` event as Rasa's tracker JSON has it."""
    return {"event": "user", "text": "...", "message_id": mid}


def bot(text: str) -> dict[str, Any]:
    """A `bot` event."""
    return {"event": "bot", "text": text}


def sends(*texts: str) -> list[PlatformSend]:
    """Accepted sends one second apart."""
    return [PlatformSend(text, 100.0 + i) for i, text in enumerate(texts)]


HAPPY = [{"event": "action", "name": "action_session_start"}, user("m1"), bot(GREETING), user("m2"), bot(BOT)]


def test_every_message_answered_once_in_order():
    events = [{**e, "timestamp": 50.0 + i} for i, e in enumerate(HAPPY)]
    verdict = judge("c", ["m1", "m2"], events, sends(GREETING, BOT))
    assert verdict.lost == [] and verdict.duplicated == 0 and verdict.out_of_order == 0
    assert verdict.answered_at == {"m1": 100.0, "m2": 101.0}
    assert verdict.processed_at == {"m1": 51.0, "m2": 53.0}  # when Rasa recorded each message


def test_an_acked_message_the_tracker_never_got_is_lost():
    verdict = judge("c", ["m1", "m2", "m3"], HAPPY, sends(GREETING, BOT))
    assert verdict.lost == ["m3"] and verdict.silent == [] and verdict.unsent == []


def test_a_turn_without_reply_and_a_reply_never_sent_are_lost():
    events = [user("m1"), user("m2"), bot(BOT)]
    assert judge("c", ["m1", "m2"], events, sends(BOT)).silent == ["m1"]
    unsent = judge("c", ["m1", "m2"], HAPPY, sends(GREETING))
    assert unsent.lost == unsent.unsent == ["m2"]


def test_a_message_processed_twice_is_duplicated():
    events = [*HAPPY, user("m2"), bot(BOT)]
    verdict = judge("c", ["m1", "m2"], events, sends(GREETING, BOT, BOT))
    assert verdict.duplicate_user_events == 1 and verdict.duplicate_sends == 0 and verdict.lost == []


def test_a_reply_sent_twice_and_a_send_no_bot_event_explains_are_duplicated():
    assert judge("c", ["m1", "m2"], HAPPY, sends(GREETING, BOT, BOT)).duplicate_sends == 1
    assert judge("c", ["m1", "m2"], HAPPY, sends(GREETING, "something else", BOT)).duplicate_sends == 1


def test_user_events_in_another_order_than_sent_are_out_of_order():
    events = [user("m2"), bot(BOT), user("m1"), bot(GREETING)]
    verdict = judge("c", ["m1", "m2"], events, sends(BOT, GREETING))
    assert verdict.out_of_order_user_events == 1 and verdict.out_of_order_sends == 0 and verdict.lost == []


def test_sends_in_another_order_than_the_bot_events_are_out_of_order():
    verdict = judge("c", ["m1", "m2"], HAPPY, sends(BOT, GREETING))
    assert verdict.out_of_order_sends == 1 and verdict.out_of_order_user_events == 0 and verdict.lost == []


def test_identical_variants_count_once_each():
    events = [user("m1"), bot(GREETING), user("m2"), bot(GREETING)]
    assert judge("c", ["m1", "m2"], events, sends(GREETING, GREETING)).lost == []
    verdict = judge("c", ["m1", "m2"], events, sends(GREETING, GREETING, GREETING))
    assert verdict.duplicate_sends == 1


def test_pieces_of_a_split_text_deliver_it_and_a_repeated_piece_is_a_duplicate():
    pieces = ["Our Manchester store opens 9:00-18:00.", "Call 0161 000 000."]
    events = [user("m1"), bot(HOURS)]
    assert judge("c", ["m1"], events, sends(*pieces)).answered_at == {"m1": 101.0}
    assert judge("c", ["m1"], events, sends(pieces[0])).unsent == ["m1"]
    assert judge("c", ["m1"], events, sends(pieces[0], pieces[0], pieces[1])).duplicate_sends == 1


def test_x_numbered_options_follow_the_bot_text():
    events = [user("m1"), bot("Which one?")]
    verdict = judge("c", ["m1"], events, sends("Which one?\n\n1. Yes\n2. No\n(reply with a number)"))
    assert verdict.answered_at == {"m1": 100.0}


def test_an_unknown_message_id_is_reported():
    assert (
        judge("c", ["m1"], [user("m1"), bot(BOT), user("zz"), bot(BOT)], sends(BOT, BOT)).unknown_user_events
        == 1
    )


def test_turns_group_bot_events_under_their_user_event():
    turns = turns_of([bot("before"), user("m1"), bot("a"), {"event": "action"}, bot("b"), user("m2")])
    assert [(t.mid, [u.text for u in t.utterances]) for t in turns] == [
        (None, ["before"]),
        ("m1", ["a", "b"]),
        ("m2", []),
    ]


def test_increasing_runs():
    assert increasing_run([1, 2, 3]) == 3 and increasing_run([2, 1, 3]) == 2 and increasing_run([]) == 0
    assert increasing_run([1, 1, 2]) == 2 and increasing_run([1, 1, 2], strict=False) == 3


def test_totals_sum_and_name_examples():
    good = judge("good", ["m1", "m2"], HAPPY, sends(GREETING, BOT))
    bad = judge("bad", ["m1", "m2", "m3"], [*HAPPY, user("m2")], sends(BOT, GREETING))
    totals = Totals.of([good, bad])
    assert (totals.conversations, totals.acked, totals.answered, totals.lost) == (2, 5, 4, 1)
    assert totals.duplicate_user_events == 1 and totals.out_of_order_sends == 1
    assert totals.conversations_out_of_order == 1
    assert totals.examples == {"lost": ["bad"], "duplicated": ["bad"], "out_of_order": ["bad"]}


def test_a_lost_reply_is_not_blamed_on_a_later_one_with_the_same_text():
    stores = "Here's where to find us"
    events = [user("m1"), bot(stores), user("m2"), bot(BOT), user("m3"), bot(stores)]
    verdict = judge("c", ["m1", "m2", "m3"], events, sends(BOT, stores))
    assert verdict.lost == verdict.unsent == ["m1"] and verdict.out_of_order == 0


def test_a_reply_sent_again_right_after_a_kill_is_the_crash_window_not_a_duplicate():
    """Accepted by the platform just before its sender was SIGKILLed: the re-run sends it again."""
    delivered = sends(GREETING, BOT, BOT)  # the first BOT at 101.0, the second at 102.0
    at_kill = judge("c", ["m1", "m2"], HAPPY, delivered, kills=[101.3])
    assert (at_kill.duplicates_at_kill, at_kill.duplicated) == (1, 0)
    long_before = judge("c", ["m1", "m2"], HAPPY, delivered, kills=[105.0])  # 3 s later: not the window
    assert (long_before.duplicates_at_kill, long_before.duplicated) == (0, 1)
    totals = Totals.of([at_kill, long_before])
    assert (totals.duplicates_at_kill, totals.duplicated) == (1, 1)


def test_the_repeat_of_a_reply_taken_at_a_kill_is_neither_a_duplicate_nor_a_reordering():
    """The re-run's copy comes after later-looking sends in time only because of the kill: not reordered."""
    events = [user("m1"), bot(HOURS), user("m2"), bot(BOT), user("m3"), bot(HOURS)]
    delivered = [
        PlatformSend(HOURS, 100.0),  # m1's reply, taken just before the kill at 100.2
        PlatformSend(HOURS, 160.0),  # the re-run sends it again (the outbox had "sending")
        PlatformSend(BOT, 161.0),
        PlatformSend(HOURS, 162.0),  # m3's own reply, the same text: not a repeat
    ]
    verdict = judge("c", ["m1", "m2", "m3"], events, delivered, kills=[100.2])
    assert (verdict.duplicates_at_kill, verdict.duplicated, verdict.out_of_order, verdict.lost) == (
        1,
        0,
        0,
        [],
    )
    without_kill = judge("c", ["m1", "m2", "m3"], events, delivered)
    assert without_kill.duplicated == 1
