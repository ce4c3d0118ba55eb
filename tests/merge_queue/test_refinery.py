"""The merge queue on real repositories: merges, checks, conflicts, the checked-out base, stacks, remotes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitboard.board.layout import task_path
from gitboard.merge_queue.queue import run_queue
from tests.helpers.merge_helpers import completed_task, first_parent, g, init_board, project, remote_project


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    p = project(tmp_path / "proj", {"a.txt": "one\ntwo\n", "keep.txt": "k\n"})
    init_board(p)
    return p


def tasks(run_cli, p: Path) -> dict[int, dict]:
    return {t["id"]: t for t in run_cli(["task", "list", "--json"], cwd=p).json()}


def test_merges_approved_tasks_with_one_merge_commit_each_and_the_board_in_step(proj: Path, run_cli) -> None:
    a = completed_task(run_cli, proj, "Add x", {"x.txt": "x\n"}, approve=True)
    b = completed_task(run_cli, proj, "Add y", {"y.txt": "y\n"}, approve=True)
    c = completed_task(run_cli, proj, "Not approved", {"z.txt": "z\n"})
    res = run_cli(["merge", "--check", "test -f x.txt", "--json"], cwd=proj)
    assert res.exit_code == 0, res.stderr
    assert res.json() == {"merged": [a, b], "rework": [], "waiting": [], "stale": [], "unapproved": [c], "no_branch": []}
    assert first_parent(proj)[:3] == [f"Merge task #{b}: Add y", f"Merge task #{a}: Add x", "start"]
    msg = g(proj, "log", "-1", "--format=%B", "main")
    assert f"Gitboard-Task: {b}\nGitboard-Actor: lead" in msg
    assert g(proj, "rev-parse", "main^2") == g(proj, "rev-parse", f"task/{b}")
    t = tasks(run_cli, proj)
    assert (t[a]["status"], t[b]["status"], t[c]["status"]) == ("merged", "merged", "completed")
    m = t[b]["result"]["merge"]
    assert m["commit"] == g(proj, "rev-parse", "main") and m["base"] == g(proj, "rev-parse", "main^1")
    assert m["check"]["command"] == "test -f x.txt" and m["check"]["exit_code"] == 0 and m["by"] == "lead"
    board_log = g(proj, "log", "-2", "--format=%s|%(trailers:key=Gitboard-Action,valueonly,separator=)", "gitboard")
    assert board_log.splitlines() == [f"merge #{b} by lead|merge", f"merge #{a} by lead|merge"]
    # the checked-out main came along: files, index and HEAD agree
    assert (proj / "y.txt").read_text() == "y\n" and g(proj, "status", "--porcelain") == ""
    assert run_cli(["merge", "--json"], cwd=proj).json() == {"merged": [], "rework": [], "waiting": [], "stale": [], "unapproved": [c], "no_branch": []}


def test_a_failing_check_leaves_the_base_and_sends_the_task_to_rework(proj: Path, run_cli) -> None:
    tid = completed_task(run_cli, proj, "Break it", {"a.txt": "broken\n"}, approve=True)
    main = g(proj, "rev-parse", "main")
    check = "echo checking; cat a.txt; echo boom >&2; exit 3"
    res = run_cli(["merge", "--check", check, "--json"], cwd=proj)
    assert res.exit_code == 0, res.stderr
    assert res.json() == {"merged": [], "rework": [{"id": tid, "reason": "check", "paths": []}], "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    assert g(proj, "rev-parse", "main") == main and (proj / "a.txt").read_text() == "one\ntwo\n"
    t = tasks(run_cli, proj)[tid]
    assert (t["status"], t["owner"], t["review"]) == ("pending", "", None)
    rec = t["rework"][-1]
    assert rec["reason"] == "check" and rec["base"] == main
    assert "exit 3" in rec["feedback"] and "broken" in rec["feedback"] and "boom" in rec["feedback"]
    assert not list((proj / ".git" / "gitboard" / "tmp").glob("check-*"))
    assert "check-" not in g(proj, "worktree", "list")


def test_check_that_cannot_start_goes_to_rework_and_the_queue_goes_on(proj: Path, run_cli) -> None:
    a = completed_task(run_cli, proj, "One", {"x.txt": "x\n"}, approve=True)
    g(proj, "config", "gitboard.check", "/no/such/checker --all")
    res = run_cli(["merge", "--json"], cwd=proj)
    assert res.json()["rework"] == [{"id": a, "reason": "check", "paths": []}]
    assert "127" in tasks(run_cli, proj)[a]["rework"][-1]["feedback"]
    b = completed_task(run_cli, proj, "Two", {"y.txt": "y\n"}, approve=True)
    assert run_cli(["merge", b, "--check", "", "--json"], cwd=proj).json()["merged"] == [b]


def test_a_conflict_goes_to_rework_with_its_paths_and_the_next_task_merges(proj: Path, run_cli) -> None:
    a = completed_task(run_cli, proj, "Edit a", {"a.txt": "ONE\ntwo\n"}, approve=True)
    b = completed_task(run_cli, proj, "Edit a too", {"a.txt": "uno\ntwo\n"}, approve=True)
    c = completed_task(run_cli, proj, "Other", {"o.txt": "o\n"}, approve=True)
    res = run_cli(["merge", "--json"], cwd=proj).json()
    assert res == {"merged": [a, c], "rework": [{"id": b, "reason": "conflict", "paths": ["a.txt"]}], "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    rec = tasks(run_cli, proj)[b]["rework"][-1]
    assert rec["reason"] == "conflict" and "a.txt" in rec["feedback"]
    assert rec["base"] == g(proj, "rev-parse", "main^")  # judged against the tip after a's merge


def test_a_dirty_checked_out_base_is_refused_and_nothing_changes(proj: Path, run_cli) -> None:
    completed_task(run_cli, proj, "Edit a", {"a.txt": "ONE\ntwo\n", "n.txt": "n\n"}, approve=True)
    (proj / "a.txt").write_text("my local edit\n")
    before = (g(proj, "rev-parse", "main"), g(proj, "rev-parse", "gitboard"))
    res = run_cli(["merge"], cwd=proj)
    assert res.exit_code == 3 and "a.txt" in res.stderr and "uncommitted" in res.stderr
    assert (g(proj, "rev-parse", "main"), g(proj, "rev-parse", "gitboard")) == before
    assert (proj / "a.txt").read_text() == "my local edit\n"
    (proj / "n.txt").write_text("untracked in the way\n")
    (proj / "a.txt").write_text("one\ntwo\n")
    res = run_cli(["merge"], cwd=proj)
    assert res.exit_code == 3 and "n.txt" in res.stderr


def test_a_clean_checkout_with_changes_elsewhere_comes_along_and_keeps_them(proj: Path, run_cli) -> None:
    tid = completed_task(run_cli, proj, "Edit a", {"a.txt": "ONE\ntwo\n"}, approve=True)
    (proj / "keep.txt").write_text("mine, not committed\n")
    res = run_cli(["merge", "--json"], cwd=proj)
    assert res.json()["merged"] == [tid], res.stderr
    assert (proj / "a.txt").read_text() == "ONE\ntwo\n"
    assert (proj / "keep.txt").read_text() == "mine, not committed\n"
    assert g(proj, "status", "--porcelain") == "M keep.txt"  # (g strips the leading space)
    assert g(proj, "diff", "--cached", "--name-only") == ""  # the index matches the new HEAD


def test_a_chain_of_three_stacked_tasks_merges_in_order(proj: Path, run_cli) -> None:
    run_cli(["task", "add", "filler"], cwd=proj)  # ids out of step with the chain's order
    c1 = completed_task(run_cli, proj, "Base layer", {"l1.txt": "1\n"})
    c2 = completed_task(run_cli, proj, "Second layer", {"l2.txt": "2\n"}, start=f"task/{c1}", blocked_by=(c1,))
    c3 = completed_task(run_cli, proj, "Third layer", {"l3.txt": "3\n"}, start=f"task/{c2}", blocked_by=(c2,))
    for tid in (c3, c1):
        run_cli(["approve", tid], cwd=proj)
    assert run_cli(["merge", "--json"], cwd=proj).json() == {"merged": [c1], "rework": [], "waiting": [c3], "stale": [], "unapproved": [c2], "no_branch": []}
    run_cli(["approve", c2], cwd=proj)
    assert run_cli(["merge", "--json"], cwd=proj).json() == {"merged": [c2, c3], "rework": [], "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    assert first_parent(proj)[:3] == [f"Merge task #{c3}: Third layer", f"Merge task #{c2}: Second layer",
                                      f"Merge task #{c1}: Base layer"]
    assert all((proj / f"l{i}.txt").exists() for i in (1, 2, 3))


def test_bad_input_changes_nothing(proj: Path, run_cli) -> None:
    tid = completed_task(run_cli, proj, "Edit", {"x.txt": "x\n"})
    run_cli(["task", "add", "open"], cwd=proj)
    before = (g(proj, "rev-parse", "main"), g(proj, "rev-parse", "gitboard"))
    assert run_cli(["merge", "--as", "alice"], cwd=proj).exit_code == 3
    assert run_cli(["merge", "99"], cwd=proj).exit_code == 4
    assert run_cli(["merge", tid + 1], cwd=proj).exit_code == 3  # not completed
    res = run_cli(["merge", tid], cwd=proj)
    assert res.exit_code == 3 and "not approved" in res.stderr
    assert (g(proj, "rev-parse", "main"), g(proj, "rev-parse", "gitboard")) == before


def test_through_a_bare_remote_one_atomic_push(tmp_path: Path, run_cli) -> None:
    bare, a = remote_project(tmp_path)
    t1 = completed_task(run_cli, a, "Remote one", {"r1.txt": "1\n"}, push=True, approve=True)
    t2 = completed_task(run_cli, a, "Remote two", {"a.txt": "changed\n"}, push=True, approve=True)
    b = tmp_path / "b"
    g(tmp_path, "clone", "-q", str(bare), str(b))
    init_board(b, remote="origin")
    doc = run_queue(b, check="test -f r1.txt")
    assert doc == {"merged": [t1, t2], "rework": [], "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    assert first_parent(bare)[:2] == [f"Merge task #{t2}: Remote two", f"Merge task #{t1}: Remote one"]
    assert g(bare, "log", "-1", "--format=%s", "gitboard") == f"merge #{t2} by lead"
    assert g(b, "rev-parse", "origin/main") == g(bare, "rev-parse", "main")
    board = json.loads(g(bare, "show", f"gitboard:{task_path(t2)}"))
    assert board["status"] == "merged" and board["result"]["merge"]["commit"] == g(bare, "rev-parse", "main")


def test_an_unreachable_remote_exits_1_and_moves_nothing(tmp_path: Path, run_cli) -> None:
    bare, a = remote_project(tmp_path)
    completed_task(run_cli, a, "Remote one", {"r1.txt": "1\n"}, push=True, approve=True)
    before = (g(a, "rev-parse", "main"), g(a, "rev-parse", "gitboard"))
    g(a, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    res = run_cli(["merge"], cwd=a)
    assert res.exit_code == 1 and "error" in res.stderr
    assert (g(a, "rev-parse", "main"), g(a, "rev-parse", "gitboard")) == before
    assert g(bare, "rev-list", "--count", "main") == "1"


def test_follow_merges_tasks_as_they_become_candidates_and_stops_on_sigterm(proj: Path, run_cli,
                                                                            gitboard_exe: Path) -> None:
    import signal
    import subprocess

    from tests.helpers.runtime_helpers import wait_for

    first = completed_task(run_cli, proj, "Early", {"e.txt": "e\n"}, approve=True)
    proc = subprocess.Popen([str(gitboard_exe), "merge", "--follow", "--poll", "0.2", "--json"], cwd=proj,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: tasks(run_cli, proj)[first]["status"] == "merged", 60, what="the first merge")
        later = completed_task(run_cli, proj, "Later", {"l.txt": "l\n"}, approve=True)
        wait_for(lambda: tasks(run_cli, proj)[later]["status"] == "merged", 60, what="the later merge")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out) == {"merged": [first, later], "rework": [], "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    assert first_parent(proj)[:2] == [f"Merge task #{later}: Later", f"Merge task #{first}: Early"]


def test_a_base_that_moves_during_the_check_redoes_the_candidate_against_the_new_tip(proj: Path, run_cli) -> None:
    tid = completed_task(run_cli, proj, "Add x", {"x.txt": "x\n"}, approve=True)
    g(proj, "config", "gitboard.base", "main")
    g(proj, "checkout", "-q", "--detach")  # nobody's checkout follows main in this test
    marker = proj.parent / "moved"
    # the first check run moves main on by one commit (another merge landing meanwhile), then passes
    check = (f"if [ ! -e {marker} ]; then touch {marker}; "
             f"c=$(git -c user.name=o -c user.email=o@x commit-tree -p main -m sneaky main^{{tree}}); "
             f"git update-ref refs/heads/main $c; fi; echo checked >> {proj.parent / 'runs'}")
    doc = run_queue(proj, check=check)
    assert doc == {"merged": [tid], "rework": [], "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    assert first_parent(proj)[:3] == [f"Merge task #{tid}: Add x", "sneaky", "start"]
    assert (proj.parent / "runs").read_text().count("checked") == 2  # checked again on the new merge commit
    merge = tasks(run_cli, proj)[tid]["result"]["merge"]
    assert merge["base"] == g(proj, "rev-parse", "main^1") and merge["commit"] == g(proj, "rev-parse", "main")


def test_an_older_git_merges_in_a_temporary_worktree_under_the_git_dir(proj: Path, run_cli,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from gitboard.store import merge as store_merge

    monkeypatch.setattr(store_merge, "has_write_tree", lambda: False)
    a = completed_task(run_cli, proj, "Edit a", {"a.txt": "ONE\ntwo\n"}, approve=True)
    b = completed_task(run_cli, proj, "Edit a too", {"a.txt": "uno\ntwo\n"}, approve=True)
    doc = run_cli(["review", b, "--json"], cwd=proj).json()
    assert doc["mergeable"] is True
    assert run_queue(proj) == {"merged": [a], "rework": [{"id": b, "reason": "conflict", "paths": ["a.txt"]}],
                               "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    assert (proj / "a.txt").read_text() == "ONE\ntwo\n" and g(proj, "status", "--porcelain") == ""
    assert "merge-" not in g(proj, "worktree", "list") and not list((proj / ".git" / "gitboard" / "tmp").glob("merge-*"))


def test_both_merge_paths_agree_on_the_tree_and_the_conflicts(proj: Path, run_cli) -> None:
    from gitboard.store import merge as store_merge
    from gitboard.store.repo import BoardRepo

    a = completed_task(run_cli, proj, "Edit a", {"a.txt": "ONE\ntwo\n", "n.txt": "n\n"})
    b = completed_task(run_cli, proj, "Edit a too", {"a.txt": "uno\ntwo\n"})
    with BoardRepo(proj) as repo:
        for branch in (f"task/{a}", f"task/{b}"):
            other = f"task/{b}" if branch.endswith(str(a)) else f"task/{a}"
            for base in ("main", other):
                fast = store_merge.merge_tree(repo, base, branch)
                slow = store_merge.merge_in_worktree(repo, base, branch)
                assert fast.conflicts == slow.conflicts
                if fast.clean:
                    assert fast.tree == slow.tree
    assert store_merge.has_write_tree()  # this machine's git is 2.38 or newer


def test_sigint_during_a_check_stops_the_queue_with_nothing_moved(proj: Path, run_cli, gitboard_exe: Path) -> None:
    import signal
    import subprocess

    from tests.helpers.runtime_helpers import wait_for

    tid = completed_task(run_cli, proj, "Slow", {"s.txt": "s\n"}, approve=True)
    before = (g(proj, "rev-parse", "main"), g(proj, "rev-parse", "gitboard"))
    started = proj.parent / "check-started"
    proc = subprocess.Popen([str(gitboard_exe), "merge", "--check", f"touch {started}; sleep 60", "--json"], cwd=proj,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(started.exists, 60, what="the check to start")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err
    assert json.loads(out) == {"merged": [], "rework": [], "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    assert (g(proj, "rev-parse", "main"), g(proj, "rev-parse", "gitboard")) == before
    assert tasks(run_cli, proj)[tid]["status"] == "completed"
    assert "check-" not in g(proj, "worktree", "list")


def test_every_review_and_queue_commit_passes_the_board_rules(proj: Path, run_cli) -> None:
    a = completed_task(run_cli, proj, "Edit a", {"a.txt": "ONE\ntwo\n"}, approve=True)
    b = completed_task(run_cli, proj, "Edit a too", {"a.txt": "uno\ntwo\n"}, approve=True)
    c = completed_task(run_cli, proj, "Fails its check", {"c.txt": "c\n"}, approve=True)
    d = completed_task(run_cli, proj, "Rejected", {"d.txt": "d\n"})
    assert run_cli(["reject", d, "--feedback", "not like this"], cwd=proj).exit_code == 0
    assert run_cli(["merge", "--check", "test ! -e c.txt", "--json"], cwd=proj).json() == {
        "merged": [a], "rework": [{"id": b, "reason": "conflict", "paths": ["a.txt"]},
                                  {"id": c, "reason": "check", "paths": []}], "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    res = run_cli(["verify", "--json"], cwd=proj)
    assert res.exit_code == 0 and res.json()["violations"] == [], res.stdout
    actions = g(proj, "log", "--format=%(trailers:key=Gitboard-Action,valueonly,separator=)", "gitboard").split()
    assert {"approve", "reject", "rework", "merge"} <= set(actions)


def test_a_checkout_dirtied_while_the_check_runs_stops_the_landing_with_nothing_moved(proj: Path, run_cli) -> None:
    tid = completed_task(run_cli, proj, "Edit a", {"a.txt": "ONE\ntwo\n"}, approve=True)
    before = (g(proj, "rev-parse", "main"), g(proj, "rev-parse", "gitboard"))
    res = run_cli(["merge", "--check", f"echo 'edited meanwhile' > {proj / 'a.txt'}"], cwd=proj)
    assert res.exit_code == 3 and "a.txt" in res.stderr, res.stderr
    assert (g(proj, "rev-parse", "main"), g(proj, "rev-parse", "gitboard")) == before
    assert (proj / "a.txt").read_text() == "edited meanwhile\n"
    assert g(proj, "diff", "--cached", "--name-only") == ""  # index, HEAD and files still agree
    assert tasks(run_cli, proj)[tid]["status"] == "completed"


def test_follow_rides_out_an_unreachable_remote(tmp_path: Path, run_cli) -> None:
    import threading

    bare, a = remote_project(tmp_path)
    t1 = completed_task(run_cli, a, "Remote one", {"r1.txt": "1\n"}, push=True, approve=True)
    url = g(a, "remote", "get-url", "origin")
    lines: list[str] = []
    stop = threading.Event()
    result: dict = {}

    def follow() -> None:
        result.update(run_queue(a, follow=True, poll=0.1, stop=stop, log=lines.append))

    g(a, "config", "gitboard.check", "true")
    runner = threading.Thread(target=follow)
    runner.start()
    try:
        from tests.helpers.runtime_helpers import wait_for

        wait_for(lambda: any(f"merged #{t1}" in ln for ln in lines), 60, what="the first merge")
        g(a, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
        wait_for(lambda: any("cannot merge now" in ln for ln in lines), 60, what="the outage noticed")
        g(a, "remote", "set-url", "origin", url)
        t2 = completed_task(run_cli, a, "Remote two", {"r2.txt": "2\n"}, push=True, approve=True)
        wait_for(lambda: any(f"merged #{t2}" in ln for ln in lines), 60, what="the merge after the outage")
    finally:
        stop.set()
        runner.join(60)
    assert result["merged"] == [t1, t2]
    assert sum("cannot merge now" in ln for ln in lines) == 1 and any("runs again" in ln for ln in lines)


def test_a_bad_check_timeout_setting_is_one_clear_error(proj: Path, run_cli) -> None:
    completed_task(run_cli, proj, "One", {"x.txt": "x\n"}, approve=True)
    g(proj, "config", "gitboard.checkTimeout", "soon")
    res = run_cli(["merge", "--check", "true"], cwd=proj)
    assert res.exit_code == 2 and "gitboard.checkTimeout" in res.stderr


def test_what_was_approved_is_what_is_merged(proj: Path, run_cli) -> None:
    """The approval pins task/<id>'s tip; a commit pushed to the branch afterwards is not merged
    until the lead approves again, and then the merge's second parent is the approved commit."""
    from tests.helpers.merge_helpers import commit_on

    tid = completed_task(run_cli, proj, "Add x", {"x.txt": "x\n"}, approve=True)
    approved = g(proj, "rev-parse", f"task/{tid}")
    assert tasks(run_cli, proj)[tid]["review"]["commit"] == approved
    late = commit_on(proj, f"task/{tid}", "main", {"x.txt": "unreviewed\n"}, "a late commit nobody reviewed")
    main, board = g(proj, "rev-parse", "main"), g(proj, "rev-parse", "gitboard")
    res = run_cli(["merge", "--json"], cwd=proj)
    assert res.exit_code == 0, res.stderr
    assert res.json() == {"merged": [], "rework": [], "waiting": [],
                          "stale": [{"id": tid, "approved": approved, "tip": late}], "unapproved": [],
                          "no_branch": []}
    assert g(proj, "rev-parse", "main") == main and g(proj, "rev-parse", "gitboard") == board  # nothing moved
    human = run_cli(["merge"], cwd=proj)
    assert f"not merged #{tid}: it was approved at {approved[:12]}" in human.stdout
    assert tasks(run_cli, proj)[tid]["status"] == "completed"
    commit_on(proj, "elsewhere", "main", {"y.txt": "y\n"}, "not on the task's branch")
    res = run_cli(["approve", str(tid), "--commit", "elsewhere"], cwd=proj)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("gitboard: error: --commit 'elsewhere'") and f"is not on task/{tid}" in res.stderr
    assert g(proj, "rev-parse", "gitboard") == board
    res = run_cli(["approve", str(tid)], cwd=proj)
    assert res.exit_code == 0 and f"at {late[:12]}" in res.stdout
    assert run_cli(["merge", "--json"], cwd=proj).json()["merged"] == [tid]
    assert g(proj, "rev-parse", "main^2") == late and (proj / "x.txt").read_text() == "unreviewed\n"


def test_approving_the_reviewed_commit_guards_against_a_push_in_between(proj: Path, run_cli) -> None:
    """``approve --commit`` names the commit the lead reviewed; a commit that arrived between the
    review and the approval is not merged on the strength of it."""
    from tests.helpers.merge_helpers import commit_on

    tid = completed_task(run_cli, proj, "Add x", {"x.txt": "x\n"})
    first = g(proj, "rev-parse", f"task/{tid}")
    commit_on(proj, f"task/{tid}", "main", {"x.txt": "second\n"}, "second")
    assert run_cli(["approve", str(tid), "--commit", first[:10]], cwd=proj).exit_code == 0
    assert tasks(run_cli, proj)[tid]["review"]["commit"] == first
    doc = run_cli(["merge", "--json"], cwd=proj).json()
    assert doc["merged"] == [] and doc["stale"][0]["approved"] == first  # the branch holds more than was approved
