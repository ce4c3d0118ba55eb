"""The usage of every run of a task, kept when a reworked task finishes again.

A teammate's result records what its run spent (``usage``, ``cost_usd``, ``models``; see
:mod:`gitboard.board.cost`). A task sent back for rework is worked again, and the next
``done`` or ``fail`` stores a new result. So that the earlier runs still count (in
``gitboard cost``, ``watch``, ``review`` and the team budget), :func:`carry` gives the new
result a ``runs`` list: the accounting of every earlier run, oldest first::

    "runs": [{"owner": str or null, "claimed_at": str or null,
              "usage": {TOKEN_KEYS...}, "cost_usd": float or null, "models": [str]}, ...]

Only runs that recorded tokens or a cost are listed. ``owner`` and ``claimed_at`` name who
did the run and when it was claimed; they are known when the run was sent back by
``reject`` or the merge queue, whose rework record keeps them under ``run`` (see
:func:`run_record`), and null otherwise (a failed run put back by ``task update``).

The list lives inside the result, which ``done`` and ``fail`` may write as they like (see
:mod:`gitboard.board.action_rules`), so no board rule changes and older boards, whose
results have no ``runs``, read as before: one run each. Nothing here reads git or the clock.
"""

from __future__ import annotations

import math
from typing import Any

from gitboard.board.task import Task

#: The token counters a run record keeps (those of :data:`gitboard.board.cost.TOKEN_KEYS`).
TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")

#: The result key holding the earlier runs.
RUNS_KEY = "runs"


def _count(value: Any) -> int:
    return value if type(value) is int and value >= 0 else 0


def _cost(value: Any) -> float | None:
    if (type(value) is float or type(value) is int) and value >= 0 and math.isfinite(value):
        return float(value)
    return None


def accounting(result: Any) -> dict[str, Any] | None:
    """``{"usage", "cost_usd", "models"}`` of one run's result (a dict), or None when it records
    no tokens and no cost. Malformed values count as missing."""
    if type(result) is not dict:
        return None
    usage = result.get("usage")
    counts = {k: _count(usage.get(k)) for k in TOKEN_KEYS} if type(usage) is dict else dict.fromkeys(TOKEN_KEYS, 0)
    cost = _cost(result.get("cost_usd"))
    if cost is None and not any(counts.values()):
        return None
    models = result.get("models")
    names = list(dict.fromkeys(m for m in models if isinstance(m, str) and m)) if isinstance(models, list) else []
    return {"usage": counts, "cost_usd": cost, "models": names}


def run_record(task: Task) -> dict[str, Any] | None:
    """The accounting of ``task``'s current run with its owner and claim time, for a rework
    record (``run``): None when its result records no tokens and no cost."""
    spent = accounting(task.result)
    if spent is None:
        return None
    return {"owner": task.owner or None, "claimed_at": task.claimed_at, **spent}


def earlier(result: Any) -> list[dict[str, Any]]:
    """The well-formed run records of a result's ``runs`` list (oldest first), each normalised
    to ``{"owner", "claimed_at", "usage", "cost_usd", "models"}``; [] for none."""
    runs = result.get(RUNS_KEY) if type(result) is dict else None
    out = []
    for r in runs if isinstance(runs, list) else ():
        spent = accounting(r)
        if spent is not None:
            owner, claimed = r.get("owner"), r.get("claimed_at")
            out.append({"owner": owner if isinstance(owner, str) and owner else None,
                        "claimed_at": claimed if isinstance(claimed, str) else None, **spent})
    return out


def carry(task: Task, result: Any) -> Any:
    """``result`` for a ``done``/``fail`` of ``task``, with the runs before it kept: the old
    result's ``runs`` and the old result's own accounting appended to ``result``'s ``runs``.

    The old run's owner and claim time come from the last rework record's ``run`` when it
    describes that result (same usage and cost), else they are null. A result that is not a
    dict is kept as ``{"value": result}`` when there are runs to carry (``None`` as ``{}``).
    Without earlier runs ``result`` is returned unchanged.
    """
    old = task.result
    runs = earlier(old)
    spent = accounting(old)
    if spent is not None:
        last = task.rework[-1].get("run") if task.rework and isinstance(task.rework[-1], dict) else None
        same = isinstance(last, dict) and accounting(last) == spent
        runs.append({"owner": last.get("owner") if same else None,
                     "claimed_at": last.get("claimed_at") if same else None, **spent})
    if not runs:
        return result
    new = dict(result) if isinstance(result, dict) else ({} if result is None else {"value": result})
    new[RUNS_KEY] = runs
    return new
