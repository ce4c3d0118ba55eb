"""Group commit: the writers of one clone that want to write at the same moment share one
fetch and one push (one compare-and-swap locally).

Writers of a clone queue on the board lock. A writer that finds the lock taken leaves its
operation in the clone's queue, ``<git-common-dir>/gitboard/queue/<branch>/``, and waits.
Whoever holds the lock -- the leader -- takes every queued operation and applies them,
after its own, in the order they arrived: each its own commit, child of the one before,
with its own trailers; then it pushes (or compare-and-swaps) the last commit once. A lost
race re-applies the whole group; a domain error fails only its own operation. The leader
then leaves each operation's outcome beside it, and the waiters return it as their own.

An operation crosses processes as a pickle: a :func:`functools.partial` of a module-level
function of ``gitboard.board`` (how the command line, the teammate runtime and the lead
build operations) pickles by reference; anything else (a closure) is not shared and runs
as a transaction of its own. The queue holds gitboard's own state in the clone's git
directory, like git's ``ORIG_HEAD``; it is never fetched or pushed.

Files of one queued operation ``<name>`` (``<time_ns>-<pid>-<random>``):

- ``<name>.op``: the pickled operation, waiting; the leader renames it ``<name>.taken``;
- ``<name>.pending``: written by the leader before its push: the commit and result, so
  that a waiter can settle the outcome itself if the leader dies before it answers;
- ``<name>.done``: the outcome, ``("ok", result, attempts, commit)`` or ``("error", exc, attempts, None)``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import time
from pathlib import Path
from typing import Any, Callable

#: Seconds after which an answer nobody collected (its waiter died) is removed.
STALE_SECONDS = 300.0


def describe(operation: Callable[..., Any]) -> bytes | None:
    """The pickled operation if another process can run it, else None: a :func:`functools.partial`
    of a function defined at module level in ``gitboard.board``, with picklable arguments."""
    if not isinstance(operation, functools.partial):
        return None
    fn = operation.func
    if not getattr(fn, "__module__", "").startswith("gitboard.board.") or "<locals>" in getattr(fn, "__qualname__", "<locals>"):
        return None
    try:
        return pickle.dumps(operation)
    except Exception:  # noqa: BLE001 - an argument that does not pickle: not shared
        return None


class Queue:
    """The queue of one board branch of one clone (see the module docstring).

    Args:
        common_dir: the clone's git common directory.
        branch: the board branch (each branch, and each remote, has its own queue).
    """

    def __init__(self, common_dir: str, branch: str, remote: str | None = None) -> None:
        tag = hashlib.sha1(f"{branch}\0{remote or ''}".encode()).hexdigest()[:12]
        self.dir = Path(common_dir, "gitboard", "queue", tag)

    def _path(self, name: str, ext: str) -> Path:
        return self.dir / f"{name}.{ext}"

    def _write(self, name: str, ext: str, data: bytes) -> None:
        tmp = self._path(name, f"tmp-{ext}")
        tmp.write_bytes(data)
        os.replace(tmp, self._path(name, ext))

    def put(self, blob: bytes) -> str:
        """Queue the pickled operation ``blob``; returns its name."""
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}"
        self._write(name, "op", blob)
        return name

    def take(self) -> list[tuple[str, Any]]:
        """Take every waiting operation, oldest first: ``[(name, operation or the exception that
        unpickling it raised)]``. Only the lock holder calls it."""
        try:
            names = sorted(n[:-3] for n in os.listdir(self.dir) if n.endswith(".op"))
        except FileNotFoundError:
            return []
        out: list[tuple[str, Any]] = []
        for name in names:
            taken = self._path(name, "taken")
            try:
                os.replace(self._path(name, "op"), taken)
            except FileNotFoundError:
                continue  # its waiter withdrew it
            try:
                out.append((name, pickle.loads(taken.read_bytes())))
            except Exception as e:  # noqa: BLE001 - answered as this operation's error
                out.append((name, e))
        return out

    def withdraw(self, name: str) -> bool:
        """Take one's own operation back; True if no leader had taken it."""
        try:
            os.unlink(self._path(name, "op"))
            return True
        except FileNotFoundError:
            return False

    def pending(self, name: str, commit: str, result: Any) -> None:
        """Record, before the push, that operation ``name`` is ``commit`` with ``result``."""
        try:
            data = pickle.dumps((commit, result))
        except Exception:  # noqa: BLE001 - the commit alone still settles the outcome
            data = pickle.dumps((commit, None))
        self._write(name, "pending", data)

    def read_pending(self, name: str) -> tuple[str, Any] | None:
        """The leader's ``(commit, result)`` for ``name`` if it got as far as pushing, else None."""
        try:
            return pickle.loads(self._path(name, "pending").read_bytes())
        except (OSError, EOFError, pickle.PickleError):
            return None

    def answer(self, name: str, outcome: tuple) -> None:
        """Leave ``outcome`` for the waiter of ``name``; the operation's other files go."""
        self._write(name, "done", _dumps(outcome))
        for ext in ("taken", "pending"):
            self._path(name, ext).unlink(missing_ok=True)

    def outcome(self, name: str) -> tuple | None:
        """Collect (and remove) the outcome of ``name``, or None if there is none yet."""
        path = self._path(name, "done")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        path.unlink(missing_ok=True)
        return pickle.loads(data)

    def forget(self, name: str) -> None:
        """Remove every file of ``name`` (its waiter settled it itself)."""
        for ext in ("op", "taken", "pending", "done"):
            self._path(name, ext).unlink(missing_ok=True)

    def sweep(self) -> None:
        """Remove answers older than :data:`STALE_SECONDS` (their waiters died)."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return
        cutoff = time.time() - STALE_SECONDS
        for n in names:
            if n.endswith(".done"):
                try:
                    if os.stat(self.dir / n).st_mtime < cutoff:
                        os.unlink(self.dir / n)
                except FileNotFoundError:
                    pass


def _dumps(value: tuple) -> bytes:
    try:
        return pickle.dumps(value)
    except Exception as e:  # noqa: BLE001 - a result or error that does not pickle
        from gitboard.board.errors import GitFailure

        return pickle.dumps(("error", GitFailure(f"gitboard could not pass the outcome back: {e}"), 0, None))
