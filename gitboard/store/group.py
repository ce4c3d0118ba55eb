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
- ``<name>.done``: the outcome, ``("ok", result, attempts, commit)`` or ``("error", exc, attempts, None)``;
- ``<name>.bell``: a FIFO its waiter sleeps on; the leader writes a byte to it after the answer,
  and to the oldest waiting operation's after letting the lock go (that one may lead next).
  A waiter also tries the lock every :data:`POLL_SECONDS`, in case its leader died.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import pickle
import select
import threading
import time
from pathlib import Path
from typing import Any, Callable

#: Seconds between a waiter's looks at the lock while no doorbell rings (a leader that died).
POLL_SECONDS = 0.05

#: Seconds after which an answer nobody collected (its waiter died) is removed.
STALE_SECONDS = 300.0


class BoardLock:
    """The clone's writer lock, ``<git-common-dir>/gitboard/board.lock``: an exclusive ``flock`` on
    a descriptor of its own, so that threads of one process exclude each other too.

    A waiter sleeps in the kernel until the holder lets go (no polling: 32 waiting writers
    cost no CPU); the blocking call runs in a helper thread so that the wait can end at a
    deadline, and a lock that thread gets after its waiter gave up is let go at once.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)
        self.fd: int | None = None

    @property
    def is_locked(self) -> bool:
        """True while this object holds the lock."""
        return self.fd is not None

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True if taken."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def acquire(self, until: float) -> bool:
        """Wait for the lock until the monotonic time ``until``; True if taken."""
        if self.try_acquire():
            return True
        fd = self._open()
        got = threading.Event()
        mu = threading.Lock()
        abandoned = []

        def wait() -> None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with mu:
                if abandoned:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
                    return
                got.set()

        threading.Thread(target=wait, name="gitboard-board-lock", daemon=True).start()
        got.wait(max(0.0, until - time.monotonic()))
        with mu:
            if got.is_set():
                self.fd = fd
                return True
            abandoned.append(True)
        return False

    def release(self) -> None:
        """Let the lock go (a no-op if not held)."""
        fd, self.fd = self.fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


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

    def put(self, blob: bytes) -> tuple[str, int]:
        """Queue the pickled operation ``blob``; returns its name and the descriptor of its
        doorbell, a FIFO ``<name>.bell`` the leader rings when it answered (see :meth:`wait`)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}"
        bell = self._path(name, "bell")
        os.mkfifo(bell, 0o600)
        fd = os.open(bell, os.O_RDWR | os.O_NONBLOCK)  # read-write: select() then waits for a ring
        self._write(name, "op", blob)
        return name, fd

    def wait(self, fd: int, seconds: float) -> None:
        """Sleep until the doorbell ``fd`` rings or ``seconds`` pass."""
        ready, _, _ = select.select([fd], [], [], seconds)
        if ready:
            try:
                os.read(fd, 64)
            except BlockingIOError:
                pass

    def ring(self, name: str) -> None:
        """Ring the doorbell of ``name`` (its waiter may be gone: then nothing happens)."""
        try:
            fd = os.open(self._path(name, "bell"), os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return
        try:
            os.write(fd, b"!")
        except OSError:
            pass
        finally:
            os.close(fd)

    def ring_next(self) -> None:
        """Ring the oldest waiting operation's doorbell: the lock is free, it may lead."""
        try:
            names = sorted(n[:-3] for n in os.listdir(self.dir) if n.endswith(".op"))
        except FileNotFoundError:
            return
        if names:
            self.ring(names[0])

    def close_bell(self, name: str, fd: int) -> None:
        """Remove the doorbell of ``name``."""
        os.close(fd)
        self._path(name, "bell").unlink(missing_ok=True)

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
        self.ring(name)

    def outcome(self, name: str) -> tuple | None:
        """Collect (and remove) the outcome of ``name``, or None if there is none yet."""
        path = self._path(name, "done")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        path.unlink(missing_ok=True)
        return pickle.loads(data)

    def outcome_into(self, name: str, slot: Any, stats: Any) -> bool:
        """Collect the outcome of ``name`` into ``slot`` (``result`` or ``error``) and ``stats``
        (``attempts``, ``commit``; ``grouped`` 0: carried by another's write); False if none yet."""
        out = self.outcome(name)
        if out is None:
            return False
        kind, value, stats.attempts, stats.commit = out
        stats.grouped = 0
        if kind == "ok":
            slot.result = value
        else:
            slot.error = value
        return True

    def forget(self, name: str) -> None:
        """Remove every file of ``name`` (its waiter settled it itself)."""
        for ext in ("op", "taken", "pending", "done", "bell"):
            self._path(name, ext).unlink(missing_ok=True)

    def sweep(self) -> None:
        """Remove answers older than :data:`STALE_SECONDS` (their waiters died)."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return
        cutoff = time.time() - STALE_SECONDS
        for n in names:
            if n.endswith((".done", ".bell")):
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
