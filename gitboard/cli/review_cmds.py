"""``gitboard review``, ``gitboard approve`` and ``gitboard reject``: the lead judges completed work."""

from __future__ import annotations

import sys
from functools import partial
from typing import Any, Optional

import typer

from gitboard.board.errors import BoardError, Invalid
from gitboard.cli.common import AS_OPT, JSON_OPT, OFFLINE_OPT, actor_name, board_client, emit, open_repo

ID_ARG = typer.Argument(..., metavar="ID", help="Task id.", min=1)
#: review's and approve's ID: without it they list what waits for review
WAITING_ID_ARG = typer.Argument(None, metavar="[ID]", help="Task id (none: list the tasks waiting for review).",
                                min=1, show_default=False)


def _waiting(offline: bool, json_: bool) -> list:
    """Print the completed tasks waiting for review (a table, or with ``json_`` an array of task
    objects) as the lead REPL's /review does; return them."""
    from gitboard.board.clock import utcnow
    from gitboard.board.merge_order import awaiting_approval
    from gitboard.cli.common import task_array
    from gitboard.store.read import read_board

    with open_repo(offline) as repo:
        board = read_board(repo)
    tasks = awaiting_approval(board)

    def human() -> None:
        from gitboard.cli import render

        if not tasks:
            render.line("no completed tasks waiting for review")
            return
        render.show(render.task_table(board, tasks, utcnow(), title="waiting for review"))
        render.line("gitboard review ID shows one; gitboard approve ID approves it")

    emit(json_, task_array(tasks), human)
    return tasks


def review(
    task_id: Optional[int] = WAITING_ID_ARG,
    patch: bool = typer.Option(False, "--patch", help="Also show the diff (with --json: a \"patch\" key)."),
    offline: bool = OFFLINE_OPT,
    json_: bool = JSON_OPT,
) -> None:
    r"""Show what a task's branch would bring into the base: commits, diffstat, and whether it merges cleanly.

    Read-only; in remote mode it fetches the board, the base and the branch first. A merged
    task shows its merge commit and what that brought in. Without ID: the completed tasks
    waiting for review (--json: an array of task objects). Exit 4 for an unknown id or a
    task without a branch. --json prints {"task", "base": {"branch", "commit"}, "branch":
    {"name", "commit"}, "merge_base", "commits": \[{"commit", "subject"}], "files":
    \[{"path", "added", "deleted"}], "mergeable", "conflicts": \[path], "merged": null or
    {"commit", "base", "subject"}}.
    """
    from gitboard.store.review import review_task

    if task_id is None:
        _waiting(offline, json_)
        return

    with open_repo(offline) as repo:
        doc = review_task(repo, task_id, patch=patch, fetch=not repo.offline)
    emit(json_, doc, lambda: _render(doc, patch))


def _render(doc: dict[str, Any], patch: bool) -> None:
    from gitboard.board import cost as costs
    from gitboard.board.task import Task
    from gitboard.board.text import safe
    from gitboard.cli import render
    from rich.text import Text

    t = doc["task"]
    result = t.get("result") if isinstance(t.get("result"), dict) else {}
    out = render.console
    out.print(render.plain(f"#{t['id']} {t['subject']}", "bold"))
    rows = [("status", t["status"]), ("owner", t["owner"] or "-")]
    if result.get("summary"):
        rows.append(("summary", str(result["summary"])))
    task = Task.from_json(t)
    usage, spent, n = costs.usage_of(task), costs.cost_of(task), len(costs.runs_of(task))
    runs = f" ({n} runs)" if n > 1 else ""  # a reworked task: every run counts
    if usage is not None:
        rows.append(("usage", ", ".join(f"{k} {v}" for k, v in usage.items() if v) + runs))
        rows.append(("cost", (f"${spent:.4f}" if spent is not None else "unknown") + runs))
    if isinstance(t.get("review"), dict):
        rows.append(("review", f"approved by {t['review'].get('by')}" + (f": {t['review']['note']}" if t["review"].get("note") else "")))
    for rec in t.get("rework") or []:
        rows.append(("rework", f"{rec.get('reason')} by {rec.get('by')} at {rec.get('at')}: {rec.get('feedback')}"))
    rows.append(("branch", f"{doc['branch']['name']} {doc['branch']['commit'][:12]}"))
    merged = doc.get("merged")
    if merged:
        rows.append(("merged", f"into {doc['base']['branch']} at {merged['commit'][:12]} "
                               f"(on {merged['base'][:12]}): {merged['subject']}"))
    else:
        rows.append(("base", f"{doc['base']['branch']} {doc['base']['commit'][:12]}"))
        rows.append(("merge", "clean" if doc["mergeable"] else "CONFLICTS in " + ", ".join(doc["conflicts"])))
    for k, v in rows:
        out.print(Text(f"{k:<9} ") + render.plain(v, multiline=True))
    heading = (f"brought into {doc['base']['branch']} by {merged['commit'][:12]}" if merged
               else f"not on {doc['base']['branch']}")
    out.print(render.plain(f"\n{len(doc['commits'])} commit(s) {heading}:", "bold", multiline=True))
    for c in doc["commits"]:
        out.print(Text(f"  {c['commit'][:12]} ") + render.plain(c["subject"]))
    added = sum(f["added"] or 0 for f in doc["files"])
    deleted = sum(f["deleted"] or 0 for f in doc["files"])
    out.print(Text(f"\n{len(doc['files'])} file(s) changed, +{added} -{deleted}:", style="bold"))
    for f in doc["files"]:
        counts = "binary" if f["added"] is None else f"+{f['added']} -{f['deleted']}"
        out.print(Text(f"  {counts:>12}  ") + render.plain(f["path"]))
    if patch:
        sys.stdout.write("\n" + safe(doc.get("patch", ""), multiline=True))


def approve(
    task_id: Optional[int] = WAITING_ID_ARG,
    note: Optional[str] = typer.Option(None, "--note", metavar="TEXT", help="Kept in the task's review."),
    commit: Optional[str] = typer.Option(None, "--commit", metavar="REV",
                                         help="The commit of task/<id> you approve (default: its tip)."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Approve a completed task for the merge queue (the lead only): one board commit.

    The approval names the commit of task/<id> it approves (its tip, fetched first in remote
    mode, or --commit): the queue merges exactly that commit, and waits for a new approval
    if the branch moves on. Exit 2 for a --commit not on the branch; 3 if the task is not
    completed or you are not the lead; 4 for an unknown id or a task without a branch
    (nothing to merge). --json prints the task. Without ID: lists the tasks waiting for
    review (not with --json) and exits 2.
    """
    from gitboard.cli import render
    from gitboard.store.review import approve_task

    if task_id is None:
        if json_:  # one JSON document: the error's
            raise Invalid("give the ID of a task to approve ('gitboard review --json' lists those waiting)")
        if not _waiting(False, False):
            raise Invalid("give the ID of a completed task to approve; none waits for review")
        raise Invalid("give the ID of a task to approve (those waiting for review are listed above)")

    with open_repo() as repo:
        task = approve_task(repo, actor_name(as_), task_id, note=note, rev=commit, fetch=not repo.offline)
    at = task.review.get("commit") if isinstance(task.review, dict) else None
    emit(json_, task.to_json(),
         lambda: render.line(f"approved #{task.id}" + (f" at {at[:12]}" if at else "") + f": {task.subject}"))


def reject(
    task_id: int = ID_ARG,
    feedback: str = typer.Option(..., "--feedback", metavar="TEXT", help="What to change; goes to the next claimer."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Send a completed task back for rework (the lead only): pending, unowned, branch kept,
    a rework record with your feedback appended. One board commit.

    Exit 2 without --feedback; 3 if the task is not completed or you are not the lead; 4 for an unknown id.
    --json prints the task.
    """
    from gitboard.board import review_ops
    from gitboard.cli import render
    from gitboard.store.merge import base_branch, fetch_branch

    actor = actor_name(as_)
    with open_repo() as repo:
        try:
            base = fetch_branch(repo, base_branch(repo))
        except BoardError:  # the base is context for the record, not a condition of the verdict
            base = None
        task = board_client().apply(partial(review_ops.reject, actor=actor, task_id=task_id, feedback=feedback, base=base), repo=repo)
    emit(json_, task.to_json(), lambda: render.line(f"rejected #{task.id}, back for rework: {task.subject}"))
