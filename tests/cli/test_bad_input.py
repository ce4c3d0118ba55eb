"""Bad input gets a clear error and changes nothing (issue 2, section 5).

Each case is run with and without ``--json`` and checks: the documented exit
code; exactly one line on stderr, starting ``gitboard: error: ``; no traceback;
with ``--json`` exactly one ``{"error": {"kind", "message"}}`` document on
stdout (and nothing on stdout without it); and no ref, no file of the work tree
and no board file changed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gitboard.board.layout import task_path

KINDS = {1: {"git", "corrupt", "error", "busy"}, 2: {"invalid"}, 3: {"conflict"}, 4: {"not_found"}}


def snapshot(git, path: Path) -> dict:
    if not (path / ".git").exists():
        return {"files": sorted(str(p) for p in path.rglob("*"))}
    return {
        "refs": git(path, "for-each-ref", "--format=%(refname) %(objectname)"),
        "status": git(path, "status", "--porcelain", "--untracked-files=all"),
        "config": git(path, "config", "--local", "--list"),
        "objects": git(path, "count-objects"),
    }


def check_error(res, code: int, json_mode: bool, words: str | None = None) -> None:
    assert "Traceback" not in res.stdout + res.stderr
    assert res.exit_code == code, (res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert res.stderr.endswith("\n")
    assert lines[0].startswith("gitboard: error: ") and len(lines[0]) > len("gitboard: error: ")
    message = lines[0].removeprefix("gitboard: error: ")
    if words:
        assert words.lower() in message.lower()
    if json_mode:
        doc = json.loads(res.stdout)
        assert list(doc) == ["error"] and sorted(doc["error"]) == ["kind", "message"]
        assert doc["error"]["message"] == message
        assert doc["error"]["kind"] in KINDS[code]
    else:
        assert res.stdout == ""


_TEMPLATE: list[Path] = []


@pytest.fixture
def board(run_cli, request, tmp_path_factory, tmp_path):
    """A board with: #1 claimed by alice (lease), #2 blocked by #1, #3 completed, #4 pending.

    Built once per session, then copied (a repository copied whole is the same repository).
    """
    if not _TEMPLATE:
        tpl = tmp_path_factory.mktemp("template") / "work"
        shutil.copytree(request.getfixturevalue("repo"), tpl, symlinks=True)
        for args in (["task", "add", "one"], ["task", "add", "two", "--blocked-by", "1"], ["task", "add", "three"],
                     ["task", "add", "four"], ["task", "claim", "1", "--as", "alice", "--lease", "3600"],
                     ["task", "claim", "3", "--as", "bob"], ["task", "done", "3", "--as", "bob"]):
            assert run_cli(args, cwd=tpl).exit_code == 0
        _TEMPLATE.append(tpl)
    path = tmp_path / "board"
    shutil.copytree(_TEMPLATE[0], path, symlinks=True)
    return path


CASES = [
    # unknown task ids: 4
    (["task", "show", "99"], 4, "no task #99"),
    (["task", "claim", "99", "--as", "bob"], 4, "#99"),
    (["task", "release", "99", "--as", "bob"], 4, "#99"),
    (["task", "renew", "99", "--as", "bob"], 4, "#99"),
    (["task", "done", "99", "--as", "bob"], 4, "#99"),
    (["task", "fail", "99", "--as", "bob"], 4, "#99"),
    (["task", "update", "99", "--subject", "x"], 4, "#99"),
    (["task", "add", "x", "--blocked-by", "99"], 4, "#99"),
    (["task", "update", "4", "--blocked-by", "99"], 4, "#99"),
    # conflicts: 3
    (["task", "claim", "1", "--as", "bob"], 3, "claimed by alice"),
    (["task", "done", "1", "--as", "bob"], 3, "owned by alice"),
    (["task", "fail", "1", "--as", "bob"], 3, "owned by alice"),
    (["task", "release", "1", "--as", "bob"], 3, "owned by alice"),
    (["task", "renew", "1", "--as", "bob"], 3, "owned by alice"),
    (["task", "done", "4", "--as", "bob"], 3, "pending"),
    (["task", "claim", "2", "--as", "bob"], 3, "blocked by #1"),
    (["task", "claim", "3", "--as", "bob"], 3, "completed"),
    (["task", "release", "4", "--force"], 3, "pending"),
    # invalid values: 2
    (["task", "update", "1", "--blocked-by", "2"], 2, "cycle"),
    (["task", "update", "4", "--blocked-by", "4"], 2, "itself"),
    (["task", "add", "x", "--as", "../x"], 2, "invalid name '../x'"),
    (["task", "add", "x", "--as", "A B"], 2, "invalid name 'A B'"),
    (["task", "add", "x", "--as", ""], 2, "invalid name ''"),
    (["task", "claim", "4", "--as", "../x"], 2, "invalid name"),
    (["task", "claim", "4", "--as", ""], 2, "invalid name"),
    (["task", "claim", "--next", "--as", "A B"], 2, "invalid name"),
    (["task", "done", "1", "--as", "Alice"], 2, "invalid name"),
    (["task", "add", "x", "--role", "A B"], 2, "invalid role"),
    (["task", "claim", "4", "--as", "bob", "--role", "../x"], 2, "invalid role"),
    (["task", "add", ""], 2, "subject"),
    (["task", "add", "   "], 2, "subject"),
    (["task", "update", "4", "--subject", ""], 2, "subject"),
    (["task", "list", "--status", "bogus"], 2, "unknown status"),
    (["task", "update", "4", "--status", "bogus"], 2, "unknown status"),
    (["task", "update", "4", "--status", "in_progress"], 3, "claim"),
    (["task", "claim", "4", "--as", "bob", "--lease", "0"], 2, "lease"),
    (["task", "claim", "4", "--as", "bob", "--lease", "-3"], 2, "lease"),
    (["task", "renew", "1", "--as", "alice", "--lease", "0"], 2, "lease"),
    (["task", "renew", "1", "--as", "alice", "--lease", "inf"], 2, "lease"),
    (["task", "claim", "4", "--as", "bob", "--lease", "inf"], 2, "lease"),
    (["task", "claim", "4", "--as", "bob", "--lease", "nan"], 2, "lease"),
    (["task", "claim", "4", "--as", "bob", "--lease", "1e12"], 2, "lease"),
    (["task", "release", "1", "--force", "--as", "bob"], 2, "lead"),
    (["task", "import", "missing.jsonl"], 2, "cannot read"),
    # usage errors: 2
    (["task", "claim", "--as", "bob"], 2, "--next"),
    (["task", "claim", "4", "--next", "--as", "bob"], 2, "--next"),
    (["task", "bogus"], 2, "bogus"),
    (["bogus"], 2, "bogus"),
    (["task", "add"], 2, "subject"),
    (["task", "show"], 2, "ID"),
    (["task", "show", "abc"], 2, "ID"),
    (["task", "show", "0"], 2, "ID"),
    (["task", "list", "--nope"], 2, "--nope"),
    (["task", "claim", "4", "--lease", "soon"], 2, "lease"),
    (["log", "-n", "0"], 2, None),
    (["init", "--branch", "a/b"], 2, "branch"),
    (["init", "--branch", "master"], 2, "checked out"),
    # errors: 1
    (["init", "--remote", "nope"], 1, "no git remote"),
]


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
@pytest.mark.parametrize("args, code, words", CASES, ids=[" ".join(c[0]) or "-" for c in CASES])
def test_bad_input_is_one_clear_error_and_changes_nothing(run_cli, board, git, args, code, words, json_mode):
    git(board, "symbolic-ref", "HEAD", "refs/heads/master")
    before = snapshot(git, board)
    res = run_cli(args + (["--json"] if json_mode else []), cwd=board)
    check_error(res, code, json_mode, words)
    assert snapshot(git, board) == before


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
def test_claim_next_with_nothing_ready(run_cli, board, git, json_mode):
    assert run_cli(["task", "claim", "4", "--as", "carol"], cwd=board).exit_code == 0
    before = snapshot(git, board)
    res = run_cli(["task", "claim", "--next", "--as", "bob"] + (["--json"] if json_mode else []), cwd=board)
    check_error(res, 4, json_mode, "nothing ready")
    assert snapshot(git, board) == before


def test_the_board_still_works_after_all_that(run_cli, board):
    for args, _, _ in CASES:
        run_cli(args, cwd=board)
    tasks = run_cli(["task", "list", "--json"], cwd=board).json()
    assert [(t["id"], t["status"], t["owner"]) for t in tasks] == [
        (1, "in_progress", "alice"), (2, "pending", ""), (3, "completed", "bob"), (4, "pending", "")]


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
@pytest.mark.parametrize("args", [["task", "list"], ["task", "show", "1"], ["task", "add", "x"],
                                  ["task", "claim", "--next"], ["log"], ["sync"], ["init"]])
def test_outside_a_git_repository(run_cli, tmp_path, git, args, json_mode):
    nowhere = tmp_path / "plain"
    nowhere.mkdir()
    assert git(nowhere, "rev-parse", "--git-dir", check=False) == ""
    res = run_cli(args + (["--json"] if json_mode else []), cwd=nowhere)
    check_error(res, 1, json_mode, "not a git repository")
    assert list(nowhere.iterdir()) == []


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
@pytest.mark.parametrize("args", [["task", "list"], ["task", "show", "1"], ["task", "add", "x"],
                                  ["task", "claim", "--next"], ["task", "import", "-"], ["log"], ["sync"]])
def test_repository_without_a_board(run_cli, git_repo, git, args, json_mode):
    before = snapshot(git, git_repo)
    res = run_cli(args + (["--json"] if json_mode else []), cwd=git_repo, input='{"subject": "x"}\n')
    check_error(res, 1, json_mode, "no board")
    assert "gitboard init" in res.stderr
    assert snapshot(git, git_repo) == before


@pytest.mark.parametrize("args, panel", [([], "Tasks"), (["task"], "Commands")])
def test_missing_command_prints_help_and_one_error_line(run_cli, board, args, panel):
    res = run_cli(args, cwd=board)
    assert res.exit_code == 2
    assert "Usage: gitboard" in res.stdout and panel in res.stdout
    assert res.stderr == "gitboard: error: missing command (see the help above)\n"


@pytest.mark.parametrize("actor", ["A B", "../x", "Lead"])
def test_invalid_gitboard_actor_from_the_environment(run_cli, board, git, monkeypatch, actor):
    monkeypatch.setenv("GITBOARD_ACTOR", actor)
    before = snapshot(git, board)
    check_error(run_cli(["task", "claim", "4"], cwd=board), 2, False, "invalid name")
    check_error(run_cli(["task", "add", "x", "--json"], cwd=board), 2, True, "invalid name")
    assert snapshot(git, board) == before
    # an explicit --as wins over the environment
    assert run_cli(["task", "claim", "4", "--as", "carol"], cwd=board).exit_code == 0


def test_dash_c_to_a_missing_directory(run_cli, tmp_path):
    check_error(run_cli(["-C", str(tmp_path / "missing"), "task", "list"]), 1, False, "not a git repository")


@pytest.mark.parametrize("content, words", [
    ('{"subject": "a"}\n{not json}\n', "line 2"),
    ('{"subject": "a", "id": 5}\n', "line 1"),
    ('{"subject": "a"}\n{"subject": ""}\n', "line 2"),
    ('\n{"subject": "a"}\n\n{"subject": ""}\n', "line 4"),  # blank lines count
    ('{"subject": "a"}\n\n{"subject": "b", "blockedBy": [99]}\n', "line 3"),
    ('{"subject": "a"}\n\n{"subject": "b", "owner": "x"}\n', "line 3"),
    ('{"subject": "a", "blockedBy": [9]}\n', "line 1"),
    ('{"subject": "a", "blockedBy": [6]}\n{"subject": "b"}\n', "line 1"),
    ('{"subject": "a", "color": "red"}\n', "unknown key"),
    ('[1, 2]\n', "line 1"),
    ('\n\n', "nothing to import"),
])
def test_bad_import_changes_nothing(run_cli, board, git, tmp_path, content, words):
    f = tmp_path / "in.jsonl"
    f.write_text(content)
    before = snapshot(git, board)
    for json_mode in (False, True):
        res = run_cli(["task", "import", str(f)] + (["--json"] if json_mode else []), cwd=board)
        assert res.exit_code in (2, 4)
        check_error(res, res.exit_code, json_mode, words)
    assert snapshot(git, board) == before


def test_import_of_non_utf8_file(run_cli, board, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_bytes(b'{"subject": "\xff"}\n')
    check_error(run_cli(["task", "import", str(f)], cwd=board), 2, False, "UTF-8")


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
def test_corrupt_task_file(run_cli, board, board_commit, git, json_mode):
    board_commit(board, {task_path(2): b"{ oops"})
    before = snapshot(git, board)
    j = ["--json"] if json_mode else []
    res = run_cli(["task", "list"] + j, cwd=board)
    assert res.exit_code == 0
    warnings = res.stderr.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("gitboard: warning: ")
    assert task_path(2) in warnings[0]
    if json_mode:
        assert [t["id"] for t in res.json()] == [1, 3, 4]
    else:
        assert "one" in res.stdout and "four" in res.stdout
    res = run_cli(["task", "show", "2"] + j, cwd=board)
    check_error(res, 1, json_mode, "task_2.json")
    if json_mode:
        assert res.json()["error"]["kind"] == "corrupt"
    assert run_cli(["task", "show", "4", "--json"], cwd=board).json()["id"] == 4
    check_error(run_cli(["task", "update", "2", "--subject", "x"] + j, cwd=board), 1, json_mode, "corrupt")
    assert snapshot(git, board) == before
    # writes that do not need the bad file still work; ids stay unique
    assert run_cli(["task", "add", "five", "--json"], cwd=board).json()["id"] == 5


def test_unreachable_remote(run_cli, clone, git, board_tip, tmp_path):
    c1 = clone("c1")
    assert run_cli(["task", "add", "one"], cwd=c1).exit_code == 0
    git(c1, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    before = snapshot(git, c1)
    for json_mode in (False, True):
        j = ["--json"] if json_mode else []
        for args in (["task", "add", "two"], ["task", "claim", "--next", "--as", "bob"], ["task", "list"],
                     ["task", "show", "1"], ["sync"], ["log"], ["init", "--remote", "origin"]):
            res = run_cli(args + j, cwd=c1)
            check_error(res, 1, json_mode, "origin")
            if json_mode:
                assert res.json()["error"]["kind"] == "git"
    assert snapshot(git, c1) == before
    res = run_cli(["task", "list", "--offline", "--json"], cwd=c1)
    assert res.exit_code == 0 and [t["subject"] for t in res.json()] == ["one"]


def test_errors_through_the_console_script(run_gitboard, board, git):
    before = snapshot(git, board)
    for args, code, words in [(["task", "claim", "1", "--as", "bob"], 3, "claimed by alice"),
                              (["task", "show", "99"], 4, "no task"),
                              (["task", "add", "", "--json"], 2, "subject"),
                              (["task", "nope"], 2, "nope")]:
        check_error(run_gitboard(args, cwd=board), code, "--json" in args, words)
    assert snapshot(git, board) == before
