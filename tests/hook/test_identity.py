"""Who pushed is who acts: over smart HTTP (Basic auth, so ``REMOTE_USER`` is real) with two users,
alice and bob, and a lead, ann; and the pusher variables of the other servers."""

from __future__ import annotations

import subprocess
import time
from functools import partial

import pytest

from gitboard.board import task_ops, roster_ops
from gitboard.board.errors import HookRefused
from gitboard.store.hooks import install
from gitboard.store.receive import HookConfig, allowed_actors, pusher_from
from tests.conftest import _git, board_tip
from tests.helpers.board_helpers import do


@pytest.fixture
def team(http_server, remote_clone):
    """The board made by ann (the lead), and a clone each for alice and bob, authenticated as themselves."""
    ann = remote_clone(http_server, "ann", user="ann")
    do(ann, partial(roster_ops.add_member, actor="lead", name="alice"))
    do(ann, partial(roster_ops.add_member, actor="lead", name="bob"))
    do(ann, partial(task_ops.import_tasks, actor="lead", items=[{"subject": "one"}, {"subject": "two"}]))
    alice = remote_clone(http_server, "alice", user="alice")
    bob = remote_clone(http_server, "bob", user="bob")
    return ann, alice, bob


def test_each_user_acts_as_themselves_and_only_the_lead_as_lead(http_server, team):
    ann, alice, bob = team
    assert do(alice, partial(task_ops.claim, actor="alice", task_id=1)).owner == "alice"
    tip = board_tip(http_server.bare)
    start = time.monotonic()
    with pytest.raises(HookRefused) as e:                     # bob's clone, pretending to be alice
        do(bob, partial(task_ops.claim, actor="alice", task_id=2))
    assert time.monotonic() - start < 30 and e.value.exit_code == 3
    assert "bob may not act as alice" in e.value.message
    with pytest.raises(HookRefused, match="only a lead may act as lead"):
        do(bob, partial(task_ops.add, actor="lead", subject="bob as lead"))
    with pytest.raises(HookRefused, match="alice may not act as lead"):
        do(alice, partial(task_ops.release, actor="lead", task_id=1, force=True))
    assert board_tip(http_server.bare) == tip                  # none of it landed
    assert do(bob, partial(task_ops.claim, actor="bob", task_id=2)).owner == "bob"
    assert do(ann, partial(task_ops.release, actor="lead", task_id=1, force=True)).owner == ""
    assert do(ann, partial(task_ops.add, actor="lead", subject="three")).id == 3


def test_the_cli_reports_an_identity_refusal_in_one_line(http_server, team, run_gitboard):
    ann, alice, bob = team
    res = run_gitboard(["task", "claim", "1", "--as", "alice"], cwd=bob, timeout=60)
    assert res.exit_code == 3
    assert res.stderr.count("\n") == 1 and "bob may not act as alice" in res.stderr
    assert res.stderr.startswith("gitboard: error: origin refused the push: gitboard: refused ")


def test_a_user_may_be_allowed_other_names(http_server, team):
    ann, alice, bob = team
    _git(http_server.bare, "config", "--add", "gitboard.hook.actors.bob", "bob, bot-1")
    assert do(bob, partial(task_ops.claim, actor="bot-1", task_id=1)).owner == "bot-1"
    with pytest.raises(HookRefused, match="bob may not act as alice"):
        do(bob, partial(task_ops.claim, actor="alice", task_id=2))


def test_task_branches_take_pushes_from_their_owner_or_a_lead(http_server, team):
    ann, alice, bob = team
    do(alice, partial(task_ops.claim, actor="alice", task_id=1))
    for who in (alice, bob):
        _git(who, "commit", "-q", "--allow-empty", "-m", f"work of {who.name}", ident=True)
    ok = subprocess.run(["git", "push", "origin", "HEAD:refs/heads/task/1"], cwd=alice, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    res = subprocess.run(["git", "push", "origin", "HEAD:refs/heads/task/2"], cwd=bob, capture_output=True, text=True)
    assert res.returncode == 1 and "bob may not push refs/heads/task/2: task #2 is not claimed" in res.stderr
    res = subprocess.run(["git", "push", "origin", "HEAD:refs/heads/task/9"], cwd=bob, capture_output=True, text=True)
    assert res.returncode == 1 and "there is no task #9" in res.stderr
    _git(ann, "commit", "-q", "--allow-empty", "-m", "lead's fix", ident=True)
    res = subprocess.run(["git", "push", "origin", "HEAD:refs/heads/task/2"], cwd=ann, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert board_tip(http_server.bare, "task/2") is not None and board_tip(http_server.bare, "task/1") is not None


def test_the_base_only_fast_forwards_and_a_protected_base_takes_only_the_queues_merges(http_server, team):
    ann, alice, bob = team
    _git(ann, "commit", "-q", "--allow-empty", "-m", "base", ident=True)
    assert subprocess.run(["git", "push", "-q", "origin", "HEAD:refs/heads/main"], cwd=ann).returncode == 0
    _git(alice, "fetch", "-q", "origin")
    _git(alice, "checkout", "-q", "-B", "main", "origin/main")
    _git(alice, "commit", "-q", "--allow-empty", "-m", "alice on main", ident=True)
    assert subprocess.run(["git", "push", "-q", "origin", "main"], cwd=alice).returncode == 0   # unprotected
    _git(http_server.bare, "config", "gitboard.hook.protectBase", "true")
    _git(alice, "commit", "-q", "--allow-empty", "-m", "again", ident=True)
    res = subprocess.run(["git", "push", "origin", "main"], cwd=alice, capture_output=True, text=True)
    assert res.returncode == 1 and "alice may not push the protected base branch" in res.stderr
    res = subprocess.run(["git", "push", "origin", "+main~2:refs/heads/main"], cwd=alice, capture_output=True,
                         text=True)
    assert res.returncode == 1 and "a rewind of the base branch refs/heads/main" in res.stderr
    _git(ann, "fetch", "-q", "origin")
    _git(ann, "checkout", "-q", "-B", "main", "origin/main")
    _git(ann, "commit", "-q", "--allow-empty", "-m", "not a merge", ident=True)
    res = subprocess.run(["git", "push", "origin", "main"], cwd=ann, capture_output=True, text=True)
    assert res.returncode == 1 and "takes only merge-queue commits" in res.stderr


def test_pushers_come_from_each_servers_variable():
    assert pusher_from({"REMOTE_USER": "web"}) == "web"
    assert pusher_from({"GL_USERNAME": "gl"}) == "gl" and pusher_from({"GL_USER": "gitolite"}) == "gitolite"
    assert pusher_from({"GITEA_PUSHER_NAME": "tea"}) == "tea"
    assert pusher_from({"GITBOARD_PUSHER": "ssh"}) == "ssh"
    assert pusher_from({"REMOTE_USER": "", "GITBOARD_PUSHER": "ssh"}) == "ssh" and pusher_from({}) is None
    cfg = HookConfig(leads={"ann"}, actors={"ci": ["*"], "lead": ["lead"]})
    assert allowed_actors(cfg, "ann") == ({"ann", "lead"}, False)
    assert allowed_actors(cfg, "lead") == (set(), False)            # named lead, but not a lead
    assert allowed_actors(cfg, "ci") == (set(), True)


def test_an_ssh_forced_command_names_the_pusher(bare_remote, clone, git):
    """Over a file path (as an ssh forced command runs git-receive-pack), GITBOARD_PUSHER is the pusher."""
    install(str(bare_remote), leads=["ann"])
    c = clone("c1")
    git(c, "config", "remote.origin.receivepack", "env GITBOARD_PUSHER=mallory git-receive-pack")
    with pytest.raises(HookRefused, match="mallory may not act as lead"):
        do(c, partial(task_ops.add, actor="lead", subject="x"))
    git(c, "config", "remote.origin.receivepack", "env GITBOARD_PUSHER=ann git-receive-pack")
    assert do(c, partial(task_ops.add, actor="lead", subject="x")).id == 1
