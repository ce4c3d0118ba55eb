"""Fetching and pushing the board branch (remote mode).

With ``git config gitboard.remote`` set, the remote's board branch is the
board: every write is fetched, applied and pushed without force, and a rejected
push is a lost race. Pushes run ``git push --porcelain`` and read its status
line for the board ref: GitPython's push parsing drops the status of a push
whose source is a commit id, so it cannot tell a landed push from a rejected one.
"""

from __future__ import annotations

import git

from gitboard.board.errors import GitFailure
from gitboard.store.git import last_line
from gitboard.store.repo import BoardRepo

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
    _remote(repo)  # a clear error for a missing remote
    target = ref or repo.ref
    res = repo.git("push", "--porcelain", repo.remote, f"{commit}:{target}", check=False)
    # porcelain status line: "<flag>\t<from>:<to>\t<summary>"; flag "!" is a rejection
    for line in res.stdout.decode(errors="replace").splitlines():
        fields = line.split("\t")
        if len(fields) < 3 or not fields[1].endswith(":" + target):
            continue
        flag, summary = fields[0], fields[2].strip()
        if flag != "!":
            return True
        if summary.startswith("[rejected]") or any(w in summary.lower() for w in _RACE_WORDS):
            return False
        raise GitFailure(f"{repo.remote} refused the push: {summary}")
    raise GitFailure(f"cannot push to {repo.remote}: {last_line(res.stderr) or f'git push exited {res.status}'}")
