"""``gitboard team``: show the roster; ``team add`` and ``team remove`` edit it."""

from __future__ import annotations

from functools import partial
from typing import Optional

import typer

from gitboard.board import roster_ops
from gitboard.board.roster import CONFIG_PATH
from gitboard.cli.common import AS_OPT, JSON_OPT, OFFLINE_OPT, actor_name, board_client, emit, open_repo, warn

app = typer.Typer(help="The team roster: show it (no subcommand), add or remove members.",
                  invoke_without_command=True, no_args_is_help=False)


@app.callback(invoke_without_command=True)
def show(ctx: typer.Context, offline: bool = OFFLINE_OPT, json_: bool = JSON_OPT) -> None:
    """Show the roster (with --json, config.json's object; a member whose process on this host is gone shows
    status dead, and each member gets "worktree": the directory it works in in this clone, or null)."""
    if ctx.invoked_subcommand is not None:
        return
    from gitboard.board.inbox_ops import peek
    from gitboard.proc import this_host
    from gitboard.store.read import read_board
    from gitboard.runtime.process import roster_json
    from gitboard.runtime.worktree import member_worktree

    with open_repo(offline) as repo:
        board = read_board(repo)
        doc = roster_json(repo, board)
        here = this_host()
        worktrees = {m.name: member_worktree(repo, m.name, m.task) if m.host in (here, None, "") else None
                     for m in board.team.members}
    if CONFIG_PATH in board.corrupt:
        warn(f"{CONFIG_PATH} is corrupt: {board.corrupt[CONFIG_PATH]}")
    for d in doc["members"]:
        found = worktrees.get(d["name"])
        d["worktree"] = str(found) if found is not None else None

    def human() -> None:
        from gitboard.cli import team_render

        counts = {m.name: len(peek(board, m.name)) for m in board.team.members}
        team_render.show(team_render.roster_table(doc, counts))
        team_render.worktree_lines(doc)

    emit(json_, doc, human)


@app.command("add")
def add(
    name: str = typer.Argument(..., help=r"Member name (\[a-z]\[a-z0-9_-]{0,31})."),
    role: Optional[str] = typer.Option(None, "--role", help="The member's role (tasks with a role go to members with it)."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Register a member (status idle). Adding an existing member sets its role, or brings it back from shutdown."""
    op = partial(roster_ops.add_member, actor=actor_name(as_), name=name, role=role)
    with open_repo() as repo:
        member = board_client().apply(op, repo=repo)

    def human() -> None:
        from gitboard.cli import team_render

        team_render.line(f"member {member.name}" + (f" ({member.role})" if member.role else "") + f": {member.status}")

    emit(json_, member.to_json(), human)


@app.command("remove")
def remove(
    name: str = typer.Argument(..., help="Member to take off the roster."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Take a member off the roster (exit 4 if it is not on it). Its unread messages stay in its inbox."""
    op = partial(roster_ops.remove_member, actor=actor_name(as_), name=name)
    with open_repo() as repo:
        member = board_client().apply(op, repo=repo)

    def human() -> None:
        from gitboard.cli import team_render

        team_render.line(f"removed {member.name} from the roster")

    emit(json_, member.to_json(), human)
