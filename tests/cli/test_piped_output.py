"""Output that is not a terminal suits grep and awk: no line is wrapped, none ends in padding.

Every command runs as the installed console script with stdout a pipe, and with COLUMNS=40
so that a layout for a narrow screen would show (rich wraps at $COLUMNS, else 80, off a
terminal)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.merge_helpers import completed_task, init_board, project

LONG = "Rewrite the configuration loader so that " + " ".join(f"word{i}" for i in range(24))  # 190 characters: over any terminal, under the subject limit


def _no_padding_and_whole(out: str, *whole: str) -> None:
    lines = out.splitlines()
    assert lines, "no output"
    padded = [ln for ln in lines if ln != ln.rstrip()]
    assert padded == [], f"lines end in spaces: {padded!r}"
    for text in whole:
        assert any(text in ln for ln in lines), f"{text!r} is not whole on one line of:\n{out}"


def _run(run_gitboard, args, cwd: Path):
    res = run_gitboard(args, cwd=cwd, env={"COLUMNS": "40"})
    assert res.exit_code == 0, res.stderr
    return res.stdout


def test_list_log_show_cost_and_review_print_whole_unpadded_lines(tmp_path: Path, run_cli, run_gitboard,
                                                                  board_commit, git) -> None:
    p = project(tmp_path / "proj", {"a.txt": "a\n"})
    init_board(p)
    tid = completed_task(run_cli, p, LONG, {"a.txt": "a\nb\n", "docs/" + "long-name-" * 8 + ".md": "x\n"})
    run_cli(["task", "add", "short", "--blocked-by", str(tid)], cwd=p)
    # a usage record on the completed task, so that cost has a row
    from gitboard.board.task import task_path

    task = json.loads(git(p, "show", f"gitboard:{task_path(tid)}"))
    task["result"] = {"usage": {"input_tokens": 1200, "output_tokens": 300}, "cost_usd": 0.25,
                      "model": "claude-sonnet-4-5"}
    board_commit(p, {task_path(tid): json.dumps(task)})

    out = _run(run_gitboard, ["task", "list"], p)
    _no_padding_and_whole(out, LONG)
    assert [ln.split()[:2] for ln in out.splitlines()[1:]] == [[str(tid), "completed"], [str(tid + 1), "ready"]]
    _no_padding_and_whole(_run(run_gitboard, ["log"], p), f"add #{tid} by lead: {LONG}")
    _no_padding_and_whole(_run(run_gitboard, ["task", "show", str(tid)], p), f"#{tid} {LONG}")
    _no_padding_and_whole(_run(run_gitboard, ["cost"], p), LONG)
    out = _run(run_gitboard, ["review", str(tid)], p)
    _no_padding_and_whole(out, f"#{tid} {LONG}", "long-name-" * 8 + ".md")


def test_the_roster_and_a_long_message_print_whole_unpadded_lines(run_cli, run_gitboard, team: Path) -> None:
    text = "the release is cut and " + " ".join(f"reason{i}" for i in range(30))
    assert run_cli(["send", "alice", text], cwd=team).exit_code == 0
    _no_padding_and_whole(_run(run_gitboard, ["inbox", "alice", "--peek"], team), text)
    out = _run(run_gitboard, ["team"], team)
    _no_padding_and_whole(out, "alice")
    assert [ln.split()[:3] for ln in out.splitlines()[2:]] == [["alice", "-", "idle"], ["bob", "-", "idle"]]
