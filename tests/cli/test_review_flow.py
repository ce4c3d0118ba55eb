"""Review -> approve -> merge as a newcomer meets it: a task done by hand (no branch), a bare
``merge`` with work waiting for approval, the review of a merged task, and review/approve
without an ID."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import ok, one_error_line
from tests.helpers.merge_helpers import completed_task, g, init_board, project


def _proj(tmp_path: Path) -> Path:
    p = project(tmp_path / "proj", {"a.txt": "one\n"})
    init_board(p)
    return p


def test_a_task_done_by_hand_has_nothing_to_approve_or_merge(tmp_path: Path, run_cli) -> None:
    p = _proj(tmp_path)
    ok(run_cli(["task", "add", "Write the parser"], cwd=p))
    ok(run_cli(["task", "add", "Test the parser", "--blocked-by", "1"], cwd=p))
    ok(run_cli(["task", "claim", "1", "--as", "alice"], cwd=p))
    ok(run_cli(["task", "done", "1", "--as", "alice", "--note", "by hand"], cwd=p))
    board = g(p, "rev-parse", "gitboard")
    res = run_cli(["review", "1"], cwd=p)
    assert res.exit_code == 4 and "no branch task/1" in one_error_line(res)
    res = run_cli(["approve", "1"], cwd=p)
    assert res.exit_code == 4 and "no branch task/1: nothing to review or merge" in one_error_line(res)
    assert g(p, "rev-parse", "gitboard") == board  # not approved

    # with review off every completed task is a candidate: this one is named, not sent to rework
    g(p, "config", "gitboard.review", "none")
    main = g(p, "rev-parse", "main")
    doc = ok(run_cli(["merge", "--json"], cwd=p)).json()
    assert doc["no_branch"] == [1] and doc["rework"] == [] and doc["merged"] == []
    assert g(p, "rev-parse", "gitboard") == board and g(p, "rev-parse", "main") == main
    tasks = {t["id"]: t for t in ok(run_cli(["task", "list", "--json"], cwd=p)).json()}
    assert tasks[1]["status"] == "completed" and not tasks[1].get("rework")
    assert [t["id"] for t in ok(run_cli(["task", "list", "--ready", "--json"], cwd=p)).json()] == [2]
    assert "no branch (nothing to merge) 1" in ok(run_cli(["merge"], cwd=p)).stdout


def test_a_bare_merge_names_the_work_waiting_for_approval(tmp_path: Path, run_cli) -> None:
    p = _proj(tmp_path)
    tid = completed_task(run_cli, p, "Edit a", {"a.txt": "two\n"})
    out = ok(run_cli(["merge"], cwd=p)).stdout
    assert out == (f"merged 0\n1 completed task waits for approval: #{tid} "
                   f"(gitboard review ID, then gitboard approve ID)\n")
    assert ok(run_cli(["merge", "--json"], cwd=p)).json()["unapproved"] == [tid]


def test_the_review_of_a_merged_task_shows_its_merge_and_what_it_brought(tmp_path: Path, run_cli) -> None:
    p = _proj(tmp_path)
    tid = completed_task(run_cli, p, "Add b", {"b.txt": "b\nbb\n"}, approve=True)
    before = g(p, "rev-parse", "main")
    work = g(p, "rev-parse", f"task/{tid}")
    assert ok(run_cli(["merge", "--json"], cwd=p)).json()["merged"] == [tid]
    merge = g(p, "rev-parse", "main")
    doc = ok(run_cli(["review", str(tid), "--json"], cwd=p)).json()
    assert doc["merged"] == {"commit": merge, "base": before, "subject": f"Merge task #{tid}: Add b"}
    assert doc["base"] == {"branch": "main", "commit": before}
    assert doc["branch"] == {"name": f"task/{tid}", "commit": work}
    assert [c["subject"] for c in doc["commits"]] == [f"task #{tid}: Add b"]
    assert doc["files"] == [{"path": "b.txt", "added": 2, "deleted": 0}]
    human = ok(run_cli(["review", str(tid)], cwd=p)).stdout
    assert f"merged    into main at {merge[:12]} (on {before[:12]}): Merge task #{tid}: Add b" in human
    assert f"1 commit(s) brought into main by {merge[:12]}:" in human and "+2 -0  b.txt" in human
    # the branch may go; the review is read from the merge commit
    g(p, "branch", "-D", f"task/{tid}")
    assert ok(run_cli(["review", str(tid), "--json"], cwd=p)).json()["commits"] == doc["commits"]


def test_review_and_approve_without_an_id_list_what_waits(tmp_path: Path, run_cli) -> None:
    p = _proj(tmp_path)
    assert ok(run_cli(["review"], cwd=p)).stdout == "no completed tasks waiting for review\n"
    a = completed_task(run_cli, p, "Edit a", {"a.txt": "two\n"})
    b = completed_task(run_cli, p, "Add c", {"c.txt": "c\n"}, approve=True)
    ok(run_cli(["task", "add", "not done"], cwd=p))
    assert [t["id"] for t in ok(run_cli(["review", "--json"], cwd=p)).json()] == [a]
    out = ok(run_cli(["review"], cwd=p)).stdout.splitlines()
    assert out[0] == "waiting for review" and out[2].split()[:3] == [str(a), "completed", "alice"]
    assert all(str(b) != ln.split()[0] for ln in out[2:] if ln.split())
    board = g(p, "rev-parse", "gitboard")
    res = run_cli(["approve"], cwd=p)
    assert res.exit_code == 2 and "waiting for review" in res.stdout and "Edit a" in res.stdout
    assert "give the ID of a task to approve" in one_error_line(res)
    res = run_cli(["approve", "--json"], cwd=p)
    assert res.exit_code == 2 and res.json()["error"]
    assert g(p, "rev-parse", "gitboard") == board
