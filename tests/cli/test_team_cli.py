"""``gitboard team``: show the roster (human and --json, with ``dead``), ``team add``, ``team remove``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gitboard.board import roster_ops
from gitboard.proc import this_host
from tests.helpers.inbox_helpers import read, run_op
from tests.cli.helpers import one_error_line
from tests.helpers.runtime_helpers import FakeTeammate

MEMBER_KEYS = ["name", "role", "status", "task", "host", "pid", "updated_at"]


def test_add_show_remove(run_cli, repo):
    res = run_cli(["team", "add", "alice", "--role", "dev", "--json"], cwd=repo)
    assert res.exit_code == 0 and res.stderr == ""
    alice = res.json()
    assert list(alice) == MEMBER_KEYS
    assert (alice["name"], alice["role"], alice["status"], alice["task"], alice["pid"]) == ("alice", "dev", "idle", None, None)
    assert run_cli(["team", "add", "bob"], cwd=repo).exit_code == 0
    doc = run_cli(["team", "--json"], cwd=repo).json()
    assert doc["team_name"] == "test" and [m["name"] for m in doc["members"]] == ["alice", "bob"]
    human = run_cli(["team"], cwd=repo)
    assert human.exit_code == 0 and "alice" in human.stdout and "dev" in human.stdout and "bob" in human.stdout
    res = run_cli(["team", "remove", "alice", "--json"], cwd=repo)
    assert res.exit_code == 0 and res.json()["name"] == "alice"
    assert [m["name"] for m in run_cli(["team", "--json"], cwd=repo).json()["members"]] == ["bob"]


def test_config_json_is_the_roster_file(run_cli, repo, git):
    run_cli(["team", "add", "alice"], cwd=repo)
    import json

    stored = json.loads(git(repo, "show", "gitboard:.team/config.json"))
    shown = run_cli(["team", "--json"], cwd=repo).json()
    # plus, per member, where it works in this clone (None: no worktree here)
    assert [m.pop("worktree") for m in shown["members"]] == [None]
    assert stored == shown


def test_errors_change_nothing(run_cli, repo, board_tip):
    tip = board_tip(repo)
    res = run_cli(["team", "remove", "ghost"], cwd=repo)
    assert res.exit_code == 4 and "ghost" in one_error_line(res)
    res = run_cli(["team", "add", "Not_OK"], cwd=repo)
    assert res.exit_code == 2 and one_error_line(res)
    res = run_cli(["team", "add", "alice", "--role", "Bad Role"], cwd=repo)
    assert res.exit_code == 2 and one_error_line(res)
    assert board_tip(repo) == tip


def test_a_member_whose_process_is_gone_shows_dead(run_cli, repo):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # exited and reaped: its pid names no process
    here = this_host()
    run_op(repo, roster_ops.set_member, actor="alice", name="alice", status="working", task=None, host=here, pid=gone.pid)
    with FakeTeammate("bob") as bob:
        run_op(repo, roster_ops.set_member, actor="bob", name="bob", status="working", host=here, pid=bob.pid)
        # dave's pid is alive but is another program (this test run): a reused pid, so dead
        run_op(repo, roster_ops.set_member, actor="dave", name="dave", status="idle", host=here, pid=os.getpid())
        run_op(repo, roster_ops.set_member, actor="carol", name="carol", status="working", host="elsewhere", pid=gone.pid)
        doc = run_cli(["team", "--json"], cwd=repo).json()
    assert {m["name"]: m["status"] for m in doc["members"]} == {"alice": "dead", "bob": "working", "carol": "working",
                                                                 "dave": "dead"}
    assert read(repo).team.member("alice").status == "working"  # only the output says dead
    assert "dead" in run_cli(["team"], cwd=repo).stdout


@pytest.mark.parametrize("args", [["team", "--json"], ["inbox", "--peek", "--json"], ["plan", "list", "--json"]])
def test_json_path_does_not_import_rich(repo, args):
    code = ("import sys, atexit\n"
            "atexit.register(lambda: sys.stderr.write('RICH=%s\\n' % ('rich' in sys.modules)))\n"
            "from gitboard.cli.main import main\n"
            f"main({['-C', str(repo), *args]!r})\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "RICH=False" in p.stderr
