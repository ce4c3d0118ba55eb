"""The hook judges every update of the board and base, whatever ``<old>`` its pusher declares.

Raw ``git receive-pack`` sessions (:mod:`tests.hook.receive_pack`) declare the old values a
forger would: all zeros for a deletion, an object that is not on the ref's history, another
push's new tip. And a race: a forged commit declared on a legal push's tip while that push
is still in flight is judged, not waved through as stale.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops, roster_ops
from gitboard.store.hooks import install
from tests.helpers.board_helpers import do
from tests.conftest import _git, _init_board, board_tip
from tests.hook.forgery import claim_commit
from tests.hook.receive_pack import ZERO, make_pack, raw_push, start, finish

BOARD = "refs/heads/gitboard"


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    """A hooked bare repository (``gitboard hook install``) with a board of two tasks and a base
    branch ``main``, and the lead's clone that made them."""
    bare = tmp_path / "srv.git"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", "--template=", str(bare))
    install(str(bare), leads=["ann"], python=sys.executable)
    lead = tmp_path / "lead"
    _git(tmp_path, "clone", "-q", str(bare), str(lead))
    _git(lead, "commit", "-q", "--allow-empty", "-m", "base", ident=True)
    _git(lead, "push", "-q", "origin", "HEAD:refs/heads/main")
    _init_board(lead, remote="origin")
    do(lead, partial(roster_ops.add_member, actor="lead", name="mallory"))
    do(lead, partial(task_ops.import_tasks, actor="lead", items=[{"subject": "one"}, {"subject": "two"}]))
    _git(lead, "fetch", "-q", "origin")
    return bare, lead


def as_user(user: str) -> dict:
    return {**os.environ, "GITBOARD_PUSHER": user}


def test_a_deletion_declared_on_all_zeros_is_refused_for_the_board_and_the_base(site):
    bare, lead = site
    tip, base = board_tip(bare), board_tip(bare, "main")
    for ref, old in ((BOARD, ZERO), (BOARD, tip), ("refs/heads/main", ZERO), ("refs/heads/main", base)):
        res = raw_push(["git", "receive-pack", str(bare)], [(old, ZERO, ref)], env=as_user("ann"))
        what = "board" if ref == BOARD else "base"
        assert f"gitboard: refused {ZERO}: deletion of the {what} branch {ref}" in res.stderr, res
        assert res.status_of(ref) == "pre-receive hook declined"
    assert (board_tip(bare), board_tip(bare, "main")) == (tip, base)


def test_an_update_declared_on_an_object_off_the_refs_history_is_judged_from_the_tip(site):
    bare, lead = site
    x = board_tip(bare)
    y = claim_commit(lead, x, 1, "mallory")                # legal, and mallory's
    z = claim_commit(lead, y, 2, "alice")                  # mallory acting as alice
    pack = make_pack(lead, [z], [x])
    res = raw_push(["git", "receive-pack", str(bare)], [(y, z, BOARD)], pack, env=as_user("mallory"))
    assert f"gitboard: refused {z}: mallory may not act as alice" in res.stderr, res
    assert board_tip(bare) == x
    # the same, declared as a creation (all zeros) of the existing board: judged from its tip too
    res = raw_push(["git", "receive-pack", str(bare)], [(ZERO, z, BOARD)], pack, env=as_user("mallory"))
    assert f"gitboard: refused {z}: mallory may not act as alice" in res.stderr, res
    assert board_tip(bare) == x


def test_an_update_whose_old_is_behind_the_tip_is_a_lost_race_and_git_refuses_it(site):
    bare, lead = site
    x = board_tip(bare)
    y = claim_commit(lead, x, 1, "mallory")
    assert raw_push(["git", "receive-pack", str(bare)], [(x, y, BOARD)], make_pack(lead, [y], [x]),
                    env=as_user("mallory")).status_of(BOARD) == "ok"
    z = claim_commit(lead, x, 2, "mallory")                # declared on x, which the board has left
    res = raw_push(["git", "receive-pack", str(bare)], [(x, z, BOARD)], make_pack(lead, [z], [x]),
                   env=as_user("mallory"))
    assert "gitboard: refused" not in res.stderr and res.status_of(BOARD) not in ("ok", "")
    assert board_tip(bare) == y


def gate_hook(bare: Path, marker: str, tmp: Path) -> tuple[Path, Path]:
    """Wrap the repository's pre-receive hook: a push whose input names ``marker`` is judged by
    gitboard's hook, says so (``judged``), then waits for ``gate`` before git moves any ref."""
    hooks = bare / "hooks"
    os.replace(hooks / "pre-receive", hooks / "pre-receive.gitboard")
    judged, gate = tmp / "judged", tmp / "gate"
    (hooks / "pre-receive").write_text(
        "#!/bin/sh\n"
        f"input=$(cat)\nprintf '%s\\n' \"$input\" | '{hooks}/pre-receive.gitboard'\nstatus=$?\n"
        f"case \"$input\" in *{marker}*) touch '{judged}'; while [ ! -e '{gate}' ]; do sleep 0.05; done;; esac\n"
        "exit $status\n")
    (hooks / "pre-receive").chmod(0o755)
    return judged, gate


def wait_for(path: Path, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.02)


def test_a_forgery_declared_on_a_push_still_in_flight_is_judged(site, tmp_path):
    """mallory pushes her legal claim x->y, and y->z (z a claim by alice) declared on y while the
    board is still at x: the second push's hook must judge z (it would land once y does)."""
    bare, lead = site
    x = board_tip(bare)
    y = claim_commit(lead, x, 1, "mallory")
    z = claim_commit(lead, y, 2, "alice")
    judged, gate = gate_hook(bare, z, tmp_path)
    second = start(["git", "receive-pack", str(bare)], [(y, z, BOARD)], make_pack(lead, [z], [x]),
                   env=as_user("mallory"))
    wait_for(judged)                                       # z's push has been judged, the board at x
    first = subprocess.run(["git", "push", "--porcelain", "origin", f"{y}:{BOARD}"], cwd=lead,
                           capture_output=True, text=True, env=as_user("mallory"))
    assert first.returncode == 0, first.stderr
    assert board_tip(bare) == y
    gate.touch()
    res = finish(second)
    assert f"gitboard: refused {z}: mallory may not act as alice" in res.stderr, res
    assert res.status_of(BOARD) == "pre-receive hook declined"
    assert board_tip(bare) == y


def test_an_update_of_the_base_declared_off_its_history_is_judged_from_its_tip(site):
    bare, lead = site
    base = board_tip(bare, "main")
    stray = _git(lead, "commit-tree", _git(lead, "rev-parse", "main^{tree}"), "-m", "stray root", ident=True)
    rewound = _git(lead, "commit-tree", _git(lead, "rev-parse", "main^{tree}"), "-p", stray, "-m", "x", ident=True)
    res = raw_push(["git", "receive-pack", str(bare)], [(stray, rewound, "refs/heads/main")],
                   make_pack(lead, [rewound]), env=as_user("ann"))
    assert f"gitboard: refused {rewound}: a rewind of the base branch refs/heads/main" in res.stderr, res
    assert board_tip(bare, "main") == base


def test_other_branches_keep_the_servers_own_rules_a_task_branch_may_be_force_pushed(site):
    """``hook install`` sets nothing repository-wide: a teammate may rewrite its own task branch
    (where the server allows it), while the board and base still refuse rewinds."""
    bare, lead = site
    first = _git(lead, "commit-tree", _git(lead, "rev-parse", "main^{tree}"), "-p", "main", "-m", "one", ident=True)
    again = _git(lead, "commit-tree", _git(lead, "rev-parse", "main^{tree}"), "-p", "main", "-m", "two", ident=True)
    _git(lead, "push", "-q", "origin", f"{first}:refs/heads/task/1")
    _git(lead, "push", "-q", "--force", "origin", f"{again}:refs/heads/task/1")
    assert board_tip(bare, "task/1") == again
    res = subprocess.run(["git", "push", "--force", "origin", f"{board_tip(bare)}~1:{BOARD}"], cwd=lead,
                         capture_output=True, text=True)
    assert res.returncode == 1 and "a rewind of the board branch" in res.stderr
