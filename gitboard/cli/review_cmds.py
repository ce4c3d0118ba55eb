"""``gitboard review``, ``gitboard approve`` and ``gitboard reject``: the lead judges completed work."""

from __future__ import annotations

import sys
from functools import partial
from typing import Any, Optional

import typer

from gitboard.board.errors import BoardError
from gitboard.cli.common import AS_OPT, JSON_OPT, OFFLINE_OPT, actor_name, emit, open_repo

ID_ARG = typer.Argument(..., metavar="ID", help="Task id.", min=1)


def review(
    task_id: int = ID_ARG,
    patch: bool = typer.Option(False, "--patch", help="Also show the diff (with --json: a \"patch\" key)."),
    offline: bool = OFFLINE_OPT,
    json_: bool = JSON_OPT,
) -> None:
    r"""Show what a task's branch would bring into the base: commits, diffstat, and whether it merges cleanly.

    Read-only; in remote mode it fetches the board, the base and the branch first.
    --json prints {"task", "base": {"branch", "commit"}, "branch": {"name", "commit"},
    "merge_base", "commits": \[{"commit", "subject"}], "files": \[{"path", "added", "deleted"}],
    "mergeable", "conflicts": \[path]}.
    """
    from gitboard.store.review import review_task

    with open_repo(offline) as repo:
        doc = review_task(repo, task_id, patch=patch, fetch=not repo.offline)
    emit(json_, doc, lambda: _render(doc, patch))


def _render(doc: dict[str, Any], patch: bool) -> None:
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
    usage = result.get("usage")
    if isinstance(usage, dict):
        rows.append(("usage", ", ".join(f"{k} {v}" for k, v in usage.items() if v)))
    if result.get("cost_usd") is not None:
        rows.append(("cost", f"${result['cost_usd']:.4f}"))
    if isinstance(t.get("review"), dict):
        rows.append(("review", f"approved by {t['review'].get('by')}" + (f": {t['review']['note']}" if t["review"].get("note") else "")))
    for rec in t.get("rework") or []:
        rows.append(("rework", f"{rec.get('reason')} by {rec.get('by')} at {rec.get('at')}: {rec.get('feedback')}"))
    rows.append(("branch", f"{doc['branch']['name']} {doc['branch']['commit'][:12]}"))
    rows.append(("base", f"{doc['base']['branch']} {doc['base']['commit'][:12]}"))
    rows.append(("merge", "clean" if doc["mergeable"] else "CONFLICTS in " + ", ".join(doc["conflicts"])))
    for k, v in rows:
        out.print(Text(f"{k:<9} ") + render.plain(v, multiline=True))
    out.print(Text(f"\n{len(doc['commits'])} commit(s) not on ", style="bold") + render.plain(doc['base']['branch'], "bold")
              + Text(":", style="bold"))
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


def _transact(op):
    from gitboard.store.transact import transact

    with open_repo() as repo:
        return transact(repo, op)


def approve(
    task_id: int = ID_ARG,
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
    completed or you are not the lead; 4 for an unknown id. --json prints the task.
    """
    from gitboard.cli import render
    from gitboard.store.review import approve_task

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
        from gitboard.store.transact import transact

        try:
            base = fetch_branch(repo, base_branch(repo))
        except BoardError:  # the base is context for the record, not a condition of the verdict
            base = None
        task = transact(repo, partial(review_ops.reject, actor=actor, task_id=task_id, feedback=feedback, base=base))
    emit(json_, task.to_json(), lambda: render.line(f"rejected #{task.id}, back for rework: {task.subject}"))
