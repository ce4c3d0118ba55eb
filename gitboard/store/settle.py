"""Settling a push whose outcome is unknown (remote mode).

A push can fail after the remote has committed it: the connection drops while the
server's ``reference-transaction`` hook runs, or before the client reads the status.
git then reports "the remote end hung up unexpectedly" and nothing else, and the
write may have landed. :func:`settle_push` decides by fetching the board again:
the commit landed if and only if it is the remote tip or one of its ancestors
(the board only ever fast-forwards, so a landed commit stays in its history).

While the remote stays unreachable the outcome is unknown: the transaction raises
:class:`~gitboard.board.errors.OutcomeUnknown` and leaves a record in
``<git-common-dir>/gitboard/unsettled/<commit>.pickle`` naming the commit, the
operation's key (:func:`op_key`) and the result the caller would have got. The
clone's next remote transaction settles every record against the fetched tip
(:func:`settle_records`): a commit that did not land is forgotten; a landed one
waits for a repeat of its operation, which gets the landed result
(:func:`landed_results`, then :func:`forget`):

- a repeat that returns a single value (a send retried with the same message id,
  ``claim --next``, ``done``) gets the landed result and writes nothing;
- a repeat that returns a list (a drain of the same inbox) gets the landed list
  followed by its own, so the messages of a landed drain reach their reader.

Records are local state of the clone, written and read only by gitboard, the way
git keeps ``ORIG_HEAD``; a landed record nobody repeats is dropped after
:data:`KEEP_SECONDS`.
"""

from __future__ import annotations

import functools
import json
import os
import pickle
import time
from pathlib import Path
from typing import Any, Callable

from gitboard.board.errors import GitFailure, OutcomeUnknown
from gitboard.store.repo import BoardRepo

#: Words of git's stderr meaning the push never reached the remote (nothing can have landed).
UNREACHED = ("unable to connect", "connection refused", "could not resolve host", "no route to host",
             "unable to access", "network is unreachable")

#: Seconds a transaction keeps fetching to settle an unknown push before it reports
#: :class:`~gitboard.board.errors.OutcomeUnknown`; ``GITBOARD_SETTLE_SECONDS`` overrides.
SETTLE_SECONDS = 10.0

#: Seconds a landed record waits for a repeat of its operation before it is dropped (a day).
KEEP_SECONDS = 86400.0


def settle_seconds() -> float:
    """:data:`SETTLE_SECONDS`, or ``GITBOARD_SETTLE_SECONDS`` when set to a number."""
    try:
        return float(os.environ.get("GITBOARD_SETTLE_SECONDS", SETTLE_SECONDS))
    except ValueError:
        return SETTLE_SECONDS


#: Words of git's stderr meaning the connection broke during the push: the remote may have
#: committed it. Any other failure is the remote's answer, or happened before anything was sent.
DROPPED = ("hung up", "unexpected disconnect", "early eof", "broken pipe", "connection reset",
           "rpc failed", "timed out", "unexpected eof", "protocol error")


def dropped(error: GitFailure) -> bool:
    """True if ``error`` says the connection broke mid-push (its outcome is unknown).

    Only then is a push settled by fetching: a commit byte-identical to ours, made by another
    writer applying the same operation to the same tip in the same second, would otherwise
    read as ours (and a drain's messages would be returned twice)."""
    text = error.message.lower()
    return any(w in text for w in DROPPED) and not unreached(error)


def unreached(error: GitFailure) -> bool:
    """True if ``error`` says the push never reached the remote (so nothing landed)."""
    text = error.message.lower()
    return any(w in text for w in UNREACHED)


def op_key(operation: Callable[..., Any]) -> str | None:
    """The identity of an operation, the same for a repeat of it: ``operation.key`` if set, else for a
    :func:`functools.partial` of a function its qualified name and keyword arguments as sorted JSON;
    None for anything else (such an operation is never matched to a landed record).

    Two partials with the same function and arguments are one operation repeated: the ids an
    operation carries (a message id, a request id) come from its caller, once per intent.
    """
    key = getattr(operation, "key", None)
    if isinstance(key, str):
        return key
    if isinstance(operation, functools.partial) and not operation.args:
        fn = operation.func
        try:
            args = json.dumps(operation.keywords, sort_keys=True, default=repr)
        except (TypeError, ValueError):
            return None
        return f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}:{args}"
    return None


def _dir(repo: BoardRepo) -> Path:
    return Path(repo.common_dir, "gitboard", "unsettled")


def pending(repo: BoardRepo) -> bool:
    """True if this clone holds any record (one ``stat``; called by every remote transaction)."""
    d = _dir(repo)
    try:
        return any(n.endswith(".pickle") for n in os.listdir(d))
    except FileNotFoundError:
        return False


def _write(path: Path, record: dict) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(pickle.dumps(record))
    os.replace(tmp, path)


def _records(repo: BoardRepo) -> list[tuple[Path, dict]]:
    out = []
    d = _dir(repo)
    try:
        names = sorted(os.listdir(d))
    except FileNotFoundError:
        return out
    for name in names:
        if not name.endswith(".pickle"):
            continue
        try:
            out.append((d / name, pickle.loads((d / name).read_bytes())))
        except (OSError, pickle.PickleError, EOFError, AttributeError, ImportError):
            continue  # removed by another process meanwhile, or unreadable: nothing to settle
    out.sort(key=lambda r: r[1].get("time", 0.0))
    return out


def record(repo: BoardRepo, commit: str, key: str | None, result: Any) -> None:
    """Keep a record of ``commit``, pushed with an unknown outcome, for the next transaction to settle."""
    d = _dir(repo)
    d.mkdir(parents=True, exist_ok=True)
    try:
        pickle.dumps(result)
    except Exception:  # noqa: BLE001 - a result that cannot be kept is settled without one
        result = None
    _write(d / f"{commit}.pickle", {"commit": commit, "key": key, "result": result, "landed": None,
                                     "time": time.time()})


def landed(repo: BoardRepo, commit: str, tip: str | None) -> bool:
    """True if ``commit`` is the remote board tip ``tip`` or one of its ancestors."""
    return tip is not None and repo.is_ancestor(commit, tip)


def settle_records(repo: BoardRepo, tip: str | None) -> None:
    """Decide every unsettled record against ``tip``, the remote board tip just fetched: forget the
    commits that did not land, mark the landed ones for :func:`landed_results`, drop landed ones older
    than :data:`KEEP_SECONDS`."""
    for path, rec in _records(repo):
        if rec.get("landed") is None:
            if landed(repo, rec["commit"], tip):
                rec["landed"] = True
                _write(path, rec)
            else:
                path.unlink(missing_ok=True)
        elif time.time() - rec.get("time", 0.0) > KEEP_SECONDS:
            path.unlink(missing_ok=True)


def landed_results(repo: BoardRepo, key: str | None) -> list[Any]:
    """The results of landed records of operation ``key``, oldest first (see :func:`forget`)."""
    if key is None:
        return []
    return [rec.get("result") for _, rec in _records(repo) if rec.get("landed") and rec.get("key") == key]


def forget(repo: BoardRepo, key: str | None) -> None:
    """Remove the landed records of operation ``key``: their results were returned."""
    for path, rec in _records(repo):
        if rec.get("landed") and rec.get("key") == key:
            path.unlink(missing_ok=True)


def settle_push(repo: BoardRepo, commit: str, error: GitFailure, until: float, *,
                records: list[tuple[str, str | None, Any]] = ()) -> bool:
    """Decide whether ``commit``, whose push failed with ``error``, landed on the remote.

    Fetches the board until it can (with backoff from 0.1 s to 1 s), or until the monotonic
    time ``until``. A push that never reached the remote (:func:`unreached`) did not land.

    Returns:
        True if the remote's board has ``commit``; False if it does not (nothing changed).

    Raises:
        OutcomeUnknown: the remote stayed unreachable; ``records``, one ``(commit, key, result)``
            per commit of the push (``commit`` last), are kept for the next transaction of this
            clone to settle.
    """
    if unreached(error):
        return False
    from gitboard.store import remote as remote_ops

    delay = 0.1
    while True:
        try:
            return landed(repo, commit, remote_ops.fetch(repo))
        except GitFailure as e:
            if time.monotonic() + delay >= until:
                for one, key, result in records:
                    record(repo, one, key, result)
                why = " ".join(e.message.split())
                raise OutcomeUnknown(
                    f"the outcome is unknown: the connection to {repo.remote} dropped during the push of "
                    f"{commit[:12]}, and {repo.remote} stayed unreachable ({why}); it may have landed. Repeat "
                    f"the command once {repo.remote} answers: a write that landed is then reported, not made "
                    f"twice", commit) from None
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
