"""A read-only snapshot of the board at one tip, built from its parsed files.

The store lists the board tree and parses every JSON file; :func:`build` turns
that mapping into a :class:`Board`. A file that does not parse is recorded in
``Board.corrupt`` instead of failing the whole read, so reads that do not need
it still work and ``task list`` can name it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from gitboard.board.errors import BoardError, Corrupt, NotFound
from gitboard.board.task import DONE, IN_PROGRESS, PENDING, TASKS_DIR, Task
from gitboard.board.team import CONFIG_PATH, Team

_TASK_FILE = re.compile(re.escape(TASKS_DIR) + r"/task_([1-9][0-9]*)\.json")


def is_task_file(path: str) -> bool:
    """True if ``path`` is a task file's board path, ``.tasks/task_<id>.json``."""
    return _TASK_FILE.fullmatch(path) is not None


class ParseError:
    """Marker for a board file that is not valid JSON; ``message`` says why."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


@dataclass(frozen=True)
class Board:
    """The board at ``tip`` (a commit id, or None for an empty board).

    Attributes:
        tasks: id -> Task, for every task file that parsed.
        team: the roster from ``.team/config.json``.
        docs: every other parsed board file, path -> JSON value (inboxes, requests).
        corrupt: path -> reason, for files that did not parse or validate.
    """

    tip: str | None
    tasks: Mapping[int, Task]
    team: Team
    docs: Mapping[str, Any] = field(default_factory=dict)
    corrupt: Mapping[str, str] = field(default_factory=dict)

    def task(self, task_id: int) -> Task:
        """Return task ``task_id``.

        Raises:
            NotFound: if there is no such task.
            Corrupt: if its file exists but is corrupt.
        """
        t = self.tasks.get(task_id)
        if t is None:
            path = f"{TASKS_DIR}/task_{task_id}.json"
            if path in self.corrupt:
                raise Corrupt(f"task #{task_id}: {path} is corrupt: {self.corrupt[path]}")
            raise NotFound(f"no task #{task_id}")
        return t

    def max_id(self) -> int:
        """Highest task id on the board, counting corrupt task files; 0 if none."""
        ids = list(self.tasks)
        for path in self.corrupt:
            m = _TASK_FILE.fullmatch(path)
            if m:
                ids.append(int(m.group(1)))
        return max(ids, default=0)

    def unblocked(self, task: Task) -> bool:
        """True if every id in ``task.blockedBy`` names a done task: completed or merged."""
        for b in task.blockedBy:
            bt = self.tasks.get(b)
            if bt is None or bt.status not in DONE:
                return False
        return True

    def is_ready(self, task: Task, now: datetime) -> bool:
        """A task is ready when its blockers are all done (completed or merged) and it is either
        pending and unowned, or in progress with an expired lease."""
        if task.status == PENDING and not task.owner:
            return self.unblocked(task)
        if task.status == IN_PROGRESS and task.lease_expired(now):
            return self.unblocked(task)
        return False

    def ready(self, now: datetime, role: str | None = None, *, need_run: bool = False) -> list[Task]:
        """Ready tasks in id order whose role is None or equals ``role``; ``need_run`` keeps only tasks with a run command."""
        out = []
        for tid in sorted(self.tasks):
            t = self.tasks[tid]
            if t.role is not None and t.role != role:
                continue
            if need_run and not t.run:
                continue
            if self.is_ready(t, now):
                out.append(t)
        return out


def build(tip: str | None, files: Mapping[str, Any]) -> Board:
    """Build a :class:`Board` from ``files``: board path -> parsed JSON, or :class:`ParseError`.

    A task file's value may also be the :class:`Task` already built from it (the
    store's parse cache keeps validated tasks). Task files that fail validation
    go to ``corrupt``. A missing or corrupt ``.team/config.json`` yields an empty
    roster and a ``corrupt`` entry for it (when corrupt).
    """
    tasks: dict[int, Task] = {}
    docs: dict[str, Any] = {}
    corrupt: dict[str, str] = {}
    team = Team(team_name="")
    fullmatch = _TASK_FILE.fullmatch
    for path, value in files.items():
        if type(value) is Task and path == f"{TASKS_DIR}/task_{value.id}.json":
            tasks[value.id] = value  # built from this very file (the store's cache)
            continue
        if isinstance(value, ParseError):
            corrupt[path] = value.message
            continue
        m = fullmatch(path)
        if m:
            try:
                t = value if type(value) is Task else Task.from_json(value)
                if t.id != int(m.group(1)):
                    raise Corrupt(f"id {t.id} does not match file name")
                tasks[t.id] = t
            except BoardError as e:
                corrupt[path] = e.message
        elif path == CONFIG_PATH:
            try:
                team = Team.from_json(value)
            except BoardError as e:
                corrupt[path] = e.message
        else:
            docs[path] = value
    return Board(tip=tip, tasks=tasks, team=team, docs=docs, corrupt=corrupt)
