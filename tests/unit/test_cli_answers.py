"""The command line's answers to the core's questions: on a terminal it asks, elsewhere
--on-failure answers (abort by default), and a passphrase is read without echo."""

from __future__ import annotations

import io

import pytest

from console.answering import cli_answerer
from console.core.errors import RestoreError, UsageError
from console.core.questions import ABORT, RETRY, SKIP, ask, passphrase, step_failed


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def failed(skipping: str | None = "the disk has no boot code"):
    return step_failed(5, 27, "Write the boot code", RestoreError("dd failed: I/O error"),
                       skipping)


def test_on_a_terminal_the_question_is_asked_and_a_first_letter_answers():
    out = io.StringIO()
    answerer = cli_answerer(None, Terminal("r\n"), out, shell=None)
    assert ask(answerer, failed()) == RETRY
    assert "Step 5 of 27 failed: Write the boot code: dd failed: I/O error" in out.getvalue()
    assert out.getvalue().endswith("Retry, skip or abort? [abort] ")


def test_on_a_terminal_enter_is_the_safe_answer_and_end_of_input_too():
    assert ask(cli_answerer(None, Terminal("\n"), io.StringIO(), shell=None), failed()) == ABORT
    assert ask(cli_answerer(None, Terminal(""), io.StringIO(), shell=None), failed()) == ABORT


def test_on_a_terminal_an_answer_that_is_not_offered_is_asked_again():
    out = io.StringIO()
    assert ask(cli_answerer(None, Terminal("skip\nk\n"), out, shell=None),
               failed(skipping=None)) == ABORT  # "k" is not one either: end of input
    assert out.getvalue().count("Answer with one of: retry, abort.") == 2


def test_on_a_terminal_the_shell_opens_then_the_same_question_is_asked_again():
    opened = []
    out = io.StringIO()
    answerer = cli_answerer(None, Terminal("sh\nsk\n"), out, shell=lambda: opened.append(1))
    assert ask(answerer, failed()) == SKIP
    assert opened == [1]
    assert out.getvalue().count("Retry, skip, shell or abort? [abort] ") == 2
    assert out.getvalue().count("Step 5 of 27 failed") == 2


def test_on_a_terminal_the_option_answers_without_asking():
    out = io.StringIO()
    assert ask(cli_answerer("retry", Terminal(""), out), failed()) == RETRY
    assert out.getvalue().startswith("Step 5 of 27 failed: Write the boot code: dd failed")
    assert out.getvalue().endswith("Answered retry (--on-failure retry).\n")


def test_without_a_terminal_a_failed_step_aborts_by_default_without_a_word():
    out = io.StringIO()
    assert ask(cli_answerer(None, io.StringIO("retry\n"), out), failed()) == ABORT
    assert out.getvalue() == ""


def test_without_a_terminal_the_option_answers():
    assert ask(cli_answerer("skip", io.StringIO(), io.StringIO()), failed()) == SKIP


def test_without_a_terminal_ask_is_a_usage_error():
    with pytest.raises(UsageError, match="--on-failure ask needs a terminal"):
        cli_answerer("ask", io.StringIO(), io.StringIO())


def test_a_passphrase_is_read_without_echo_and_not_printed():
    out = io.StringIO()
    prompts = []

    def read_secret(prompt, stream):
        prompts.append((prompt, stream))
        return "hunter2"

    answerer = cli_answerer(None, Terminal(""), out, read_secret=read_secret)
    assert ask(answerer, passphrase("/dev/sda3")) == "hunter2"
    assert prompts == [("Passphrase: ", out)]
    assert "hunter2" not in out.getvalue()


def test_without_a_terminal_a_passphrase_stops_the_restore_saying_how_to_give_it():
    with pytest.raises(RestoreError) as raised:
        ask(cli_answerer("retry", io.StringIO(), io.StringIO()), passphrase("/dev/sda3"))
    assert "Passphrase for the LUKS container /dev/sda3" in raised.value.message
    assert raised.value.hint == ("Run it on a terminal to type the passphrase, or give "
                                 "--passphrase-file FILE.")


def test_a_passphrase_file_answers_the_passphrase_and_leaves_the_other_questions(tmp_path):
    secret = tmp_path / "pass"
    secret.write_text("correct horse\nsecond line\n")
    out = io.StringIO()
    answerer = cli_answerer(None, io.StringIO(""), out, passphrase_file=str(secret))
    assert ask(answerer, passphrase("sda2_crypt")) == "correct horse"
    assert ask(answerer, failed()) == ABORT  # not a terminal: --on-failure's default
    assert "correct horse" not in out.getvalue() and "correct horse" not in repr(answerer)


@pytest.mark.parametrize("content, words", [(None, "cannot be read"),
                                            ("\nsecret\n", "has an empty first line")])
def test_a_passphrase_file_that_gives_none_is_a_usage_error(tmp_path, content, words):
    path = tmp_path / "pass"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=words):
        cli_answerer(None, io.StringIO(""), io.StringIO(), passphrase_file=str(path))
