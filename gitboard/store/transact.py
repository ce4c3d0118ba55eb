"""The one transaction function: every write to the board goes through :func:`transact`.

A claim is a commit that fails on conflict:

1. read the board at the current tip (in remote mode, after fetching it);
2. apply a pure operation, which returns a :class:`~gitboard.board.change.Change`
   (files and commit message) or raises a domain error;
3. write the commit with the old tip as its parent;
4. compare-and-swap the ref (``git update-ref <ref> <new> <old>``), or in
   remote mode push without force;
5. on a lost race, re-read and re-apply after a jittered backoff, until a deadline.

Another ref can ride along (``also``, a :class:`RefMove`: the merge queue's base branch):
then step 4 moves both refs or neither -- one ``git update-ref --stdin`` transaction
holding both old values, or one ``git push --atomic`` -- and a move of that other ref
ends the transaction with :data:`MOVED` instead of a retry.

Domain errors are answers and are never retried. Writers in one clone queue on
``<git-common-dir>/gitboard/board.lock`` first, so they seldom race on the ref;
the compare-and-swap (or the remote's refusal of a non-fast-forward push) is
what guarantees correctness.
"""

from __future__ import annotations

import os
import random
import time
from datetime import datetime
from typing import Any, Callable, Protocol

from gitboard.board.change import ACTOR, Change, NoChange
from gitboard.board.clock import utcnow
from gitboard.board.errors import Busy, GitFailure
from gitboard.board.layout import FORMAT
from gitboard.board.snapshot import Board
from gitboard.store import upkeep
from gitboard.store.migrate import write_migration
from gitboard.store.objects import write_commit
from gitboard.store.read import load_board, mirror, no_board_error, remember_board
from gitboard.store.repo import BoardRepo

#: An operation: (board, now) -> Change | NoChange, raising a domain error to refuse.
Operation = Callable[[Board, datetime], "Change | NoChange"]

#: Seconds a local compare-and-swap may keep failing while the ref stays put (a stale
#: ``.lock`` file) before the transaction reports git's error instead of retrying.
STUCK_SECONDS = 5.0

#: Seconds a transaction keeps retrying lost races; ``GITBOARD_DEADLINE`` overrides.
DEFAULT_DEADLINE = 60.0


def _deadline() -> float:
    try:
        return float(os.environ.get("GITBOARD_DEADLINE", DEFAULT_DEADLINE))
    except ValueError:
        return DEFAULT_DEADLINE


def _actor_of(change: Change) -> str:
    for k, v in change.trailers:
        if k == ACTOR:
            return v
    return "gitboard"


#: ``GITBOARD_CHECK_RULES=1`` (the test suite sets it): every change is checked by
#: :func:`gitboard.board.rules.check_change` before it is committed, proving that the
#: operations and the rules the server hook enforces agree.
_CHECK_RULES = os.environ.get("GITBOARD_CHECK_RULES", "") not in ("", "0")


def _assert_rules(board: Board, change: Change, now: datetime) -> None:
    """Raise RuntimeError (a bug: the operations and the rules disagree) if ``change`` breaks a rule;
    an action the rules do not know breaks one too (the server's hook would refuse it)."""
    from gitboard.board import rules

    found = rules.check_change(board, change.writes, change.trailers, now)
    if found:
        raise RuntimeError(f"{change.subject!r} breaks the board's rules: " + "; ".join(v.message for v in found))


class RefMove(Protocol):
    """A ref that moves in the same atomic update as the board commit (the merge queue's base branch,
    :class:`gitboard.store.merge.BaseMove`). :func:`transact` calls it holding the board lock, at
    every attempt, after reading (in remote mode, fetching) the board tip."""

    def current(self, repo: BoardRepo) -> bool:
        """True if the ref is still where the move starts from (remote mode: fetch it first);
        False ends the transaction with :data:`MOVED`, nothing written to any ref."""

    def swap(self, repo: BoardRepo, commit: str, old_board: str, subject: str) -> bool:
        """Local mode: move the board ref from ``old_board`` to ``commit`` and this ref, both or
        neither; True if both moved, False on a lost race. May raise a domain error (an answer)."""

    def push(self, repo: BoardRepo, commit: str) -> bool:
        """Remote mode: push ``commit`` to the board branch and this ref atomically, without force;
        True if the remote took both from us, False on a lost race.

        Raises:
            HookRefused: the remote's hook declined it.
            GitFailure: unreachable, or refused for another reason."""


#: What :func:`transact` returns when its :class:`RefMove`'s ref moved (nothing was written).
MOVED = object()


class Stats:
    """Counters of one :func:`transact` call: ``attempts`` made, ``commit`` written (or None) and
    ``migrated``, the migration commit it landed first (or None)."""

    def __init__(self) -> None:
        self.attempts = 0
        self.commit: str | None = None
        self.migrated: str | None = None


def transact(repo: BoardRepo, operation: Operation, *, deadline: float | None = None,
             stats: Stats | None = None, create: bool = False, migrate: bool = False,
             also: RefMove | None = None) -> Any:
    """Apply ``operation`` to the board as exactly one commit and return its ``result``.

    A board in an older format is migrated first (:mod:`gitboard.store.migrate`): when
    the operation, applied to the old board, returns a Change (or ``migrate`` is set),
    the migration commit lands first, as a transaction of its own, and the operation
    is then applied again to the migrated board. An operation that refuses, or
    changes nothing, leaves an old board as it is.

    Args:
        repo: the open repository.
        operation: a pure function of (board snapshot, now) -> Change or NoChange.
        deadline: seconds to keep retrying lost races (default ``GITBOARD_DEADLINE`` or 60).
        stats: filled with the number of attempts and the commit written.
        create: allow a missing board branch (``gitboard init``): the operation
            then sees an empty board and its commit becomes the root.
        migrate: migrate an old board even if the operation changes nothing (``gitboard init``).
        also: another ref that moves with the board commit, atomically (see :class:`RefMove`);
            a migration commit lands alone first, as always.

    Returns:
        The Change's (or NoChange's) ``result``; :data:`MOVED` when ``also``'s ref moved.

    Raises:
        Invalid, Conflict, NotFound: the operation's answer, never retried.
        HookRefused: the remote's pre-receive hook refused the push (a Conflict), never retried.
        GitFailure: no board, git failed, or the remote is unreachable; the ref does not move.
        Busy: every attempt lost its race until the deadline.
    """
    stats = stats or Stats()
    limit = time.monotonic() + (_deadline() if deadline is None else deadline)
    backoff = 0.005
    holder = repo.board_checked_out()
    if holder:
        raise GitFailure(f"the board branch {repo.branch!r} is checked out in {holder}; "
                         f"gitboard never writes a checked-out branch (switch that worktree away from it)")
    last_base: str | None = None
    stuck_since: float | None = None
    landed: str | None = None  # the migration commit just landed: the next attempt's base
    while True:
        stats.attempts += 1
        with repo.board_lock(timeout=limit - time.monotonic()):
            if repo.remote:
                from gitboard.store import remote as remote_ops  # GitPython: remote mode only

                base = landed or remote_ops.fetch(repo)
                if base is not None and base != repo.tip():
                    mirror(repo, base, "sync")
            else:
                base = repo.tip()
            landed = None
            if base is None and not create:
                raise no_board_error(repo)
            if also is not None and not also.current(repo):
                return MOVED
            board, listing, cache = load_board(repo, base)
            now = utcnow()
            change = operation(board, now)
            migrating = base is not None and board.format < FORMAT and (migrate or isinstance(change, Change))
            if isinstance(change, NoChange) and not migrating:
                cache.save()
                return change.result
            actor = _actor_of(change) if isinstance(change, Change) else "gitboard"
            identity = repo.identity_env(actor)
            if migrating:
                commit, _ = write_migration(repo, base, listing, identity, actor)
                subject = f"migrate board to format {FORMAT} by {actor}"
            else:
                if _CHECK_RULES:
                    _assert_rules(board, change, now)
                commit = write_commit(repo, base, listing, change.writes, change.message(), identity)
                subject = change.subject
            rider = None if migrating else also
            if repo.remote:
                # "up to date": another writer's identical commit, a lost race
                won = rider.push(repo, commit) if rider else remote_ops.push(repo, commit, exclusive=True)
                if won:  # the local branch and tracking ref mirror the remote
                    mirror(repo, commit, subject, parent=base)
            else:
                won = rider.swap(repo, commit, base, subject) if rider else repo.compare_and_swap(commit, base, subject)
                if not won and base == last_base and repo.tip() == base:
                    # the ref did not move, yet it cannot be updated: a lock nobody releases
                    stuck_since = stuck_since or time.monotonic()
                    if time.monotonic() - stuck_since > STUCK_SECONDS:
                        raise GitFailure(f"cannot update {repo.ref}: {repo.last_cas_error or 'git update-ref failed'}"
                                         f" (a stale lock file? remove it if no git process is running)")
                else:
                    stuck_since = None
                last_base = base
            if won and migrating:  # now the operation itself, on the migrated board
                cache.save()
                stats.migrated = landed = commit
                continue
            if won:
                remember_board(repo, board, commit, change.writes)
                cache.save()
                stats.commit = commit
                break
        if time.monotonic() >= limit:
            last = f" (last: {repo.last_cas_error})" if repo.last_cas_error else ""
            raise Busy(f"gave up after {stats.attempts} attempts: the board kept moving{last}")
        time.sleep(min(backoff * (0.5 + random.random()), max(0.0, limit - time.monotonic())))
        backoff = min(backoff * 2, 0.5)
    upkeep.after_write(repo)  # git's automatic maintenance, as git's own writers run it (the lock is free)
    return change.result
