"""Forged board pushes, made with plain git, over git:// and smart HTTP: each is refused with its
reason in one ``remote: gitboard: refused <commit>: <reason>`` line, and the remote does not move."""

from __future__ import annotations

import json
import os
import subprocess
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import inbox_ops, task_ops, roster_ops
from tests.conftest import TEST_IDENT, _git, board_tip
from tests.helpers.board_helpers import board, do


def forge(path: Path, files: dict[str, bytes | None], message: str, parent: str = "origin/gitboard") -> str:
    """A commit on ``parent`` with ``files`` changed, made with plumbing; returns its id (no ref moves)."""
    index = path / ".git" / "forge-index"
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}

    def g(*args: str, input: bytes | None = None) -> str:
        p = subprocess.run(["git", *TEST_IDENT, *args], cwd=path, input=input, capture_output=True, env=env)
        assert p.returncode == 0, p.stderr
        return p.stdout.decode().strip()

    g("read-tree", parent)
    for name, data in files.items():
        if data is None:
            g("update-index", "--force-remove", name)
        else:
            blob = g("hash-object", "-w", "--stdin", input=data)
            g("update-index", "--add", "--cacheinfo", f"100644,{blob},{name}")
    commit = g("commit-tree", g("write-tree"), "-p", parent, "-m", message)
    index.unlink()
    return commit


def push(path: Path, *refspecs: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "push", "--porcelain", "origin", *refspecs], cwd=path, capture_output=True, text=True)


def trailers(action: str, actor: str, task: int | None = None) -> str:
    lines = [f"Gitboard-Action: {action}"] + ([f"Gitboard-Task: {task}"] if task else []) + [f"Gitboard-Actor: {actor}"]
    return f"forged {action}\n\n" + "\n".join(lines) + "\n"


def task_file(path: Path, tid: int, **changes) -> tuple[str, bytes]:
    b = board(path)
    d = b.tasks[tid].to_json()
    d.update(changes)
    return b.path_of_task(tid), (json.dumps(d, indent=2) + "\n").encode()


FORGED = {
    "bad JSON": lambda c: (forge(c, {board(c).path_of_task(2): b"{oops"}, trailers("update", "lead", 2)), "not valid JSON"),
    "a file outside the layout": lambda c: (forge(c, {"notes.txt": b"hi\n"}, trailers("update", "lead", 2)),
                                            "outside the board's layout"),
    "a commit without trailers": lambda c: (forge(c, dict([task_file(c, 2, subject="renamed")]), "hand edit\n"),
                                            "exactly one Gitboard-Action"),
    "a stolen claim": lambda c: (forge(c, dict([task_file(c, 1, owner="bob", claimed_at="2030-01-01T00:00:00Z")]),
                                       trailers("claim", "bob", 1)), "claimed by alice"),
    "a drain of someone else's inbox": lambda c: (forge(c, {p: None for p in board(c).inbox_paths("alice")},
                                                        trailers("drain", "bob")), "may not drain alice's inbox"),
}


@pytest.mark.parametrize("kind", list(FORGED))
def test_each_forged_push_is_refused_and_the_remote_is_unchanged(server, remote_clone, kind):
    lead = remote_clone(server, "lead")
    do(lead, partial(roster_ops.add_member, actor="lead", name="alice"))
    do(lead, partial(roster_ops.add_member, actor="lead", name="bob"))
    do(lead, partial(task_ops.add, actor="lead", subject="one"))
    do(lead, partial(task_ops.add, actor="lead", subject="two"))
    do(lead, partial(inbox_ops.send, sender="lead", to="alice", content="for alice", msg_id="m1"))
    if server.kind == "git":  # no identities over git://: the lead's clone claims as alice
        do(lead, partial(task_ops.claim, actor="alice", task_id=1, lease=3600))
    else:
        alice = remote_clone(server, "alice", user="alice")
        do(alice, partial(task_ops.claim, actor="alice", task_id=1, lease=3600))
        _git(lead, "fetch", "-q", "origin")
    before = board_tip(server.bare)
    commit, reason = FORGED[kind](lead)
    res = push(lead, f"{commit}:refs/heads/gitboard")
    assert res.returncode == 1
    refusals = [ln.strip() for ln in res.stderr.splitlines() if ln.startswith("remote: gitboard: refused")]
    assert refusals and all(ln.startswith(f"remote: gitboard: refused {commit}: ") for ln in refusals), res.stderr
    assert reason in refusals[0], refusals
    assert "[remote rejected]" in res.stdout and "pre-receive hook declined" in res.stdout
    assert board_tip(server.bare) == before


def test_a_forced_rewind_and_a_deleted_board_branch_are_refused(server, remote_clone):
    lead = remote_clone(server, "lead")
    do(lead, partial(task_ops.add, actor="lead", subject="one"))
    tip = board_tip(server.bare)
    parent = _git(lead, "rev-parse", "origin/gitboard~1")
    res = push(lead, f"+{parent}:refs/heads/gitboard")
    assert res.returncode == 1
    assert f"remote: gitboard: refused {parent}: a rewind of the board branch refs/heads/gitboard" in res.stderr
    res = push(lead, ":refs/heads/gitboard")
    assert res.returncode == 1
    assert f"remote: gitboard: refused {'0' * 40}: deletion of the board branch refs/heads/gitboard" in res.stderr
    assert board_tip(server.bare) == tip


def test_a_bad_commit_anywhere_in_a_push_rejects_the_whole_push(server, remote_clone):
    lead = remote_clone(server, "lead")
    do(lead, partial(task_ops.add, actor="lead", subject="one"))
    before = board_tip(server.bare)
    _git(lead, "fetch", "-q", "origin")
    good = forge(lead, dict([task_file(lead, 1, subject="renamed")]), trailers("update", "lead", 1))
    bad = forge(lead, {"junk.bin": b"\0"}, trailers("update", "lead", 1), parent=good)
    _git(lead, "commit", "-q", "--allow-empty", "-m", "code", ident=True)
    res = push(lead, f"{bad}:refs/heads/gitboard", "HEAD:refs/heads/feature")
    assert res.returncode == 1
    refusals = [ln for ln in res.stderr.splitlines() if "gitboard: refused" in ln]
    assert len(refusals) == 1 and bad in refusals[0] and good not in refusals[0]
    assert board_tip(server.bare) == before and board_tip(server.bare, "feature") is None
    res = push(lead, f"{good}:refs/heads/gitboard")                  # the good commit alone goes in
    assert res.returncode == 0, res.stderr and board_tip(server.bare) == good


def test_an_actor_mismatch_is_refused_over_http(http_server, remote_clone):
    """A commit that is legal in itself, but whose actor is not who pushed it."""
    lead = remote_clone(http_server, "lead", user="ann")
    do(lead, partial(task_ops.add, actor="lead", subject="one"))
    before = board_tip(http_server.bare)
    _git(lead, "fetch", "-q", "origin")
    commit = forge(lead, dict([task_file(lead, 1, status="in_progress", owner="bob")]), trailers("claim", "bob", 1))
    res = push(lead, f"{commit}:refs/heads/gitboard")
    assert res.returncode == 1
    assert f"remote: gitboard: refused {commit}: ann may not act as bob" in res.stderr
    assert board_tip(http_server.bare) == before
