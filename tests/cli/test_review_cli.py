"""``gitboard review``, ``approve``, ``reject`` on real repositories, locally and through a bare remote."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.merge_helpers import commit_on, completed_task, g, init_board, project, remote_project


def _proj(tmp_path: Path) -> Path:
    p = project(tmp_path / "proj", {"a.txt": "one\ntwo\n", "b.txt": "b\n"})
    init_board(p)
    return p


def test_review_json_shape_commits_diffstat_and_a_clean_merge(tmp_path: Path, run_cli) -> None:
    p = _proj(tmp_path)
    tid = completed_task(run_cli, p, "Edit a", {"a.txt": "one\ntwo\nthree\n", "new.txt": "n\n"})
    board_before = g(p, "rev-parse", "gitboard")
    res = run_cli(["review", tid, "--json"], cwd=p)
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert list(doc) == ["task", "base", "branch", "merge_base", "commits", "files", "mergeable", "conflicts",
                         "merged"]
    assert doc["merged"] is None
    main = g(p, "rev-parse", "main")
    assert doc["base"] == {"branch": "main", "commit": main}
    assert doc["branch"] == {"name": f"task/{tid}", "commit": g(p, "rev-parse", f"task/{tid}")}
    assert doc["merge_base"] == main
    assert [c["subject"] for c in doc["commits"]] == [f"task #{tid}: Edit a"]
    assert doc["files"] == [{"path": "a.txt", "added": 1, "deleted": 0}, {"path": "new.txt", "added": 1, "deleted": 0}]
    assert doc["mergeable"] is True and doc["conflicts"] == []
    assert doc["task"]["status"] == "completed"
    assert g(p, "rev-parse", "gitboard") == board_before and g(p, "rev-parse", "main") == main  # read-only
    human = run_cli(["review", tid, "--patch"], cwd=p)
    assert human.exit_code == 0 and "+three" in human.stdout and "clean" in human.stdout


def test_review_names_conflicting_paths_against_the_base_tip(tmp_path: Path, run_cli) -> None:
    p = _proj(tmp_path)
    tid = completed_task(run_cli, p, "Edit a", {"a.txt": "ONE\ntwo\n"})
    commit_on(p, "main", "main", {"a.txt": "uno\ntwo\n"}, "someone else edits a")
    g(p, "reset", "-q", "--hard")
    doc = run_cli(["review", tid, "--json"], cwd=p).json()
    assert doc["mergeable"] is False and doc["conflicts"] == ["a.txt"]
    assert "CONFLICTS in a.txt" in run_cli(["review", tid], cwd=p).stdout


def test_review_bad_input(tmp_path: Path, run_cli) -> None:
    p = _proj(tmp_path)
    assert run_cli(["review", "7"], cwd=p).exit_code == 4
    run_cli(["task", "add", "no branch yet"], cwd=p)
    res = run_cli(["review", "1"], cwd=p)
    assert res.exit_code == 4 and "no branch task/1" in res.stderr


def test_approve_and_reject_exit_codes_and_one_commit_each(tmp_path: Path, run_cli) -> None:
    p = _proj(tmp_path)
    tid = completed_task(run_cli, p, "Edit a", {"a.txt": "x\n"})
    run_cli(["task", "add", "pending one"], cwd=p)
    tip = g(p, "rev-parse", "gitboard")
    assert run_cli(["approve", tid, "--as", "alice"], cwd=p).exit_code == 3
    assert run_cli(["approve", "2"], cwd=p).exit_code == 3  # not completed
    assert run_cli(["approve", "9"], cwd=p).exit_code == 4
    assert run_cli(["reject", tid], cwd=p).exit_code == 2  # --feedback is required
    assert run_cli(["reject", tid, "--feedback", "x", "--as", "bob"], cwd=p).exit_code == 3
    assert g(p, "rev-parse", "gitboard") == tip  # bad input changed nothing
    res = run_cli(["approve", tid, "--note", "fine", "--json"], cwd=p)
    assert res.exit_code == 0 and res.json()["review"]["note"] == "fine"
    assert g(p, "log", "-1", "--format=%(trailers:key=Gitboard-Action,valueonly)", "gitboard").strip() == "approve"
    res = run_cli(["reject", tid, "--feedback", "rename it", "--json"], cwd=p)
    t = res.json()
    assert (t["status"], t["review"], t["rework"][0]["feedback"], t["rework"][0]["base"]) == \
        ("pending", None, "rename it", g(p, "rev-parse", "main"))
    assert g(p, "rev-list", "--count", f"{tip}..gitboard") == "2"
    assert g(p, "rev-parse", f"task/{tid}")  # the branch stays
    log = run_cli(["log", "--json"], cwd=p).json()
    assert [e["action"] for e in log[:2]] == ["reject", "approve"]


def test_review_fetches_the_branch_in_remote_mode(tmp_path: Path, run_cli) -> None:
    bare, a = remote_project(tmp_path)
    tid = completed_task(run_cli, a, "Work", {"w.txt": "w\n"}, push=True)
    b = tmp_path / "b"
    g(tmp_path, "clone", "-q", str(bare), str(b))
    init_board(b, remote="origin")
    res = run_cli(["review", tid, "--json"], cwd=b)
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["branch"]["commit"] == g(a, "rev-parse", f"task/{tid}")
    assert doc["base"]["commit"] == g(a, "rev-parse", "main") and doc["mergeable"] is True
    assert run_cli(["approve", tid], cwd=b).exit_code == 0
    assert g(bare, "log", "-1", "--format=%s", "gitboard") == f"approve #{tid} by lead"


def test_task_show_prints_the_review_and_rework_records(tmp_path: Path, run_cli) -> None:
    p = _proj(tmp_path)
    tid = completed_task(run_cli, p, "Edit a", {"a.txt": "x\n"}, approve=True)
    assert '"verdict": "approved"' in run_cli(["task", "show", tid], cwd=p).stdout
    run_cli(["reject", tid, "--feedback", "[bold]not yet[/]"], cwd=p)
    out = run_cli(["task", "show", tid], cwd=p).stdout
    assert "rework" in out and "[bold]not yet[/]" in out and "verdict" not in out
