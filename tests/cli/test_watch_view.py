"""The frame of ``gitboard watch`` (gitboard/cli/watch_view.py): a pure function of board,
teammates and time that fits the terminal."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rich.console import Console

from gitboard.board.layout import task_path
from gitboard.board.snapshot import build
from gitboard.board.task import Task
from gitboard import overview
from gitboard.cli import watch_view
from gitboard.overview import Mate, Source
from gitboard.cli.watch_view import frame

NOW = datetime(2026, 12, 1, 15, 0, 0, tzinfo=timezone.utc)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def usage(i, o):
    return {"input_tokens": i, "output_tokens": o, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}


def lines(renderable, width=80, height=24) -> list[str]:
    console = Console(width=width, height=height, record=True, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text().rstrip("\n").split("\n")


def small_board():
    files = {
        ".team/config.json": {"team_name": "crew", "members": [{"name": "alice", "status": "working", "task": 2}]},
        task_path(1): {"id": 1, "subject": "first done", "status": "completed", "owner": "alice",
                               "updated_at": "2026-12-01T14:00:00Z",
                               "result": {"usage": usage(1000, 200), "cost_usd": 0.0421}},
        task_path(2): {"id": 2, "subject": "in the works", "status": "in_progress", "owner": "alice",
                               "lease_expires_at": iso(NOW + timedelta(seconds=125))},
        task_path(3): {"id": 3, "subject": "waits for two", "blockedBy": [1, 2]},
        task_path(4): {"id": 4, "subject": "free to take"},
        task_path(5): {"id": 5, "subject": "later done", "status": "completed", "owner": "bob",
                               "updated_at": "2026-12-01T14:30:00Z", "result": {"usage": usage(10, 5)}},
        task_path(6): {"id": 6, "subject": "went wrong", "status": "failed", "owner": "bob"},
    }
    return build("0123456789abcdef0123456789abcdef01234567", files)


def rows(out: list[str]) -> dict[str, list[str]]:
    """Task rows of a frame by id: the words of each line that starts with a task id."""
    found = {}
    for ln in out:
        words = ln.split()
        if words and words[0].isdigit():
            found[words[0]] = words
    return found


def test_frame_shows_tasks_in_reading_order_with_owner_lease_blockers_and_cost():
    mates = [Mate("alice", "working", 2, "15:00:00 [alice] edit_file: parser.py")]
    out = lines(frame(small_board(), mates, NOW))
    r = rows(out)
    order = [ln.split()[0] for ln in out if ln.split() and ln.split()[0].isdigit()]
    assert order == ["2", "4", "3", "5", "1", "6"]  # working, ready, blocked, done newest first, failed
    assert r["2"][1:4] == ["in_progress", "alice", "2m05s"]
    assert r["3"][1:5] == ["blocked", "-", "-", "#2"]          # only the open blocker
    assert "$0.0421" in r["1"] and "15 tok" in " ".join(r["5"])
    assert out[1].startswith("tasks 6: 1 in_progress · 1 ready · 1 blocked · 2 completed · 1 failed")
    assert out[0].startswith("gitboard watch · 15:00:00 UTC · crew · board 01234567 · local")
    assert out[0].endswith("q quits")
    assert any(ln.split()[:4] == ["alice", "working", "#2", "15:00:00"] and "edit_file: parser.py" in ln
               and "[alice]" not in ln for ln in out)
    assert out[-1].startswith("cost $0.0421+? (1 unpriced) · tokens 1,215")


def test_countdown_ticks_with_now():
    b = small_board()
    first = rows(lines(frame(b, [], NOW)))["2"][3]
    later = rows(lines(frame(b, [], NOW + timedelta(seconds=1))))["2"][3]
    gone = rows(lines(frame(b, [], NOW + timedelta(seconds=200))))["2"]
    assert (first, later) == ("2m05s", "2m04s")
    assert gone[1] == "expired"


def big_board(n_tasks=200, n_mates=12):
    files = {".team/config.json": {"team_name": "big", "members": [
        {"name": f"mate{i}", "status": "working", "task": i + 1} for i in range(n_mates)]}}
    for i in range(1, n_tasks + 1):
        files[task_path(i)] = {"id": i, "subject": "a fairly long subject " * 5,
                                          "status": "in_progress" if i <= n_mates else "pending",
                                          "owner": f"mate{i - 1}" if i <= n_mates else "",
                                          "lease_expires_at": iso(NOW + timedelta(hours=3))}
    return build("f" * 40, files)


def test_a_big_board_fits_80x24_and_says_what_it_left_out():
    b = big_board()
    mates = [Mate(m.name, m.status, m.task, "12:00:00 [x] " + "log " * 40) for m in b.team.members]
    for width, height in ((80, 24), (120, 40), (80, 16)):
        out = lines(frame(b, mates, NOW, width=width, height=height), width=width, height=height)
        assert len(out) <= height, (width, height, len(out))
        assert all(len(ln) <= width for ln in out)
        assert out[0].startswith("gitboard watch") and out[-1].startswith("cost ")
        assert any(ln.strip().startswith("+") and "more (gitboard task list)" in ln for ln in out)
        assert any("more" in ln and ln.split()[0].startswith("+") for ln in out if "teammates" not in ln)


def test_merge_queue_from_review_rework_and_merged():
    tasks = {
        1: Task(id=1, subject="merged early", status="merged", updated_at="2026-12-01T10:00:00Z"),
        2: Task(id=2, subject="merged late", status="merged", updated_at="2026-12-01T11:00:00Z"),
        3: Task(id=3, subject="approved", status="completed",
                review={"verdict": "approved", "by": "lead", "at": "x", "note": None}),
        4: Task(id=4, subject="waits for review", status="completed"),
        5: Task(id=5, subject="sent back", status="pending",
                rework=({"reason": "conflict", "by": "lead", "at": "x", "feedback": "a.txt", "base": "b"},)),
    }
    b = build("a" * 40, {task_path(i): t.to_json() for i, t in tasks.items()})
    q = watch_view.queue_line(b).plain
    assert q == "merge queue: review #4 · queued #3 · rework #5 · merged #2 #1"
    assert watch_view.queue_line(b, require_review=False).plain == "merge queue: queued #3 #4 · rework #5 · merged #2 #1"
    assert overview.queue_ids(b) == {"review": [4], "queued": [3], "rework": [5], "merged": [1, 2]}
    assert rows(lines(frame(b, [], NOW)))["5"][1] == "rework"
    assert watch_view.queue_line(build("a" * 40, {task_path(1): {"id": 1, "subject": "s"}})) is None


def test_dead_teammates_and_fetch_errors_show():
    out = "\n".join(lines(frame(small_board(), [Mate("alice", "dead", 2)], NOW,
                                source=Source("origin", 3.2, "cannot reach origin"))))
    assert "alice  dead" in out
    assert "board 01234567 · origin 3s ago" in out and "fetch from origin failed: cannot reach origin" in out


def test_empty_board_and_status_line():
    b = build("b" * 40, {".team/config.json": {"team_name": "t", "members": []}})
    out = lines(frame(b, [], NOW))
    assert len(lines(frame(big_board(), [], NOW, source=Source("origin", 1.0, "down")))) <= 24
    assert out[1] == "tasks 0: none yet (gitboard task add SUBJECT)"
    assert "teammates: none on the roster" in out[2]
    assert overview.status_line(small_board(), NOW) == (
        "15:00:00 board 0123456789: 6 tasks (1 in_progress, 1 ready, 1 blocked, 2 completed, 1 failed); "
        "tokens 1,215; cost $0.0421+?")


def test_a_redraw_of_a_new_board_never_shows_the_old_one():
    b1 = small_board()
    b2 = build("1" * 40, {task_path(9): {"id": 9, "subject": "only this one"}})
    assert "9" not in rows(lines(frame(b1, [], NOW)))
    assert set(rows(lines(frame(b2, [], NOW)))) == {"9"}
    assert rows(lines(frame(b1, [], NOW)))["2"][1] == "in_progress"
