"""The hook under gitolite, with real per-user ssh keys (:mod:`tests.hook.gitolite`): gitolite names the
pusher (``GL_USER``), its ``repo-specific-hooks`` feature runs gitboard's hook, and

- identity holds: mallory cannot act as alice, nor as the lead; each acts as themselves;
- a forged commit declared on another push's new tip, while that push is still in flight, is
  judged (mallory's legal claim x->y, and y->z with z a claim by alice).

Skipped, saying why, where gitolite3 or openssh-server is not installed.
"""

from __future__ import annotations

import subprocess
import time
from functools import partial
from pathlib import Path
from typing import Iterator

import pytest

from gitboard.board import task_ops, roster_ops
from gitboard.board.errors import HookRefused
from tests.helpers.board_helpers import board, do
from tests.conftest import _git, _init_board, board_tip
from tests.hook import gitolite
from tests.hook.forgery import claim_commit
from tests.hook.receive_pack import finish, make_pack, start

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(gitolite.missing() is not None, reason=str(gitolite.missing()))]

USERS = ["ann", "alice", "mallory"]
BOARD = "refs/heads/gitboard"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gitolite.GitoliteSite]:
    root = tmp_path_factory.mktemp("gitolite")
    rules = {"RW+": "ann", "RW": "alice mallory"}
    s = gitolite.GitoliteSite(root, USERS, {"identity": rules, "race": rules}, gitolite.hook_script())
    for name in ("identity", "race"):
        _git(s.repo(name), "config", "gitboard.hook.leads", "ann")
        _git(s.repo(name), "config", "receive.fsckObjects", "true")
    yield s
    s.stop()


def clone_as(site: gitolite.GitoliteSite, repo: str, user: str, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", site.url(repo), str(dest)], check=True, env=site.ssh_env(user))
    _git(dest, "config", "core.sshCommand", site.ssh_command(user) + f" -p {site.port}")
    return dest


def board_for(site: gitolite.GitoliteSite, repo: str, tmp_path: Path) -> tuple[Path, Path, Path]:
    """The board made by ann (the lead) in ``repo``: alice and mallory on the roster, two tasks;
    and alice's and mallory's clones."""
    ann = clone_as(site, repo, "ann", tmp_path / "ann")
    _init_board(ann)                                     # made locally, then pushed once: judged as one push
    do(ann, partial(roster_ops.add_member, actor="lead", name="alice"))
    do(ann, partial(roster_ops.add_member, actor="lead", name="mallory"))
    do(ann, partial(task_ops.import_tasks, actor="lead", items=[{"subject": "one"}, {"subject": "two"}]))
    _git(ann, "push", "-q", "origin", "gitboard")
    alice, mallory = (clone_as(site, repo, u, tmp_path / u) for u in ("alice", "mallory"))
    for path in (alice, mallory):
        _init_board(path, remote="origin")              # adopts the remote's board
    return ann, alice, mallory


def test_gitolite_names_the_pusher_and_mallory_cannot_act_as_alice(site, tmp_path):
    ann, alice, mallory = board_for(site, "identity", tmp_path)
    tip = board_tip(site.repo("identity"))
    with pytest.raises(HookRefused, match="mallory may not act as alice"):
        do(mallory, partial(task_ops.claim, actor="alice", task_id=1, lease=600))
    with pytest.raises(HookRefused, match="only a lead may act as lead"):
        do(mallory, partial(task_ops.add, actor="lead", subject="mallory as lead"))
    assert board_tip(site.repo("identity")) == tip
    assert do(alice, partial(task_ops.claim, actor="alice", task_id=1, lease=600)).owner == "alice"
    assert do(mallory, partial(task_ops.claim, actor="mallory", task_id=2, lease=600)).owner == "mallory"
    assert {t.id: t.owner for t in board(alice).tasks.values()} == {1: "alice", 2: "mallory"}


def test_a_forgery_declared_on_a_push_in_flight_is_judged_under_gitolite(site, tmp_path):
    ann, alice, mallory = board_for(site, "race", tmp_path)
    _git(mallory, "fetch", "-q", "origin")
    x = _git(mallory, "rev-parse", "origin/gitboard")
    y = claim_commit(mallory, x, 1, "mallory")             # mallory's legal claim
    z = claim_commit(mallory, y, 2, "alice")               # ... and a claim by alice on top of it
    site.hold(z)
    second = start(site.ssh_argv("mallory", "git-receive-pack 'race'"), [(y, z, BOARD)],
                   make_pack(mallory, [z], [x]))
    end = time.monotonic() + 60
    while not site.judged.exists():                        # z's push judged with the board still at x
        assert time.monotonic() < end and second.poll() is None, second.stderr.read() if second.stderr else ""
        time.sleep(0.02)
    first = subprocess.run(["git", "push", "origin", f"{y}:{BOARD}"], cwd=mallory, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert board_tip(site.repo("race")) == y
    site.release()
    res = finish(second)
    assert f"gitboard: refused {z}: mallory may not act as alice" in res.stderr, res
    assert res.status_of(BOARD) == "pre-receive hook declined"
    assert board_tip(site.repo("race")) == y
