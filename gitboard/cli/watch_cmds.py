"""``gitboard watch``: the board, the teammates, the merge queue and the cost, live.

rich Live only drives the view: each tick gathers the data (the board at the
local tip, the roster's processes and log lines of this clone) and hands it to
the pure :func:`gitboard.cli.watch_view.frame`. The board is re-read as soon as
the local board ref moves, which a thread notices with
:class:`gitboard.store.refwatch.RefWatcher` (a ``stat`` of the ref files per
0.1 s tick, no git process); in remote mode another thread fetches every
``--poll`` seconds, which moves the local ref. Countdowns tick every second.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

import typer

from gitboard.board.errors import Invalid
from gitboard.board.text import safe_json
from gitboard.cli.common import OFFLINE_OPT, emit, open_repo

if TYPE_CHECKING:
    from gitboard.store.refwatch import Fetcher, TipFollower

#: Seconds between two looks at the keyboard (and at whether the board moved).
KEY_CHECK = 0.1
#: Bounds of ``--poll`` (seconds).
MIN_POLL, MAX_POLL = 0.5, 86400.0
class Keys:
    """The keyboard in cbreak mode (keys without Enter, no echo; Ctrl-C still interrupts),
    restored on exit. Without a terminal on stdin it reads nothing."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self.saved: Any = None

    def __enter__(self) -> "Keys":
        try:
            import termios
            import tty

            if sys.stdin.isatty():
                self.fd = sys.stdin.fileno()
                self.saved = termios.tcgetattr(self.fd)
                tty.setcbreak(self.fd)
        except (ImportError, OSError, ValueError):
            self.fd = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)

    def read(self, timeout: float) -> str:
        """The keys typed within ``timeout`` seconds ("" if none); sleeps when there is no keyboard."""
        if self.fd is None:
            time.sleep(timeout)
            return ""
        import select

        ready, _, _ = select.select([self.fd], [], [], timeout)
        return os.read(self.fd, 32).decode(errors="replace") if ready else ""


def _sigterm_as_interrupt() -> Callable[[], None]:
    """Turn SIGTERM into KeyboardInterrupt (so the terminal is restored); return the undo."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, old)


def _size(console: Any) -> tuple[int, int]:
    if console.is_terminal:
        return console.size.width, console.size.height
    def env(name: str, default: int) -> int:
        try:
            return int(os.environ.get(name, default))
        except ValueError:
            return default
    # a frame is a screen's worth: off a terminal, $COLUMNS x $LINES (80 x 24), not the
    # unwrapped width the console lays other output out for
    return max(env("COLUMNS", 80), 20), max(env("LINES", 24), 10)


def watch(
    poll: float = typer.Option(5.0, "--poll", metavar="SECONDS",
                               help=f"Remote mode: fetch the board every SECONDS ({MIN_POLL:g} to {MAX_POLL:g})."),
    once: bool = typer.Option(False, "--once", help="Print one frame and exit (for scripts)."),
    offline: bool = OFFLINE_OPT,
    json_: bool = typer.Option(False, "--json", help="Print JSON, not the view: one document per new "
                               "board tip (JSON Lines); with --once, exactly one."),
) -> int:
    """Watch the board live: tasks, teammates, the merge queue, tokens and cost. q or Ctrl-C quits.

    It redraws as soon as the board changes (in remote mode: fetched every
    --poll seconds) and every second for the lease countdowns. When stdout is
    not a terminal it prints one line per new board tip instead.
    """
    import json
    import math

    from gitboard.board import merge_order as queue
    from gitboard.board.clock import utcnow
    from gitboard import overview
    from gitboard.store.read import read_board
    from gitboard.store.refwatch import Fetcher, TipFollower

    if not (math.isfinite(poll) and MIN_POLL <= poll <= MAX_POLL):
        raise Invalid(f"--poll must be a number of seconds from {MIN_POLL:g} to {MAX_POLL:g}, not {poll:g}")
    with open_repo(offline) as repo:
        board = read_board(repo)  # remote mode: fetched once now; an unreachable remote fails here
        remote = None if repo.offline else repo.remote
        review = repo.git("config", "--get", "gitboard.review", check=False)
        require_review = queue.review_required(review.stdout.decode(errors="replace") if review.status == 0 else None)
        repo.close()  # no GitPython Repo held for the life of the view; the fetcher opens its own
        if once and json_:
            emit(True, overview.document(board, overview.teammates(repo, board), utcnow(), require_review), lambda: None)
            return 0
        live = not json_ and sys.stdout.isatty()
        if once:
            from gitboard.cli import render, watch_view

            width, height = _size(render.console)
            render.console.print(watch_view.frame(board, overview.teammates(repo, board), utcnow(), width=width,
                                                  height=height, source=overview.Source(remote, 0.0 if remote else None),
                                                  require_review=require_review), width=width)
            return 0
        fetcher = Fetcher(repo.cwd, poll) if remote else None
        follower = TipFollower(repo.cwd, board.tip)
        undo = _sigterm_as_interrupt()
        try:
            follower.thread.start()
            if fetcher:
                fetcher.thread.start()
            if live:
                _live(repo, board, follower, fetcher, remote, require_review)
            elif json_:
                _lines(repo, board, follower, fetcher, lambda b, now: safe_json(json.dumps(
                    overview.document(b, overview.teammates(repo, b), now, require_review), ensure_ascii=False)))
            else:
                _lines(repo, board, follower, fetcher, overview.status_line)
        except KeyboardInterrupt:
            pass
        finally:
            undo()
            follower.stop.set()
            if fetcher:
                fetcher.stop.set()
    return 0


def _reread(repo: Any, board: Any, follower: TipFollower) -> Any:
    """The board at the local tip if the ref moved since the last look, else ``board``
    (a warm read: no git command)."""
    from gitboard.store.read import read_board

    if not follower.moved.is_set():
        return board
    follower.moved.clear()  # before the read: a move during it sets it again
    fresh = read_board(repo, fresh=False)
    return board if fresh.tip == board.tip else fresh


def _live(repo: Any, board: Any, follower: TipFollower, fetcher: Fetcher | None, remote: str | None,
          require_review: bool) -> None:
    from rich.live import Live

    from gitboard.board.clock import utcnow
    from gitboard.cli.render import console
    from gitboard.cli.watch_view import frame
    from gitboard.overview import Source, teammates

    def draw(now: datetime) -> Any:
        width, height = _size(console)
        source = Source(remote, None if fetcher is None or fetcher.fetched_at is None
                        else time.monotonic() - fetcher.fetched_at, fetcher.error if fetcher else "")
        return frame(board, teammates(repo, board), now, width=width, height=height, source=source,
                     require_review=require_review)

    now = utcnow()
    with Keys() as keys, Live(draw(now), console=console, screen=True, auto_refresh=False,
                              redirect_stdout=False, redirect_stderr=False) as live:
        second = int(now.timestamp())
        while True:
            if "q" in keys.read(KEY_CHECK).lower():
                return
            fresh = _reread(repo, board, follower)
            now = utcnow()
            if fresh is not board or int(now.timestamp()) != second:
                board, second = fresh, int(now.timestamp())
                live.update(draw(now), refresh=True)


def _lines(repo: Any, board: Any, follower: TipFollower, fetcher: Fetcher | None,
           line: Callable[[Any, datetime], str]) -> None:
    """Not a terminal (or JSON): ``line(board, now)`` now and once per new board tip, until interrupted."""
    from gitboard.board.clock import utcnow

    sys.stdout.write(line(board, utcnow()) + "\n")
    sys.stdout.flush()
    error = ""
    while True:
        follower.moved.wait(1.0)
        fresh = _reread(repo, board, follower)
        if fresh is not board:
            board = fresh
            sys.stdout.write(line(board, utcnow()) + "\n")
            sys.stdout.flush()
        if fetcher and fetcher.error != error:
            error = fetcher.error
            if error:
                sys.stderr.write(f"gitboard: warning: fetch failed: {error}\n")
