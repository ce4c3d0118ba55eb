"""The ``gitboard lead`` REPL: read a line, run it (a slash command, or a prompt for the model), print, repeat.

The shape follows rich's ``PromptBase`` loop (STYLE 3d): input and output streams are
parameters, and a BoardError prints as one ``gitboard: error:`` line and the loop goes on.

- The prompt is :data:`PROMPT`. On a terminal, readline edits the line and keeps the
  history in ``<git-common-dir>/gitboard/lead/history``.
- Ctrl-C while the model or a tool runs cancels it and keeps the session; Ctrl-C with
  text typed discards the line; Ctrl-C at an empty prompt, Ctrl-D, or ``/quit`` leaves.
- After every prompt: the model's reply, then the turn's and the session's tokens and cost.
"""

from __future__ import annotations

import sys
from typing import IO, Any, Callable

from rich.console import Console

from gitboard.board.errors import BoardError
from gitboard.lead.session import LeadSession, TurnResult
from gitboard.lead.tools import NAMES

#: The REPL's prompt.
PROMPT = "gitboard lead >> "

#: Lines of readline history kept.
HISTORY_LINES = 1000

SLASH_HELP = {
    "/tasks": "the board's tasks",
    "/team": "the teammates and their status",
    "/inbox": "the lead's inbox (a peek: the messages stay for the model)",
    "/review": "completed tasks waiting for review",
    "/cost": "tokens and cost of this session",
    "/help": "this help",
    "/quit": "leave (also Ctrl-D, or Ctrl-C at an empty prompt)",
}


class Repl:
    """The loop around a :class:`~gitboard.lead.session.LeadSession`.

    Args:
        session: the lead's conversation.
        stdin, stdout: the streams (default: the process's); readline is used only when
            both are the process's and stdin is a terminal.
    """

    def __init__(self, session: LeadSession, stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> None:
        self.session = session
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.console = Console(file=self.stdout, highlight=False, soft_wrap=True)
        self.interactive = self.stdin is sys.stdin and self.stdout is sys.stdout and self.stdin.isatty()
        self.readline: Any = None
        session.log = self.progress
        session.conv.log = self.progress
        session.on_step = self.step
        session.conv.on_text = self.stream_text  # the model's words appear as they are written
        self._midline = False  # streamed text that has not ended its line yet

    # -- output --------------------------------------------------------------------------

    def say(self, text: str, style: str = "") -> None:
        """Print ``text`` literally (never as markup, control characters escaped), on a line of its own."""
        from gitboard.cli.render import plain

        self.end_line()
        self.console.print(plain(text, style, multiline=True))

    def stream_text(self, delta: str) -> None:
        """Print a text delta of the reply being streamed, as it comes (literally, control characters escaped)."""
        from gitboard.cli.render import plain

        if delta:
            self.console.print(plain(delta, multiline=True), end="")
            self._midline = not delta.endswith("\n")

    def end_line(self) -> None:
        """End the line streamed text left open, if any."""
        if self._midline:
            self.console.print()
            self._midline = False

    def progress(self, line: str) -> None:
        """Print a progress line (a tool call, a compaction)."""
        self.say(f"  · {line}", "dim")

    def step(self, kind: str, value: Any) -> None:
        """Show a step of a running prompt: the model's words before it calls tools (the final
        reply is printed when the prompt ends), and a tool call that failed, with its first line."""
        if kind == "text":
            if self.session.conv.on_text is None:  # streamed: already on the screen
                self.say(value)
        elif kind == "tool" and value.is_error:
            first = (value.text.strip().splitlines() or [""])[0]
            self.say(f"  · {value.name} failed: {first[:200]}", "yellow")

    def error(self, message: str) -> None:
        """Print ``gitboard: error: <message>`` (on the REPL's output: the session goes on)."""
        self.say(f"gitboard: error: {message}", "red")

    # -- input ---------------------------------------------------------------------------

    def _setup_readline(self) -> None:
        if not self.interactive:
            return
        try:
            import readline
        except ImportError:  # no readline on this platform: plain input()
            return
        self.readline = readline
        path = self.session.history_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                readline.read_history_file(str(path))
        except OSError:
            pass
        readline.set_history_length(HISTORY_LINES)

    def _save_history(self) -> None:
        if self.readline is not None:
            try:
                self.readline.write_history_file(str(self.session.history_path))
            except OSError:
                pass

    def read(self) -> str | None:
        """Read one line; None to leave (Ctrl-D, or Ctrl-C at an empty prompt); "" after a discarded line."""
        if self.interactive:
            try:
                return input(PROMPT)
            except EOFError:
                self.stdout.write("\n")
                return None
            except KeyboardInterrupt:
                typed = self.readline.get_line_buffer() if self.readline is not None else ""
                self.stdout.write("\n")
                return "" if typed.strip() else None
        self.stdout.write(PROMPT)
        self.stdout.flush()
        try:
            line = self.stdin.readline()
        except KeyboardInterrupt:
            self.stdout.write("\n")
            return None
        if not line:
            self.stdout.write("\n")
            return None
        return line.rstrip("\n")

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> int:
        """Run until the user leaves; return 0."""
        self._setup_readline()
        self.say(f"gitboard lead: model {self.session.conv.model}; /help for commands, Ctrl-D to leave", "dim")
        if self.session.resumed:
            self.say(f"resumed the saved conversation ({len(self.session.conv.messages)} messages; "
                     f"{self.session.conv.meter.line()})", "dim")
        try:
            while True:
                self.waiting()
                line = self.read()
                if line is None:
                    return 0
                line = line.strip()
                if not line:
                    continue
                if line.startswith("/"):
                    if self.slash(line) == "quit":
                        return 0
                    continue
                self.prompt(line)
        finally:
            self._save_history()

    def waiting(self) -> None:
        """Before the prompt: say how many messages wait in the lead's inbox (when there are any)."""
        try:
            n = len(self.session.board.peek_inbox())
        except BoardError:
            return
        if n:
            self.say(f"({n} message{'s' if n != 1 else ''} waiting in the lead's inbox: /inbox shows "
                     f"{'them' if n != 1 else 'it'}, the next prompt delivers {'them' if n != 1 else 'it'})", "yellow")

    def prompt(self, text: str) -> TurnResult:
        """Run one prompt through the model and print the reply and the usage."""
        try:
            result = self.session.turn(text)
        except BoardError as e:
            self.error(e.message)
            return TurnResult(stop_reason="error", error=e.message)
        except KeyboardInterrupt:  # between the session's own checks (saving): the session goes on
            result = TurnResult(stop_reason="cancelled", error="cancelled")
        if result.text and self.session.conv.on_text is None:
            self.say(result.text)
        self.end_line()
        if result.stop_reason == "cancelled":
            self.say("(cancelled; the session goes on)", "yellow")
        elif result.error:
            self.error(result.error)
        self.say(self.usage_line(result), "dim")
        return result

    def usage_line(self, result: TurnResult) -> str:
        """See :func:`usage_line`."""
        return usage_line(result, self.session)

    # -- slash commands --------------------------------------------------------------------

    def slash(self, line: str) -> str | None:
        """Run a slash command; return ``"quit"`` to leave. A BoardError prints one line."""
        name = line.split()[0].lower()
        handlers: dict[str, Callable[[], None]] = {
            "/tasks": self.tasks, "/team": self.team, "/inbox": self.inbox, "/review": self.review,
            "/cost": self.cost, "/help": self.help,
        }
        if name in ("/quit", "/exit"):
            return "quit"
        handler = handlers.get(name)
        if handler is None:
            self.error(f"unknown command {name}; /help lists them")
            return None
        try:
            handler()
        except BoardError as e:
            self.error(e.message)
        return None

    def tasks(self, only: list[dict] | None = None, empty: str = "no tasks on the board") -> None:
        """Print the board's tasks (or ``only`` those ids) as ``gitboard task list`` does."""
        from gitboard.board.clock import utcnow
        from gitboard.cli import render

        board = self.session.board.board()
        ids = sorted(board.tasks) if only is None else [t["id"] for t in only]
        if not ids:
            self.say(empty)
            return
        self.console.print(render.task_table(board, [board.tasks[i] for i in ids], utcnow()))

    def team(self) -> None:
        """Print the roster as ``gitboard team`` does."""
        from gitboard.board.inbox_ops import peek
        from gitboard.cli import team_render

        board = self.session.board.board()
        doc = self.session.board.roster()
        counts = {m.name: len(peek(board, m.name)) for m in board.team.members}
        self.console.print(team_render.roster_table(doc, counts))

    def inbox(self) -> None:
        """Print the lead's inbox without draining it."""
        from gitboard.board.inbox_ops import peek
        from gitboard.cli import team_render

        board = self.session.board.board()
        self.console.print(team_render.messages(peek(board, self.session.board.actor), empty="no messages for lead"))

    def review(self) -> None:
        """Print the completed tasks waiting for review."""
        self.tasks(self.session.board.awaiting_review(), empty="no completed tasks waiting for review")

    def cost(self) -> None:
        """Print the session's tokens and cost, and the models that answered."""
        m = self.session.conv.meter
        self.say(f"session: {m.line()}")
        self.say(f"models: {', '.join(m.models) or '(none yet)'}; model turns: {self.session.conv.turns}")

    def help(self) -> None:
        """Print the slash commands and the model's tools."""
        for name, what in SLASH_HELP.items():
            self.say(f"{name:<8} {what}")
        self.say("Anything else goes to the model, which has these tools: " + ", ".join(NAMES))


def usage_line(result: TurnResult, session: LeadSession) -> str:
    """``turn: <tokens> tokens, $<cost> · session: <the session meter's line>``."""
    u = result.usage
    tokens = u.input_tokens + u.output_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens
    cost = f"${result.cost_usd:.4f}" if result.cost_usd is not None else "cost unknown"
    return f"turn: {tokens:,} tokens, {cost} · session: {session.conv.meter.line()}"
