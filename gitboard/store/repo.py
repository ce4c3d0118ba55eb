"""Opening a repository and reading gitboard's settings from git config.

Settings (``git config``):

- ``gitboard.branch`` -- the board branch, ``gitboard`` by default;
- ``gitboard.remote`` -- the remote shared by the team; unset means local mode;
- ``gitboard.base`` -- the base branch task worktrees start from (teammates).

State local to one clone (lock, cache, logs, pids, worktrees) lives under
``<git-common-dir>/gitboard/``, shared by all of the clone's worktrees.
"""

from __future__ import annotations

import os
from pathlib import Path

import git
from filelock import FileLock, Timeout

from gitboard.board.errors import Busy, GitFailure
from gitboard.store import git as gitcmd

DEFAULT_BRANCH = "gitboard"
#: Commit identity used when git has none configured: ``<actor> <actor@gitboard.invalid>``.
FALLBACK_EMAIL_DOMAIN = "gitboard.invalid"
ZERO_OID = "0" * 40


def offline_from_env() -> bool:
    """True if ``GITBOARD_OFFLINE`` is set to a true value (1, true, yes)."""
    return os.environ.get("GITBOARD_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


class BoardRepo:
    """A git repository opened for gitboard.

    Close it (or use it as a context manager): GitPython keeps ``git cat-file``
    children per Repo. Open one per thread, and do not hold one forever.

    Args:
        path: any directory inside the repository (work tree, worktree or bare).
        offline: read the local copy of the board instead of fetching first.

    Raises:
        GitFailure: ``path`` is not inside a git repository.
    """

    def __init__(self, path: str | os.PathLike = ".", *, offline: bool | None = None) -> None:
        try:
            self.repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise GitFailure(f"not a git repository: {os.path.abspath(path)}") from None
        self.offline = offline_from_env() if offline is None else offline
        self.git_dir = self.repo.git_dir
        self.common_dir = self.repo.common_dir
        self.work_dir = self.repo.working_tree_dir
        self.cwd = self.work_dir or self.git_dir
        reader = self.repo.config_reader()
        self.branch = str(reader.get_value("gitboard", "branch", DEFAULT_BRANCH))
        self.remote = str(reader.get_value("gitboard", "remote", "")) or None
        self.base = str(reader.get_value("gitboard", "base", "")) or None
        self._user_name = str(reader.get_value("user", "name", "")) or None
        self._user_email = str(reader.get_value("user", "email", "")) or None
        self._lock: FileLock | None = None

    # -- lifecycle ---------------------------------------------------------
    def close(self) -> None:
        """Release the GitPython Repo and its ``git cat-file`` children."""
        self.repo.close()

    def __enter__(self) -> "BoardRepo":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- names and places --------------------------------------------------
    @property
    def ref(self) -> str:
        """The board ref, ``refs/heads/<branch>``."""
        return f"refs/heads/{self.branch}"

    @property
    def tracking_ref(self) -> str:
        """The remote-tracking ref of the board, ``refs/remotes/<remote>/<branch>``."""
        return f"refs/remotes/{self.remote}/{self.branch}"

    def state_dir(self, *parts: str) -> Path:
        """Return (creating it) ``<git-common-dir>/gitboard/<parts...>``."""
        p = Path(self.common_dir, "gitboard", *parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def git(self, *args: str, input: bytes | None = None, check: bool = True,
            env: dict[str, str] | None = None) -> gitcmd.Result:
        """Run ``git <args>`` in this repository (see :func:`gitboard.store.git.run`)."""
        return gitcmd.run(self.cwd, args, input=input, check=check, env=env)

    # -- refs --------------------------------------------------------------
    def resolve(self, ref: str) -> str | None:
        """Return the commit id ``ref`` points at, or None if it does not exist."""
        res = self.git("rev-parse", "--verify", "-q", ref + "^{commit}", check=False)
        if res.status != 0:
            return None
        return res.stdout.decode().strip() or None

    def tip(self) -> str | None:
        """Return the local board tip, or None if the board branch does not exist."""
        try:
            return git.SymbolicReference.dereference_recursive(self.repo, self.ref)
        except (ValueError, OSError):
            return None

    def compare_and_swap(self, new: str, old: str | None, message: str, ref: str | None = None) -> bool:
        """Move ``ref`` (the board ref by default) from ``old`` (None: must not exist) to ``new``.

        This is ``git update-ref <ref> <new> <old>``. Returns False when the ref
        was not at ``old`` or another process held its ``.lock`` ("cannot lock
        ref"): a lost race, for the caller to retry.
        """
        res = self.git("update-ref", "-m", message, ref or self.ref, new, old or ZERO_OID, check=False)
        return res.status == 0

    # -- identity, config, locking -----------------------------------------
    def identity_env(self, actor: str) -> dict[str, str]:
        """Environment giving git a commit identity, falling back to ``actor`` where git has none.

        Uses ``GIT_AUTHOR_*``/``GIT_COMMITTER_*`` from the environment, else
        ``user.name``/``user.email``, else ``<actor> <actor@gitboard.invalid>``.
        """
        name = self._user_name or actor
        email = self._user_email or f"{actor}@{FALLBACK_EMAIL_DOMAIN}"
        env: dict[str, str] = {}
        for who in ("AUTHOR", "COMMITTER"):
            env[f"GIT_{who}_NAME"] = os.environ.get(f"GIT_{who}_NAME") or name
            env[f"GIT_{who}_EMAIL"] = os.environ.get(f"GIT_{who}_EMAIL") or email
        return env

    def set_config(self, key: str, value: str) -> None:
        """Set ``git config <key> <value>`` in this repository's config (``git config --local``)."""
        self.git("config", "--local", key, value)
        section, _, name = key.partition(".")
        if section == "gitboard" and name in ("branch", "remote", "base"):
            setattr(self, name, value)

    def board_lock(self, timeout: float) -> FileLock:
        """Return the clone-wide writer lock, ``<git-common-dir>/gitboard/board.lock``, acquired.

        Raises:
            Busy: it could not be taken within ``timeout`` seconds.
        """
        lock = FileLock(str(self.state_dir() / "board.lock"))
        try:
            lock.acquire(timeout=max(timeout, 0.0))
        except Timeout:
            raise Busy(f"board lock busy for {timeout:.0f} s: {lock.lock_file}") from None
        return lock
