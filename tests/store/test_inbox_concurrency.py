"""Exactly-once inboxes under real concurrency: OS processes sending and draining at once.

Every worker is a separate Python process (``tests/helpers/inbox_helpers.py``) that
calls :func:`gitboard.store.transact.transact` in a loop, like teammates do.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from gitboard.board import inbox_ops, roster_ops
from tests.helpers.inbox_helpers import finish, read, run_op, spawn_worker


def _collect(outfiles: list[Path]) -> list[dict]:
    got: list[dict] = []
    for f in outfiles:
        if f.exists():
            got += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return got


def _run(send_plan: list[tuple[Path, str]], drain_repos: list[Path], tmp_path: Path, count: int) -> tuple[list[dict], float]:
    """Start one drainer per repo in ``drain_repos`` and one sender per (repo, sender) in ``send_plan``;
    when every sender is done, tell the drainers to finish. Returns (drained records, seconds)."""
    stop = tmp_path / "stop"
    outs = [tmp_path / f"drained{k}.jsonl" for k in range(len(drain_repos))]
    start = time.monotonic()
    drainers = [spawn_worker("drain", r, "alice", stop, out) for r, out in zip(drain_repos, outs)]
    try:
        senders = [spawn_worker("send", r, s, "alice", count) for r, s in send_plan]
        for p in senders:
            finish(p)
    finally:
        stop.touch()
    for p in drainers:
        finish(p)
    return _collect(outs), time.monotonic() - start


def _check_exactly_once(got: list[dict], senders: list[str], count: int) -> None:
    expected = {f"{s}-{i:04d}" for s in senders for i in range(count)}
    dupes = [i for i, n in Counter(r["id"] for r in got).items() if n > 1]
    assert not dupes, f"read more than once: {dupes[:10]}"
    missing = expected - {r["id"] for r in got}
    assert not missing, f"{len(missing)} messages never read, e.g. {sorted(missing)[:10]}"
    assert len(got) == len(expected)
    assert all(r["content"] == f"{r['from']} #{int(r['id'].rsplit('-', 1)[1])}" for r in got)


@pytest.mark.slow
def test_800_messages_from_8_processes_are_each_read_exactly_once(repo, tmp_path, git):
    run_op(repo, roster_ops.add_member, actor="lead", name="alice")
    senders = [f"p{k}" for k in range(8)]
    got, seconds = _run([(repo, s) for s in senders], [repo], tmp_path, 100)
    print(f"800 messages, 8 senders + 1 drainer: {seconds:.1f} s")
    _check_exactly_once(got, senders, 100)
    # oldest first: each sender's messages come out in the order it sent them
    for s in senders:
        seq = [int(r["id"].rsplit("-", 1)[1]) for r in got if r["from"] == s]
        assert seq == sorted(seq)
    assert inbox_ops.peek(read(repo), "alice") == []
    # and in git: 800 send commits; every message file added once and deleted once
    actions = Counter(git(repo, "log", "--format=%(trailers:key=Gitboard-Action,valueonly,separator=)",
                          "gitboard").split())
    assert actions["send"] == 800 and actions["drain"] >= 1
    added = git(repo, "log", "--diff-filter=A", "--name-only", "--format=", "gitboard", "--", ".team/inbox").split()
    deleted = git(repo, "log", "--diff-filter=D", "--name-only", "--format=", "gitboard", "--", ".team/inbox").split()
    assert len(added) == len(set(added)) == 800 and sorted(deleted) == sorted(added)


@pytest.mark.slow
def test_exactly_once_across_two_clones_sharing_a_bare_remote(clone, tmp_path):
    a, b = clone("a"), clone("b")
    run_op(a, roster_ops.add_member, actor="lead", name="alice")
    plan = [(a, "a0"), (a, "a1"), (b, "b0"), (b, "b1")]
    got, seconds = _run(plan, [a, b], tmp_path, 20)
    print(f"80 messages, 2 clones x (2 senders + 1 drainer): {seconds:.1f} s")
    _check_exactly_once(got, [s for _, s in plan], 20)
    assert inbox_ops.peek(read(a), "alice") == [] and inbox_ops.peek(read(b), "alice") == []
