"""Fetching and pushing the board branch (remote mode).

With ``git config gitboard.remote`` set, the remote's board branch is the
board: every write is fetched, applied and pushed without force, and a rejected
push is a lost race. Pushes run ``git push --porcelain`` and read its status
line for the board ref: GitPython's push parsing drops the status of a push
whose source is a commit id, so it cannot tell a landed push from a rejected one.
"""

from __future__ import annotations

import os
import random
import time

from gitboard.board.errors import GitFailure, HookRefused
from gitboard.store.git import last_line
from gitboard.store.repo import BoardRepo

#: remote rejections that mean another writer got there first ("cannot lock ref", "failed to update ref")
_RACE_WORDS = ("lock", "failed to update", "fetch first", "non-fast-forward", "stale info", "incorrect old value")


def has_remote(repo: BoardRepo, name: str) -> bool:
    """True if the clone has a git remote ``name``: from the settings read when the repository
    was opened, else (a remote added since) from git config through GitPython."""
    if name in repo.remote_names:
        return True
    try:
        repo.repo.remote(name)
    except ValueError:
        return False
    return True


def _remote(repo: BoardRepo) -> None:
    """Raise a clear error if the clone has no remote named ``gitboard.remote``."""
    if not has_remote(repo, repo.remote or ""):
        raise GitFailure(f"no git remote named {repo.remote!r} (git config gitboard.remote)")


#: Refs on the remote that say which clone landed what: ``<TURNS><clone name>`` holds the last board
#: commit that clone pushed (:mod:`gitboard.store.turn`).
TURNS = "refs/gitboard/turns/"


def turns_tracking(repo: BoardRepo) -> str:
    """Where this clone keeps the remote's :data:`TURNS` refs: ``refs/remotes/<remote>/gitboard-turns/``."""
    return f"refs/remotes/{repo.remote}/gitboard-turns/"


def turns(repo: BoardRepo) -> dict[str, tuple[str, float]]:
    """The remote's :data:`TURNS` refs as last fetched: clone name -> (board commit, the time in
    seconds since the epoch at which a fetch of this clone last saw the ref move).

    Read from the loose ref files that fetch writes, and their modification times (a fetch
    leaves a ref that did not move untouched); no git command. Refs that git has since packed
    are not seen: then no clone takes turns until they move again."""
    d = os.path.join(repo.common_dir, turns_tracking(repo))
    out: dict[str, tuple[str, float]] = {}
    try:
        names = os.listdir(d)
    except OSError:
        return out
    for name in names:
        try:
            with open(os.path.join(d, name)) as f:
                out[name] = (f.read().strip(), os.fstat(f.fileno()).st_mtime)
        except OSError:
            continue
    return out


def look(repo: BoardRepo) -> tuple[str | None, dict[str, str]]:
    """The remote's board tip and its :data:`TURNS` refs, read without fetching any objects
    (``git ls-remote``, one ref advertisement): a held-back writer's look at whether its turn
    has come (:meth:`gitboard.store.turn.Turn.hold`). It costs about what a fetch that brings
    nothing costs, and far less than one that brings another clone's write, which a clone
    needs only when it writes next.

    Returns:
        (the board tip or None if the remote has no board branch, clone name -> commit).

    Raises:
        GitFailure: the remote is unreachable or the listing failed.
    """
    _remote(repo)
    res = repo.git("ls-remote", repo.remote, repo.ref, f"{TURNS}*", check=False)
    if res.status != 0:
        raise GitFailure(f"cannot list the board's refs on {repo.remote}: "
                         f"{last_line(res.stderr) or f'git ls-remote exited {res.status}'}")
    tip, refs = None, {}
    for line in res.stdout.decode(errors="replace").splitlines():
        commit, _, name = line.partition("\t")
        if name == repo.ref:
            tip = commit
        elif name.startswith(TURNS):
            refs[name[len(TURNS):]] = commit
    return tip, refs


def delete_turns(repo: BoardRepo, refs: dict[str, str]) -> list[str]:
    """Delete :data:`TURNS` refs from the remote, each only if it still names the commit given
    (``--force-with-lease=<ref>:<commit>``): one ``git push``, not atomic, so a ref that moved
    meanwhile (its clone wrote again) stays and the others go.

    Args:
        refs: clone name -> the commit its turn ref should still hold.

    Returns:
        The clone names whose turn refs the remote deleted.

    Raises:
        GitFailure: the remote is unreachable, or the push failed as a whole.
    """
    _remote(repo)
    if not refs:
        return []
    leases = [f"--force-with-lease={TURNS}{name}:{commit}" for name, commit in refs.items()]
    res = repo.git("push", "--porcelain", "--no-verify", *leases, repo.remote,
                   *(f":{TURNS}{name}" for name in refs), check=False)
    # porcelain status lines: "-\t:<ref>\t[deleted]", or "!\t(delete):<ref>\t[rejected] (stale info)"
    deleted, answered = [], False
    for line in res.stdout.decode(errors="replace").splitlines():
        fields = line.split("\t")
        if len(fields) < 3 or TURNS not in fields[1]:
            continue
        answered = True
        if fields[0] == "-":
            deleted.append(fields[1].rpartition(TURNS)[2])
    if not answered:
        raise GitFailure(f"cannot delete turn refs on {repo.remote}: "
                         f"{last_line(res.stderr) or f'git push exited {res.status}'}")
    return deleted


def fetch(repo: BoardRepo) -> str | None:
    """Fetch the board branch into ``refs/remotes/<remote>/<branch>`` (and the remote's
    :data:`TURNS` refs into :func:`turns_tracking`, dropping those the remote no longer has).

    Returns:
        The remote board tip, or None if the remote has no board branch.

    Raises:
        GitFailure: the remote is unreachable or the fetch failed.
    """
    _remote(repo)  # a clear error for a missing remote
    # the tracking refs are all a board read needs: no FETCH_HEAD (a file every process of the
    # clone would rewrite), no tags, and no automatic maintenance: gitboard.store.upkeep makes
    # git's checks itself (one directory listing) after a fetch that brought board commits.
    # --prune: a turn ref deleted on the remote (:func:`delete_turns`) goes from the tracking refs too
    before = repo.read_ref(repo.tracking_ref)
    args = ("fetch", "-q", "--prune", "--no-tags", "--no-write-fetch-head", "--no-auto-maintenance", repo.remote,
            f"+{repo.ref}:{repo.tracking_ref}", f"+{TURNS}*:{turns_tracking(repo)}*")
    for attempt in range(8):
        res = repo.git(*args, check=False)
        if res.status == 0:
            break
        err = res.stderr
        if "couldn't find remote ref" in err:
            return None
        if ("cannot lock ref" in err or "did not send all necessary objects" in err) and attempt < 7:
            # another process of this clone (a reader does not take the board lock) fetched
            # the same tracking ref at the same moment, or git packed the objects the fetch was
            # reading (its connectivity check then fails): a lost race, not an outage
            time.sleep(0.01 * (attempt + 1) * (0.5 + random.random()))
            continue
        raise GitFailure(f"cannot fetch the board from {repo.remote}: "
                         f"{last_line(err) or f'git fetch exited {res.status}'}")
    tip = repo.read_ref(repo.tracking_ref)
    repo.fast_forward = None
    if tip != before:
        from gitboard.store import upkeep

        if before is not None and tip is not None and _fast_forwarded(repo, before, tip):
            repo.fast_forward = (before, tip)
        upkeep.after_write(repo)
    return tip


def _fast_forwarded(repo: BoardRepo, old: str, new: str) -> bool:
    """True if the reflog of the tracking ref records a fetch's fast-forward from ``old`` to
    ``new``: git writes ``<old> <new> <ident> <time> <tz>\t<action>: fast-forward`` when it checked
    that ``old`` is an ancestor (``forced-update`` when not). Reads the last 4,096 bytes of
    ``<git-common-dir>/logs/<tracking ref>``; no reflog (``core.logAllRefUpdates`` off) is False."""
    try:
        with open(os.path.join(repo.common_dir, "logs", repo.tracking_ref), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            tail = f.read()
    except OSError:
        return False
    want = f"{old} {new} ".encode()
    return any(line.startswith(want) and line.endswith(b": fast-forward") for line in tail.splitlines()[-16:])


def hook_refusal(remote: str, summary: str, stderr: str) -> HookRefused | None:
    """Return the error for a push a server-side hook declined, or None.

    git reports it as ``[remote rejected] (pre-receive hook declined)`` (or
    ``hook declined`` for the update hook); the hook's own lines arrive on
    stderr prefixed ``remote:``. The first ``gitboard: refused ...`` line (else
    the first ``remote:`` line) becomes the message.

    Args:
        remote: the remote's name, for the message.
        summary: the porcelain status summary of the ref.
        stderr: git push's stderr.
    """
    if "hook declined" not in summary:
        return None
    lines = [ln.strip()[len("remote:"):].strip() for ln in stderr.splitlines() if ln.strip().startswith("remote:")]
    lines = [ln for ln in lines if ln]
    ours = [ln for ln in lines if ln.startswith("gitboard: refused")]
    reason = (ours or lines or [summary])[0]
    return HookRefused(f"{remote} refused the push: {reason}")


def push(repo: BoardRepo, commit: str, ref: str | None = None, *, exclusive: bool = False,
         expect: str | None = None, also_ref: str | None = None) -> bool:
    """Push ``commit`` to ``ref`` (the board ref by default) on the remote, without force.

    ``exclusive`` (board transactions): a remote that already has ``commit``
    ("up to date") counts as a lost race, not a win. Two writers that apply the
    same operation to the same tip in the same second write byte-identical
    commits; only the first push landed it, and the second writer must re-read
    (else two drains would both return the same messages).

    ``expect`` (the tip the commit was made on): the push lands only if the remote's ref is
    still exactly there (``--force-with-lease=<ref>:<expect>``, checked by the remote as it
    updates the ref), a compare-and-swap over the wire. A group's chain of commits needs it:
    another writer may have landed a commit byte-identical to the chain's first, and a push
    of the chain would then fast-forward on top of it, taking that commit for ours.

    ``also_ref`` (a ref name): ``commit`` goes to that ref too, forced, in the same push but not
    atomically: it moves even when the board ref is rejected (a clone's turn ref, which says
    which clone landed the board tip, or that a clone is trying: :mod:`gitboard.store.turn`).

    Returns:
        True if the remote took it; False if it was rejected because the remote
        moved or its ref was locked by another push (a lost race).

    Raises:
        HookRefused: the remote's pre-receive (or update) hook declined it: an answer, not a race.
        GitFailure: the remote is unreachable, or refused the push for another reason.
    """
    _remote(repo)  # a clear error for a missing remote
    target = ref or repo.ref
    # --no-verify: the user's pre-push hooks guard their code, not board bookkeeping
    lease = (f"--force-with-lease={target}:{expect}",) if expect else ()
    res = repo.git("push", "--porcelain", "--no-verify", *lease, repo.remote, f"{commit}:{target}",
                   *((f"+{commit}:{also_ref}",) if also_ref else ()), check=False)
    # porcelain status line: "<flag>\t<from>:<to>\t<summary>"; flag "!" is a rejection
    for line in res.stdout.decode(errors="replace").splitlines():
        fields = line.split("\t")
        if len(fields) < 3 or not fields[1].endswith(":" + target):
            continue
        flag, summary = fields[0], fields[2].strip()
        if flag == "=" and exclusive:
            return False
        if flag != "!":
            return True
        refused = hook_refusal(repo.remote, summary, res.stderr)
        if refused is not None:
            raise refused
        if summary.startswith("[rejected]") or any(w in summary.lower() for w in _RACE_WORDS):
            return False
        raise GitFailure(f"{repo.remote} refused the push: {summary}")
    raise GitFailure(f"cannot push to {repo.remote}: {last_line(res.stderr) or f'git push exited {res.status}'}")
