"""The frame ``gitboard watch`` draws: a pure function of the board, the teammates and the time.

:func:`frame` returns one rich renderable that fits ``width`` x ``height``
(80 x 24 is the smallest it is designed for)::

    gitboard watch · 15:04:05 UTC · demo · board 3f2a9c1d · local              q quits
    tasks 12: 1 in_progress · 3 ready · 2 blocked · 4 completed · 2 merged
     id  state        owner   lease  waits on  cost      subject
      7  in_progress  alice   4m12s  -         -         Write the parser
      ...
    teammates
    alice  working  #7  15:03:58 edit_file: parser.py
    merge queue: review #4 #6 · queued #5 · rework #2 · merged #1 #3
    cost $0.2321+? (1 unpriced) · tokens 48,210 (in 40,100 · out 2,110 · cache read 6,000 · …

Task rows come in the order a lead reads them: working, then ready, blocked,
waiting for review, failed, merged, the finished ones newest first; rows that do
not fit end in a ``+N more`` line. The merge queue line comes from the status
``merged`` and the task keys ``review`` and ``rework`` (see
:mod:`gitboard.board.review_ops`). Nothing here reads git, files or the clock: :mod:`gitboard.cli.watch_cmds` gathers the data and drives rich Live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from gitboard.board import cost as costs
from gitboard.board.snapshot import Board
from gitboard.board.task import IN_PROGRESS, Task
from gitboard.cli import render
from gitboard.cli.render import Column, plain, styled
from gitboard.overview import ORDER, Mate, Source, open_blockers, queue_ids, tally, task_cost, view_state

#: Teammate rows shown at most, and merge-queue ids listed per kind.
MAX_MATES = 6
MAX_IDS = 6

def _columns(states: dict[int, str]) -> list[Column]:
    return [
        render.COLUMNS["id"],
        Column("state", lambda b, t, now: styled(states[t.id])),
        render.COLUMNS["owner"],
        render.COLUMNS["lease"],
        Column("waits on", lambda b, t, now: open_blockers(b, t)),
        Column("cost", lambda b, t, now: task_cost(t), justify="right"),
        Column("subject", lambda b, t, now: plain(t.subject), wrap=True),
    ]


def _ordered(tasks: Iterable[Task], states: dict[int, str]) -> list[Task]:
    """Tasks in :data:`ORDER` of their state; working and waiting ones by id, finished ones newest first."""
    groups: dict[str, list[Task]] = {}
    for t in tasks:
        groups.setdefault(states[t.id], []).append(t)
    out: list[Task] = []
    for s in list(ORDER) + sorted(set(groups) - set(ORDER)):
        group = sorted(groups.get(s, ()), key=lambda t: t.id)
        if s in ("completed", "failed", "merged"):
            group.sort(key=lambda t: (t.updated_at, t.id), reverse=True)
        out += group
    return out


def _line(text: Text) -> Text:
    """``text`` kept to one line: cut with an ellipsis rather than wrapped."""
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def _counts(tasks: Sequence[Task], states: dict[int, str]) -> Text:
    out = Text(f"tasks {len(tasks)}", style="bold")
    for i, (s, n) in enumerate(tally(states)):
        out.append(": " if i == 0 else " · ")
        out.append(f"{n} {s}", style=render.style(s))
    if not tasks:
        out.append(": none yet (gitboard task add SUBJECT)")
    return _line(out)


def _header(board: Board, now: datetime, source: Source) -> Table:
    where = "local" if source.remote is None else source.remote
    if source.remote is not None and source.fetched_ago is not None:
        where += f" {int(source.fetched_ago)}s ago"
    left = Text("gitboard watch", style="bold")
    left.append(f" · {now.strftime('%H:%M:%S')} UTC · {board.team.team_name or '-'} · "
                f"board {(board.tip or '-')[:8]} · {where}")
    grid = Table.grid(expand=True)
    grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    grid.add_column(justify="right", no_wrap=True)
    grid.add_row(left, Text("  q quits", style="dim"))
    return grid


def _mates(board: Board, mates: Sequence[Mate], rows: int) -> RenderableType:
    t = render.table("name", "status", "task", title="teammates")
    t.expand = True
    t.add_column("last log line", no_wrap=True, overflow="ellipsis", ratio=1)
    shown = list(mates)[:max(rows, 0)]
    for m in shown:
        line = m.last_line
        prefix = f"[{m.name}] "
        if prefix in line:  # "HH:MM:SS [name] text" -> "HH:MM:SS text"
            line = line.replace(prefix, "", 1)
        t.add_row(plain(m.name), styled(m.status), "-" if m.task is None else f"#{m.task}", plain(line or "-"))
    if not mates:
        return Text("teammates: none on the roster (gitboard spawn NAME)", style="dim")
    if len(mates) > len(shown):
        t.add_row(Text(f"+{len(mates) - len(shown)} more", style="dim"), "", "", "")
    return t


def queue_line(board: Board, require_review: bool = True) -> Text | None:
    """The merge queue in one line (see :func:`gitboard.overview.queue_ids`; merged ones
    newest first), or None when there is nothing in it."""
    groups = queue_ids(board, require_review)
    if not any(groups.values()):
        return None
    out = Text("merge queue", style="bold")
    first = True
    for name, ids in groups.items():
        if not ids:
            continue
        if name == "merged":
            ids = sorted(ids, key=lambda i: (board.tasks[i].updated_at, i), reverse=True)
        listed = " ".join(f"#{i}" for i in ids[:MAX_IDS]) + (f" +{len(ids) - MAX_IDS}" if len(ids) > MAX_IDS else "")
        out.append(": " if first else " · ")
        first = False
        out.append(name, style=render.style({"review": "completed", "queued": "approved"}.get(name, name)))
        out.append(f" {listed}")
    return _line(out)


def totals_line(board: Board) -> Text:
    """Total cost and tokens of the board (:func:`gitboard.board.cost.total`), in one line."""
    whole = costs.total(board)
    u = whole.usage
    if not whole.tasks:
        return _line(Text.assemble(("cost ", "bold"), "- · ", ("tokens ", "bold"), "0 (no task records usage yet)"))
    out = Text("cost ", style="bold")
    out.append(render.usd(whole.cost_usd, whole.unpriced))
    if whole.unpriced:
        out.append(f" ({whole.unpriced} unpriced)", style="dim")
    out.append(" · tokens ", style="bold")
    out.append(f"{whole.tokens:,}")
    out.append(f" (in {u['input_tokens']:,} · out {u['output_tokens']:,} · cache read "
               f"{u['cache_read_input_tokens']:,} · cache write {u['cache_creation_input_tokens']:,})", style="dim")
    return _line(out)


def frame(board: Board, mates: Sequence[Mate], now: datetime, *, width: int = 80, height: int = 24,
          source: Source = Source(), require_review: bool = True) -> RenderableType:
    """The whole view, at most ``height`` lines of ``width`` columns.

    Args:
        board: the snapshot to show.
        mates: the teammates, in roster order (see :class:`Mate`).
        now: the time lease countdowns count down from.
        width, height: the terminal's size in columns and lines.
        source: where the board comes from, for the header.
        require_review: whether a completed task waits for approval before the merge queue
            takes it (``git config gitboard.review`` is not ``none``).

    Returns:
        A rich ``Group``: header, task counts, the task table, teammates, the merge queue and the totals.
    """
    static = _static(board, require_review)
    working = [t for t in static.working if t.lease_expired(now)] + \
        [t for t in static.working if not t.lease_expired(now)]
    states = dict(static.states)
    states.update((t.id, view_state(board, t, now)) for t in static.working)
    tasks = working + static.rest
    queue = static.queue
    # header, counts, table header, totals (+ queue, + fetch error)
    fixed = 4 + (queue is not None) + bool(source.error)
    mate_rows = min(len(mates), MAX_MATES)
    mate_lines = (2 + mate_rows + (len(mates) > mate_rows)) if mates else 1
    room = max(height - fixed - mate_lines, 1)          # task rows that fit
    if len(tasks) > room and mates:                     # give the tasks back room from the teammates
        shrink = min(mate_rows - 1, len(tasks) - room)
        mate_rows -= max(shrink, 0)
        room += max(shrink, 0)
    shown = tasks if len(tasks) <= room else tasks[:max(room - 1, 0)]
    table = render.task_table(board, shown, now, columns=_columns(states), fold=False, empty="")
    parts: list[RenderableType] = [_header(board, now, source)]
    if source.error:
        parts.append(_line(plain(f"fetch from {source.remote} failed: {source.error}", "bold red")))
    parts.append(_counts(tasks, states))
    if shown:
        parts.append(table)
    if len(shown) < len(tasks):
        parts.append(Text(f"  +{len(tasks) - len(shown)} more (gitboard task list)", style="dim"))
    parts.append(_mates(board, mates, mate_rows))
    if queue is not None:
        parts.append(queue)
    parts.append(static.totals)
    return Group(*parts)


@dataclass(frozen=True)
class _Static:
    """What a frame shows of a board that does not change with the clock: the state of every
    task not in progress (only a lease can expire), those tasks in display order, the tasks in
    progress by id, the merge-queue line and the totals line."""

    states: dict[int, str]
    rest: list[Task]
    working: list[Task]
    queue: Text | None
    totals: Text


_last: list = [None, None, None]  # [board, require_review, its _Static]: the redraw every second reuses it


def _static(board: Board, require_review: bool) -> _Static:
    """:class:`_Static` of ``board``, computed once per board object (10,000 tasks: about 20 ms)."""
    if _last[0] is board and _last[1] == require_review:
        return _last[2]
    never = datetime.max.replace(tzinfo=timezone.utc)  # for states that do not depend on the clock
    working = sorted((t for t in board.tasks.values() if t.status == IN_PROGRESS), key=lambda t: t.id)
    states = {t.id: view_state(board, t, never) for t in board.tasks.values() if t.status != IN_PROGRESS}
    rest = _ordered([board.tasks[i] for i in states], states)
    static = _Static(states, rest, working, queue_line(board, require_review), totals_line(board))
    _last[:] = [board, require_review, static]
    return static


