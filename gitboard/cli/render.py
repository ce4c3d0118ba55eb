"""Rendering for people, with rich. Imported only on the human (non ``--json``) path.

Every view here is a pure function that *returns* a rich renderable built from
board data (and ``now``, for anything that depends on the clock); :func:`show`
prints one. ``task list``, the demo's live board and ``gitboard watch`` share
these renderables and the one style map, :data:`STYLE`.

Board text (subjects, descriptions, names, commit subjects ...) is never parsed as
rich markup: it goes to rich as :class:`rich.text.Text` (see :func:`plain`), so a
subject like ``[/]`` or ``[bold]`` prints as typed; and its control characters and
escape sequences are shown as visible escapes (:func:`gitboard.board.text.safe`), so it
never sets a window title, clears the screen or overwrites a line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from gitboard.board.snapshot import Board
from gitboard.board.task import Task
from gitboard.board.text import safe
from gitboard.cli.pipe_console import console as _pipe_console
from gitboard.words import blockers, compact, countdown, state, tokens, usd

__all__ = ["STYLE", "style", "plain", "styled", "show", "line", "state", "countdown", "blockers", "Column",
           "COLUMNS", "LIST_COLUMNS", "table", "task_table", "team_line", "task_detail", "history_table",
           "usd", "tokens", "compact", "cost_table", "console"]

#: The commands' console: stdout; off a terminal it neither wraps nor pads (see gitboard.cli.pipe_console).
console = _pipe_console()

#: The one map from a state word to its rich style: a task's state (see :func:`state`),
#: a teammate's status, a request's status. Every view looks its colours up here.
STYLE = {
    # tasks
    "ready": "yellow", "pending": "yellow", "blocked": "dim yellow", "in_progress": "cyan",
    "expired": "bold red", "completed": "green", "merged": "magenta", "failed": "red",
    # teammates
    "working": "cyan", "idle": "yellow", "shutdown": "dim", "dead": "bold red",
    # protocol requests ("pending" as above)
    "approved": "green", "rejected": "red",
}


def style(word: str) -> str:
    """The style of a state word (see :data:`STYLE`); "" for a word it does not know."""
    return STYLE.get(word, "")


def plain(value: Any, style: str = "", *, multiline: bool = False) -> Text:
    """Return ``value`` (converted with ``str``) as a :class:`Text` that rich prints literally, never as
    markup, with control characters escaped (:func:`gitboard.board.text.safe`; ``multiline`` keeps
    newlines and tabs)."""
    return Text(safe(value, multiline=multiline), style=style)


def styled(word: str) -> Text:
    """A state word as :class:`Text` in its :data:`STYLE`."""
    return plain(word, style(word))


def show(*renderables: RenderableType) -> None:
    """Print renderables on the command's console (stdout)."""
    console.print(*renderables)


def line(message: str) -> None:
    """Print one line of plain text (no markup, control characters escaped)."""
    console.print(plain(message))


@dataclass(frozen=True)
class Column:
    """One column of :func:`task_table`: header, cell function ``(board, task, now) -> str | Text``, layout."""

    header: str
    cell: Callable[[Board, Task, datetime], Any]
    justify: str = "left"
    wrap: bool = False


def _commit(board: Board, task: Task, now: datetime) -> str:
    commit = task.result.get("commit") if isinstance(task.result, dict) else None
    return commit[:10] if isinstance(commit, str) and commit else "-"


#: Columns :func:`task_table` knows, by name.
COLUMNS: dict[str, Column] = {
    "id": Column("id", lambda b, t, now: str(t.id), justify="right"),
    "state": Column("state", lambda b, t, now: styled(state(b, t, now))),
    "owner": Column("owner", lambda b, t, now: plain(t.owner or "-")),
    "role": Column("role", lambda b, t, now: plain(t.role or "-")),
    "blockedBy": Column("blockedBy", lambda b, t, now: blockers(t)),
    "lease": Column("lease", lambda b, t, now: countdown(t.lease_expires_at, now)
                    if t.status == "in_progress" else "-", justify="right"),
    "commit": Column("commit", _commit),
    "subject": Column("subject", lambda b, t, now: plain(t.subject), wrap=True),
}

#: The columns of ``gitboard task list``.
LIST_COLUMNS = ("id", "state", "owner", "role", "blockedBy", "subject")


def table(*headers: str, title: str | None = None, wrap: Sequence[str] = ()) -> Table:
    """A borderless table with bold headers (the layout of every gitboard table) and these
    columns; only the columns named in ``wrap`` wrap long values onto more lines."""
    t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold", title=title,
              title_justify="left", title_style="bold")
    for h in headers:
        t.add_column(h, no_wrap=h not in wrap)
    return t


def task_table(board: Board, tasks: Iterable[Task], now: datetime, *,
               columns: Sequence[str | Column] = LIST_COLUMNS, title: str | None = None,
               fold: bool = True, empty: str = "no tasks") -> RenderableType:
    """Return tasks as a table, one row per task, in the order given.

    Args:
        columns: names from :data:`COLUMNS` (default: ``task list``'s) or :class:`Column` objects.
        title: a line above the table.
        fold: wrap long subjects onto more lines; ``False`` gives them the width the other
            columns leave and cuts them there with an ellipsis (one line per task, full width).
        empty: the text returned instead when there are no tasks.
    """
    cols = [COLUMNS[c] if isinstance(c, str) else c for c in columns]
    t = table(title=title)
    t.expand = not fold  # unfolded: the wrapping columns take what the others leave, and cut to it
    for c in cols:
        t.add_column(c.header, justify=c.justify, no_wrap=not (c.wrap and fold),
                     ratio=1 if c.wrap and not fold else None)
    n = 0
    for task in tasks:
        n += 1
        t.add_row(*(c.cell(board, task, now) for c in cols))
    if n:
        return t
    return Group(Text(title, style="bold"), plain(empty)) if title else plain(empty)


def team_line(board: Board, *, prefix: str = "team: ") -> Text:
    """One line of the roster: ``alice: working #3  bob: idle``, each status in its style."""
    out = Text(prefix, style="dim")
    for i, m in enumerate(board.team.members):
        if i:
            out.append("  ")
        out.append(f"{safe(m.name)}: ")
        out.append(m.status, style=style(m.status))
        if m.task is not None:
            out.append(f" #{m.task}")
    if not board.team.members:
        out.append("-")
    return out


def task_detail(board: Board, task: Task, now: datetime) -> RenderableType:
    """Every field of one task: the id and subject, then one ``name  value`` row per field,
    the description, the result, the review and the rework records (as JSON). Field values
    are shown literally."""
    parts: list[RenderableType] = [plain(f"#{task.id} {task.subject}", "bold")]
    rows: list[tuple[str, Any]] = [
        ("state", state(board, task, now)), ("owner", task.owner or "-"),
        ("blockedBy", ", ".join(f"#{b}" for b in task.blockedBy) or "-"), ("role", task.role or "-"),
        ("run", task.run or "-"), ("created", task.created_at), ("updated", task.updated_at),
        ("claimed", task.claimed_at or "-"), ("lease until", task.lease_expires_at or "-"),
    ]
    for k, v in rows:
        parts.append(Text.assemble(("  " + f"{k:<12}", "dim"), plain(v)))
    if task.description:
        parts += [Text(), plain(task.description, multiline=True)]
    if task.result is not None:
        parts += [Text(), Text("  result", style="dim"),
                  plain(json.dumps(task.result, indent=2, ensure_ascii=False), multiline=True)]
    for name, value in (("review", task.review), ("rework", list(task.rework) or None)):
        if value is not None:
            parts += [Text(), Text(f"  {name}", style="dim"), plain(json.dumps(value, indent=2, ensure_ascii=False),
                                                                   multiline=True)]
    return Group(*parts)


def history_table(entries: list[dict]) -> RenderableType:
    """Board history entries (dicts with commit, time, action, task, actor, subject; the
    trailers' values may be None) as a table, every value literally."""
    if not entries:
        return plain("no history")
    t = table("commit", "time", "action", "task", "actor", "subject", wrap=("subject",))
    for e in entries:
        t.add_row(e["commit"][:10], plain(e["time"] or ""), plain(e["action"] or "-"),
                  plain("-" if e["task"] is None else e["task"]), plain(e["actor"] or "-"), plain(e["subject"]))
    return t


def cost_table(doc: dict) -> RenderableType:
    """The ``gitboard cost --json`` document as a table: one row per group, then the total,
    then a note when some tasks are unpriced."""
    by, total = doc["by"], doc["total"]
    lead = doc.get("lead") or {}
    lead_line = None
    if lead.get("sessions"):
        u, n = lead["usage"], lead["sessions"]
        lead_line = Text(f"the lead (this clone's {n} conversation{'s' if n != 1 else ''}): "
                         f"{tokens(u['input_tokens'])} in, {tokens(u['output_tokens'])} out, "
                         f"{tokens(u['cache_read_input_tokens'])} cache read, "
                         f"{tokens(u['cache_creation_input_tokens'])} cache write, ")
        lead_line.append(usd(lead["cost_usd"], lead["unpriced"]))
    if not doc["groups"]:
        empty = plain("no task records usage or cost yet")
        return Group(empty, lead_line) if lead_line is not None else empty
    headers = [by] + (["subject"] if by == "task" else []) + \
        ["tasks", "input", "output", "cache read", "cache write", "cost"]
    t = table(*headers, wrap=("subject",))
    for c in t.columns[1 if by != "task" else 2:]:
        c.justify = "right"

    def cells(row: dict, key: Any) -> list:
        u = row["usage"]
        return [key] + ([plain(row.get("subject", ""))] if by == "task" else []) + [
            str(row["tasks"]), tokens(u["input_tokens"]), tokens(u["output_tokens"]),
            tokens(u["cache_read_input_tokens"]), tokens(u["cache_creation_input_tokens"]),
            usd(row["cost_usd"], row["unpriced"])]

    for g in doc["groups"]:
        t.add_row(*cells(g, plain(f"#{g['key']}" if by == "task" else g["key"])))
    t.add_row(*cells(total, Text("total", style="bold")), style="bold")
    parts: list[RenderableType] = [t]
    if total["unpriced"]:
        n = total["unpriced"]
        parts.append(Text(f"{n} task{'s have' if n != 1 else ' has'} tokens but no recorded cost: "
                          "unknown (+?), not 0", style="dim"))
    if lead_line is not None:
        parts.append(lead_line)
    return Group(*parts)
