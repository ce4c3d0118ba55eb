"""A live lease cannot be taken over: the hook's skew allowance never favours the taker.

Alice claims with a 60 s lease; a takeover forged one second later is refused, by the warm hook
server and by the hook's own process. A client whose clock runs two minutes ahead believes the
lease has ended; the hook refuses its claim, naming the lease's end and the server's time, and
the same claim goes through once the lease has really ended.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops, roster_ops
from gitboard.board.errors import HookRefused
from gitboard.store.hooks import install
from tests.helpers.board_helpers import board, do
from tests.conftest import _git, board_tip
from tests.hook.forgery import claim_commit


@pytest.fixture(params=["server", "no-server"])
def remote(request, bare_remote: Path) -> Path:
    install(str(bare_remote), python=sys.executable, server=request.param == "server")
    return bare_remote


def test_a_takeover_one_second_into_a_60_s_lease_is_refused(remote, clone):
    lead = clone("lead")
    do(lead, partial(roster_ops.add_member, actor="lead", name="mallory"))
    do(lead, partial(task_ops.add, actor="lead", subject="one"))
    do(lead, partial(task_ops.claim, actor="alice", task_id=1, lease=60))
    _git(lead, "fetch", "-q", "origin")
    tip = _git(lead, "rev-parse", "origin/gitboard")
    time.sleep(1)
    forged = claim_commit(lead, tip, 1, "mallory", lease=600)
    for _ in range(2):   # twice: the second push finds the hook server the first one started
        p = subprocess.run(["git", "push", "origin", f"{forged}:refs/heads/gitboard"], cwd=lead,
                           capture_output=True, text=True)
        assert p.returncode == 1
        assert f"refused {forged}: claim by mallory: claim of a task that is not ready: task #1 is claimed by " \
               f"alice, leased until" in p.stderr, p.stderr
        assert board_tip(remote) == tip


def test_a_client_whose_clock_runs_ahead_is_refused_clearly_and_waits(bare_remote, clone, monkeypatch):
    lead = clone("lead")
    do(lead, partial(task_ops.add, actor="lead", subject="one"))
    do(lead, partial(task_ops.claim, actor="alice", task_id=1, lease=2))
    ahead = clone("ahead")
    real = datetime.now
    monkeypatch.setattr("gitboard.store.transact.utcnow", lambda: real(timezone.utc) + timedelta(seconds=120))
    with pytest.raises(HookRefused) as e:
        do(ahead, partial(task_ops.claim, actor="bob", task_id=1, lease=60))
    assert e.value.exit_code == 3
    assert "task #1 is claimed by alice, leased until" in e.value.message and "here)" in e.value.message
    assert board(lead).tasks[1].owner == "alice"
    end = datetime.fromisoformat(board(lead).tasks[1].lease_expires_at.replace("Z", "+00:00"))
    time.sleep(max(0.0, (end - real(timezone.utc)).total_seconds()) + 0.2)
    assert do(ahead, partial(task_ops.claim, actor="bob", task_id=1, lease=60)).owner == "bob"
