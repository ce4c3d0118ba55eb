"""``gitboard verify`` on real repositories: forged commits made behind gitboard's back are each
reported (commit, action, actor, reason), and a clean history of 1,000 commits passes."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import inbox_ops, layout, task_ops, roster_ops
from gitboard.board.task import task_path
from gitboard.store.repo import BoardRepo
from gitboard.store.verify import check_range, parse_trailers
from tests.helpers.board_helpers import board, do


def verify(path: Path, since: str | None = None):
    with BoardRepo(path) as r:
        report, _ = check_range(r, since, r.tip())
    return report


def trailers(action: str, actor: str, task: int | None = None) -> str:
    lines = [f"Gitboard-Action: {action}"] + ([f"Gitboard-Task: {task}"] if task else []) + [f"Gitboard-Actor: {actor}"]
    return f"forged {action}\n\n" + "\n".join(lines) + "\n"


def task_bytes(path: Path, tid: int, **changes) -> bytes:
    d = board(path).tasks[tid].to_json()
    d.update(changes)
    return (json.dumps(d, indent=2) + "\n").encode()


@pytest.fixture
def seeded(repo: Path) -> Path:
    do(repo, partial(roster_ops.add_member, actor="lead", name="alice"))
    do(repo, partial(roster_ops.add_member, actor="lead", name="bob"))
    do(repo, partial(task_ops.add, actor="lead", subject="one"))
    do(repo, partial(task_ops.add, actor="lead", subject="two"))
    do(repo, partial(task_ops.claim, actor="alice", task_id=1, lease=3600))
    do(repo, partial(inbox_ops.send, sender="lead", to="alice", content="for alice", msg_id="m1"))
    return repo


FORGED = {
    # kind: (files(path) -> writes, message, rule)
    "bad JSON": (lambda p: {task_path(2): b"{oops"}, trailers("update", "lead", 2), "format"),
    "file outside the layout": (lambda p: {"README.txt": b"hello\n"}, trailers("update", "lead", 2), "layout"),
    "commit without trailers": (lambda p: {task_path(2): task_bytes(p, 2, subject="renamed")}, "hand edit\n",
                                "trailers"),
    "stolen claim": (lambda p: {task_path(1): task_bytes(p, 1, owner="bob")}, trailers("claim", "bob", 1), "claim"),
    "drain of another's inbox": (lambda p: {path: None for path in board(p).inbox_paths("alice")},
                                 trailers("drain", "bob"), "messages"),
    "actor mismatch": (lambda p: {task_path(2): task_bytes(p, 2, status="in_progress", owner="alice")},
                       trailers("claim", "bob", 2), "claim"),
    "status override by a teammate": (lambda p: {task_path(2): task_bytes(p, 2, status="completed")},
                                      trailers("update", "bob", 2), "lead"),
}


@pytest.mark.parametrize("kind", list(FORGED))
def test_verify_reports_each_kind_of_forged_commit(seeded, board_commit, run_cli, kind):
    make, message, rule = FORGED[kind]
    clean = verify(seeded)
    assert clean.violations == [] and clean.commits == 7      # init, 2 members, 2 adds, claim, send
    forged = board_commit(seeded, make(seeded), message=message)
    report = verify(seeded)
    assert report.commits == 8
    assert [v.commit for v in report.violations] == [forged] * len(report.violations) and report.violations
    assert rule in [v.rule for v in report.violations], [(v.rule, v.message) for v in report.violations]
    res = run_cli(["verify", "--json"], cwd=seeded)
    assert res.exit_code == 1
    doc = res.json()
    assert doc["commits"] == 8 and doc["violations"][0]["commit"] == forged
    assert set(doc["violations"][0]) == {"commit", "action", "actor", "reason"}
    res = run_cli(["verify"], cwd=seeded)
    assert res.exit_code == 1 and res.stdout.splitlines()[0].startswith(forged + " ")
    assert len(res.stdout.splitlines()) == len(report.violations)


def test_a_merge_commit_on_the_board_is_reported(seeded, git, board_commit):
    side = board_commit(seeded, {task_path(2): task_bytes(seeded, 2, subject="side")},
                        message=trailers("update", "lead", 2))
    git(seeded, "update-ref", "refs/heads/gitboard", side + "~1")
    main = board_commit(seeded, {task_path(2): task_bytes(seeded, 2, description="main")},
                        message=trailers("update", "lead", 2))
    tree = git(seeded, "rev-parse", main + "^{tree}")
    merge = git(seeded, "commit-tree", tree, "-p", main, "-p", side, "-m", trailers("update", "lead", 2), ident=True)
    git(seeded, "update-ref", "refs/heads/gitboard", merge)
    report = verify(seeded)
    assert [(v.commit, v.rule) for v in report.violations] == [(merge, "history")]


def test_since_checks_only_later_commits(seeded, board_commit, run_cli, git):
    bad = board_commit(seeded, {"junk.bin": b"\0"}, message=trailers("update", "lead", 2))
    assert [v.commit for v in verify(seeded).violations] == [bad]
    assert verify(seeded, since=bad).commits == 0
    do(seeded, partial(task_ops.add, actor="lead", subject="three"))
    res = run_cli(["verify", "--since", bad, "--json"], cwd=seeded)
    assert res.exit_code == 0 and res.json() == {"commits": 1, "violations": []}
    res = run_cli(["verify", "--since", "nope"], cwd=seeded)
    assert res.exit_code == 2 and res.stderr.startswith("gitboard: error: --since")


def test_a_format_1_board_and_its_migration_pass(repo, git, board_commit):
    """A board written before the fan-out: its history and the migration commit are legal."""
    old = repo.parent / "legacy"
    git(repo.parent, "init", "-q", str(old))
    board_commit(old, {".team/config.json": b'{"team_name": "t", "members": []}\n'},
                 message=trailers("init", "lead"))
    board_commit(old, {".tasks/task_1.json": b'{"id": 1, "subject": "old", "status": "pending", "owner": ""}\n'},
                 message=trailers("add", "lead"))
    assert verify(old).violations == []
    do(old, partial(task_ops.add, actor="lead", subject="new"))     # migrates first, then adds
    assert git(old, "log", "-2", "--format=%(trailers:key=Gitboard-Action,valueonly)", "gitboard").split() == [
        "add", "migrate"]
    assert board(old).tasks[1].subject == "old"
    assert git(old, "cat-file", "-p", f"gitboard:{layout.FORMAT_PATH}").strip() == '{"format": 2}'
    report = verify(old)
    assert report.commits == 4 and report.violations == [], [v.message for v in report.violations]


def test_parse_trailers_reads_only_the_last_paragraph():
    assert parse_trailers("claim #1\n\nGitboard-Action: claim\nGitboard-Actor: a\n") == [
        ("Gitboard-Action", "claim"), ("Gitboard-Actor", "a")]
    assert parse_trailers("Gitboard-Action: claim\n") == []                      # a subject is no trailer
    assert parse_trailers("x\n\nGitboard-Action: claim\nnot a trailer\n") == []
    assert parse_trailers("x\n\nbody\n\nA: 1\nA: 2\n") == [("A", "1"), ("A", "2")]


@pytest.mark.slow
def test_a_clean_history_of_1000_commits_passes(repo, run_cli):
    names = ["alice", "bob", "carol"]
    for n in names:
        do(repo, partial(roster_ops.add_member, actor="lead", name=n))
    k = 4
    tid = 0
    while k < 1000:
        who = names[tid % 3]
        tid = do(repo, partial(task_ops.add, actor="lead", subject=f"t{tid + 1}")).id
        do(repo, partial(task_ops.claim, actor=who, task_id=tid, lease=600))
        do(repo, partial(task_ops.renew, actor=who, task_id=tid, lease=900))
        do(repo, partial(task_ops.finish, actor=who, task_id=tid, ok=tid % 5 != 0, result={"n": tid}))
        do(repo, partial(inbox_ops.send, sender=who, to="lead", content=f"did {tid}", msg_id=f"m{tid}"))
        k += 5
        if tid % 4 == 0:
            do(repo, partial(inbox_ops.drain, name="lead"))
            k += 1
    res = run_cli(["verify", "--json"], cwd=repo)
    assert res.exit_code == 0, res.stdout
    assert res.json()["commits"] >= 1000 and res.json()["violations"] == []


def test_verify_runs_in_a_clone_after_fetching(clone, run_cli):
    c1, c2 = clone("c1"), clone("c2")
    do(c1, partial(task_ops.add, actor="lead", subject="x"))
    res = run_cli(["verify", "--json"], cwd=c2)
    assert res.exit_code == 0 and res.json()["commits"] == 2


def _plumb_commit(path: Path, parent: str | None, entries: dict[str, tuple[str, bytes | str]], message: str) -> str:
    """A commit whose tree holds exactly ``entries`` (path -> (mode, content; a commit id for a
    submodule)), made with plumbing in ``path``; returns its id."""
    import os
    import subprocess

    from tests.conftest import TEST_IDENT

    env = {**os.environ, "GIT_INDEX_FILE": str(path / ".git" / "plumb-index")}

    def g(*args: str, input: bytes | None = None) -> str:
        p = subprocess.run(["git", *TEST_IDENT, *args], cwd=path, input=input, capture_output=True, env=env)
        assert p.returncode == 0, p.stderr
        return p.stdout.decode().strip()

    g("read-tree", "--empty")
    for name, (mode, data) in entries.items():
        sha = data if mode == "160000" else g("hash-object", "-w", "--stdin",
                                                input=data if isinstance(data, bytes) else data.encode())
        g("update-index", "--add", "--cacheinfo", f"{mode},{sha},{name}")
    return g("commit-tree", g("write-tree"), *(["-p", parent] if parent else []), "-m", message)


def test_the_loose_walk_reports_what_diff_tree_does(git_repo, git):
    """:func:`commits_between` reads a loose range from the objects and the cached trees, without
    git; every kind of change (a symlink, a submodule, a mode change, a file that becomes a
    directory and back, a deletion) comes out exactly as ``git diff-tree -r`` reports it."""
    from gitboard.store import verify as verify_mod

    path = git_repo
    sub = _plumb_commit(path, None, {"x": ("100644", "x")}, "a commit to point a submodule at")
    states = [
        {".team/config.json": ("100644", "{}"), "a/b.json": ("100644", "1"), "c.json": ("100644", "2")},
        {".team/config.json": ("100644", "{}"), "a/b.json": ("100755", "1"), "c.json": ("120000", "target")},
        {".team/config.json": ("100644", "{}"), "a": ("100644", "now a file"), "c.json/d.json": ("100644", "3"),
         "m": ("160000", sub)},
        {".team/config.json": ("100644", "{changed}"), "a/b.json": ("100644", "back"), "m": ("100644", "plain")},
        {"a/b.json": ("100644", "back")},
    ]
    commits, parent = [], None
    for i, state in enumerate(states):
        parent = _plumb_commit(path, parent, state, f"state {i}\n\nGitboard-Action: update\nGitboard-Actor: lead\n")
        commits.append(parent)
    old, new = commits[0], commits[-1]
    with BoardRepo(path) as r:
        r.cache.put_commit(old, git(path, "rev-parse", f"{old}^{{tree}}"))
        fast = verify_mod._loose_range(r, old, new)
        assert fast is not None  # every object is loose, and old's tree is known
        slow_limit, verify_mod.LOOSE_WALK_LIMIT = verify_mod.LOOSE_WALK_LIMIT, 0
        try:
            slow, slow_blobs = verify_mod.commits_between(r, old, new)  # through rev-list and diff-tree
        finally:
            verify_mod.LOOSE_WALK_LIMIT = slow_limit
        fast_again, fast_blobs = verify_mod.commits_between(r, old, new)
    assert [c.id for c in fast] == [c.id for c in slow] == commits[1:]
    for a, b in zip(fast, slow):
        assert (a.parents, a.time, a.trailers, a.tree, a.changes) == (b.parents, b.time, b.trailers, b.tree, b.changes)
    assert [c.changes for c in fast_again] == [c.changes for c in slow] and fast_blobs == slow_blobs
    assert fast[0].changes == {"a/b.json": git(path, "rev-parse", f"{commits[1]}:a/b.json"), "c.json": ""}
    assert fast[1].changes["m"] == "" and fast[1].changes["a/b.json"] is None and fast[1].changes["c.json"] is None
