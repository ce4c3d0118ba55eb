"""``gitboard merge``: the merge queue (see :mod:`gitboard.merge_queue.queue`)."""

from __future__ import annotations

import signal
import sys
import threading
from typing import List, Optional

import typer

from gitboard.board.text import safe
from gitboard.cli.common import AS_OPT, JSON_OPT, GLOBALS, actor_name, emit


def merge(
    task_ids: Optional[List[int]] = typer.Argument(None, metavar="[ID]...", help="Tasks to merge (default: every candidate).", min=1),
    check: Optional[str] = typer.Option(None, "--check", metavar="CMD", help="Shell command run on each merge commit before the base moves (default: git config gitboard.check)."),
    check_timeout: Optional[float] = typer.Option(None, "--check-timeout", metavar="SECONDS", help="Seconds the check may run (default: git config gitboard.checkTimeout, else 600).", min=0.001),
    follow: bool = typer.Option(False, "--follow", help="Keep running and merge tasks as they become candidates; stop with Ctrl-C or SIGTERM."),
    poll: float = typer.Option(2.0, "--poll", metavar="S", help="With --follow: seconds between passes.", min=0.01),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> int:
    r"""Merge approved tasks into the base branch, one at a time, blockers first.

    Each merge is computed with git merge-tree, checked in a temporary worktree of the
    exact merge commit, and lands with the task's "merged" board commit atomically. A
    conflict or a failed check sends the task back for rework. With git config
    gitboard.review none every completed task is a candidate. Exit 0 whatever went to
    rework; 3 for a named task that is not completed or approved, or a checked-out base
    with uncommitted changes to files a merge touches; 4 for an unknown id; 1 when the
    remote is unreachable. A task whose branch moved on since it was approved is not
    merged (approve it again); nor is one without a task/<id> branch (nothing to merge: it
    stays completed). Completed tasks that wait for approval are named. --json prints
    {"merged": \[id], "rework": \[{"id", "reason", "paths"}], "waiting": \[id], "stale":
    \[{"id", "approved", "tip"}], "unapproved": \[id], "no_branch": \[id]}.
    """
    from gitboard.merge_queue.queue import Refinery

    actor = actor_name(as_)
    stop = threading.Event()
    log = (lambda s: None) if json_ else (lambda s: (sys.stdout.write(safe(s) + "\n"), sys.stdout.flush()))
    refinery = Refinery(GLOBALS.repo_dir, actor=actor, check=check, check_timeout=check_timeout, log=log, stop=stop)
    previous = {}
    signals: list[int] = []
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C or SIGTERM stops the queue between steps: a landing in flight finishes, a running
        # check is ended (its candidate stays where it was), nothing is left half-moved
        def on_signal(signum: int, _frame: object) -> None:
            signals.append(signum)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        run = refinery.run(task_ids or None, follow=follow, poll=poll)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def human() -> None:
        parts = [f"merged {len(run.merged)}"]
        if run.rework:
            parts.append(f"rework {len(run.rework)}")
        if run.waiting:
            parts.append(f"waiting {len(run.waiting)}")
        if run.stale:
            parts.append(f"not merged (approve again) {len(run.stale)}")
        if run.no_branch:
            parts.append(f"no branch (nothing to merge) {len(run.no_branch)}")
        sys.stdout.write(", ".join(parts) + "\n")
        if run.unapproved:
            ids = " ".join(f"#{i}" for i in run.unapproved)
            n = len(run.unapproved)
            sys.stdout.write(f"{n} completed task{'s wait' if n != 1 else ' waits'} for approval: {ids} "
                             f"(gitboard review ID, then gitboard approve ID)\n")

    emit(json_, run.to_json(), human)
    if signals and not follow:
        sys.stderr.write("gitboard: error: interrupted; the queue stopped between merges\n")
        return 130
    return 0
