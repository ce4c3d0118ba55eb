"""Fairness between the clones that write one remote board: whose turn it is.

Every attempt at a board write takes about one round trip (fetch, apply, push), and the
remote takes the first push made on the current tip. So whoever starts an attempt first
wins it, and a writer that waits longer after a loss than the winner takes to come back
loses again and again. Measured on 4 clones of a bare remote (bench/contention.py), with
a backoff of 0.5-1.5 round trips that doubled, one clone won 78 of 100 claims and another
none. Two rules keep every clone in the game:

- a loser waits at most a quarter of a round trip (:func:`backoff`), never more after
  more losses;
- a clone that keeps winning lets the others in: after a contended win it waits up to a
  round trip before its next write, after a win back to back with its last up to half
  of one, unless it has been alone on the board for :data:`CONTENDED_SECONDS`
  (:meth:`Turn.won`), and when another clone says it keeps losing to this clone's
  commits or on the current tip, this clone waits before its next push
  (:meth:`Turn.others_wait`).

A clone that lost twice running says so by pushing the board tip it tries on next to
``refs/gitboard/waiting/<its name>`` on the remote (:mod:`gitboard.store.remote`,
in the background: the push carries no objects). Fetches bring those refs along; a
clone that finds another waiting on the tip it fetched holds its push back.

Per clone, ``<git-common-dir>/gitboard/turn-<tag>`` holds, as JSON, the last board commits
this clone landed (``landed``, newest last), the wall-clock time before which its writers
do not start a write (``until``), the time of its last win (``last``) and of its last
contended one (``seen``): shared by every
process of the clone, since its next writer is often another process (the group's next
leader, :mod:`gitboard.store.group`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import subprocess
import time

from gitboard.store.repo import BoardRepo

#: Bounds of the backoff after a lost race, in seconds.
MIN_BACKOFF, MAX_BACKOFF = 0.001, 0.5

#: Seconds after its last contended write during which a clone still leaves gaps between its
#: back-to-back writes; a clone alone on the board for longer writes without them.
CONTENDED_SECONDS = 2.0

#: Board commits of its own a clone remembers, to recognise another clone's waiting ref.
KEEP = 8

_pushes: list[subprocess.Popen] = []  # waiting-ref pushes still running


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
        #: this clone among the remote's waiting writers: its host and git directory, hashed
        self.name = hashlib.sha1(f"{socket.gethostname()}\0{os.path.realpath(repo.common_dir)}".encode()).hexdigest()[:16]
        self.landed: list[str] = []
        self.until = self.last = self.seen = 0.0
        self.round_trip = 0.0

    def read(self) -> "Turn":
        """Load the clone's state (missing or damaged: a clone that never won)."""
        try:
            with open(self.path) as f:
                state = json.load(f)
            self.landed, self.until, self.last = list(state["landed"]), float(state["until"]), float(state["last"])
            self.seen = float(state.get("seen", 0.0))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.landed, self.until, self.last, self.seen = [], 0.0, 0.0, 0.0
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

    def others_wait(self, base: str) -> bool:
        """True if another clone says it lost races running and now tries on ``base`` (the tip
        just fetched), or on a board commit this clone landed."""
        from gitboard.store import remote as remote_ops

        mine = set(self.landed)
        return any(c == base or c in mine for n, c in remote_ops.waiting(self.repo).items() if n != self.name)

    def defer_seconds(self) -> float:
        """How long to hold back a push when :meth:`others_wait`: 0.5-1.5 of the last attempt's
        duration (0.1 s if unknown), at most 1 s."""
        return min(max(self.round_trip or 0.1, 0.01) * (0.5 + random.random()), 1.0)

    def won(self, commit: str, contended: bool, attempt_seconds: float) -> None:
        """Record a win of ``commit``; after a ``contended`` one (a race lost first, or another
        clone's commit found since this clone's last), or one back to back with the last while
        others were about (a contended win in the last :data:`CONTENDED_SECONDS`), this clone's
        writers wait up to a round trip (half of one) before the next write."""
        self.read()
        self.round_trip = attempt_seconds
        now = time.time()
        if contended:
            self.seen = now
            until = now + attempt_seconds * random.random()
        elif now - self.last < 2 * attempt_seconds and now - self.seen < CONTENDED_SECONDS:
            until = now + attempt_seconds * 0.5 * random.random()  # writing back to back among others: a gap
        else:
            until = 0.0  # alone on the board: nobody to let in
        state = {"landed": (self.landed + [commit])[-KEEP:], "until": until, "last": now, "seen": self.seen}
        tmp = f"{self.path}.{os.getpid()}"
        try:
            with open(tmp, "w") as f:
                json.dump(state, f)
            os.replace(tmp, self.path)
        except OSError:
            pass  # only fairness is lost

    def lost(self, attempt_seconds: float) -> None:
        """Record a lost race that took ``attempt_seconds``."""
        self.round_trip = attempt_seconds

    def say_waiting(self, base: str) -> None:
        """Say on the remote that this clone lost races running and now tries on ``base``: a
        ``git push`` in the background of ``base`` to ``refs/gitboard/waiting/<name>``."""
        for p in list(_pushes):
            if p.poll() is not None:
                _pushes.remove(p)
        if _pushes:
            return
        from gitboard.store.remote import WAITING

        try:
            _pushes.append(subprocess.Popen(
                ["git", "push", "-q", "--no-verify", self.repo.remote or "origin", f"{base}:{WAITING}{self.name}"],
                cwd=self.repo.cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        except OSError:
            pass
