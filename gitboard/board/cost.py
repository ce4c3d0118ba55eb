"""What the board's tasks cost: a pure summation of the usage and cost their results record.

A task's result (written by the teammate that worked on it; see the shared result
keys in docs/reference/json.md) may carry::

    "usage": {"input_tokens": int, "output_tokens": int,
              "cache_read_input_tokens": int, "cache_creation_input_tokens": int},
    "cost_usd": float or null,      # USD; null when nobody priced the run
    "models": [str]                 # the models the run called

A reworked task was worked more than once: its result's ``runs`` lists what the earlier
runs spent (see :mod:`gitboard.board.runs`), and every run counts. A task's usage is the
sum over its runs; its cost is the sum of its runs' costs, unknown when a run that counts
has none. Grouped by teammate, model or day, each run goes to its own group (its owner,
models, claim day), and a task counts once in each group one of its runs is in.

A task *counts* when its result records some tokens or a cost: a ``usage``
object with a token count above 0, or a ``cost_usd`` number. (A shell or exec
teammate records zero tokens and no cost: nothing is known of what its command
spent, so it does not count.) Its tokens always add up. Its cost is *known* only
when ``cost_usd`` is a number: a task with tokens and no cost is *unpriced*, and
its cost is unknown -- never taken as 0. A group whose tasks are all unpriced
has an unknown cost (``None``); one with some priced tasks has the sum of those,
and says how many were left out. Malformed values (a string for a token count,
a negative cost) count as missing. Nothing here reads git or the clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from gitboard.board.runs import RUNS_KEY, earlier
from gitboard.board.snapshot import Board
from gitboard.board.task import Task

#: The token counters of a Messages API ``usage`` object that a result records, in order.
TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")

#: The groupings of ``gitboard cost --by``.
GROUPINGS = ("task", "teammate", "model", "day")

#: The key of tasks with no owner, no recorded model or no date, in the groupings that need one.
NONE_KEY = "-"


def _count(value: Any) -> int:
    """A token count: a non-negative JSON integer (not a bool), else 0."""
    return value if type(value) is int and value >= 0 else 0


def _cost(result: dict) -> float | None:
    value = result.get("cost_usd")
    if type(value) is float or type(value) is int:
        return float(value) if value >= 0 and math.isfinite(value) else None
    return None


def _own(task: Task) -> tuple[dict[str, int], float | None] | None:
    """``(usage, cost)`` the result records of the task's last run, or None when it records
    no tokens and no cost."""
    result = task.result
    if type(result) is not dict:
        return None
    usage = result.get("usage")
    if type(usage) is dict:
        get = usage.get
        counts = {k: _count(get(k)) for k in TOKEN_KEYS}
    else:
        counts = dict.fromkeys(TOKEN_KEYS, 0)
    cost = _cost(result)
    if cost is None and not any(counts.values()):
        return None
    return counts, cost


@dataclass(frozen=True)
class Run:
    """What one run of a task spent: ``owner`` ("" unknown), ``models``, ``day`` (``YYYY-MM-DD``
    of its claim, or :data:`NONE_KEY`), ``usage`` (tokens per :data:`TOKEN_KEYS`), ``cost``
    (USD, None unknown)."""

    owner: str
    models: tuple[str, ...]
    day: str
    usage: dict[str, int]
    cost: float | None


def runs_of(task: Task) -> list[Run]:
    """Every run of ``task`` that counts, oldest first: the earlier runs its result keeps
    (:func:`gitboard.board.runs.earlier`), then the last run (the result's own record)."""
    if type(task.result) is not dict:
        return []
    out = [Run(r["owner"] or "", tuple(r["models"]), _stamp_day(r["claimed_at"]), r["usage"], r["cost_usd"])
           for r in earlier(task.result)]
    own = _own(task)
    if own is not None:
        out.append(Run(task.owner, _own_models(task), _day(task), own[0], own[1]))
    return out


def _merge(runs: Iterable[Run]) -> tuple[dict[str, int], float | None] | None:
    """The summed ``(usage, cost)`` of runs (cost None if any has none), or None for no runs."""
    usage = dict.fromkeys(TOKEN_KEYS, 0)
    cost: float | None = 0.0
    n = 0
    for r in runs:
        n += 1
        for k in TOKEN_KEYS:
            usage[k] += r.usage[k]
        cost = None if cost is None or r.cost is None else cost + r.cost
    return (usage, cost) if n else None


def _record(task: Task) -> tuple[dict[str, int], float | None] | None:
    """``(usage, cost)`` of a task that counts, summed over its runs (see the module docstring), else None."""
    if type(task.result) is not dict:
        return None
    if RUNS_KEY not in task.result:  # one run: the common case, without building Run records
        return _own(task)
    return _merge(runs_of(task))


def usage_of(task: Task) -> dict[str, int] | None:
    """The tokens a task's runs record, summed, one int per :data:`TOKEN_KEYS` (missing ones 0),
    or None when the task does not count (see the module docstring)."""
    record = _record(task)
    return None if record is None else record[0]


def cost_of(task: Task) -> float | None:
    """The cost in USD a task's runs record (``cost_usd``), summed; None when a run that counts
    records none, or none does."""
    record = _record(task)
    return None if record is None else record[1]


def _own_models(task: Task) -> tuple[str, ...]:
    """The models the result of a task's last run names (``models``: a list of str), in order, without repeats."""
    result = task.result
    models = result.get("models") if isinstance(result, dict) else None
    if not isinstance(models, list):
        return ()
    return tuple(dict.fromkeys(m for m in models if isinstance(m, str) and m))


def models_of(task: Task) -> tuple[str, ...]:
    """The models a task's runs called (its result's ``models``, and those of the earlier runs
    it keeps), in order, without repeats."""
    own = _own_models(task)
    if type(task.result) is not dict or RUNS_KEY not in task.result:
        return own
    return tuple(dict.fromkeys([m for r in earlier(task.result) for m in r["models"]] + list(own)))


@dataclass
class Sum:
    """The usage and cost of a group of counted tasks.

    Attributes:
        key: the group's key (a task id, teammate name, model, ``YYYY-MM-DD`` day; "" for the total).
        tasks: counted tasks in the group.
        priced: of those, tasks with a known cost.
        cost_usd: the sum of the known costs (USD), or None if no task in the group is priced.
        usage: tokens per :data:`TOKEN_KEYS`, summed over every counted task.
    """

    key: Any = ""
    tasks: int = 0
    priced: int = 0
    cost_usd: float | None = None
    usage: dict[str, int] = field(default_factory=lambda: {k: 0 for k in TOKEN_KEYS})

    @property
    def unpriced(self) -> int:
        """Counted tasks whose cost is unknown."""
        return self.tasks - self.priced

    @property
    def tokens(self) -> int:
        """All tokens of :attr:`usage`: input, output, cache read and cache write."""
        return sum(self.usage.values())

    def add(self, usage: dict[str, int], cost: float | None) -> None:
        """Count one task with these tokens and this cost (None: unknown)."""
        self.tasks += 1
        for k in TOKEN_KEYS:
            self.usage[k] += usage[k]
        if cost is not None:
            self.priced += 1
            self.cost_usd = (self.cost_usd or 0.0) + cost

    def to_json(self) -> dict:
        """``{"key", "tasks", "priced", "unpriced", "cost_usd" (USD, 6 decimals, or null),
        "tokens", "usage": {TOKEN_KEYS...}}``."""
        return {"key": self.key, "tasks": self.tasks, "priced": self.priced, "unpriced": self.unpriced,
                "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
                "tokens": self.tokens, "usage": dict(self.usage)}


def counted(board: Board) -> Iterable[tuple[Task, dict[str, int], float | None]]:
    """``(task, usage, cost)`` for every task that counts, in id order."""
    tasks = board.tasks
    for tid in sorted(tasks):
        task = tasks[tid]
        record = _record(task)
        if record is not None:
            yield task, record[0], record[1]


def _stamp_day(stamp: str | None) -> str:
    return stamp[:10] if stamp and len(stamp) >= 10 else NONE_KEY


def _day(task: Task) -> str:
    return _stamp_day(task.claimed_at or task.updated_at)


#: grouping -> the key of one run of a task (``task``: every run of a task goes to its id)
_KEYS: dict[str, Callable[[Task, Run], Any]] = {
    "task": lambda t, r: t.id,
    "teammate": lambda t, r: r.owner or NONE_KEY,
    "model": lambda t, r: ", ".join(r.models) or NONE_KEY,
    "day": lambda t, r: r.day,
}


def total(board: Board) -> Sum:
    """The usage and cost of every task that counts on ``board``."""
    out = Sum()
    for _, usage, cost in counted(board):
        out.add(usage, cost)
    return out


def summarise(board: Board, by: str = "task") -> tuple[Sum, list[Sum]]:
    """The total and one :class:`Sum` per group, groups in key order.

    Groups: ``task`` (key: the id), ``teammate`` (the task's owner), ``model``
    (the result's models joined with ", ", so a task that called two models is
    one group and no cost is counted twice), ``day`` (the UTC day the work was
    claimed, ``YYYY-MM-DD``; the day it was last updated when never claimed).
    A task with no owner, model or date goes to the group :data:`NONE_KEY`.

    Raises:
        ValueError: ``by`` is not one of :data:`GROUPINGS`.
    """
    if by not in _KEYS:
        raise ValueError(f"cannot group by {by!r}: use one of {', '.join(GROUPINGS)}")
    key_of = _KEYS[by]
    whole = Sum()
    groups: dict[Any, Sum] = {}

    def add(key: Any, usage: dict[str, int], cost: float | None) -> None:
        group = groups.get(key)
        if group is None:
            group = groups[key] = Sum(key=key)
        group.add(usage, cost)

    for task, usage, cost in counted(board):
        whole.add(usage, cost)
        if by == "task" or RUNS_KEY not in task.result:  # one group for the whole task
            add(key_of(task, Run(task.owner, _own_models(task), _day(task), usage, cost)), usage, cost)
            continue
        by_key: dict[Any, list[Run]] = {}
        for run in runs_of(task):
            by_key.setdefault(key_of(task, run), []).append(run)
        for key, runs in by_key.items():
            merged = _merge(runs)
            if merged is not None:
                add(key, *merged)
    return whole, [groups[k] for k in sorted(groups, key=lambda k: (k == NONE_KEY, k))]


def lead_total(meters: Iterable[Any]) -> Sum:
    """The usage and cost of the lead's saved conversations (each a session's ``meter``, see
    :mod:`gitboard.lead.saved`): one counted item per session with tokens or cost. A
    session with responses no price was known for has an unknown cost (not its priced part
    alone, and never 0); malformed values count as missing."""
    out = Sum(key="lead")
    for meter in meters:
        if type(meter) is not dict:
            continue
        usage = meter.get("usage") if type(meter.get("usage")) is dict else {}
        tokens = {k: _count(usage.get(k)) for k in TOKEN_KEYS}
        priced = meter.get("priced_usd")
        cost = float(priced) if type(priced) in (int, float) and priced >= 0 and math.isfinite(priced) else None
        if _count(meter.get("unpriced_responses")):
            cost = None
        if sum(tokens.values()) or cost:
            out.add(tokens, cost)
    return out

