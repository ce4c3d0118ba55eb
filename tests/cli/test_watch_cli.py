"""``gitboard watch`` without a terminal: ``--once`` prints one frame; otherwise one status line
per new board tip; bad options are one error line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from tests.cli.helpers import ok, one_error_line


def test_once_prints_one_frame_of_80x24(run_gitboard, repo):
    ok(run_gitboard(["task", "add", "Build the thing"], cwd=repo))
    ok(run_gitboard(["task", "claim", "1", "--as", "alice", "--lease", "90"], cwd=repo))
    ok(run_gitboard(["team", "add", "bob"], cwd=repo))
    res = ok(run_gitboard(["watch", "--once"], cwd=repo, env={"COLUMNS": "80", "LINES": "24"}))
    out = res.stdout.rstrip("\n").split("\n")
    assert out[0].startswith("gitboard watch ·") and " · test · board " in out[0]
    assert out[1] == "tasks 1: 1 in_progress"
    row = next(ln.split() for ln in out if ln.split()[:1] == ["1"])
    assert row[1:3] == ["in_progress", "alice"]
    m = re.fullmatch(r"(?:(\d)m)?(\d\d?)s", row[3])     # a lease of 90 s, counting down (1m29s, 58s ...)
    assert m and 0 < int(m.group(1) or 0) * 60 + int(m.group(2)) <= 90, row[3]
    assert any(ln.split()[:3] == ["bob", "idle", "-"] for ln in out)
    assert out[-1] == "cost - · tokens 0 (no task records usage yet)"
    assert len(out) <= 24 and all(len(ln) <= 80 for ln in out) and "\x1b[" not in res.stdout


def test_once_shows_a_teammates_last_log_line_of_this_clone(run_gitboard, repo):
    ok(run_gitboard(["team", "add", "alice"], cwd=repo))
    logs = repo / ".git" / "gitboard" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "alice.log").write_text("10:00:00 [alice] claimed #1\n10:00:05 [alice] bash: pytest -q\n\n")
    out = ok(run_gitboard(["watch", "--once"], cwd=repo, env={"COLUMNS": "100"})).stdout
    assert any(ln.split()[:2] == ["alice", "idle"] and ln.rstrip().endswith("10:00:05 bash: pytest -q")
               for ln in out.splitlines()), out


def test_without_a_terminal_it_prints_a_line_per_new_tip_and_stops_on_sigterm(repo, gitboard_exe, run_gitboard):
    proc = subprocess.Popen([str(gitboard_exe), "watch"], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline()
        assert " board " in first and ": 0 tasks ()" in first, first
        ok(run_gitboard(["task", "add", "one"], cwd=repo))
        second = proc.stdout.readline()
        assert ": 1 tasks (1 ready); tokens 0; cost -" in second, second
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and err == "", err


def test_bad_options_are_one_error_line(run_cli, repo, git_repo, tmp_path):
    for bad in ("0.1", "nan", "inf", "1e9", "soon"):
        res = run_cli(["watch", "--poll", bad], cwd=repo)
        assert res.exit_code == 2 and "--poll" in one_error_line(res), bad
    plain = tmp_path / "plain"
    plain.mkdir()
    subprocess.run(["git", "init", "-q", str(plain)], check=True)
    res = run_cli(["watch", "--once"], cwd=plain)
    assert res.exit_code == 1 and "no board" in one_error_line(res)


def test_watch_imports_no_anthropic_sdk(repo):
    code = ("import sys; from gitboard.cli.main import main\n"
            "try:\n    main(['watch', '--once'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'anthropic'))")
    p = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "COLUMNS": "80"})
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == "[]"


def test_once_json_is_one_document(run_cli, repo):
    ok(run_cli(["task", "add", "a"], cwd=repo))
    ok(run_cli(["task", "add", "b", "--blocked-by", "1"], cwd=repo))
    ok(run_cli(["team", "add", "alice"], cwd=repo))
    doc = ok(run_cli(["watch", "--once", "--json"], cwd=repo)).json()
    assert doc["tasks"] == {"ready": 1, "blocked": 1}
    assert doc["queue"] == {"review": [], "queued": [], "rework": [], "merged": []}
    assert doc["teammates"] == [{"name": "alice", "status": "idle", "task": None, "last_line": ""}]
    assert doc["total"]["cost_usd"] is None and doc["total"]["tokens"] == 0
    assert len(doc["tip"]) == 40 and doc["at"].endswith("Z")


def test_json_lines_per_new_tip(repo, gitboard_exe, run_gitboard):
    import json

    proc = subprocess.Popen([str(gitboard_exe), "watch", "--json"], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(proc.stdout.readline())
        ok(run_gitboard(["task", "add", "one"], cwd=repo))
        second = json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert first["tasks"] == {} and second["tasks"] == {"ready": 1} and second["tip"] != first["tip"]
    assert proc.returncode == 0


def test_json_and_non_terminal_paths_import_no_rich(repo):
    code = ("import sys; from gitboard.cli.main import main\n"
            "try:\n    main(['watch', '--once', '--json'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich'))")
    p = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == "[]"


def test_the_merge_queue_follows_approval_and_gitboard_review_none(run_cli, repo):
    for n in (1, 2):
        ok(run_cli(["task", "add", f"t{n}"], cwd=repo))
        ok(run_cli(["task", "claim", str(n), "--as", "alice"], cwd=repo))
        ok(run_cli(["task", "done", str(n), "--as", "alice"], cwd=repo))
    # the work of #2 on its branch (approve needs one: a task without a branch has nothing to merge)
    empty = subprocess.run(["git", "hash-object", "-t", "tree", "-w", "--stdin"], cwd=repo, input=b"",
                           capture_output=True, check=True).stdout.decode().strip()
    work = subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit-tree",
                           empty, "-m", "task #2"], cwd=repo, capture_output=True, check=True).stdout.decode().strip()
    subprocess.run(["git", "update-ref", "refs/heads/task/2", work], cwd=repo, check=True)
    ok(run_cli(["approve", "2"], cwd=repo))
    assert ok(run_cli(["watch", "--once", "--json"], cwd=repo)).json()["queue"] == \
        {"review": [1], "queued": [2], "rework": [], "merged": []}
    subprocess.run(["git", "config", "gitboard.review", "none"], cwd=repo, check=True)
    assert ok(run_cli(["watch", "--once", "--json"], cwd=repo)).json()["queue"]["queued"] == [1, 2]
