"""A read-only snapshot of the board at one tip, built from its parsed files.

The store lists the board tree and parses every JSON file; :func:`build` turns
that mapping into a :class:`Board`. A file that does not parse is recorded in
``Board.corrupt`` instead of failing the whole read, so reads that do not need
it still work and ``task list`` can name it.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from operator import itemgetter
from typing import Any, Iterable, Mapping

from gitboard.board import layout
from gitboard.board.errors import BoardError, Corrupt, NotFound
from gitboard.board.message import Message
from gitboard.board.task import DONE, IN_PROGRESS, PENDING, Task
from gitboard.board.roster import Team


#: A :class:`ParseError`'s message for JSON nested too deep for the parser (Python's recursion limit).
NESTED_TOO_DEEP = "not valid JSON: nested too deep to parse"


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
        format: the board's format version (:mod:`gitboard.board.layout`); paths in
            ``docs`` and ``corrupt`` follow it.
    """

    tip: str | None
    tasks: Mapping[int, Task]
    team: Team
    docs: Mapping[str, Any] = field(default_factory=dict)
    corrupt: Mapping[str, str] = field(default_factory=dict)
    format: int = layout.FORMAT

    @cached_property
    def _by_kind(self) -> dict[str, dict[Any, list[str]]]:
        """kind -> key -> paths, for the board files in ``docs`` and ``corrupt`` (see :func:`layout.classify`).

        A recipient's message paths are kept oldest first (by file name, see :meth:`inbox_paths`).
        """
        out: dict[str, dict[Any, list[str]]] = {layout.MESSAGE: {}, layout.REQUEST: {}}
        classify, version = layout.classify, self.format
        for path in (*self.docs, *self.corrupt):
            found = classify(path, version)
            if found is not None and found.kind in out:
                out[found.kind].setdefault(found.key, []).append(path)
        for name, paths in out[layout.MESSAGE].items():
            paths.sort(key=_oldest_first(name, version))
        return out

    @cached_property
    def _messages(self) -> dict[str, Message | str]:
        """Every message path of the board -> its :class:`Message`, or why it is none (str).

        Built on first use; :meth:`with_files` then carries it forward and parses the
        messages that arrive as they arrive, so a drain finds its messages parsed.
        """
        docs, corrupt = self.docs, self.corrupt
        return {path: _message_or_reason(docs[path]) if path in docs else corrupt[path]
                for paths in self._by_kind[layout.MESSAGE].values() for path in paths}

    def inbox_paths(self, name: str) -> list[str]:
        """Paths of the files in ``name``'s inbox (valid or corrupt), oldest first (by file name)."""
        return list(self._by_kind[layout.MESSAGE].get(name, ()))

    def messages_at(self, paths: Iterable[str]) -> list[Message | str]:
        """The :class:`Message` at each of ``paths`` (from :meth:`inbox_paths`), or why the file
        is none (str: the reason it is corrupt), in the same order.

        Raises:
            KeyError: a path that is not one of the board's message files.
        """
        return list(map(self._messages.__getitem__, paths))

    def inbox_names(self) -> list[str]:
        """Names whose inbox holds at least one file, sorted."""
        return sorted(self._by_kind[layout.MESSAGE])

    def request_paths(self) -> list[str]:
        """Paths of every request file (valid or corrupt)."""
        return [p for paths in self._by_kind[layout.REQUEST].values() for p in paths]

    def with_files(self, tip: str | None, changed: Mapping[str, Any], deleted: Iterable[str] = ()) -> "Board":
        """Return the board at ``tip`` whose files are this board's with ``changed`` (path ->
        parsed value, as for :func:`build`) put in and ``deleted`` taken out.

        The result equals :func:`build` of the whole new set of files, at a cost that
        depends on the changed files, not on the board's size (the dictionaries are
        copied, not rebuilt).
        """
        tasks, docs, corrupt, team = dict(self.tasks), dict(self.docs), dict(self.corrupt), self.team
        classify, version = layout.classify, self.format
        index = self.__dict__.get("_by_kind")  # carried forward, if this board has made it
        messages = self.__dict__.get("_messages")
        messages = dict(messages) if messages is not None and index is not None else None
        touched: dict[tuple[str, Any], dict[str, None]] = {}  # (kind, key) -> its paths that change
        for path in (*deleted, *changed):
            docs.pop(path, None)
            corrupt.pop(path, None)
            found = classify(path, version)
            if found is None:
                continue
            kind = found.kind
            if kind == layout.TASK:
                tasks.pop(found.key, None)  # type: ignore[arg-type]
            elif kind == layout.ROSTER:
                team = Team(team_name="")
            elif index is not None and kind in index:
                touched.setdefault((kind, found.key), {})[path] = None
                if messages is not None and kind == layout.MESSAGE:
                    messages.pop(path, None)
        part = build(tip, changed, version)
        tasks.update(part.tasks)
        docs.update(part.docs)
        corrupt.update(part.corrupt)
        if layout.ROSTER_PATH in changed:
            team = part.team
        new = Board(tip=tip, tasks=tasks, team=team, docs=docs, corrupt=corrupt, format=version)
        if index is not None:
            new.__dict__["_by_kind"] = self._carried_index(index, touched, changed, docs, corrupt, messages)
            if messages is not None:
                new.__dict__["_messages"] = messages
        return new

    def _carried_index(self, index: dict, touched: Mapping[tuple[str, Any], Mapping[str, None]],
                       changed: Mapping[str, Any], docs: Mapping[str, Any], corrupt: Mapping[str, str],
                       messages: dict | None) -> dict:
        """:attr:`_by_kind` after :meth:`with_files`: this board's ``index`` with the ``touched``
        paths taken out and those that are still board files (``docs``, ``corrupt``) put back;
        arriving messages also go into ``messages`` (the carried :attr:`_messages`), parsed."""
        index = dict(index)
        for (kind, key), paths in touched.items():
            keys = index[kind] = dict(index[kind]) if index[kind] is self._by_kind[kind] else index[kind]
            old = keys.get(key, ())
            gone = len(paths) >= len(old) and paths.keys() >= set(old)  # all of them: a drain
            kept = [] if gone else [p for p in old if p not in paths]
            arrived = [p for p in paths if p in changed and (p in docs or p in corrupt)] if changed else []
            if kind == layout.MESSAGE:
                order = _oldest_first(key, self.format)
                for p in arrived:
                    insort(kept, p, key=order)
                    if messages is not None:
                        messages[p] = _message_or_reason(docs[p]) if p in docs else corrupt[p]
            else:
                kept += arrived
            if kept:
                keys[key] = kept
            else:
                keys.pop(key, None)
        return index

    def path_of_task(self, task_id: int) -> str:
        """The board path of task ``task_id``'s file in this board's format."""
        return layout.task_path(task_id, self.format)

    def path_of_request(self, request_id: str) -> str:
        """The board path of request ``request_id``'s file in this board's format."""
        return layout.request_path(request_id, self.format)

    def task(self, task_id: int) -> Task:
        """Return task ``task_id``.

        Raises:
            NotFound: if there is no such task.
            Corrupt: if its file exists but is corrupt.
        """
        t = self.tasks.get(task_id)
        if t is None:
            path = self.path_of_task(task_id)
            if path in self.corrupt:
                raise Corrupt(f"task #{task_id}: {path} is corrupt: {self.corrupt[path]}")
            raise NotFound(f"no task #{task_id}")
        return t

    def max_id(self) -> int:
        """Highest task id on the board, counting corrupt task files; 0 if none."""
        ids = list(self.tasks)
        for path in self.corrupt:
            tid = layout.task_id_of(path, self.format)
            if tid is not None:
                ids.append(tid)
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


def _oldest_first(name: str, version: int) -> itemgetter:
    """The sort key of ``name``'s message paths, oldest first: the file name. Every path classified as
    one of ``name``'s messages has the same directories before it (see :func:`layout.message_name_start`)."""
    return itemgetter(slice(layout.message_name_start(name, version), None))


def _message_or_reason(value: Any) -> Message | str:
    """The :class:`Message` a parsed message file holds, or why it holds none."""
    try:
        return Message.from_json(value)
    except BoardError as e:
        return e.message


def build(tip: str | None, files: Mapping[str, Any], version: int = layout.FORMAT, *, checked: bool = False) -> Board:
    """Build a :class:`Board` from ``files``: board path -> parsed JSON, or :class:`ParseError`.

    ``version`` is the board's format, which says where each kind of file is (the
    store reads it from the tree: :func:`gitboard.store.objects.read_format`).
    A task file's value may also be the :class:`Task` already built from it (the
    store's parse cache keeps validated tasks). Task files that fail validation
    go to ``corrupt``. A missing or corrupt ``.team/config.json`` yields an empty
    roster and a ``corrupt`` entry for it (when corrupt). The format file is not
    in ``docs``. ``checked``: every :class:`Task` value is known to be at its own
    task path (the store's reads check that as they go).
    """
    tasks: dict[int, Task] = {}
    docs: dict[str, Any] = {}
    corrupt: dict[str, str] = {}
    team = Team(team_name="")
    classify, task_id_of = layout.classify, layout.task_id_of
    for path, value in files.items():
        if type(value) is Task and (checked or task_id_of(path, version) == value.id):
            tasks[value.id] = value  # built from this very file (the store's cache)
            continue
        if isinstance(value, ParseError):
            corrupt[path] = value.message
            continue
        found = classify(path, version)
        kind = found.kind if found is not None else None
        if kind == layout.TASK:
            try:
                t = value if type(value) is Task else Task.from_json(value)
                if t.id != found.key:
                    raise Corrupt(f"id {t.id} does not match file name")
                tasks[t.id] = t
            except BoardError as e:
                corrupt[path] = e.message
        elif kind == layout.ROSTER:
            try:
                team = Team.from_json(value)
            except BoardError as e:
                corrupt[path] = e.message
        elif kind != layout.FORMAT_FILE:
            docs[path] = value
    return Board(tip=tip, tasks=tasks, team=team, docs=docs, corrupt=corrupt, format=version)
