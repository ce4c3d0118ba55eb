"""Waiting for a ref to move, cheaply: a ``stat`` of the ref's files per tick, no git process.

git updates a loose ref by writing ``<ref>.lock`` and renaming it over the ref file,
and rewrites ``packed-refs`` the same way, so a moved ref shows as a new inode (or
size, or modification time) of one of those two files. A :class:`RefWatcher`
stats both every :data:`TICK` seconds and reads the ref only when one of them
changed: about 20 µs of CPU per tick, so an idle watcher costs well under 0.1%
of a core, and it notices a new tip within one tick.

A repository in the reftable format (no ref files to stat) falls back to asking
git once per :data:`SLOW_TICK`.

Used by the idle teammate (it wakes as soon as the board moves, whatever its
``--poll``) and by ``gitboard watch``::

    from gitboard.store.refwatch import wait_for_change
    tip = wait_for_change(repo, tip, 30.0)      # the new tip, or the old one after 30 s
"""

from __future__ import annotations

import os
import threading
import time

from gitboard.board.errors import BoardError
from gitboard.store.repo import BoardRepo

#: Seconds between two looks at the ref files.
TICK = 0.1
#: Seconds between two ``git rev-parse`` calls when the refs are in a reftable.
SLOW_TICK = 1.0


class RefWatcher:
    """Watches one ref of a repository (the board ref by default).

    Args:
        repo: the open repository.
        ref: the full ref name (``refs/heads/...``); None means :attr:`BoardRepo.ref`.
    """

    def __init__(self, repo: BoardRepo, ref: str | None = None) -> None:
        self.repo = repo
        self.ref = ref or repo.ref
        self._paths = (os.path.join(repo.common_dir, self.ref), os.path.join(repo.common_dir, "packed-refs"))
        self._reftable = os.path.isdir(os.path.join(repo.common_dir, "reftable"))

    def stamp(self) -> tuple:
        """Return what identifies the current state of the ref's files: (inode, size, mtime_ns)
        of the loose ref file and of ``packed-refs`` (None for a missing file)."""
        out = []
        for path in self._paths:
            try:
                st = os.stat(path)
            except OSError:
                out.append(None)
            else:
                out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def tip(self) -> str | None:
        """Return the object id the ref points at now, or None if it does not exist."""
        return self.repo.read_ref(self.ref)

    def wait_for_change(self, old_tip: str | None, timeout_seconds: float,
                        abort: threading.Event | None = None) -> str | None:
        """Wait until the ref no longer points at ``old_tip``, for at most ``timeout_seconds``.

        Args:
            old_tip: the tip the caller has seen (None: the ref did not exist).
            timeout_seconds: how long to wait at most.
            abort: if given, an event that ends the wait early when set.

        Returns:
            The ref's tip when the wait ended: a new tip if it moved, else ``old_tip``
            (timeout or abort; the ref may also have moved and come back).
        """
        deadline = time.monotonic() + max(0.0, timeout_seconds)
        tick = SLOW_TICK if self._reftable else TICK
        stamp = None if self._reftable else self.stamp()
        tip = self.tip()
        while tip == old_tip:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if abort is not None:
                if abort.wait(min(tick, left)):
                    break
            else:
                time.sleep(min(tick, left))
            if not self._reftable:
                now = self.stamp()
                if now == stamp:
                    continue
                stamp = now
            tip = self.tip()
        return tip


def wait_for_change(repo_or_path: BoardRepo | str | os.PathLike, old_tip: str | None, timeout_seconds: float,
                    *, ref: str | None = None, abort: threading.Event | None = None) -> str | None:
    """Wait until the board ref (or ``ref``) moves away from ``old_tip``; return the tip then.

    ``repo_or_path`` is an open :class:`BoardRepo` or a directory in the repository
    (opened and closed here). See :meth:`RefWatcher.wait_for_change`.

    Raises:
        GitFailure: ``repo_or_path`` is a path outside any git repository.
    """
    if isinstance(repo_or_path, BoardRepo):
        return RefWatcher(repo_or_path, ref).wait_for_change(old_tip, timeout_seconds, abort)
    with BoardRepo(repo_or_path) as repo:
        return RefWatcher(repo, ref).wait_for_change(old_tip, timeout_seconds, abort)


class Fetcher:
    """Remote mode: fetch the board every ``poll`` seconds in a thread, with a repository of its own
    (one per thread), fast-forwarding the local board ref; records when (``fetched_at``,
    ``time.monotonic()``) and whether (``error``, "" when it worked) it last fetched. Start
    :attr:`thread`; set :attr:`stop` to end it. Used by ``gitboard watch`` and the web board."""

    def __init__(self, path: str, poll: float) -> None:
        self.path, self.poll = path, poll
        self.fetched_at: float | None = time.monotonic()
        self.error = ""
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="gitboard-fetch", daemon=True)

    def _run(self) -> None:
        from gitboard.store.read import current_tip

        while not self.stop.wait(self.poll):
            try:
                with BoardRepo(self.path) as repo:
                    current_tip(repo)
                self.fetched_at, self.error = time.monotonic(), ""
            except BoardError as e:
                self.error = e.message
            except Exception as e:  # never let the view die of a fetch
                self.error = f"{type(e).__name__}: {e}"


class TipFollower:
    """Sets :attr:`moved` each time the local board ref moves away from the tip last seen,
    watched in a thread (with its own repository) by :class:`RefWatcher`; :attr:`tip` is the
    tip last seen. Start :attr:`thread`; set :attr:`stop` to end it."""

    def __init__(self, path: str, tip: str | None) -> None:
        self.path, self.tip = path, tip
        self.moved = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="gitboard-ref", daemon=True)

    def _run(self) -> None:
        with BoardRepo(self.path) as repo:
            watcher = RefWatcher(repo)
            while not self.stop.is_set():
                tip = watcher.wait_for_change(self.tip, 60.0, abort=self.stop)
                if tip != self.tip:
                    self.tip = tip
                    self.moved.set()
