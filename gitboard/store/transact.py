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
what guarantees correctness. Around that core:

- group commit (:mod:`gitboard.store.group`): the lock's holder applies the operations
  that other writers of the clone queued meanwhile, each its own commit, and lands
  them with one compare-and-swap or push;
- fairness between clones (:mod:`gitboard.store.turn`): clones that write at the same
  moment take turns in a ring, each push saying which clone landed it; short backoffs; a
  group that would write nothing on the board the clone has takes no turn;
- unknown outcomes (:mod:`gitboard.store.settle`): a push whose connection dropped is
  settled by fetching again, or reported as unknown and recognised when repeated;
- an operation may read only part of the board (its ``reads`` attribute,
  :mod:`gitboard.store.narrow`) when it runs alone.
"""

from __future__ import annotations

import os
import random
import time
from datetime import datetime
from typing import Any, Callable, Protocol

from gitboard.board.change import ACTOR, Change, NoChange
from gitboard.board.clock import utcnow
from gitboard.board.errors import Busy, GitFailure, HookRefused
from gitboard.board.layout import FORMAT
from gitboard.board.snapshot import Board
from gitboard.store import group, settle, upkeep
from gitboard.store.migrate import write_migration
from gitboard.store.objects import tree_id, write_commit
from gitboard.store.read import load_board, mirror, no_board_error, remember_board
from gitboard.store.repo import BoardRepo
from gitboard.store.trees import TreeRef
from gitboard.store.turn import Turn, backoff

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
    """Counters of one :func:`transact` call: ``attempts`` made (by the leader, for an operation
    applied in a group), ``commit`` written (or None), ``migrated``, the migration commit it
    landed first (or None), and ``grouped``, the number of operations in the group that
    carried it (1 for one of its own)."""

    def __init__(self) -> None:
        self.attempts = 0
        self.commit: str | None = None
        self.migrated: str | None = None
        self.grouped = 1


class _Slot:
    """One operation of a group: its outcome, reset at every attempt."""

    __slots__ = ("op", "key", "name", "order", "result", "error", "commit", "change", "prior", "settled")

    def __init__(self, op: Operation, key: str | None, name: str | None = None) -> None:
        self.op, self.key, self.name = op, key, name
        self.order = name or ""  # the group's order: queue names sort by arrival
        self.reset()

    def reset(self) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.commit: str | None = None
        self.change: Change | None = None
        self.prior: list[Any] = []
        self.settled = False

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


# -- fairness --------------------------------------------------------------------------

def transact(repo: BoardRepo, operation: Operation, *, deadline: float | None = None,
             stats: Stats | None = None, create: bool = False, migrate: bool = False,
             also: RefMove | None = None) -> Any:
    """Apply ``operation`` to the board as exactly one commit and return its ``result``.

    Writers of one clone that want to write at the same moment share one fetch and one
    push (:mod:`gitboard.store.group`): the one holding the board lock applies the queued
    operations of the others after its own, each as its own commit, and lands them
    together. A lost race re-applies the whole group; an operation that refuses fails
    alone. Operations that cannot cross processes (closures) and those with ``create``,
    ``migrate`` or ``also`` run alone.

    A board in an older format is migrated first (:mod:`gitboard.store.migrate`): when
    the operation, applied to the old board, returns a Change (or ``migrate`` is set),
    the migration commit lands first, as a transaction of its own, and the operation
    is then applied again to the migrated board. An operation that refuses, or
    changes nothing, leaves an old board as it is.

    In remote mode a push whose connection drops is settled by fetching again
    (:mod:`gitboard.store.settle`): a commit the remote has is a win, one it lacks
    changed nothing; if the remote stays unreachable the outcome is unknown, and a
    repeat of the same operation later returns the landed write's result.

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
        OutcomeUnknown: the connection dropped during the push and the remote stayed
            unreachable for ``GITBOARD_SETTLE_SECONDS`` (10): the write may have landed.
        GitFailure: no board, git failed, or the remote is unreachable; the ref does not move.
        Busy: every attempt lost its race until the deadline.
    """
    stats = stats or Stats()
    limit = time.monotonic() + (_deadline() if deadline is None else deadline)
    holder = repo.board_checked_out()
    if holder:
        raise GitFailure(f"the board branch {repo.branch!r} is checked out in {holder}; "
                         f"gitboard never writes a checked-out branch (switch that worktree away from it)")
    key = settle.op_key(operation) if repo.remote else None
    blob = None if (also is not None or create or migrate) else group.describe(operation)
    own = _Slot(operation, key)
    own.order = f"{time.time_ns():020d}"  # after the operations already queued
    queue = group.Queue(repo.common_dir, repo.branch, repo.remote)
    if repo.remote:
        Turn(repo, queue.dir.name).wait(limit)  # this clone yields after a contended win
    lock = group.BoardLock(repo.state_dir() / "board.lock")
    try:
        if blob is not None and not lock.try_acquire():
            done = _wait_in_queue(repo, queue, lock, blob, own, limit, stats)
            if done:
                return own.outcome()
        elif blob is None:
            _acquire(lock, limit)
        slots = [own]
        try:
            won = _run(repo, slots, limit, stats, create=create, migrate=migrate, also=also,
                       gather=(lambda: _gather(queue, repo)) if blob is not None else None, queue=queue)
        except BaseException as e:
            for s in slots:
                if s.name is not None:
                    queue.answer(s.name, ("error", e, stats.attempts, None))
            raise
        for s in slots:
            if s.name is not None:
                queue.answer(s.name, ("error", s.error, stats.attempts, None) if s.error is not None
                             else ("ok", s.result, stats.attempts, s.commit))
        stats.grouped = len(slots)
        if len(slots) > 1 and random.random() < 1 / 64:
            queue.sweep()  # answers whose waiters died
    finally:
        if lock.is_locked:
            lock.release()
            if blob is not None:
                queue.ring_next()
    if won:
        upkeep.after_write(repo)  # git's automatic maintenance, as git's own writers run it (the lock is free)
        if repo.remote:
            Turn(repo, queue.dir.name).prune()  # at most once an hour: the turn refs of clones gone a day
    return own.outcome()


def _acquire(lock: group.BoardLock, limit: float) -> None:
    if not lock.acquire(limit):
        raise Busy(f"board lock busy until the deadline: {lock.path}")


def _wait_in_queue(repo: BoardRepo, queue: group.Queue, lock: group.BoardLock, blob: bytes, own: _Slot,
                   limit: float, stats: Stats) -> bool:
    """Queue ``own`` and wait for its answer (its doorbell rings), or for the lock to be free.
    Returns True with ``own`` answered; False holding the lock, to lead (``own`` was applied by
    nobody)."""
    name, bell = queue.put(blob)
    own.order = name
    try:
        while True:
            queue.wait(bell, group.POLL_SECONDS)
            if queue.outcome_into(name, own, stats):
                return True
            if lock.try_acquire():
                if queue.outcome_into(name, own, stats):
                    return True
                if queue.withdraw(name):
                    return False
                # taken, never answered, and the lock is free: its leader died. Settle what it pushed.
                pend = queue.read_pending(name)
                queue.forget(name)
                if pend is not None and settle.landed(repo, pend[0], _tip_for_settling(repo)):
                    own.result, stats.commit = pend[1], pend[0]
                    return True
                return False
            if time.monotonic() >= limit and queue.withdraw(name):
                raise Busy("gave up waiting for the board lock: other writers of this clone held it")
    finally:
        queue.close_bell(name, bell)


def _tip_for_settling(repo: BoardRepo) -> str | None:
    if not repo.remote:
        return repo.tip()
    from gitboard.store import remote as remote_ops

    return remote_ops.fetch(repo)


def _gather(queue: group.Queue, repo: BoardRepo) -> list[_Slot]:
    out = []
    for name, op in queue.take():
        slot = _Slot(op if callable(op) else _failing(op), settle.op_key(op) if repo.remote and callable(op) else None, name)
        out.append(slot)
    return out


def _join(slots: list[_Slot], gather: Callable[[], list[_Slot]] | None) -> None:
    """Add the operations queued meanwhile (``gather``, None when the group runs alone) to
    ``slots``, in the group's order: arrival."""
    if gather is not None:
        slots.extend(gather())
        slots.sort(key=lambda s: s.order)


def _failing(error: Any) -> Operation:
    def op(board: Board, now: datetime) -> Any:
        raise GitFailure(f"a queued operation could not be read: {error}")
    return op


def _apply(repo: BoardRepo, slots: list[_Slot], base: str | None, board: Board, listing: Any,
           now: datetime, records: bool, partial_board: bool = False) -> tuple[str | None, list[_Slot]]:
    """Apply every slot in order, each on the board the one before made; returns (the last
    commit or ``base``, the slots that wrote a commit). A ``partial_board`` (what an operation's
    ``reads`` returned) is never remembered as the board of the commit."""
    tip, wrote = base, []
    for slot in slots:
        slot.reset()
        if records and slot.key is not None:
            prior = settle.landed_results(repo, slot.key)
            if prior:
                slot.settled = True
                if not all(isinstance(r, list) for r in prior):
                    slot.result = prior[-1]  # a repeat of a write that landed: its result, no second write
                    continue
                slot.prior = [m for r in prior for m in r]  # a drain that landed: its messages first
        try:
            change = slot.op(board, now)
            if isinstance(change, Change) and _CHECK_RULES and board.format == FORMAT:  # an old board migrates first
                _assert_rules(board, change, now)
        except Exception as e:  # noqa: BLE001 - fails its own operation only
            slot.error = e
            continue
        if isinstance(change, NoChange):
            slot.result = slot.prior + change.result if slot.prior and isinstance(change.result, list) else change.result
            continue
        identity = repo.identity_env(_actor_of(change))
        commit = write_commit(repo, tip, listing, change.writes, change.message(), identity)
        if not partial_board:
            remember_board(repo, board, commit, change.writes)
        slot.commit, slot.change = commit, change
        slot.result = slot.prior + change.result if slot.prior and isinstance(change.result, list) else change.result
        wrote.append(slot)
        tip = commit
        if slot is not slots[-1]:
            board, listing, _ = load_board(repo, commit)  # the board this commit made: from the cache
    return tip, wrote


def _read(repo: BoardRepo, slots: list[_Slot], base: str, now: datetime) -> tuple[Board, Any, Any]:
    """The board at ``base`` for ``slots``: (board, listing, parse cache). A lone operation with a
    ``reads`` attribute (:mod:`gitboard.store.narrow`) reads only the part it needs; then the
    cache is a :class:`_NoSave`."""
    reads = getattr(slots[0].op, "reads", None) if len(slots) == 1 else None
    tree = tree_id(repo, base) if reads is not None else None
    board = reads(repo, base, tree, now, slots[0].op.keywords) if reads is not None else None
    if board is not None:
        return board, TreeRef(tree, board.format), _NoSave()
    return load_board(repo, base)


def _would_write(repo: BoardRepo, slots: list[_Slot], base: str) -> bool:
    """True if any of ``slots`` returns a Change on the board at ``base`` (nothing is written).
    None does when every one refuses or changes nothing: then none does after the others either,
    since the board they see is the same. A board that cannot be read counts as a write: this
    only decides whether to wait for a turn, and the write's own read reports the failure."""
    now = utcnow()
    try:
        board = _read(repo, slots, base, now)[0]
    except Exception:  # noqa: BLE001 - see above
        return True
    for slot in slots:
        try:
            if isinstance(slot.op(board, now), Change):
                return True
        except Exception:  # noqa: BLE001 - a refusal is an answer; the write itself raises it again
            continue
    return False


def _refused(error: HookRefused, wrote: list[_Slot]) -> list[_Slot]:
    """The slots a hook's refusal names (by commit id); all of them when it names none."""
    named = [s for s in wrote if s.commit and s.commit[:12] in error.message]
    return named or list(wrote)


def _run(repo: BoardRepo, slots: list[_Slot], limit: float, stats: Stats, *, create: bool, migrate: bool,
         also: RefMove | None, gather: Callable[[], list[_Slot]] | None, queue: group.Queue) -> bool:
    """The attempts of one group, holding the board lock; fills the slots' outcomes.
    Returns True if a commit landed."""
    last_base: str | None = None
    stuck_since: float | None = None
    landed: str | None = None  # the migration commit just landed: the next attempt's base
    contended = False
    losses = 0
    held_on: str | None = None  # the tip this group holds back on, since the monotonic time held_since
    held_since = 0.0
    turn = Turn(repo, queue.dir.name) if repo.remote else None
    # the next read of the tip is a look (no objects), not a fetch: held back, or about to be
    looking = turn is not None and not also and turn.read().in_ring
    tried_dry = False  # whether the group was applied, without writing, to the board this clone has
    turnless = False  # it would write nothing there: it takes no turn, it only reads the tip first
    while True:
        started = time.monotonic()
        if repo.remote:
            from gitboard.store import remote as remote_ops  # remote mode only

            looked = None
            if looking:
                base, looked = remote_ops.look(repo)
            else:
                base = landed or remote_ops.fetch(repo)
            mine = turn.read().mine
            contended = contended or (mine is not None and base != mine)
            if base != held_on:
                held_on, held_since = base, time.monotonic()
            hold = turn.hold(base, time.monotonic() - held_since, looked) if base is not None else 0.0
            holding = hold > 0 and time.monotonic() + hold < limit and not turnless
            if holding and not tried_dry:
                # a group that would write nothing on the board this clone has (its own last write,
                # or its last fetch) needs no turn: it fetches the tip and answers, or writes if the
                # tip differs so much that it would now write after all
                tried_dry = True
                _join(slots, gather)
                known = base if looked is None else repo.read_ref(repo.tracking_ref)
                if known is not None and not _would_write(repo, slots, known):
                    turnless, holding = True, False
            if looked is not None and not (holding and turn.distance > 2):
                # its turn is near (or the deadline): fetch the tip's objects now, and decide again on them
                looking = False
                continue
            if holding:  # a look, not an attempt
                # other clones take turns: the ones before this one in the ring go first
                looking = turn.distance > 2
                time.sleep(hold)
                continue
            if base is not None and base != repo.tip():
                mirror(repo, base, "sync")
            records = settle.pending(repo)
            if records:
                settle.settle_records(repo, base)
        else:
            base, records = repo.tip(), False
        stats.attempts += 1  # this read of the tip is one the group writes on
        landed = None
        if base is None and not create:
            raise no_board_error(repo)
        if also is not None and not also.current(repo):
            slots[0].result = MOVED
            return False
        _join(slots, gather)  # as late as it can: what queued while this leader fetched or held back joins
        now = utcnow()
        if base is not None:  # a lone operation may read only a part of the board (gitboard.store.narrow)
            board, listing, cache = _read(repo, slots, base, now)
        else:
            board, listing, cache = load_board(repo, base)
        tip, wrote = _apply(repo, slots, base, board, listing, now, records, isinstance(cache, _NoSave))
        migrating = base is not None and board.format < FORMAT and (migrate or bool(wrote))
        if not wrote and not migrating:
            cache.save()
            _forget_settled(repo, slots)
            return False
        if migrating:
            actor = _actor_of(wrote[0].change) if wrote and wrote[0].change else "gitboard"
            tip, _ = write_migration(repo, base, listing, repo.identity_env(actor), actor)
            subject = f"migrate board to format {FORMAT} by {actor}"
            wrote = []
        else:
            subject = wrote[-1].change.subject if len(wrote) == 1 else f"{len(wrote)} commits, last: {wrote[-1].change.subject}"
        assert tip is not None
        rider = None if migrating else also
        if repo.remote:
            for s in wrote:
                if s.name is not None:
                    queue.pending(s.name, s.commit, s.result)
            try:
                # "up to date": another writer's identical commit, a lost race
                turn_ref = turn.ref if turn is not None and rider is None and turn.announces(base, losses) else None
                won = rider.push(repo, tip) if rider else remote_ops.push(repo, tip, exclusive=True, expect=base,
                                                                          also_ref=turn_ref)
            except HookRefused as e:
                if len(slots) == 1 or not wrote:
                    raise
                for s in _refused(e, wrote):
                    s.op = _refusing(e)  # its answer, kept when the others are applied again
                continue
            except GitFailure as e:
                if not settle.dropped(e):
                    raise  # the remote's answer, or nothing was sent
                records = [(s.commit, s.key, s.result) for s in wrote]
                if not settle.settle_push(repo, tip, e, time.monotonic() + settle.settle_seconds(),
                                          records=records):
                    raise GitFailure(f"{e.message} (nothing changed: {repo.remote}'s board does not have "
                                     f"{tip[:12]})") from None
                won = True
            if won:  # the local branch and tracking ref mirror the remote
                mirror(repo, tip, subject, parent=base)
        else:
            won = rider.swap(repo, tip, base, subject) if rider else repo.compare_and_swap(tip, base, subject)
            if not won and base == last_base and repo.tip() == base:
                # the ref did not move, yet it cannot be updated: a lock nobody releases
                stuck_since = stuck_since or time.monotonic()
                if time.monotonic() - stuck_since > STUCK_SECONDS:
                    raise GitFailure(f"cannot update {repo.ref}: {repo.last_cas_error or 'git update-ref failed'}"
                                     f" (a stale lock file? remove it if no git process is running)")
            else:
                stuck_since = None
            last_base = base
        if won and migrating:  # now the operations themselves, on the migrated board
            cache.save()
            stats.migrated = landed = tip
            continue
        if won:
            cache.save()
            _forget_settled(repo, slots)
            stats.commit = next((s.commit for s in slots if s.name is None), None) or tip
            if turn is not None:
                turn.won(tip, contended or stats.attempts > 1, time.monotonic() - started,
                         announced=turn_ref is not None)
            return True
        losses += 1
        if turn is not None and base is not None:
            turn.lost(time.monotonic() - started)
        if time.monotonic() >= limit:
            last = f" (last: {repo.last_cas_error})" if repo.last_cas_error else ""
            raise Busy(f"gave up after {stats.attempts} attempts: the board kept moving{last}")
        time.sleep(min(backoff(time.monotonic() - started), max(0.0, limit - time.monotonic())))


class _NoSave:
    """Stands in for the parse cache after a partial read: nothing to save (saving would first
    read the whole cache file, the cost the partial read avoids)."""

    def save(self) -> None:
        pass


def _refusing(error: HookRefused) -> Operation:
    def op(board: Board, now: datetime) -> Any:
        raise error
    return op


def _forget_settled(repo: BoardRepo, slots: list[_Slot]) -> None:
    for s in slots:
        if s.settled and s.error is None:
            settle.forget(repo, s.key)
