"""Questions from the core: sent like progress, answered from another thread or by policy, and
a passphrase kept out of reprs and the log."""

from __future__ import annotations

import logging
import threading

import pytest

from console.core.errors import RestoreError
from console.core.events import Message
from console.core.questions import (
    ABORT,
    RETRY,
    SKIP,
    PolicyAnswerer,
    Question,
    QuestionKind,
    answering,
    ask,
    insert_volume,
    passphrase,
    step_failed,
)

SECRET = "correct horse battery staple"


def failed(skipping: str | None = "the disk has no boot code") -> Question:
    return step_failed(5, 27, "Write the boot code", RestoreError("dd failed: I/O error",
                                                                  "The log has the output."),
                       skipping)


def test_a_question_answered_from_another_thread_is_what_ask_returns():
    seen = []

    def listener(event):
        seen.append(event)
        if isinstance(event, Question):
            event.claim()
            threading.Timer(0.05, event.answer, [RETRY]).start()

    assert ask(listener, failed()) == RETRY
    assert isinstance(seen[0], Question) and seen[0].kind == QuestionKind.STEP_FAILED


def test_an_unclaimed_question_gets_its_safe_default_so_a_core_without_listener_is_unchanged():
    assert ask(lambda event: None, failed()) == ABORT


def test_a_claimed_question_nobody_answers_in_time_stops_in_words():
    with pytest.raises(RestoreError) as raised:
        ask(lambda event: event.claim(), failed(), timeout=0.05)
    assert "Nobody answered within 0.05 seconds: Step 5 of 27 failed" in raised.value.message
    assert raised.value.hint == "Answer with one of: retry, skip, abort."


def test_a_passphrase_declined_stops_the_restore_since_it_has_no_default():
    with pytest.raises(RestoreError, match="Not answered: Passphrase for the LUKS container"):
        ask(lambda event: event.answer(None), passphrase("/dev/sda3"))


def test_a_passphrase_is_neither_in_the_repr_nor_the_log_nor_kept_once_taken(caplog):
    question = passphrase("/dev/sda3")
    with caplog.at_level(logging.DEBUG, logger="restore_console"):
        assert ask(lambda event: event.answer(SECRET), question) == SECRET
    assert SECRET not in repr(question) and SECRET not in str(question)
    assert SECRET not in caplog.text
    assert "answered Passphrase for the LUKS container /dev/sda3: (secret" in caplog.text
    assert question.take() is None  # the question does not keep it


def test_the_answer_must_be_one_of_the_choices_and_shell_never_reaches_the_core():
    question = failed()
    with pytest.raises(ValueError):
        question.answer("shell")
    with pytest.raises(ValueError):
        failed(skipping=None).answer(SKIP)


def test_a_step_that_later_steps_need_does_not_offer_skip_and_says_why():
    question = failed(skipping=None)
    assert question.choices == (RETRY, ABORT) and question.default == ABORT
    assert "cannot be skipped" in question.text
    assert question.shell


def test_a_skippable_step_says_what_skipping_leaves_undone():
    question = failed()
    assert question.choices == (RETRY, SKIP, ABORT)
    assert "skip it (the disk has no boot code)" in question.text
    assert question.hint == "The log has the output."


def test_answering_passes_events_on_and_has_the_answerer_answer_questions():
    seen = []
    listener = answering(seen.append, lambda question: question.answer(SKIP))
    listener(Message("hello"))
    assert ask(listener, failed()) == SKIP
    assert [type(e) for e in seen] == [Message, Question]


# ---- the policy answerer (nuke mode, the command line without a terminal) ----

def test_policy_answers_its_kind_and_says_so_when_it_is_not_the_default():
    said = []
    policy = PolicyAnswerer({QuestionKind.STEP_FAILED: SKIP}, say=said.append,
                            why="--on-failure skip")
    assert ask(policy, failed()) == SKIP
    assert said == ["Step 5 of 27 failed: Write the boot code: dd failed: I/O error Retry it, "
                    "skip it (the disk has no boot code), open a shell, or abort the restore. "
                    "Answered skip (--on-failure skip)."]


def test_policy_skip_where_a_step_cannot_be_skipped_is_the_safe_default():
    assert ask(PolicyAnswerer({QuestionKind.STEP_FAILED: SKIP}), failed(skipping=None)) == ABORT


def test_policy_retries_the_same_question_a_limited_number_of_times_then_gives_up():
    policy = PolicyAnswerer({QuestionKind.STEP_FAILED: RETRY}, retries=2)
    assert ask(policy, failed()) == RETRY
    assert ask(policy, failed()) == RETRY
    with pytest.raises(RestoreError) as raised:
        ask(policy, failed())
    assert "Step 5 of 27 failed: Write the boot code: dd failed: I/O error" in \
        raised.value.message
    assert "Retried 2 times by policy; gave up." in raised.value.message


def test_policy_without_an_answer_waits_for_someone_else_then_gives_up_saying_how_to_answer():
    policy = PolicyAnswerer({QuestionKind.STEP_FAILED: RETRY}, timeout=0.05,
                            hints={QuestionKind.INSERT_VOLUME:
                                   "Put volume 2 in the drive, then run again."})
    with pytest.raises(RestoreError) as raised:
        ask(policy, insert_volume(2, "4f1c", "/dev/sr0"))
    message = raised.value.message
    assert message.startswith("Asked, with nobody to answer after waiting 0 seconds: "
                              "Insert volume 2 of set 4f1c: Insert volume 2")
    assert raised.value.hint == "Put volume 2 in the drive, then run again."


def test_policy_without_an_answer_takes_one_given_meanwhile_from_elsewhere():
    question = insert_volume(2, "4f1c", "/dev/sr0")
    threading.Timer(0.05, question.answer, ["retry"]).start()
    assert ask(PolicyAnswerer({}, timeout=5), question) == "retry"


def test_policy_hands_what_it_has_no_answer_for_to_its_fallback():
    policy = PolicyAnswerer({QuestionKind.STEP_FAILED: RETRY}, fallback=lambda q: q.answer(SECRET))
    assert ask(policy, passphrase("/dev/sda3")) == SECRET
