"""Every board and task command through the CLI (in-process, typer's CliRunner isolation), human and --json."""

from __future__ import annotations

import time

import pytest

TASK_KEYS = ["id", "subject", "description", "status", "owner", "blockedBy", "created_at", "updated_at",
             "claimed_at", "lease_expires_at", "run", "role", "result"]


@pytest.fixture
def gb(run_cli, repo):
    """``gb(*args)`` runs gitboard in ``repo``, asserts success, and returns the parsed JSON with --json."""

    def run(*args, input=None, cwd=None):
        res = run_cli(list(args), cwd=cwd or repo, input=input)
        assert res.exit_code == 0, (res.stdout, res.stderr)
        if "--json" in args:
            assert res.stderr == ""
            return res.json()
        return res.stdout

    return run


def ids(tasks) -> list[int]:
    return [t["id"] for t in tasks]


def test_init_json_and_idempotence(run_cli, git_repo, git, board_tip):
    res = run_cli(["init", "--team", "crew", "--json"], cwd=git_repo)
    assert res.exit_code == 0 and res.stderr == ""
    doc = res.json()
    tip = board_tip(git_repo)
    assert doc == {"team_name": "crew", "branch": "gitboard", "remote": None, "tip": tip, "created": True,
                   "adopted": False}
    again = run_cli(["init", "--json"], cwd=git_repo)
    assert again.exit_code == 0
    assert again.json() == {**doc, "created": False}
    assert board_tip(git_repo) == tip
    human = run_cli(["init"], cwd=git_repo)
    assert human.exit_code == 0 and "already set up" in human.stdout and "crew" in human.stdout


def test_init_defaults_team_to_directory_name(run_cli, git_repo):
    res = run_cli(["init"], cwd=git_repo)
    assert res.exit_code == 0
    assert "created board 'work' on branch gitboard" in res.stdout


def test_init_with_branch(run_cli, git_repo, git, board_tip):
    res = run_cli(["init", "--branch", "tasks", "--json"], cwd=git_repo)
    assert res.json()["branch"] == "tasks"
    assert git(git_repo, "config", "gitboard.branch") == "tasks"
    assert board_tip(git_repo, "tasks") and board_tip(git_repo) is None
    assert run_cli(["task", "add", "x"], cwd=git_repo).exit_code == 0
    assert git(git_repo, "log", "-1", "--format=%s", "tasks") == "add #1 by lead: x"


def test_add_json_is_the_task_object(gb):
    t = gb("task", "add", "Write the parser", "-d", "details", "--run", "make", "--role", "dev", "--json")
    assert list(t) == TASK_KEYS
    assert t["id"] == 1 and t["subject"] == "Write the parser" and t["description"] == "details"
    assert (t["status"], t["owner"], t["blockedBy"], t["run"], t["role"]) == ("pending", "", [], "make", "dev")
    t2 = gb("task", "add", "Test it", "--blocked-by", "1", "--json")
    assert t2["id"] == 2 and t2["blockedBy"] == [1]
    t3 = gb("task", "add", "Both", "--blocked-by", "1", "--blocked-by", "2", "--json")
    assert t3["blockedBy"] == [1, 2]


def test_add_human_output(gb):
    assert gb("task", "add", "Write the parser").strip() == "added #1: Write the parser"


def test_import_file_and_stdin(gb, repo, tmp_path):
    gb("task", "add", "existing")
    f = tmp_path / "tasks.jsonl"
    f.write_text('{"subject": "a"}\n\n{"subject": "b", "blockedBy": [1, 2], "role": "qa"}\n')
    tasks = gb("task", "import", str(f), "--json")
    assert ids(tasks) == [2, 3] and tasks[1]["blockedBy"] == [1, 2] and tasks[1]["role"] == "qa"
    assert list(tasks[0]) == TASK_KEYS
    out = gb("task", "import", "-", input='{"subject": "c"}\n{"subject": "d", "blockedBy": [4]}\n')
    assert "imported 2 tasks: #4-#5" in out
    assert ids(gb("task", "list", "--json")) == [1, 2, 3, 4, 5]


def test_list_filters(gb):
    for s in ("a", "b", "c", "d"):
        gb("task", "add", s)
    gb("task", "update", "4", "--blocked-by", "3")
    gb("task", "add", "qa only", "--role", "qa")
    gb("task", "claim", "1", "--as", "alice")
    gb("task", "claim", "2", "--as", "bob")
    gb("task", "done", "2", "--as", "bob")
    everything = gb("task", "list", "--json")
    assert ids(everything) == [1, 2, 3, 4, 5]
    assert all(list(t) == TASK_KEYS for t in everything)
    assert ids(gb("task", "list", "--status", "pending", "--json")) == [3, 4, 5]
    assert ids(gb("task", "list", "-s", "completed", "--json")) == [2]
    assert ids(gb("task", "list", "--owner", "alice", "--json")) == [1]
    assert ids(gb("task", "list", "--ready", "--json")) == [3, 5]
    assert ids(gb("task", "list", "--ready", "--role", "dev", "--json")) == [3]
    assert ids(gb("task", "list", "--ready", "--role", "qa", "--json")) == [3, 5]
    assert gb("task", "list", "--owner", "nobody", "--json") == []


def test_list_human_table(gb):
    gb("task", "add", "first")
    gb("task", "add", "second", "--blocked-by", "1")
    out = gb("task", "list")
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["id", "state", "owner", "role", "blockedBy", "subject"]
    assert rows[1] == ["1", "ready", "-", "-", "-", "first"]
    assert rows[2] == ["2", "blocked", "-", "-", "#1", "second"]


def test_list_of_empty_board(gb):
    assert gb("task", "list", "--json") == []
    assert "no tasks" in gb("task", "list")


def test_show(gb):
    gb("task", "add", "first", "-d", "a longer description")
    t = gb("task", "show", "1", "--json")
    assert t["id"] == 1 and list(t) == TASK_KEYS
    out = gb("task", "show", "1")
    assert "#1 first" in out and "a longer description" in out and "ready" in out


def test_claim_release_renew_done_fail_json(gb):
    for s in ("a", "b", "c"):
        gb("task", "add", s)
    t = gb("task", "claim", "1", "--as", "alice", "--lease", "600", "--json")
    assert (t["id"], t["status"], t["owner"]) == (1, "in_progress", "alice")
    assert t["claimed_at"] and t["lease_expires_at"] > t["claimed_at"]
    assert list(t) == TASK_KEYS
    # claiming one's own task again changes nothing and prints it
    assert gb("task", "claim", "1", "--as", "alice", "--json") == t
    r = gb("task", "renew", "1", "--as", "alice", "--lease", "3600", "--json")
    assert r["lease_expires_at"] > t["lease_expires_at"]
    rel = gb("task", "release", "1", "--as", "alice", "--json")
    assert (rel["status"], rel["owner"], rel["lease_expires_at"]) == ("pending", "", None)
    n = gb("task", "claim", "--next", "--as", "bob", "--json")
    assert n["id"] == 1 and n["lease_expires_at"] is None
    d = gb("task", "done", "1", "--as", "bob", "--note", "shipped", "--json")
    assert (d["status"], d["result"]) == ("completed", {"note": "shipped"})
    gb("task", "claim", "2", "--as", "carol")
    f = gb("task", "fail", "2", "--as", "carol", "--note", "flaky", "--json")
    assert (f["status"], f["result"]) == ("failed", {"note": "flaky"})
    gb("task", "claim", "3", "--as", "dave")
    d3 = gb("task", "done", "3", "--as", "dave", "--json")
    assert d3["result"] is None
    assert gb("task", "show", "1", "--json") == d


def test_human_messages_of_claim_and_friends(gb):
    gb("task", "add", "a")
    assert gb("task", "claim", "--next", "--as", "alice", "--lease", "60").startswith("claimed #1 by alice (lease until ")
    assert gb("task", "renew", "1", "--as", "alice").startswith("renewed #1 by alice")
    assert gb("task", "release", "1", "--as", "alice").strip() == "released #1: a"
    gb("task", "claim", "1", "--as", "alice")
    assert gb("task", "done", "1", "--as", "alice").strip() == "completed #1 by alice: a"


def test_claim_next_with_role(gb):
    gb("task", "add", "dev work", "--role", "dev")
    gb("task", "add", "anyone")
    assert gb("task", "claim", "--next", "--as", "alice", "--role", "dev", "--json")["id"] == 1
    assert gb("task", "claim", "--next", "--as", "bob", "--json")["id"] == 2


def test_as_defaults_to_env_then_lead(gb, monkeypatch):
    gb("task", "add", "a")
    gb("task", "add", "b")
    assert gb("task", "claim", "1", "--json")["owner"] == "lead"
    monkeypatch.setenv("GITBOARD_ACTOR", "envy")
    assert gb("task", "claim", "2", "--json")["owner"] == "envy"
    log = gb("log", "--json")
    assert [e["actor"] for e in log[:2]] == ["envy", "lead"]


def test_force_release_by_lead(gb):
    gb("task", "add", "a")
    gb("task", "claim", "1", "--as", "alice")
    t = gb("task", "release", "1", "--force", "--json")
    assert (t["status"], t["owner"]) == ("pending", "")
    log = gb("log", "-n", "1", "--json")
    assert log[0]["subject"] == "release #1 by lead (forced from alice)"


def test_takeover_after_lease_expiry_shows_in_log(gb):
    gb("task", "add", "a")
    gb("task", "claim", "1", "--as", "alice", "--lease", "0.001")
    time.sleep(1.05)  # lease expiry times are whole seconds, rounded up
    t = gb("task", "claim", "--next", "--as", "bob", "--json")
    assert (t["id"], t["owner"]) == (1, "bob")
    entry = gb("log", "-n", "1", "--json")[0]
    assert entry["subject"] == "claim #1 by bob (takeover from alice)"
    assert entry["takeover_from"] == "alice" and entry["action"] == "claim" and entry["actor"] == "bob"
    assert "(takeover from alice)" in " ".join(gb("log").split())  # the table may wrap it


def test_update(gb):
    for s in ("a", "b", "c"):
        gb("task", "add", s)
    t = gb("task", "update", "3", "--subject", "C", "-d", "desc", "--blocked-by", "1", "--blocked-by", "2",
           "--run", "make", "--role", "qa", "--json")
    assert (t["subject"], t["description"], t["blockedBy"], t["run"], t["role"]) == ("C", "desc", [1, 2], "make", "qa")
    t = gb("task", "update", "3", "--unblock", "1", "--run", "", "--role", "", "--json")
    assert (t["blockedBy"], t["run"], t["role"]) == ([2], None, None)
    gb("task", "claim", "1", "--as", "alice")
    t = gb("task", "update", "1", "--status", "pending", "--json")
    assert (t["status"], t["owner"]) == ("pending", "")
    t = gb("task", "update", "2", "--status", "completed", "--json")
    assert t["status"] == "completed"
    assert gb("task", "update", "2", "--json") == t  # nothing to change


def test_log_filters_and_json_shape(gb, repo, git):
    gb("task", "add", "a")
    gb("task", "add", "b")
    gb("task", "claim", "1", "--as", "alice")
    gb("task", "claim", "2", "--as", "bob")
    gb("task", "done", "1", "--as", "alice")
    gb("task", "import", "-", input='{"subject": "c"}\n{"subject": "d"}\n')
    log = gb("log", "--json")
    assert [list(e)[:6] for e in log] == [["commit", "time", "action", "task", "actor", "subject"]] * len(log)
    assert [e["action"] for e in log] == ["import", "done", "claim", "claim", "add", "add", "init"]
    assert log[0]["task"] == "3-4" and log[1]["task"] == 1 and log[-1]["task"] is None
    assert log[0]["commit"] == git(repo, "rev-parse", "gitboard")
    assert log[0]["time"].endswith("Z")
    assert [e["action"] for e in gb("log", "--task", "1", "--json")] == ["done", "claim", "add"]
    assert [e["action"] for e in gb("log", "--task", "4", "--json")] == ["import"]
    assert [e["task"] for e in gb("log", "--actor", "bob", "--json")] == [2]
    assert [e["task"] for e in gb("log", "--action", "claim", "--json")] == [2, 1]
    assert len(gb("log", "-n", "2", "--json")) == 2
    human = gb("log")
    assert "claim #2 by bob" in human and "alice" in human


def test_sync_local(gb, repo, git):
    doc = gb("sync", "--json")
    assert doc == {"branch": "gitboard", "remote": None, "tip": git(repo, "rev-parse", "gitboard")}
    assert "(local)" in gb("sync")


def test_dash_c_runs_in_another_directory(run_cli, repo, tmp_path):
    res = run_cli(["-C", str(repo), "task", "add", "elsewhere", "--json"], cwd=tmp_path)
    assert res.exit_code == 0 and res.json()["id"] == 1
    sub = repo / "deep" / "er"
    sub.mkdir(parents=True)
    assert run_cli(["task", "show", "1", "--json"], cwd=sub).json()["subject"] == "elsewhere"


def test_remote_mode_through_the_cli(run_cli, clone, bare_remote, git, monkeypatch):
    c1 = clone("c1", init=False)
    res = run_cli(["init", "--remote", "origin", "--team", "crew", "--json"], cwd=c1)
    assert res.exit_code == 0 and res.json()["remote"] == "origin" and res.json()["created"]
    c2 = clone("c2", init=False)
    res = run_cli(["init", "--remote", "origin", "--json"], cwd=c2)
    assert res.json()["created"] is False and res.json()["team_name"] == "crew"
    tip = git(bare_remote, "rev-parse", "gitboard")
    assert run_cli(["init", "--remote", "origin", "--json"], cwd=c2).json()["created"] is False
    assert run_cli(["init", "--json"], cwd=c1).json()["remote"] == "origin"  # the setting stays
    assert git(bare_remote, "rev-parse", "gitboard") == tip
    assert run_cli(["task", "add", "shared"], cwd=c1).exit_code == 0
    assert run_cli(["task", "list", "--offline", "--json"], cwd=c2).json() == []
    monkeypatch.setenv("GITBOARD_OFFLINE", "1")
    assert run_cli(["task", "show", "1"], cwd=c2).exit_code == 4  # the local copy has no task 1 yet
    monkeypatch.delenv("GITBOARD_OFFLINE")
    assert [t["subject"] for t in run_cli(["task", "list", "--json"], cwd=c2).json()] == ["shared"]
    assert run_cli(["task", "claim", "1", "--as", "bob"], cwd=c2).exit_code == 0
    res = run_cli(["task", "claim", "1", "--as", "alice"], cwd=c1)
    assert res.exit_code == 3 and "claimed by bob" in res.stderr
    doc = run_cli(["sync", "--json"], cwd=c1).json()
    assert doc == {"branch": "gitboard", "remote": "origin", "tip": git(bare_remote, "rev-parse", "gitboard")}
    assert git(c1, "rev-parse", "gitboard") == doc["tip"]
