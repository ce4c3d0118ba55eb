"""``gitboard init``, ``log`` and ``sync``."""

from __future__ import annotations

import os
from typing import Optional

import typer

from gitboard.cli.common import AS_OPT, JSON_OPT, OFFLINE_OPT, actor_name, emit, open_repo


def init(
    remote: Optional[str] = typer.Option(None, "--remote", metavar="NAME", help="Share the board through this git remote (sets gitboard.remote)."),
    branch: Optional[str] = typer.Option(None, "--branch", metavar="NAME", help="Board branch (sets gitboard.branch; default gitboard)."),
    team: Optional[str] = typer.Option(None, "--team", metavar="NAME", help="Team name (default: the repository's directory name)."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Create the board branch. Idempotent; against a remote that has a board, adopts it.

    Without --remote, a clone whose remote already has a board is refused (exit 3): run
    init --remote NAME to use that board. --json prints {"team_name", "branch", "remote",
    "tip", "created", "adopted"}.
    """
    from gitboard.store.setup import init as init_board

    actor = actor_name(as_)
    with open_repo() as repo:
        name = team or os.path.basename(os.path.abspath(repo.work_dir or repo.git_dir).removesuffix(".git")) or "team"
        # had this clone the board before? (git checks the name; init refuses a bad one)
        had_board = repo.resolve(f"refs/heads/{branch or repo.branch}") is not None
        result, created = init_board(repo, actor=actor, team_name=name, remote=remote, branch=branch)
        adopted = not created and not had_board  # the remote's board, new in this clone
        doc = {"team_name": result.team_name, "branch": repo.branch, "remote": repo.remote,
               "tip": repo.tip(), "created": created, "adopted": adopted}

    def human() -> None:
        from gitboard.cli import render

        where = f" shared through {doc['remote']}" if doc["remote"] else ""
        if adopted:
            render.line(f"adopted {doc['remote']}'s board {doc['team_name']!r} on branch {doc['branch']}")
            return
        verb = "created" if created else "already set up:"
        render.line(f"{verb} board {doc['team_name']!r} on branch {doc['branch']}{where}")

    emit(json_, doc, human)


def log(
    task: Optional[int] = typer.Option(None, "--task", metavar="ID", help="Only commits about this task."),
    actor: Optional[str] = typer.Option(None, "--actor", metavar="NAME", help="Only commits by this actor."),
    action: Optional[str] = typer.Option(None, "--action", metavar="A", help="Only this action: add, import, claim, release, renew, done, fail, update, ..."),
    n: Optional[int] = typer.Option(None, "-n", metavar="N", help="At most N entries.", min=1),
    offline: bool = OFFLINE_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Show the board history, newest first, read from commit trailers."""
    from gitboard.store.history import history
    from gitboard.store.read import current_tip

    with open_repo(offline) as repo:
        entries = history(repo, current_tip(repo), task=task, actor=actor, action=action, limit=n)

    def human() -> None:
        from gitboard.cli import render

        render.show(render.history_table(entries))

    emit(json_, entries, human)


def sync(json_: bool = JSON_OPT) -> None:
    """Fetch the board (remote mode) and report its tip."""
    from gitboard.store.read import current_tip

    with open_repo() as repo:
        tip = current_tip(repo)
        doc = {"branch": repo.branch, "remote": repo.remote, "tip": tip}

    def human() -> None:
        from gitboard.cli import render

        src = f" from {doc['remote']}" if doc["remote"] else " (local)"
        render.line(f"board {doc['branch']} at {tip[:12]}{src}")

    emit(json_, doc, human)
