"""``verify`` reports commits dated in the future (beyond a tolerance of the verifier's clock) and
dates out of order along the history: a forged claim dated two hours ahead would otherwise pass
into a live lease, since ``verify`` judges leases by each commit's own date."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path

from gitboard.board import date_rules, task_ops, roster_ops
from gitboard.store.repo import BoardRepo
from gitboard.store.verify import check_range
from tests.helpers.board_helpers import do
from tests.conftest import _git
from tests.hook.forgery import claim_commit


def verify(path: Path):
    with BoardRepo(path) as r:
        return check_range(r, None, r.tip())[0]


def test_a_claim_dated_two_hours_ahead_and_the_history_after_it_are_reported(repo, run_cli):
    do(repo, partial(roster_ops.add_member, actor="lead", name="bob"))
    do(repo, partial(task_ops.add, actor="lead", subject="one"))
    do(repo, partial(task_ops.claim, actor="alice", task_id=1, lease=600))
    assert verify(repo).violations == []
    tip = _git(repo, "rev-parse", "gitboard")
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    forged = claim_commit(repo, tip, 1, "bob", now=later)       # alice's lease has ended, by its own date
    _git(repo, "update-ref", "refs/heads/gitboard", forged, tip)
    found = verify(repo).violations
    assert [(v.commit, v.rule, v.actor) for v in found] == [(forged, date_rules.DATES, "bob")]
    assert "s in the future" in found[0].message
    do(repo, partial(task_ops.add, actor="lead", subject="two"))  # dated now: before its parent
    found = verify(repo).violations
    assert [v.rule for v in found] == [date_rules.DATES, date_rules.DATES]
    assert "dates out of order along the history" in found[1].message
    res = run_cli(["verify"], cwd=repo)
    assert res.exit_code == 1 and "in the future" in res.stdout and "out of order" in res.stdout


def test_small_differences_between_clocks_are_tolerated():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    t = int(now.timestamp())
    assert date_rules.date_refusals(t + 299, t + 200, now) == []          # 5 minutes of skew either way
    assert date_rules.date_refusals(t + 301, None, now)
    assert date_rules.date_refusals(t - 301, t, now)
