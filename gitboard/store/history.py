"""The audit trail: board history read back from commit trailers (``git log gitboard``)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from gitboard.board.change import ACTION, ACTOR, REQUEST, TAKEOVER, TASK
from gitboard.board.clock import iso
from gitboard.store.repo import BoardRepo

_SEP, _REC = "\x1f", "\x1e"


def _task_matches(value: str, task_id: int) -> bool:
    if "-" in value:  # an import's range "first-last"
        first, _, last = value.partition("-")
        return first.isdigit() and last.isdigit() and int(first) <= task_id <= int(last)
    return value.isdigit() and int(value) == task_id


def history(repo: BoardRepo, tip: str, *, task: int | None = None, actor: str | None = None,
            action: str | None = None, limit: int | None = None, paths: tuple[str, ...] = (),
            since: str | None = None) -> list[dict[str, Any]]:
    """Return board commits from ``tip`` back, newest first, filtered by trailers.

    Each entry is ``{"commit", "time", "action", "task", "actor", "subject"}``
    (``time`` ISO-8601 UTC; ``task`` an int, an import's ``"first-last"`` range,
    or None), plus ``"request"`` and ``"takeover_from"`` when the commit has them.
    ``limit`` caps the number of entries after filtering. ``paths`` keeps only the commits
    that change one of these board paths (``git log -- PATH``); ``since`` (a commit, an
    ancestor of ``tip``) stops the walk there (``git log since..tip``).

    Raises:
        GitFailure: ``git log`` failed.
    """
    fmt = _SEP.join(["%H", "%ct", "%s", "%(trailers:only,unfold)"]) + _REC
    revs = [f"{since}..{tip}" if since else tip]
    if paths:
        revs += ["--", *paths]
    raw = repo.git("log", f"--format={fmt}", *revs).stdout.decode(errors="replace")
    out: list[dict[str, Any]] = []
    for rec in raw.split(_REC):
        rec = rec.strip("\n")
        if not rec:
            continue
        commit, ts, subject, trailer_text = (rec.split(_SEP) + ["", "", ""])[:4]
        trailers: dict[str, str] = {}
        for line in trailer_text.splitlines():
            k, sep, v = line.partition(":")
            if sep:
                trailers.setdefault(k.strip(), v.strip())
        t = trailers.get(TASK)
        entry: dict[str, Any] = {
            "commit": commit,
            "time": iso(datetime.fromtimestamp(int(ts), timezone.utc)) if ts.isdigit() else None,
            "action": trailers.get(ACTION),
            "task": int(t) if t and t.isdigit() else t,
            "actor": trailers.get(ACTOR),
            "subject": subject,
        }
        if REQUEST in trailers:
            entry["request"] = trailers[REQUEST]
        if TAKEOVER in trailers:
            entry["takeover_from"] = trailers[TAKEOVER]
        if task is not None and not (t and _task_matches(t, task)):
            continue
        if actor is not None and entry["actor"] != actor:
            continue
        if action is not None and entry["action"] != action:
            continue
        out.append(entry)
        if limit is not None and len(out) >= limit:
            break
    return out
