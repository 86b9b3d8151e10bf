"""The command line's answers to the core's questions: asked on the terminal when stdin is one,
else taken from an option (restore --on-failure); what neither answers stops the restore in
words (PolicyAnswerer, as nuke mode will)."""

from __future__ import annotations

import getpass
import os
import subprocess
from typing import Callable, TextIO

from .core.errors import UsageError
from .core.questions import Answerer, PolicyAnswerer, Question, QuestionKind

SHELL = "shell"
ON_FAILURE = ("ask", "retry", "skip", "abort")

HINTS = {
    QuestionKind.STEP_FAILED: "Run it on a terminal to be asked, or give --on-failure retry, "
                              "skip or abort.",
    QuestionKind.PASSPHRASE: "Run it on a terminal to type the passphrase, or give "
                             "--passphrase-file FILE.",
    QuestionKind.INSERT_VOLUME: "Run it on a terminal to be asked for each volume.",
}


def run_shell() -> None:
    """The expert shell on this terminal; the question is asked again when it exits."""
    argv = [os.environ.get("SHELL") or "/bin/sh"]
    print(f"restore-console: expert shell ({argv[0]}); exit it to answer the question.",
          flush=True)
    try:
        subprocess.call(argv)
    except OSError as exc:
        print(f"restore-console: cannot start {argv[0]}: {exc.strerror}", flush=True)


class TerminalAnswerer:
    """Asks on the terminal: the question, then a prompt taking an answer or its first letters
    (Enter: the default). A passphrase is read without echo (getpass). `shell`, when given, is
    offered where the question allows it, and the question asked again after it."""

    def __init__(self, stdin: TextIO, stream: TextIO, *,
                 read_secret: Callable[..., str] = getpass.getpass,
                 shell: Callable[[], None] | None = None):
        self.stdin, self.stream = stdin, stream
        self.read_secret = read_secret
        self.shell = shell

    def __call__(self, question: Question) -> None:
        self._show(question)
        if question.secret:
            try:
                value = self.read_secret("Passphrase: ", stream=self.stream)
            except EOFError:
                value = ""
            question.answer(value or None)
            return
        offered = list(question.choices)
        if question.shell and self.shell:
            offered.insert(len(offered) - 1, SHELL)  # before abort, as the question words it
        words = ", ".join(offered[:-1]) + " or " + offered[-1] if len(offered) > 1 \
            else offered[0]
        prompt = words[:1].upper() + words[1:] + "?" + (
            f" [{question.default}] " if question.default else " ")
        while True:
            self.stream.write(prompt)
            self.stream.flush()
            line = self.stdin.readline()
            if not line:  # end of input: nobody to answer, the safe answer
                self.stream.write("\n")
                question.answer(None)
                return
            typed = line.strip().lower()
            found = [c for c in offered if c.startswith(typed)] if typed else \
                [c for c in offered if c == question.default]
            if len(found) != 1:
                print(f"Answer with one of: {', '.join(offered)}.", file=self.stream)
                continue
            if found[0] == SHELL:
                self.shell()
                self._show(question)
                continue
            question.answer(found[0])
            return

    def _show(self, question: Question) -> None:
        print(f"\n{question}", file=self.stream)
        if question.hint:
            print(f"  {question.hint}", file=self.stream)
        self.stream.flush()


def read_passphrase_file(path: str) -> str:
    """--passphrase-file: its first line, without the line's end."""
    try:
        with open(path, encoding="utf-8") as f:
            value = f.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--passphrase-file {path} cannot be read: "
                         f"{getattr(exc, 'strerror', None) or exc}.",
                         "Name a readable file whose first line is the passphrase.") from None
    if not value:
        raise UsageError(f"--passphrase-file {path} has an empty first line.",
                         "Its first line is the passphrase.")
    return value


class PassphraseFile:
    """Answers every passphrase question with the passphrase of --passphrase-file, the others
    with `then`."""

    def __init__(self, path: str, then: Answerer):
        self._secret = read_passphrase_file(path)
        self.then = then

    def __repr__(self) -> str:
        return "PassphraseFile(...)"  # never the secret

    def __call__(self, question: Question) -> None:
        if question.kind == QuestionKind.PASSPHRASE:
            question.answer(self._secret)
        else:
            self.then(question)


def cli_answerer(on_failure: str | None, stdin: TextIO, stream: TextIO, *,
                 shell: Callable[[], None] | None = run_shell,
                 read_secret: Callable[..., str] = getpass.getpass,
                 passphrase_file: str | None = None) -> Answerer:
    """restore --on-failure: ask (the default on a terminal), retry, skip or abort (the default
    elsewhere). Passphrases come from passphrase_file when given. Other questions are asked on
    the terminal, or stop the restore in words."""
    tty = stdin.isatty()
    chosen = on_failure or ("ask" if tty else "abort")
    if chosen == "ask" and not tty:
        raise UsageError("--on-failure ask needs a terminal, and stdin is not one.",
                         "Give --on-failure retry, skip or abort.")
    terminal = TerminalAnswerer(stdin, stream, shell=shell, read_secret=read_secret) \
        if tty else None
    answers = {} if chosen == "ask" else {QuestionKind.STEP_FAILED: chosen}
    policy = PolicyAnswerer(answers, hints=HINTS, fallback=terminal,
                            say=lambda text: print(text, file=stream, flush=True),
                            why=f"--on-failure {chosen}")
    return PassphraseFile(passphrase_file, policy) if passphrase_file else policy
