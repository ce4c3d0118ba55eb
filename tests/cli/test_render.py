"""The shared renderables of :mod:`gitboard.cli.render`: built from data, returned (never
printed), one style map for ``task list``, the demo's live board and ``watch``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console

from gitboard.board.layout import task_path
from gitboard.board.snapshot import build
from gitboard.cli import render
from gitboard.cli import demo

def _now() -> datetime:
    """The real time, to the second: the demo's board reads the clock itself, so leases must be live
    when the test runs (not when the module was imported: a loaded suite can take minutes)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


NOW = _now()


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def board(now: datetime | None = None):
    """A board of four tasks: #1 completed, #2 in progress (lease 95 s after ``now``, default: the
    real time now), #3 blocked on #2, #4 ready."""
    now = now or _now()
    files = {
        ".team/config.json": {"team_name": "t", "members": [
            {"name": "alice", "status": "working", "task": 2}, {"name": "bob", "status": "idle"}]},
        task_path(1): {"id": 1, "subject": "done one", "status": "completed", "owner": "alice",
                               "result": {"commit": "0123456789abcdef"}},
        task_path(2): {"id": 2, "subject": "working", "status": "in_progress", "owner": "alice",
                               "lease_expires_at": iso(now + timedelta(seconds=95))},
        task_path(3): {"id": 3, "subject": "[bold]waits", "blockedBy": [2]},
        task_path(4): {"id": 4, "subject": "free"},
    }
    return build("f" * 40, files)


def segments(renderable, width=80):
    """(text, style string) of every non-blank segment ``renderable`` renders to."""
    console = Console(width=width, force_terminal=True, color_system="truecolor")
    return [(s.text, str(s.style or "")) for s in console.render(renderable) if s.text.strip()]


def text(renderable, width=80) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


def test_task_table_returns_a_renderable_and_prints_nothing(capsys):
    b = board()
    out = render.task_table(b, [b.tasks[i] for i in sorted(b.tasks)], NOW)
    assert capsys.readouterr().out == ""
    rows = [ln.split() for ln in text(out).splitlines()]
    assert rows[0] == ["id", "state", "owner", "role", "blockedBy", "subject"]
    assert rows[1][:3] == ["1", "completed", "alice"]
    assert rows[2][:3] == ["2", "in_progress", "alice"]
    assert rows[3] == ["3", "blocked", "-", "-", "#2", "[bold]waits"]  # literal, not markup
    assert rows[4][:2] == ["4", "ready"]


def test_empty_table_says_so():
    assert text(render.task_table(board(), [], NOW)).strip() == "no tasks"


def test_lease_countdown_and_commit_columns():
    b = board(NOW)
    out = text(render.task_table(b, [b.tasks[1], b.tasks[2]], NOW, columns=("id", "lease", "commit")))
    assert "1m35s" in out and "0123456789" in out and "0123456789a" not in out
    assert render.countdown(iso(NOW + timedelta(seconds=9)), NOW) == "9s"
    assert render.countdown(iso(NOW + timedelta(hours=2, minutes=5)), NOW) == "2h05m"
    assert render.countdown(iso(NOW - timedelta(seconds=1)), NOW) == "expired"
    assert render.countdown(None, NOW) == "-" and render.countdown("garbage", NOW) == "-"


def test_unfolded_subjects_stay_on_one_line():
    b = build(None, {task_path(1): {"id": 1, "subject": "word " * 40}})
    out = text(render.task_table(b, [b.tasks[1]], NOW, fold=False), width=60).splitlines()
    assert len(out) == 2 and out[1].rstrip().endswith("…")


@pytest.mark.parametrize("word", ["completed", "in_progress", "blocked", "ready"])
def test_task_list_and_demo_board_take_their_colours_from_the_one_map(monkeypatch, word):
    monkeypatch.setitem(render.STYLE, word, "bold #123456")
    b = board()
    for view in (render.task_table(b, [b.tasks[i] for i in sorted(b.tasks)], NOW), demo._render(b, 1.0)):
        styles = [st for t, st in segments(view) if t.strip() == word]
        assert styles and all("#123456" in st for st in styles), (word, styles)


def test_roster_line_styles_each_teammate_status(monkeypatch):
    monkeypatch.setitem(render.STYLE, "idle", "#654321")
    segs = segments(render.team_line(board()))
    assert any(t == "idle" and "#654321" in st for t, st in segs)
    assert "alice: working #2" in text(render.team_line(board()))
