"""What the web board's pages show, gathered as plain data for the templates.

Every read goes through the server's :class:`~gitboard.client.BoardClient` at the local
board tip (``fresh=False``: in remote mode the server's fetcher keeps the local copy
current on its own clock); the team and cost views reuse :mod:`gitboard.overview` and
:mod:`gitboard.board.cost`, as ``gitboard watch`` and ``gitboard cost`` do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gitboard.board import cost as costs
from gitboard.board.errors import BoardError
from gitboard.client import BoardClient


def team(client: BoardClient) -> dict[str, Any]:
    """The team page's data::

        {"tip": str, "team_name": str, "members": [{"name", "role", "status", "task", "host",
         "last_line", "cost", "tokens", "tasks"}], "plans": [Request], "lead_cost": Sum}

    ``status`` is ``dead`` for a member registered on this host whose process is gone
    (:func:`gitboard.overview.teammates`); ``cost`` the USD its tasks' results record
    (None: unknown), ``tasks`` how many tasks count toward it.
    """
    from gitboard.overview import teammates
    from gitboard.words import usd

    with client.open() as repo:
        board = client.board(repo=repo, fresh=False)
        mates = {m.name: m for m in teammates(repo, board)}
        lead = _lead_total(repo)
    _, groups = costs.summarise(board, "teammate")
    spent = {g.key: g for g in groups}
    members = []
    for m in board.team.members:
        mate = mates.get(m.name)
        g = spent.get(m.name)
        members.append({"name": m.name, "role": m.role, "status": mate.status if mate else m.status,
                        "task": m.task, "host": m.host, "last_line": mate.last_line if mate else "",
                        "cost": usd(g.cost_usd, g.unpriced) if g else "-",
                        "tokens": g.tokens if g else 0, "tasks": g.tasks if g else 0})
    plans = [r for r in _requests(board) if not r.answered]
    return {"tip": board.tip, "team_name": board.team.team_name, "members": members, "plans": plans,
            "lead_cost": lead}


def _requests(board: Any) -> list:
    from gitboard.board.request import PLAN, requests_of

    return list(requests_of(board, PLAN))


def _lead_total(repo: Any) -> Any:
    """The model-driven lead's own usage and cost in this clone (``gitboard cost``'s ``lead``)."""
    import os

    from gitboard.lead.saved import saved_meters

    return costs.lead_total(saved_meters(os.path.join(repo.common_dir, "gitboard")))


def cost(client: BoardClient) -> dict[str, Any]:
    """The cost page's data: ``{"tip", "total": Sum, "lead": Sum, "by": {"teammate" | "model" |
    "task" | "day": [Sum]}, "subjects": {task id: subject}}``; ``task`` groups are the 100
    most expensive (cost, then tokens), the others sorted by key."""
    with client.open() as repo:
        board = client.board(repo=repo, fresh=False)
        lead = _lead_total(repo)
    whole, _ = costs.summarise(board, "task")
    by = {}
    for grouping in ("teammate", "model", "day", "task"):
        by[grouping] = costs.summarise(board, grouping)[1]
    by["task"] = sorted(by["task"], key=lambda g: (-(g.cost_usd or 0.0), -g.tokens))[:100]
    subjects = {g.key: board.tasks[g.key].subject for g in by["task"] if g.key in board.tasks}
    return {"tip": board.tip, "total": whole, "lead": lead, "by": by, "subjects": subjects}


def task(client: BoardClient, task_id: int) -> dict[str, Any]:
    """The task page's data::

        {"tip", "task": Task, "state": str, "review": review document or None,
         "review_error": str, "diff": highlighted HTML or "", "history": [log entries],
         "usage": {token key: int} or None, "cost": str, "models": [str], "check": dict or None}

    ``review`` is ``gitboard review --json``'s document with the patch (None when the task
    has no branch; ``review_error`` says why, as gitboard's one line).

    Raises:
        NotFound: no such task.
    """
    from gitboard.board.clock import utcnow
    from gitboard.overview import task_cost, view_state
    from gitboard.web.highlight import diff_html

    with client.open() as repo:
        board = client.board(repo=repo, fresh=False)
        t = board.task(task_id)
        review, why = None, ""
        if t.status in ("completed", "merged", "failed") or t.rework or t.status == "in_progress":
            try:
                review = client.review(task_id, patch=True, repo=repo)
            except BoardError as e:
                why = e.message
        history = client.history(task_id=task_id, limit=200, repo=repo)
    result = t.result if isinstance(t.result, dict) else {}
    merge = result.get("merge") if isinstance(result.get("merge"), dict) else None
    return {"tip": board.tip, "task": t, "state": view_state(board, t, utcnow()), "review": review,
            "review_error": why, "diff": diff_html(review.get("patch", "")) if review else "",
            "history": history, "usage": costs.usage_of(t), "cost": task_cost(t),
            "models": list(costs.models_of(t)), "check": merge.get("check") if merge else None,
            "merge": merge, "result": result}


def when(iso: str | None, now: datetime) -> str:
    """``3m ago`` / ``in 5m`` for an ISO-8601 UTC time ("" for none or an unreadable one)."""
    from gitboard.board.clock import parse_iso

    if not iso:
        return ""
    try:
        s = int((parse_iso(iso) - now).total_seconds())
    except ValueError:
        return ""
    ago, s = s < 0, abs(s)
    text = f"{s}s" if s < 60 else f"{s // 60}m" if s < 3600 else f"{s // 3600}h" if s < 86400 else f"{s // 86400}d"
    return f"{text} ago" if ago else f"in {text}"


__all__ = ["team", "cost", "task", "when"]
