"""The turn state of a clone of a remote board: when its writers leave gaps for other clones."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gitboard.store import turn as turn_mod
from gitboard.store.repo import BoardRepo
from gitboard.store.turn import Turn


@pytest.fixture
def half(monkeypatch):
    """random.random() always 0.5: the gaps are then exactly half of their bound."""
    monkeypatch.setattr(turn_mod.random, "random", lambda: 0.5)


def test_a_clone_alone_on_the_board_writes_back_to_back_without_gaps(clone, half):
    with BoardRepo(clone("c1")) as r:
        t = Turn(r, "q")
        for commit in ("a" * 40, "b" * 40, "c" * 40):
            t.won(commit, contended=False, attempt_seconds=0.2)
            assert t.read().until == 0.0
        assert t.landed == ["a" * 40, "b" * 40, "c" * 40] and t.mine == "c" * 40


def test_a_clone_among_others_leaves_gaps_until_it_has_been_alone_a_while(clone, half, monkeypatch):
    with BoardRepo(clone("c1")) as r:
        t = Turn(r, "q")
        before = time.time()
        t.won("a" * 40, contended=True, attempt_seconds=0.2)          # a race lost first: up to a round trip
        assert before + 0.1 <= t.read().until <= time.time() + 0.1
        t.won("b" * 40, contended=False, attempt_seconds=0.2)         # back to back, others about: up to half
        assert before + 0.05 <= t.read().until <= time.time() + 0.05
        monkeypatch.setattr(turn_mod, "CONTENDED_SECONDS", 0.0)       # alone since: no gap
        t.won("c" * 40, contended=False, attempt_seconds=0.2)
        assert t.read().until == 0.0
        other = Turn(r, "q").read()                                   # what the clone's other processes see
        assert (other.until, other.seen, other.mine) == (0.0, t.seen, "c" * 40) and t.seen >= before


def _turn_ref(repo: BoardRepo, name: str, commit: str, age: float = 0.0) -> None:
    """Leave the remote's turn ref ``name`` as a fetch would, seen moving ``age`` seconds ago."""
    from gitboard.store.remote import turns_tracking

    path = Path(repo.common_dir, turns_tracking(repo), name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(commit + "\n")
    seen = time.time() - age
    os.utime(path, (seen, seen))


def test_clones_take_turns_after_the_one_that_landed_the_tip(clone):
    """Ring [a, me, y, z] with round trips of 0.1 s: the next goes at once, the next but one looks
    every 0.015 s, the ones after every 0.05 s, each until the turns before it had their time."""
    with BoardRepo(clone("c1")) as r:
        t = Turn(r, "q")
        t.round_trip = 0.1
        assert t.hold("1" * 40) == 0.0 and t.others == 0          # alone: nobody to wait for
        assert t.announces("1" * 40, 0)                            # never wrote: says so on its push
        a, y, z = "0" * 16, "f" * 15 + "e", "f" * 16                # sorted: a < me < y < z
        assert a < t.name < y
        for name, commit in ((a, "a" * 40), (y, "b" * 40), (z, "c" * 40)):
            _turn_ref(r, name, commit)
        assert t.hold("a" * 40) == 0.0 and t.others == 3           # a landed it: this clone is next
        assert t.distance == 1
        assert t.hold("c" * 40) == pytest.approx(0.015)            # z landed it: a first (d = 2)
        assert t.distance == 2
        assert t.hold("b" * 40) == pytest.approx(0.05)             # y landed it: z, a first (d = 3)
        assert t.distance == 3
        assert t.hold("b" * 40, waited=0.28) == pytest.approx(0.02)
        assert t.hold("b" * 40, waited=0.3) == 0.0                 # they had their time: go anyway
        assert t.hold("9" * 40) == 0.0                             # landed by a clone outside the ring
        t.landed = ["d" * 40]
        assert t.hold("d" * 40) == pytest.approx(0.05)             # this clone's own tip: last (d = 4)
        assert t.announces("d" * 40, 0)                            # others active: every push says so


def test_a_turn_ref_that_stopped_moving_leaves_the_ring(clone):
    with BoardRepo(clone("c1")) as r:
        t = Turn(r, "q")
        t.round_trip = 0.1
        a, y, z = "0" * 16, "f" * 15 + "e", "f" * 16
        _turn_ref(r, a, "a" * 40)
        _turn_ref(r, y, "b" * 40)
        _turn_ref(r, z, "c" * 40, age=turn_mod.ACTIVE_SECONDS + 1)  # z stopped writing
        assert t.hold("b" * 40) == pytest.approx(0.015) and t.others == 2   # ring [a, me, y]: a, then me
        assert t.hold("c" * 40) == 0.0                                        # z's tip: nobody's turn
        for name in (a, y):
            _turn_ref(r, name, "e" * 40, age=turn_mod.ACTIVE_SECONDS + 1)
        assert t.hold("b" * 40) == 0.0 and t.others == 0
        t.landed, t.said = ["d" * 40], time.time()
        assert not t.announces("d" * 40, 0)                        # alone, on its own tip: a plain push
        assert t.announces("d" * 40, 1)                            # after a lost race it says so
        t.said -= turn_mod.ACTIVE_SECONDS
        assert t.announces("d" * 40, 0)                            # and once in a while when alone


def test_a_large_ring_keeps_a_clone_between_its_turns(clone):
    """40 clones at 0.1 s a round trip: a turn of the ring takes about 4 s, longer than
    ACTIVE_SECONDS, so a ref that moved 5 s ago still counts (two round trips per ref: 8 s)."""
    with BoardRepo(clone("c1")) as r:
        t = Turn(r, "q")
        t.round_trip = 0.1
        names = [f"{k:016x}" for k in range(40)]
        for k, name in enumerate(names):
            _turn_ref(r, name, f"{k:040x}", age=5.0)
        t.hold("0" * 40)
        assert t.others == 40
        _turn_ref(r, names[0], "0" * 40, age=9.0)  # past the window: left the ring
        t.hold("1" * 40)
        assert t.others == 39


def test_turn_refs_that_a_look_saw_move_count_as_active(clone):
    """A look (a ref listing) brings turn refs without touching the tracking refs: one that
    differs from what this clone last fetched moved since, so its clone is writing now."""
    with BoardRepo(clone("c1")) as r:
        t = Turn(r, "q")
        t.round_trip = 0.1
        a, y = "0" * 16, "f" * 16                                       # sorted: a < me < y
        _turn_ref(r, a, "a" * 40, age=turn_mod.ACTIVE_SECONDS + 1)    # both idle, as last fetched
        _turn_ref(r, y, "b" * 40, age=turn_mod.ACTIVE_SECONDS + 1)
        assert t.hold("c" * 40) == 0.0 and t.others == 0
        looked = {a: "c" * 40, y: "b" * 40}                             # a landed "c" since; y did not move
        assert t.hold("c" * 40, looked=looked) == 0.0 and t.others == 1 and t.distance == 1
        n = "f" * 15 + "e"                                               # a newcomer: a < me < n < y
        assert t.name < n
        looked = {a: "c" * 40, y: "e" * 40, n: "9" * 40}                 # y landed "e", n is trying
        assert t.hold("e" * 40, looked=looked) == pytest.approx(0.015) and t.others == 3
        assert t.distance == 2                                           # ring [a, me, n, y]: a, then me
        assert not t.in_ring
        t.won("f" * 40, contended=True, attempt_seconds=0.1)            # a win among them
        assert t.in_ring and Turn(r, "q").read().in_ring                 # its next write starts with a look


def test_a_clone_leaves_the_ring_when_its_last_win_among_others_is_old(clone, monkeypatch):
    with BoardRepo(clone("c1")) as r:
        t = Turn(r, "q")
        t.others = 2
        t.won("a" * 40, contended=True, attempt_seconds=0.1)
        first = t.ring
        assert Turn(r, "q").read().in_ring and first > 0
        monkeypatch.setattr(turn_mod, "ACTIVE_SECONDS", 0.0)
        assert not Turn(r, "q").read().in_ring                           # it starts with a fetch again
        t.others = 0
        monkeypatch.setattr(turn_mod, "ACTIVE_SECONDS", 3.0)
        t.won("b" * 40, contended=False, attempt_seconds=0.1)           # a win alone keeps the old time
        assert Turn(r, "q").read().ring == first


def _third_in_turn(r: BoardRepo, bare_remote: Path, git, board_tip) -> Turn:
    """Make ``r`` (a clone that wrote the tip) third in turn: turn refs p, q and r on the
    remote sort after it and p's names the tip (ring [me, p, q, r]); its round trip 0.2 s."""
    from gitboard.store import group, remote

    t = Turn(r, group.Queue(r.common_dir, r.branch, r.remote).dir.name)
    tip = board_tip(bare_remote)
    for suffix, commit in (("a", tip), ("b", f"{tip}~1"), ("c", f"{tip}~1")):
        git(bare_remote, "update-ref", f"{remote.TURNS}{t.name}{suffix}", commit)
    t.round_trip = 0.2
    t.won("0" * 40, contended=False, attempt_seconds=0.2)          # its mean round trip: 0.2 s
    return t


def _count(monkeypatch, repo: BoardRepo, before_look=None) -> dict[str, int]:
    """Count ``repo``'s calls of gitboard.store.remote's fetch and look (the real ones run);
    ``before_look(n)`` runs before its n-th look."""
    from gitboard.store import remote

    calls = {"fetch": 0, "look": 0}
    for verb in calls:
        real = getattr(remote, verb)

        def counted(r, *a, _real=real, _verb=verb, **k):
            if r is repo:
                calls[_verb] += 1
                if _verb == "look" and before_look is not None:
                    before_look(calls["look"])
            return _real(r, *a, **k)
        monkeypatch.setattr(remote, verb, counted)
    return calls


def test_a_clone_far_from_its_turn_looks_by_listing_and_fetches_only_to_write(clone, bare_remote, git,
                                                                               board_tip, monkeypatch):
    """Ring [me, p, q, r] and p landed the tip: q and r go first, and this clone is third in turn.
    It holds back three round trips (0.2 s each), looking by ref listing, then fetches once more
    and writes."""
    from functools import partial

    from gitboard.board import task_ops
    from gitboard.store import remote
    from gitboard.store.transact import Stats, transact

    me = clone("me")
    with BoardRepo(me) as r:
        transact(r, partial(task_ops.add, actor="lead", subject="first"))
        t = _third_in_turn(r, bare_remote, git, board_tip)
        calls = _count(monkeypatch, r)
        started, stats = time.monotonic(), Stats()
        task = transact(r, partial(task_ops.add, actor="lead", subject="after q and r"), stats=stats)
        took = time.monotonic() - started
    assert board_tip(bare_remote) == stats.commit and task.id == 2 and stats.attempts == 1
    assert git(bare_remote, "rev-parse", f"{remote.TURNS}{t.name}") == stats.commit   # it said so
    assert took >= 0.55                                                # three round trips: q and r had their turns
    assert calls["fetch"] == 2 and calls["look"] >= 3                  # looked by listing in between


def test_a_clone_that_looked_and_reaches_its_deadline_fetches_before_it_writes(clone, bare_remote, git,
                                                                             board_tip, monkeypatch):
    """Third in turn with a 0.5 s deadline (three round trips would be 0.6 s): another clone
    lands a write while this one looks, so the tip's objects are not here; at the deadline
    this clone fetches them and writes on that tip."""
    from functools import partial

    from gitboard.board import task_ops
    from gitboard.store import remote
    from gitboard.store.transact import Stats, transact

    me, other = clone("me"), clone("other")
    with BoardRepo(me) as r:
        transact(r, partial(task_ops.add, actor="lead", subject="first"))
        t = _third_in_turn(r, bare_remote, git, board_tip)

        def other_writes(n: int) -> None:
            if n == 1:  # p lands another write: the tip moves, and p still landed it
                with BoardRepo(other) as o:
                    transact(o, partial(task_ops.add, actor="lead", subject="by p"))
                git(bare_remote, "update-ref", f"{remote.TURNS}{t.name}a", board_tip(bare_remote))

        calls = _count(monkeypatch, r, other_writes)
        stats = Stats()
        task = transact(r, partial(task_ops.add, actor="lead", subject="at the deadline"), stats=stats,
                        deadline=0.5)
        moved = git(me, "rev-parse", f"{stats.commit}~1")
    assert task.id == 3 and board_tip(bare_remote) == stats.commit
    assert git(bare_remote, "log", "-1", "--format=%s", moved) == "add #2 by lead: by p"  # on p's write
    assert calls["look"] >= 1 and calls["fetch"] == 2


def test_refs_of_clones_gone_long_ago_do_not_widen_the_ring_window(clone):
    """300 turn refs that stopped moving a day ago, and one that moved 20 s ago, at 0.1 s a
    round trip: two round trips for each of 301 refs would be a 60 s window, and that clone
    would still count; only refs that moved in the last ACTIVE_CAP_SECONDS set the length, so
    the window stays 3 s and nobody is in the ring."""
    with BoardRepo(clone("c1")) as r:
        t = Turn(r, "q")
        t.round_trip = 0.1
        for k in range(300):
            _turn_ref(r, f"{k:016x}", f"{k:040x}", age=86_400.0)
        _turn_ref(r, "f" * 16, "f" * 40, age=20.0)
        assert t.hold("f" * 40) == 0.0 and t.others == 0
        _turn_ref(r, "f" * 16, "f" * 40, age=1.0)                  # it moves again: in the ring
        t.hold("f" * 40)
        assert t.others == 1


def _old_commit(repo: Path, message: str, days: float = 2.0) -> str:
    """A commit of the board's tree in ``repo`` (a bare remote) made ``days`` days ago."""
    import subprocess

    when = f"@{int(time.time() - days * 86_400)} +0000"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    return subprocess.run(["git", "commit-tree", "gitboard^{tree}", "-m", message], cwd=repo, env=env,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_turn_refs_of_clones_gone_a_day_are_deleted_from_the_remote(clone, bare_remote, git, board_tip):
    """A write that lands deletes, through gitboard's own pre-receive hook, the turn refs naming
    commits older than STALE_SECONDS; refs in use stay, the next fetch drops the deleted ones
    from the tracking refs, and the clone looks again only after PRUNE_INTERVAL."""
    from functools import partial

    from gitboard.board import task_ops
    from gitboard.store import group, remote
    from gitboard.store.transact import transact

    gone, busy, later = "d" * 16, "f" * 16, "c" * 16
    with BoardRepo(clone("me")) as r:
        transact(r, partial(task_ops.add, actor="lead", subject="first"))     # looked: nothing stale
        git(bare_remote, "update-ref", f"{remote.TURNS}{gone}", _old_commit(bare_remote, "gone"))
        git(bare_remote, "update-ref", f"{remote.TURNS}{busy}", board_tip(bare_remote))
        t = Turn(r, group.Queue(r.common_dir, r.branch, r.remote).dir.name)
        an_hour_ago = time.time() - turn_mod.PRUNE_INTERVAL - 1
        os.utime(f"{t.path}.pruned", (an_hour_ago, an_hour_ago))
        transact(r, partial(task_ops.add, actor="lead", subject="second"))    # an hour on: looks again
        assert git(bare_remote, "for-each-ref", "--format=%(refname:lstrip=3)", remote.TURNS).split() \
            == sorted([busy, t.name])                                         # gone deleted; the others in use
        remote.fetch(r)
        assert set(remote.turns(r)) == {busy, t.name}                         # and gone from the tracking refs

        git(bare_remote, "update-ref", f"{remote.TURNS}{later}", _old_commit(bare_remote, "later"))
        transact(r, partial(task_ops.add, actor="lead", subject="third"))     # within the interval: no look
        assert git(bare_remote, "rev-parse", f"{remote.TURNS}{later}")
        assert t.prune(now=time.time() + turn_mod.PRUNE_INTERVAL + 1) == [later]
        assert t.prune(now=time.time() + turn_mod.PRUNE_INTERVAL + 2) == []   # looked a moment ago
    assert sorted(git(bare_remote, "for-each-ref", "--format=%(refname:lstrip=3)", remote.TURNS).split()) \
        == sorted([busy, t.name])


def test_a_turn_ref_is_deleted_only_where_the_clone_last_saw_it(clone, bare_remote, git, board_tip):
    """The delete carries a lease per ref: a ref that moved since (its clone wrote again) stays,
    the others in the same push go, and a ref already deleted is no error."""
    from functools import partial

    from gitboard.board import task_ops
    from gitboard.store import remote
    from gitboard.store.transact import transact

    with BoardRepo(clone("me")) as r:
        transact(r, partial(task_ops.add, actor="lead", subject="first"))
        tip = board_tip(bare_remote)
        old = _old_commit(bare_remote, "old")
        for name in ("a" * 16, "b" * 16):
            git(bare_remote, "update-ref", f"{remote.TURNS}{name}", old)
        git(bare_remote, "update-ref", f"{remote.TURNS}{'b' * 16}", tip)     # b wrote again
        assert remote.delete_turns(r, {"a" * 16: old, "b" * 16: old}) == ["a" * 16]
        assert git(bare_remote, "rev-parse", f"{remote.TURNS}{'b' * 16}") == tip
        assert remote.delete_turns(r, {"a" * 16: old}) == []                  # someone deleted it first


def _sleeps(monkeypatch) -> list[float]:
    """Record every time.sleep (the real sleep still runs): a held-back writer sleeps between looks."""
    slept, real = [], time.sleep

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        real(seconds)
    monkeypatch.setattr(time, "sleep", sleep)
    return slept


def test_a_group_that_would_write_nothing_takes_no_turn(clone, bare_remote, git, board_tip, monkeypatch):
    """Third in turn (three round trips of 0.2 s to hold back) with nothing ready: claim --next
    finds that on the board it fetched and answers at once, without holding back."""
    from functools import partial

    from gitboard.board import task_ops
    from gitboard.board.errors import NotFound
    from gitboard.store.transact import Stats, transact

    with BoardRepo(clone("me")) as r:
        transact(r, partial(task_ops.add, actor="lead", subject="only"))
        transact(r, partial(task_ops.claim, actor="w1", task_id=1))
        _third_in_turn(r, bare_remote, git, board_tip)
        tip = board_tip(bare_remote)
        calls, slept = _count(monkeypatch, r), _sleeps(monkeypatch)
        with pytest.raises(NotFound):
            transact(r, partial(task_ops.claim, actor="w2", task_id=None), stats=Stats())
    assert slept == [] and calls == {"fetch": 1, "look": 0}
    assert board_tip(bare_remote) == tip


def test_a_group_that_would_write_nothing_on_an_old_board_fetches_and_writes_if_the_tip_differs(
        clone, bare_remote, git, board_tip, monkeypatch):
    """In a ring, starting with a look: on the board this clone last fetched nothing is ready, so it
    takes no turn; it fetches the tip, where another clone has added a task, and claims it."""
    from functools import partial

    from gitboard.board import task_ops
    from gitboard.store import remote
    from gitboard.store.transact import Stats, transact

    me, other = clone("me"), clone("other")
    with BoardRepo(me) as r:
        transact(r, partial(task_ops.add, actor="lead", subject="only"))
        transact(r, partial(task_ops.claim, actor="w1", task_id=1))
        t = _third_in_turn(r, bare_remote, git, board_tip)
        t.others = 3
        t.won("0" * 40, contended=False, attempt_seconds=0.2)           # its last win was in a ring
        assert t.read().in_ring
        with BoardRepo(other) as o:
            transact(o, partial(task_ops.add, actor="lead", subject="new"))
            git(bare_remote, "update-ref", "-d", f"{remote.TURNS}{Turn(o, 'q').name}")      # other: not in the ring
        git(bare_remote, "update-ref", f"{remote.TURNS}{t.name}a", board_tip(bare_remote))  # p landed it
        calls, slept = _count(monkeypatch, r), _sleeps(monkeypatch)
        stats = Stats()
        task = transact(r, partial(task_ops.claim, actor="w2", task_id=None), stats=stats)
    assert task.id == 2 and board_tip(bare_remote) == stats.commit
    assert slept == [] and calls == {"fetch": 1, "look": 1}


def test_a_board_that_cannot_be_read_for_the_dry_run_keeps_the_turn(clone, monkeypatch):
    """Whether to take a turn is decided on a read of the board; if that read fails, the group
    takes its turn as any writer would, and its own read of the tip reports what is wrong."""
    from functools import partial

    from gitboard.board import task_ops
    from gitboard.board.errors import GitFailure
    from gitboard.store import transact as transact_mod

    with BoardRepo(clone("me")) as r:
        transact_mod.transact(r, partial(task_ops.add, actor="lead", subject="only"))
        slots = [transact_mod._Slot(partial(task_ops.claim, actor="w1", task_id=None), None)]
        assert transact_mod._would_write(r, slots, r.tip())
        transact_mod.transact(r, partial(task_ops.claim, actor="w1", task_id=1))
        assert not transact_mod._would_write(r, slots, r.tip())                # nothing ready: no turn

        def unreadable(*a, **k):
            raise GitFailure("cannot read the board")
        monkeypatch.setattr(transact_mod, "_read", unreadable)
        assert transact_mod._would_write(r, slots, r.tip())                    # unreadable: takes its turn
