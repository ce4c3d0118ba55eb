"""Fetching and pushing the board branch (remote mode).

With ``git config gitboard.remote`` set, the remote's board branch is the
board: every write is fetched, applied and pushed without force, and a rejected
push is a lost race. GitPython reports rejected pushes as
:class:`git.PushInfo` flags, not exceptions.
"""

from __future__ import annotations

import logging

import git

from gitboard.board.errors import GitFailure
from gitboard.store.git import last_line
from gitboard.store.repo import BoardRepo

# GitPython logs rejected pushes as warnings; a rejected push is an answer here, not noise.
logging.getLogger("git.remote").setLevel(logging.ERROR)

_LOST_RACE = git.PushInfo.REJECTED | git.PushInfo.REMOTE_REJECTED | git.PushInfo.REMOTE_FAILURE
#: remote rejections that mean another writer got there first ("cannot lock ref", "failed to update ref")
_RACE_WORDS = ("lock", "failed to update", "fetch first", "non-fast-forward", "stale info", "incorrect old value")


def _remote(repo: BoardRepo) -> git.Remote:
    try:
        return repo.repo.remote(repo.remote)
    except ValueError:
        raise GitFailure(f"no git remote named {repo.remote!r} (git config gitboard.remote)") from None


def fetch(repo: BoardRepo) -> str | None:
    """Fetch the board branch into ``refs/remotes/<remote>/<branch>``.

    Returns:
        The remote board tip, or None if the remote has no board branch.

    Raises:
        GitFailure: the remote is unreachable or the fetch failed.
    """
    remote = _remote(repo)
    try:
        remote.fetch(f"+{repo.ref}:{repo.tracking_ref}")
    except git.GitCommandError as e:
        err = str(e.stderr or "")
        if "couldn't find remote ref" in err:
            return None
        raise GitFailure(f"cannot fetch the board from {repo.remote}: {last_line(err) or e}") from None
    return repo.resolve(repo.tracking_ref)


def push(repo: BoardRepo, commit: str, ref: str | None = None) -> bool:
    """Push ``commit`` to ``ref`` (the board ref by default) on the remote, without force.

    Returns:
        True if the remote took it; False if it was rejected because the remote
        moved or its ref was locked by another push (a lost race).

    Raises:
        GitFailure: the remote is unreachable, or refused the push for another reason.
    """
    remote = _remote(repo)
    target = ref or repo.ref
    try:
        infos = remote.push(f"{commit}:{target}")
    except git.GitCommandError as e:
        raise GitFailure(f"cannot push to {repo.remote}: {last_line(str(e.stderr or '')) or e}") from None
    if not infos:
        raise GitFailure(f"cannot push to {repo.remote}: no answer")
    info = infos[0]
    if info.flags & _LOST_RACE:
        summary = (info.summary or "").lower()
        if info.flags & git.PushInfo.REJECTED or any(w in summary for w in _RACE_WORDS):
            return False
        raise GitFailure(f"{repo.remote} refused the push: {info.summary.strip()}")
    if info.flags & git.PushInfo.ERROR:
        raise GitFailure(f"cannot push to {repo.remote}: {info.summary.strip()}")
    return True
