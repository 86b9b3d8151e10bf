"""The restore console: a Textual app over console.core.

Keyboard first, 80x24 and up, the Linux text console included. The app holds no restore logic:
every action is a call through `Core` (console.tui.facade), which tests replace part by part.
Failures reach the operator in words; tracebacks go to the log only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import traceback
from typing import Callable, Iterable, Sequence

from rich.text import Text
from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette, SearchIcon
from textual.filter import LineFilter
from textual.screen import Screen
from textual.scrollbar import ScrollBar
from textual.widgets import Input

from widgets.glyphs import GLYPH_SETS, Glyphs

from ..core.cancel import ENDING_SIGNALS
from ..core.errors import RestoreError
from .facade import Core
from .themes import (
    LINUX_CONSOLE_THEME,
    SERIAL_TERMINAL_THEME,
    ReverseVideo,
    choose_theme,
    glyphs_for_theme,
)

log = logging.getLogger("restore_console")

# Keys Textual binds on every screen that mean nothing to an operator.
# The console's own keys, each a function key and the key typed instead of it (in a text field
# the latter is text, as any letter is).
CONSOLE_KEYS = {"help": ("F1", "?"), "shell": ("F2", "!"), "show_log": ("F3", "L")}
HELP_LEAVES_OUT = {"screen.copy_text", "copy_text", "screen.maximize", "screen.minimize"}

REVERSE_VIDEO = ReverseVideo()


class ConsolePalette(CommandPalette):
    """The command palette, with an ASCII search mark where the terminal lacks Textual's."""

    def on_mount(self) -> None:
        icon = self.app.glyphs.search_icon
        if icon is not None:
            self.query_one(SearchIcon).icon = icon


class RestoreApp(App[int]):
    """restore-console [--set PATH] [--demo] [--theme NAME]."""

    CSS_PATH = "app.tcss"
    TITLE = "restore-console"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        # Each with a key any terminal sends: a serial line's terminal may have no F1-F3, or send
        # them as the VT220's PF keys; the footer shows these on the serial theme.
        Binding("f1,question_mark", "help", "Help"),
        Binding("f2,exclamation_mark", "shell", "Shell"),
        Binding("f3,L", "show_log", "Log"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, set_path: str | None = None, *, theme: str | None = None,
                 core: Core | None = None, log_path: str = "", target_images: list[str] | None = None,
                 demo: bool = False, set_problem: RestoreError | None = None) -> None:
        super().__init__()
        if not log.handlers:
            # Without a log file, logging's last resort would print over the screen.
            log.addHandler(logging.NullHandler())
        self.core = core or Core()
        self.set_path = set_path
        self.log_path = log_path
        self.target_images = list(target_images or [])
        self.demo = demo
        self.set_problem = set_problem  # why there is no set (words), when there is none
        # Started without a set: the start screen lists the sets found on the media.
        self.looks_for_sets = set_path is None and set_problem is None and not demo
        self.backup_set = None
        # The mapping (original disk -> target) of the last whole restore that finished in this
        # session: the file picker offers it as the original place of selected files.
        self.restored_mapping: dict[str, str] | None = None
        self.register_theme(LINUX_CONSOLE_THEME)
        self.register_theme(SERIAL_TERMINAL_THEME)
        self.theme = choose_theme(theme)
        # The scroll bars' renderer is a class attribute: set it for this app's theme even where
        # the theme's watcher does not run (the theme set before the app runs).
        ScrollBar.renderer = self.glyphs.scroll_bar
        # Cheap redraws on a serial line or the text console: nothing animated (scrolling,
        # fades); text fields get a steady cursor when focused (on_descendant_focus).
        self.animation_level = "none"
        self._failure: BaseException | None = None
        self.ended_by_signal: int | None = None  # the signal that ended the console, if one did

    # ---- start-up ----

    def on_mount(self) -> None:
        from .screens.start import StartScreen
        if not self.is_headless:  # on a terminal; tests call end_by_signal themselves
            loop = asyncio.get_running_loop()
            for signum in ENDING_SIGNALS:
                loop.add_signal_handler(signum, self.end_by_signal, signum)
        if self.set_path and self.backup_set is None and self.set_problem is None:
            try:
                self.backup_set = self.core.load_set(self.set_path)
            except RestoreError as exc:
                log.error("cannot open the set %s: %s %s", self.set_path, exc.message, exc.hint)
                self.set_problem = exc
        self.push_screen(StartScreen())

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, Input):  # a blinking cursor redraws twice a second
            event.widget.cursor_blink = False

    @property
    def glyphs(self) -> Glyphs:
        """What the terminal of this theme can draw (widgets.glyphs)."""
        return glyphs_for_theme(self.theme)

    def get_line_filters(self) -> Sequence[LineFilter]:
        filters = super().get_line_filters()
        # On a terminal without colour even Textual's own colours (the palette's) go.
        return filters if self.glyphs.colour else [*filters, REVERSE_VIDEO]

    def get_css_variables(self) -> dict[str, str]:
        # $box: the border type of the app's frames and lines, the one the terminal can draw.
        return {**super().get_css_variables(), "box": self.glyphs.box}

    def watch_theme(self, theme: str) -> None:
        glyphs = glyphs_for_theme(theme)
        for other in GLYPH_SETS.values():
            if other.css_class:
                self.set_class(other is glyphs, other.css_class)
        # A class attribute: one app per process, and the theme decides for all scroll bars.
        ScrollBar.renderer = glyphs.scroll_bar
        self.refresh(layout=True)

    def get_key_display(self, binding: Binding) -> str:
        if not self.glyphs.colour and binding.action in CONSOLE_KEYS:  # a serial terminal
            return CONSOLE_KEYS[binding.action][1]
        if not binding.key_display:
            key = binding.key
            if key[:1] == "f" and key[1:].isdigit():
                return key.upper()  # F1 as the keyboard says, not f1
            if key in self.glyphs.key_names:
                return self.glyphs.key_names[key]
        return super().get_key_display(binding)

    # ---- actions on every screen ----

    def action_help(self) -> None:
        from .screens.help import HelpScreen
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        keys = []
        seen = set()
        # The screen's own keys and the app's; the keys of lists and fields are the usual ones
        # and the help says so in one line.
        for _key, active in self.screen.active_bindings.items():
            binding = active.binding
            if active.node not in (self.screen, self) or not binding.description \
                    or binding.action in seen or binding.action in HELP_LEAVES_OUT:
                continue
            seen.add(binding.action)
            shown = self.get_key_display(binding)
            if binding.action in CONSOLE_KEYS:
                shown = " or ".join(CONSOLE_KEYS[binding.action])
            keys.append((shown, binding.description))
        self.push_screen(HelpScreen(self.screen, keys))

    def action_show_log(self) -> None:
        from .screens.log_view import LogScreen
        if not isinstance(self.screen, LogScreen):
            self.push_screen(LogScreen(self.log_path))

    def action_shell(self) -> None:
        """The expert shell: the app steps aside, the shell gets the terminal, then the app is
        back on the same screen in the same state. Screens that have a target system to offer
        (the done screen) provide `shell_directory()`, a context manager yielding it."""
        opener: Callable | None = getattr(self.screen, "shell_directory", None)
        try:
            context = opener() if opener is not None else None
            if context is None:
                self.run_shell(os.getcwd())
                return
            with context as directory:
                self.run_shell(directory, target_root=directory)
        except RestoreError as exc:
            log.error("expert shell: %s %s", exc.message, exc.hint)
            self.show_error(exc, ["shell-here", "close"],
                            lambda choice: choice == "shell-here" and self.run_shell(os.getcwd()),
                            title="The restored system could not be mounted for the shell")

    def run_shell(self, cwd: str, *, target_root: str | None = None) -> int:
        env = dict(os.environ)
        env["PS1"] = "restore-console shell \\w # "
        if self.backup_set is not None:
            env["RESTORE_CONSOLE_SET"] = self.backup_set.medium.where
        if target_root:
            env["RESTORE_CONSOLE_TARGET"] = target_root
        argv = [os.environ.get("SHELL") or "/bin/sh"]
        log.info("expert shell %s in %s", argv[0], cwd)
        code = self._outside(lambda: self.core.run_shell(argv, cwd, env))
        log.info("expert shell ended with exit status %s", code)
        return code

    def _outside(self, run: Callable[[], int]) -> int:
        """Runs `run` with the terminal handed over; headless (tests) there is none to hand."""
        from textual.app import SuspendNotSupported
        try:
            with self.suspend():
                return run()
        except SuspendNotSupported:
            if self.is_headless:
                return run()
            self.show_error(RestoreError("The shell cannot run in this terminal.",
                                         "Use another console (Alt-F2 on the Linux console)."),
                            ["close"], lambda choice: None)
            return -1

    async def action_quit(self) -> None:
        from .screens.progress import ProgressScreen
        running = [s for s in self.screen_stack if isinstance(s, ProgressScreen) and s.running]
        if running:
            running[0].ask_to_quit()
            return
        self.exit()

    def end_by_signal(self, signum: int) -> None:
        """SIGTERM or SIGHUP: the console ends as quitting does, without asking. A running
        restore is cancelled first and the app waits for it to unwind (unmount, detach); the
        command line then exits with 128 + the signal's number."""
        from .screens.progress import ProgressScreen
        if self.ended_by_signal is not None:
            return  # ending already
        log.warning("ending on %s", signal.Signals(signum).name)
        self.ended_by_signal = signum
        running = [s for s in self.screen_stack if isinstance(s, ProgressScreen) and s.running]
        if running:
            running[0].cancel_and_quit()
            return
        self.exit()

    def action_command_palette(self) -> None:
        if not CommandPalette.is_open(self):
            self.push_screen(ConsolePalette(placeholder="Search for an action...",
                                            id="--command-palette"))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from .screens.start import StartScreen
        start = next((s for s in self.screen_stack if isinstance(s, StartScreen)), None)
        if start is not None and not self._busy():
            for key, title, help_text in start.ACTIONS:
                if key in ("shell", "quit"):
                    continue  # offered below, on every screen
                yield SystemCommand(title, help_text, lambda key=key: self._start_action(key))
        yield SystemCommand("Shell", "Open the expert shell; exit it to come back here",
                            self.action_shell)
        yield SystemCommand("Log", "Show the log file", self.action_show_log)
        yield SystemCommand("Help", "The keys of this screen", self.action_help)
        yield SystemCommand("Theme", "Change the colours", self.action_change_theme)
        yield SystemCommand("Quit", "Leave the console", self.action_quit)

    def _busy(self) -> bool:
        from .screens.progress import ProgressScreen
        return any(isinstance(s, ProgressScreen) for s in self.screen_stack)

    def _start_action(self, key: str) -> None:
        from .screens.start import StartScreen
        while not isinstance(self.screen, StartScreen):
            self.pop_screen()
        self.screen.run_action(key)

    def back_to_start(self) -> None:
        from .screens.start import StartScreen
        while not isinstance(self.screen, StartScreen) and len(self.screen_stack) > 1:
            self.pop_screen()

    # ---- failures ----

    def show_error(self, error: BaseException, choices: list[str],
                   then: Callable[[str], None], *, title: str = "") -> None:
        """Shows error in words with the choices that make sense; `then(choice)` follows.
        Choosing the shell opens it and asks again."""
        from .screens.error import CHOICES, ErrorScreen
        if isinstance(error, RestoreError):
            message, hint = error.message, error.hint
        else:
            message = f"Unexpected failure: {error}"
            hint = f"The details are in the log{': ' + self.log_path if self.log_path else ''}."

        def chosen(choice: str | None) -> None:
            if choice == "shell":
                self.action_shell()
                self.show_error(error, choices, then, title=title)
                return
            then(choice or choices[-1])

        self.push_screen(ErrorScreen(title or "Something went wrong", message, hint,
                                     [(c, *CHOICES[c]) for c in choices]), chosen)

    def _handle_exception(self, error: Exception) -> None:
        # Textual ends the app on an unhandled exception; it must end in words, not a traceback.
        log.error("unexpected failure:\n%s",
                  "".join(traceback.format_exception(type(error), error, error.__traceback__)))
        if self._failure is None:
            self._failure = error
        super()._handle_exception(error)

    def _fatal_error(self) -> None:
        if self._exit_renderables:  # the first failure is said already; the rest is in the log
            self._close_messages_no_wait()
            return
        words = Text(f"restore-console stopped after an unexpected failure: {self._failure}\n"
                     f"  The details are in the log{': ' + self.log_path if self.log_path else ''}.\n"
                     "  Start it again; a restore that was interrupted can be run again.")
        self.bell()
        self.panic(words)
