"""The turn state of a clone of a remote board: when its writers leave gaps for other clones."""

from __future__ import annotations

import time

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
