"""``gitboard init``: create the board branch, or adopt a remote's board."""

from __future__ import annotations

from functools import partial

from gitboard.board.errors import Conflict, Diverged, GitFailure, Invalid
from gitboard.board.setup_ops import init_board
from gitboard.board.roster import Team
from gitboard.store import remote as remote_ops
from gitboard.store.read import mirror, remote_with_board
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import Stats, transact


def init(repo: BoardRepo, *, actor: str, team_name: str, remote: str | None = None,
         branch: str | None = None) -> tuple[Team, bool]:
    """Create the board (idempotent) and return ``(team, created)``.

    ``branch`` and ``remote`` are saved as ``gitboard.branch`` and
    ``gitboard.remote``. Against a remote that already has a board, that board
    is adopted; a local board the remote lacks is pushed to it. A board in an older
    format is migrated (one ``migrate`` commit); ``created`` stays False then.

    Without ``remote``, a clone with no board of its own whose remote has one (see
    :func:`~gitboard.store.read.remote_with_board`) is refused: the board to use is that one.

    Raises:
        GitFailure: no such git remote, or it is unreachable.
        Diverged: the local board and the remote's board have diverged.
        Conflict: without ``remote``, a remote has a board this clone has none of.
    """
    if branch:
        if repo.git("check-ref-format", "--branch", branch, check=False).status != 0 or "/" in branch:
            raise Invalid(f"invalid board branch name {branch!r}")
        head = repo.git("symbolic-ref", "-q", "HEAD", check=False).stdout.decode().strip()
        if head == f"refs/heads/{branch}":
            raise Invalid(f"branch {branch!r} is checked out; the board branch must never be")
        repo.branch = branch
    if not remote and not repo.remote and repo.tip() is None:
        shared = remote_with_board(repo)
        if shared:  # a second, unrelated board would diverge from the shared one
            raise Conflict(f"{shared} already has a board (branch {repo.branch}): run 'gitboard init "
                           f"--remote {shared}' to use it, or pick another board branch with --branch")
    if remote:
        if not remote_ops.has_remote(repo, remote):
            raise GitFailure(f"no git remote named {remote!r}")
        repo.remote = remote
        remote_tip = remote_ops.fetch(repo)  # unreachable: fails here, before anything changes
        local_tip = repo.tip()
        if remote_tip is None and local_tip is not None:
            if not remote_ops.push(repo, local_tip):
                remote_tip = remote_ops.fetch(repo)
        if remote_tip is not None and local_tip is not None and remote_tip != local_tip:
            behind = repo.git("merge-base", "--is-ancestor", local_tip, remote_tip, check=False).status == 0
            ahead = not behind and repo.git("merge-base", "--is-ancestor", remote_tip, local_tip,
                                            check=False).status == 0
            if ahead and remote_ops.push(repo, local_tip, exclusive=True):  # a fast-forward of the remote
                remote_tip = local_tip
            elif not behind:
                raise Diverged(f"the local board ({local_tip[:12]}) and {remote}'s board ({remote_tip[:12]}) "
                               f"have diverged; pick another board branch with --branch")
        if remote_tip is not None:
            mirror(repo, remote_tip, "adopt remote board")
    stats = Stats()
    team = transact(repo, partial(init_board, actor=actor, team_name=team_name), create=True, migrate=True,
                    stats=stats)
    if branch:
        repo.set_config("gitboard.branch", branch)
    if remote:
        repo.set_config("gitboard.remote", remote)
    if not repo.base:
        base = default_base(repo)
        if base:
            repo.set_config("gitboard.base", base)
    return team, stats.commit is not None


def default_base(repo: BoardRepo) -> str | None:
    """The base branch task worktrees start from (``gitboard.base``, set once by init): the branch
    checked out now, else the remote's HEAD branch (``refs/remotes/<remote>/HEAD``) when known."""
    head = repo.git("symbolic-ref", "-q", "--short", "HEAD", check=False).stdout.decode().strip()
    if head and head != repo.branch:
        return head
    remote = repo.remote or "origin"
    ref = repo.git("symbolic-ref", "-q", "--short", f"refs/remotes/{remote}/HEAD", check=False).stdout.decode().strip()
    if ref.startswith(remote + "/") and ref[len(remote) + 1:] != repo.branch:
        return ref[len(remote) + 1:]
    return None
