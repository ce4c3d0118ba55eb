"""The web board's columns, as windows of the listing index: no board built per request.

A board of 10,000 tasks is shown column by column, each column a window of its first
tasks (:data:`WINDOW` by default, more on request). What a request needs -- which
column each task is in, the filters, the window -- comes from the listing index the
command line's ``task list`` uses (:mod:`gitboard.store.list_index`: the tasks'
status, owner, blockedBy, lease and role as columns, readiness worked out, each
task's JSON text): only the tasks shown are parsed. The split of a tree's tasks into
columns is kept per board tree (:class:`Columns`), so a page at the same tip is a
filter and a slice.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gitboard.board.task import COMPLETED, FAILED, IN_PROGRESS, MERGED, PENDING

#: The columns in display order: (key, title).
COLUMNS = (
    ("ready", "Ready"),
    ("blocked", "Blocked"),
    ("in_progress", "In progress"),
    ("review", "Waiting for review"),
    ("approved", "Approved"),
    ("merged", "Merged"),
    ("failed", "Failed"),
)
#: Tasks shown per column unless more are asked for; a "more" link adds :data:`WINDOW` each time.
WINDOW = 50
#: Most tasks one column shows in one page, however many are asked for.
MAX_WINDOW = 2000
#: Columns listed newest first (the latest merges and failures are the ones to look at).
NEWEST_FIRST = ("merged", "failed")
#: The bytes an approved task's JSON text holds (``"review": {"verdict": "approved"``, as
#: :meth:`gitboard.board.task.Task.to_json_text` writes it); a match is confirmed by a parse.
_APPROVED = b'"verdict": "approved"'


@dataclass(frozen=True)
class Card:
    """One task as a column shows it.

    Attributes:
        id, subject, owner, role: the task's.
        lease: its ``lease_expires_at`` (ISO-8601 UTC) or None.
        blocked_by: the ids it waits for (the task's blockedBy).
        rework: how many times it was sent back.
        cost: the cost cell (:func:`gitboard.overview.task_cost`).
    """

    id: int
    subject: str
    owner: str
    role: str | None
    lease: str | None
    blocked_by: tuple[int, ...]
    rework: int
    cost: str


@dataclass(frozen=True)
class Column:
    """A column of a page: its key and title, how many tasks match the filters, and the cards shown."""

    key: str
    title: str
    total: int
    cards: list[Card]
    limit: int


class Columns:
    """The tasks of one listing index split into columns (positions in the index).

    Args:
        index: a :class:`gitboard.store.list_index.Index`.
    """

    def __init__(self, index: Any) -> None:
        self.index = index
        n = len(index.ids)
        ready = set(index.ready)
        split: dict[str, list[int]] = {key: [] for key, _ in COLUMNS}
        body, starts = index.body, index.starts
        for i, status in enumerate(index.status):
            if status == PENDING:
                split["ready" if i in ready else "blocked"].append(i)
            elif status == IN_PROGRESS:
                split["in_progress"].append(i)
            elif status == COMPLETED:
                text = bytes(body[starts[i]:starts[i + 1] - 2])
                approved = _APPROVED in text and _is_approved(text)
                split["approved" if approved else "review"].append(i)
            elif status == MERGED:
                split["merged"].append(i)
            elif status == FAILED:
                split["failed"].append(i)
        for key in NEWEST_FIRST:
            split[key].reverse()
        self.split = split
        self.size = n

    def text(self, pos: int) -> bytes:
        """The JSON text of the task at position ``pos``, UTF-8."""
        index = self.index
        return bytes(index.body[index.starts[pos]:index.starts[pos + 1] - 2])

    def task(self, task_id: int) -> dict | None:
        """The JSON object of task ``task_id``, or None if the index has no such (valid) task."""
        from bisect import bisect_left

        ids = self.index.ids
        i = bisect_left(ids, task_id)
        if i < len(ids) and ids[i] == task_id:
            return json.loads(self.text(i))
        return None

    def roles(self) -> list[str]:
        """The roles tasks name, sorted."""
        return sorted({r for r in self.index.role if r})

    def owners(self) -> list[str]:
        """The owners tasks name, sorted."""
        return sorted({o for o in self.index.owner if o})

    def page(self, *, role: str = "", owner: str = "", query: str = "",
             limits: dict[str, int] | None = None) -> list[Column]:
        """The columns of one page, filtered and windowed.

        Args:
            role: keep only tasks with this role (``-``: tasks without a role).
            owner: keep only tasks this member owns (``-``: unowned tasks).
            query: keep only tasks whose subject or description contains it (case-insensitive),
                or whose id it is (``12`` or ``#12``).
            limits: column key -> how many cards to show (default :data:`WINDOW`, at most
                :data:`MAX_WINDOW`).
        """
        from gitboard.board.task import Task
        from gitboard.overview import task_cost

        index = self.index
        keep = None
        if role:
            want = None if role == "-" else role
            roles = index.role
            keep = {i for i in range(self.size) if roles[i] == want}
        if owner:
            want_owner = "" if owner == "-" else owner
            owners = index.owner
            mine = {i for i in range(self.size) if (owners[i] or "") == want_owner}
            keep = mine if keep is None else keep & mine
        query = query.strip()
        if query:
            found = self._search(query)
            keep = found if keep is None else keep & found
        out = []
        for key, title in COLUMNS:
            positions = self.split[key]
            if keep is not None:
                positions = [p for p in positions if p in keep]
            limit = max(1, min((limits or {}).get(key, WINDOW), MAX_WINDOW))
            cards = []
            for p in positions[:limit]:
                d = json.loads(self.text(p))
                task = Task.from_json(d)
                cards.append(Card(id=task.id, subject=task.subject, owner=task.owner, role=task.role,
                                  lease=task.lease_expires_at, blocked_by=tuple(task.blockedBy),
                                  rework=len(task.rework), cost=task_cost(task)))
            out.append(Column(key, title, len(positions), cards, limit))
        return out

    def _search(self, query: str) -> set[int]:
        """Positions of the tasks matching ``query`` (see :meth:`page`): a bytes test on each
        JSON text first, then the subject and description of those that pass."""
        digits = query.lstrip("#")
        if digits.isdigit():
            from bisect import bisect_left

            ids, tid = self.index.ids, int(digits)
            i = bisect_left(ids, tid)
            hit = {i} if i < len(ids) and ids[i] == tid else set()
        else:
            hit = set()
        needle = query.casefold()
        raw = json.dumps(needle, ensure_ascii=False)[1:-1].encode()  # as it appears inside a JSON string
        index = self.index
        body, starts = index.body, index.starts
        for i in range(self.size):
            text = bytes(body[starts[i]:starts[i + 1] - 2])
            if raw in text.lower() or (not text.isascii() and raw in text.decode().casefold().encode()):
                d = json.loads(text)
                hay = f"{d.get('subject', '')}\n{d.get('description', '')}".casefold()
                if needle in hay:
                    hit.add(i)
        return hit


def _is_approved(text: bytes) -> bool:
    """True if the task of this JSON text carries an approving review (what
    :func:`gitboard.board.review_ops.is_approved` says of it)."""
    review = json.loads(text).get("review")
    return isinstance(review, dict) and review.get("verdict") == "approved"


class ColumnsCache:
    """The :class:`Columns` of the last few board trees, shared by a server's threads."""

    def __init__(self, size: int = 4) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, Columns] = OrderedDict()
        self._size = size

    def get(self, tip: str, index: Any) -> Columns:
        """The columns of the board at ``tip`` (made from ``index`` the first time)."""
        with self._lock:
            found = self._items.get(tip)
            if found is not None:
                self._items.move_to_end(tip)
                return found
        made = Columns(index)
        with self._lock:
            self._items[tip] = made
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return made


def countdown(lease: str | None, now: datetime) -> str:
    """The time left on a lease for a card: ``3m05s``, ``expired``, or "" for none."""
    from gitboard.words import countdown as left

    return "" if not lease else left(lease, now)


__all__ = ["COLUMNS", "WINDOW", "MAX_WINDOW", "Card", "Column", "Columns", "ColumnsCache", "countdown"]
