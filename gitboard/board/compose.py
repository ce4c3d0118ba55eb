"""Composing operations: several pure operations as one commit.

The teammate runtime wants some transitions to land together -- a claim and
the member's status ``working`` on that task, a ``done`` and the status
``idle`` -- so that the board never shows one without the other.
:func:`sequence` is itself a pure operation ``(board, now) -> Change |
NoChange``: it applies each operation to the board as the previous ones left
it, merges their writes, and keeps the first change's subject and trailers
(the commit reads like that first operation; the others are listed in the
body). Apply it through :func:`gitboard.store.transact.transact` like any
other operation.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from gitboard.board.change import Change, NoChange
from gitboard.board.snapshot import NESTED_TOO_DEEP, Board, ParseError

Operation = Callable[[Board, datetime], "Change | NoChange"]


def _parse(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        return ParseError(f"not valid JSON: {e}")
    except RecursionError:
        return ParseError(NESTED_TOO_DEEP)


def apply_writes(board: Board, writes: Mapping[str, bytes | None]) -> Board:
    """Return the board as it would be after ``writes`` (path -> bytes, or None to delete).

    ``tip`` stays the same: the result is a view for the next operation of a
    :func:`sequence`, not a commit. Only the written files are parsed.
    """
    changed = {p: _parse(b) for p, b in writes.items() if b is not None}
    return board.with_files(board.tip, changed, [p for p, b in writes.items() if b is None])


def sequence(board: Board, now: datetime, *, ops: Sequence[Operation]) -> Change | NoChange:
    """Apply ``ops`` in order, each to the board the previous ones produced, as one change.

    Returns:
        NoChange(results) if no operation changed anything; else one Change
        whose writes are all the operations' writes merged (later ones win),
        whose subject and trailers are the first Change's (plus any trailer
        key only a later one has), whose body lists the later subjects, and
        whose ``result`` is the list of every operation's result, in order.

    Raises:
        Whatever an operation raises (Invalid, Conflict, NotFound ...): the
        whole sequence is refused, nothing is written.
    """
    results: list[Any] = []
    writes: dict[str, bytes | None] = {}
    changes: list[Change] = []
    current = board
    for op in ops:
        out = op(current, now)
        results.append(out.result)
        if isinstance(out, Change):
            changes.append(out)
            writes.update(out.writes)
            current = apply_writes(current, out.writes)
    if not changes:
        return NoChange(results)
    first = changes[0]
    trailers = list(first.trailers)
    keys = {k for k, _ in trailers}
    for c in changes[1:]:
        for k, v in c.trailers:
            if k not in keys:
                trailers.append((k, v))
                keys.add(k)
    body = "\n".join(filter(None, [first.body, *(f"also: {c.subject}" for c in changes[1:])]))
    return Change(writes, first.subject, tuple(trailers), result=results, body=body)
