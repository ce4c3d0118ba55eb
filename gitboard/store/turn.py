"""Fairness between the clones that write one remote board: whose turn it is.

Every attempt at a board write takes about one round trip (fetch, apply, push), and the
remote takes the first push made on the current tip. Left to race, the clones that write at
the same moment all push on the same tip and all but one lose; each loss costs a whole
attempt (a pack sent, checked and thrown away), and a clone can lose many times running.
Measured on 4 clones of a bare remote (``bench/contention.py``), racing took 3.8-4.6 attempts
per write, and a clone that had just won often won again. So the clones take turns:

- **Turn refs.** When a clone pushes a board write while others are about, the same push
  (not atomic) sets ``refs/gitboard/turns/<its name>`` on the remote to the commit it
  pushed. Fetches bring those refs along (:func:`gitboard.store.remote.turns`): the turn ref
  that names the tip says which clone landed it, and the refs that moved in the last
  :data:`ACTIVE_SECONDS` (longer for a large ring: :meth:`Turn.hold`) say which clones are
  writing. A rejected push still moves its
  turn ref (to the commit that lost), so a clone that only ever loses is seen too.
- **The ring** (:meth:`Turn.hold`). The active clones, sorted by name, take turns after
  the one that landed the tip: the next one writes at once, the one ``d`` places on
  holds back for the ``d - 1`` before it, about a round trip each, and looks at the tip
  again every half round trip (every :data:`LOOK_NEXT` of one when it is next but one).
  A clone goes anyway once those before it had their time, so a clone that stopped
  writing (or died) costs the others about a round trip per turn, and only until its
  turn ref stops counting.
- **Looks.** A look is cheaper than the lost push it saves. Far from its turn (``d`` > 2),
  and at the start of a write that follows one in a ring (:attr:`Turn.in_ring`), a clone
  looks with a ref listing (:func:`gitboard.store.remote.look`, no objects); near it, and
  as soon as a listing shows it near, with a fetch, so that the objects of the writes
  before its own are already here when its turn comes and the one fetch on the critical
  path brings a single write. Measured on ``bench/contention.py`` against a fetch at
  every look: 8% more claims/s at 16 claimers in 4 clones (more in all of 6 paired
  rounds), 10% more at 32 (more in 8 of 10), and 5% less CPU. Looking only by listing,
  and fetching once the turn came, lost 4-12%: that fetch then brought every write since
  the clone's last.
- **Short backoffs.** A race lost anyway (the ring not known yet, or a slow turn) is
  retried after at most a quarter of a round trip (:func:`backoff`), never more after
  more losses.
- **Gaps without a ring.** A clone that sees no other clone's turn ref move but keeps
  finding others' commits leaves gaps between its writes: up to a round trip after a
  contended win, up to half of one after a win back to back with its last, until it has
  been alone on the board for :data:`CONTENDED_SECONDS` (:meth:`Turn.won`).
- **No turn for nothing.** Turns order writes. A held-back group whose operations would all
  refuse or change nothing on the board the clone has (its own last write, or its last
  fetch) takes no turn (:mod:`gitboard.store.transact`): it fetches the tip and answers, or
  writes after all if the tip has changed that. So ``claim --next`` on an empty board, in a
  clone among others that write, answers within a fetch instead of after ``d`` round trips.
  When a board runs out of ready tasks under 16 claimers in 4 clones, the last claimer
  stopped 387 ms after the last claim (median of 5 runs), against 477 ms for the same
  runs taking turns regardless, with the same claims/s.
- **Stale refs.** Every clone that ever wrote under contention leaves a turn ref, and every
  look and fetch lists them all; a clone that lands a write deletes, at most once an hour,
  those naming a commit more than :data:`STALE_SECONDS` old (:meth:`Turn.prune`), and only
  refs that moved in the last :data:`ACTIVE_CAP_SECONDS` count towards the ring's window.

Turn refs steer only who tries first: every write is still a push without force onto the
tip it was made on, so a clone that ignores them, or forges them, can win races but never
lands a write the board's rules refuse or loses another's. A lone writer never holds back,
and its push carries its turn ref only once every :data:`ACTIVE_SECONDS` (one more ref
update in the same push).

Per clone, ``<git-common-dir>/gitboard/turn-<tag>`` holds, as JSON, the last board commits
this clone landed (``landed``, newest last), the wall-clock time before which its writers
do not start a write (``until``), the time of its last win (``last``) and of its last
contended one (``seen``), of its last win that carried its turn ref (``said``), of its last
win while other clones took turns with it (``ring``), and the
mean seconds of its recent attempts (``rt``): shared by
every process of the clone, since its next writer is often another process (the group's
next leader, :mod:`gitboard.store.group`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import time

from gitboard.store.repo import BoardRepo

#: Bounds of the backoff after a lost race, in seconds.
MIN_BACKOFF, MAX_BACKOFF = 0.001, 0.5

#: Seconds after its last contended write during which a clone still leaves gaps between its
#: back-to-back writes; a clone alone on the board for longer writes without them.
CONTENDED_SECONDS = 2.0

#: Board commits of its own a clone remembers, to recognise a tip it landed.
KEEP = 8

#: Seconds a clone's turn ref counts as active after this clone last saw it move (a fetch or a look); with
#: many turn refs, two round trips per ref that moved in the last :data:`ACTIVE_CAP_SECONDS` when that
#: is longer, up to that cap (:meth:`Turn.hold`).
ACTIVE_SECONDS = 3.0

#: The longest that window gets, in seconds; only the turn refs seen moving within it count towards
#: its length, so the refs of clones long gone (CI runners, old laptops) do not widen it.
ACTIVE_CAP_SECONDS = 120.0

#: Seconds since the commit a turn ref names was made (its committer date) after which the ref is
#: stale: its clone has pushed no board write since, and any clone that writes deletes it from
#: the remote (:meth:`Turn.prune`). It comes back with that clone's next contended write.
STALE_SECONDS = 86_400.0

#: Seconds between two looks of one clone for stale turn refs (:meth:`Turn.prune`).
PRUNE_INTERVAL = 3_600.0

#: The most stale turn refs one :meth:`Turn.prune` deletes (one ``git push`` with a lease per ref).
PRUNE_BATCH = 256

#: Round trips between a held-back writer's looks at the remote's tip; :data:`LOOK_NEXT` when
#: it is next but one (the one before it is writing now). Measured on ``bench/contention.py``:
#: 0.08-0.3 for the next but one, and 0.3-0.7 for the others, gave the same claims/s; a first
#: look at 0.4-0.6 round trip for the next but one, or holding back longer than the turns
#: before it (1.5 or 2 round trips each), lost 10-25%.
LOOK, LOOK_NEXT = 0.5, 0.15


def backoff(attempt_seconds: float) -> float:
    """Seconds to wait after a lost race: uniform over up to a quarter of the attempt's duration
    (one round trip), within :data:`MIN_BACKOFF`..:data:`MAX_BACKOFF`; it does not grow with losses."""
    return min(MAX_BACKOFF, max(MIN_BACKOFF, attempt_seconds * 0.25 * random.random()))


class Turn:
    """The turn state of one clone for one remote board (see the module docstring).

    Args:
        repo: the clone (remote mode).
        tag: names the board branch and remote (the group queue's tag).
    """

    def __init__(self, repo: BoardRepo, tag: str) -> None:
        self.repo = repo
        self.path = os.path.join(repo.common_dir, "gitboard", f"turn-{tag}")
        #: this clone among the remote's turn refs: its host and git directory, hashed (16 hex digits)
        self.name = hashlib.sha1(f"{socket.gethostname()}\0{os.path.realpath(repo.common_dir)}".encode()).hexdigest()[:16]
        self.landed: list[str] = []
        self.until = self.last = self.seen = self.said = self.ring = 0.0
        #: seconds one attempt (fetch, apply, push) takes, averaged over this clone's recent ones
        self.round_trip = 0.0
        #: how many other clones' turn refs moved in the last ACTIVE_SECONDS, as :meth:`hold` last saw
        self.others = 0
        #: this clone's place after the clone that landed the tip, as :meth:`hold` last saw it (1: next)
        self.distance = 1

    def read(self) -> "Turn":
        """Load the clone's state (missing or damaged: a clone that never won)."""
        try:
            with open(self.path) as f:
                state = json.load(f)
            self.landed, self.until, self.last = list(state["landed"]), float(state["until"]), float(state["last"])
            self.seen = float(state.get("seen", 0.0))
            self.said = float(state.get("said", 0.0))
            self.ring = float(state.get("ring", 0.0))
            self.round_trip = self.round_trip or float(state.get("rt", 0.0))  # this process's own, if it timed one
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.landed, self.until, self.last, self.seen, self.said, self.ring = [], 0.0, 0.0, 0.0, 0.0, 0.0
        return self

    @property
    def mine(self) -> str | None:
        """The last board commit this clone landed, or None."""
        return self.landed[-1] if self.landed else None

    def wait(self, limit: float) -> None:
        """Sleep until this clone's turn (at most until the monotonic time ``limit``)."""
        wait = min(self.read().until - time.time(), limit - time.monotonic())
        if wait > 0:
            time.sleep(wait)

    def hold(self, base: str, waited: float = 0.0, looked: dict[str, str] | None = None) -> float:
        """Seconds to hold back before looking again, having seen ``base`` at the tip and held
        back on it for ``waited`` seconds already; 0 means go now: write on ``base``.
        ``looked``: the turn refs that came with ``base`` from a look
        (:func:`gitboard.store.remote.look`, clone name -> commit) rather than a fetch; one
        that differs from its tracking ref moved since this clone last fetched, so it counts
        as active.

        The clones whose turn refs moved in the last :data:`ACTIVE_SECONDS` (or, with many
        turn refs, in the last two round trips per ref that moved in the last
        :data:`ACTIVE_CAP_SECONDS`, since a clone of a large ring moves its ref once a turn),
        and this one, sorted by name, form the ring (see the module
        docstring). ``d`` is this clone's
        distance after the one that landed ``base``: 1 goes at once; more holds back until
        ``d`` round trips (:attr:`round_trip`) have passed, to the millisecond, in steps of
        :data:`LOOK` round trips (:data:`LOOK_NEXT` for ``d`` = 2). Nobody holds back with no
        other clone active, or on a tip landed by a clone outside the ring. Sets :attr:`others`.
        """
        from gitboard.store import remote as remote_ops

        now = time.time()
        refs = remote_ops.turns(self.repo)
        for n, c in (looked or {}).items():
            if refs.get(n, ("", 0.0))[0] != c:
                refs[n] = (c, now)
        rt = max(self.round_trip, MIN_BACKOFF)
        # a turn of a large ring can take longer; refs that have not moved for ACTIVE_CAP_SECONDS do not count
        recent = sum(1 for _, seen in refs.values() if now - seen < ACTIVE_CAP_SECONDS)
        window = max(ACTIVE_SECONDS, min(ACTIVE_CAP_SECONDS, 2 * recent * rt))
        active = {n for n, (_, seen) in refs.items() if now - seen < window} | {self.name}
        self.others = len(active) - 1
        self.distance = 1
        if not self.others:
            return 0.0
        maker = self.name if base in self.landed else next((n for n, (c, _) in refs.items() if c == base), None)
        if maker not in active:
            return 0.0
        ring = sorted(active)
        self.distance = distance = (ring.index(self.name) - ring.index(maker)) % len(ring) or len(ring)
        left = distance * rt - waited
        if distance == 1 or left < MIN_BACKOFF:
            return 0.0
        return min(left, rt * (LOOK_NEXT if distance == 2 else LOOK))

    @property
    def ref(self) -> str:
        """This clone's turn ref on the remote: ``refs/gitboard/turns/<name>``."""
        from gitboard.store.remote import TURNS

        return f"{TURNS}{self.name}"

    def announces(self, base: str | None, losses: int) -> bool:
        """True if a push made on ``base`` after ``losses`` lost races carries this clone's turn
        ref: when other clones are active, after a loss, when ``base`` is not the last commit
        this clone landed (someone else wrote since, or this clone never wrote), or when its
        last win that did was :data:`ACTIVE_SECONDS` ago or more (so a writer that has been
        alone joins the ring with its first push, and a lone writer says so once in a while)."""
        return bool(self.others or losses or base != self.mine or time.time() - self.said >= ACTIVE_SECONDS)

    def won(self, commit: str, contended: bool, attempt_seconds: float, announced: bool = False) -> None:
        """Record a win of ``commit``; after a ``contended`` one (a race lost first, or another
        clone's commit found since this clone's last), or one back to back with the last while
        others were about (a contended win in the last :data:`CONTENDED_SECONDS`), this clone's
        writers wait up to a round trip (half of one) before the next write, unless other
        clones take turns with it (:meth:`hold` does the waiting then). ``announced``: the push
        carried this clone's turn ref."""
        others = self.others
        self.read()
        self._average(attempt_seconds)
        now = time.time()
        if contended:
            self.seen = now
        if others:
            until = 0.0  # the ring decides when this clone writes next
        elif contended:
            until = now + attempt_seconds * random.random()
        elif now - self.last < 2 * attempt_seconds and now - self.seen < CONTENDED_SECONDS:
            until = now + attempt_seconds * 0.5 * random.random()  # writing back to back among others: a gap
        else:
            until = 0.0  # alone on the board: nobody to let in
        if announced:
            self.said = now
        if others:
            self.ring = now
        state = {"landed": (self.landed + [commit])[-KEEP:], "until": until, "last": now, "seen": self.seen,
                 "said": self.said, "ring": self.ring, "rt": self.round_trip}
        tmp = f"{self.path}.{os.getpid()}"
        try:
            with open(tmp, "w") as f:
                json.dump(state, f)
            os.replace(tmp, self.path)
        except OSError:
            pass  # only fairness is lost

    def prune(self, now: float | None = None) -> list[str]:
        """Delete from the remote the turn refs that name a commit made more than
        :data:`STALE_SECONDS` ago (at most :data:`PRUNE_BATCH`): clones that stopped writing
        leave one ref each, and every look and fetch lists them all. Runs at most once every
        :data:`PRUNE_INTERVAL` seconds per clone (the mtime of ``<state file>.pruned``), after a
        board write that landed; a ref is deleted only if the remote still has it where the last
        fetch saw it (:func:`gitboard.store.remote.delete_turns`).

        The refs are read with their commits' committer dates in one ``git for-each-ref`` of
        the tracking refs (packed or loose), so every clone judges them alike, whatever it saw
        move. A clone whose ref was deleted only loses its place in the ring until its next
        contended push announces it again.

        Returns:
            The clone names whose turn refs were deleted (empty when not due, none stale, or
            the push failed: this is upkeep, never an error of the write before it).
        """
        from gitboard.board.errors import GitFailure
        from gitboard.store import remote as remote_ops

        now = time.time() if now is None else now
        marker = f"{self.path}.pruned"
        try:
            if now - os.stat(marker).st_mtime < PRUNE_INTERVAL:
                return []
        except OSError:
            pass
        try:
            with open(marker, "w"):
                pass
            os.utime(marker, (now, now))
        except OSError:
            return []
        prefix = remote_ops.turns_tracking(self.repo)
        res = self.repo.git("for-each-ref", "--format=%(refname) %(objectname) %(committerdate:unix)",
                            prefix, check=False)
        stale: dict[str, str] = {}
        for line in res.stdout.decode(errors="replace").splitlines():
            parts = line.split(" ")
            if len(parts) == 3 and parts[2].isdigit() and now - int(parts[2]) > STALE_SECONDS:
                stale[parts[0][len(prefix):]] = parts[1]
            if len(stale) >= PRUNE_BATCH:
                break
        try:
            return remote_ops.delete_turns(self.repo, stale)
        except GitFailure:
            return []

    @property
    def in_ring(self) -> bool:
        """True if this clone last won while others took turns with it, less than
        :data:`ACTIVE_SECONDS` ago (as last :meth:`read`): its next write most likely holds back
        first, so it starts with a look rather than a fetch."""
        return time.time() - self.ring < ACTIVE_SECONDS

    def lost(self, attempt_seconds: float) -> None:
        """Record a lost race that took ``attempt_seconds``."""
        self._average(attempt_seconds)

    def _average(self, attempt_seconds: float) -> None:
        """Fold an attempt's duration into :attr:`round_trip` (weight 0.3 for the newest)."""
        self.round_trip = attempt_seconds if not self.round_trip else 0.7 * self.round_trip + 0.3 * attempt_seconds
