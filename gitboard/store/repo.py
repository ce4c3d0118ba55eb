"""Opening a repository and reading gitboard's settings from git config.

Settings (``git config``):

- ``gitboard.branch`` -- the board branch, ``gitboard`` by default;
- ``gitboard.remote`` -- the remote shared by the team; unset means local mode;
- ``gitboard.base`` -- the base branch task worktrees start from (teammates);
- ``gitboard.worktrees`` -- where task worktrees go instead of the per-user state
  directory (see :mod:`gitboard.runtime.worktree`).

State local to one clone (lock, cache, logs, pids) lives under
``<git-common-dir>/gitboard/``, shared by all of the clone's worktrees. Task
worktrees live outside any ``.git`` directory, in the per-user state directory
(:func:`gitboard.runtime.worktree.worktrees_dir`).

Opening a repository costs two concurrent git commands (``rev-parse`` and
``config``, about 2 ms) and reading the board tip a file read. GitPython
(about 35-60 ms to import) is imported only by what needs it: :attr:`BoardRepo.repo`,
which no board command uses. The writer lock is :class:`gitboard.store.group.BoardLock`.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from gitboard.board.errors import GitFailure
from gitboard.store import git as gitcmd

if TYPE_CHECKING:
    import git
    from gitboard.store.cache import BoardCache

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
        dirs, records = _discover(os.path.abspath(path))
        config = dict(records)
        if config.get("extensions.objectformat", "sha1").lower() != "sha1":
            raise GitFailure(f"{os.path.abspath(path)}: SHA-256 repositories are not supported yet "
                             "(gitboard writes SHA-1 objects); nothing was changed")
        self.offline = offline_from_env() if offline is None else offline
        self.git_dir, self.common_dir, self.work_dir = dirs
        self.cwd = self.work_dir or self.git_dir
        self.branch = config.get("gitboard.branch") or DEFAULT_BRANCH
        self.remote = config.get("gitboard.remote") or None
        self.base = config.get("gitboard.base") or None
        #: ``git config gitboard.worktrees`` (None: the per-user state directory)
        self.worktrees = config.get("gitboard.worktrees") or None
        #: every ``gitboard.*`` setting read from git config (lower-case section and key names;
        #: subsections as written, e.g. ``gitboard.agent.claude.program``)
        self.config: dict[str, str] = {k: v for k, v in config.items() if k.startswith("gitboard.")}
        #: every ``gitboard.*`` (key, value) record in git's order, multi-valued keys included
        #: (``gitboard.hook.leads``): read with the rest, so the hook needs no other ``git config``
        self.config_records: list[tuple[str, str]] = [r for r in records if r[0].startswith("gitboard.")]
        #: the ``gc.*`` and ``maintenance.*`` settings (:mod:`gitboard.store.upkeep`)
        self.upkeep_config: dict[str, str] = {k: v for k, v in config.items() if k.startswith(("gc.", "maintenance."))}
        #: the names of the remotes configured with a URL (``remote.<name>.url``)
        self.remote_names: set[str] = {k[len("remote."):-len(".url")] for k in config
                                       if k.startswith("remote.") and k.endswith(".url")}
        self._user_name = config.get("user.name") or None
        self._user_email = config.get("user.email") or None
        self._lock: FileLock | None = None
        self._repo: git.Repo | None = None
        self._cache: BoardCache | None = None
        #: git's error line from the last failed :meth:`compare_and_swap` ("" if none)
        self.last_cas_error = ""
        #: (old, new): the remote-tracking ref's last move by this process's fetch, when the
        #: reflog shows git took it as a fast-forward, so ``old`` is an ancestor of ``new``
        #: (:func:`gitboard.store.remote.fetch`); else None
        self.fast_forward: tuple[str, str] | None = None

    @property
    def repo(self) -> "git.Repo":
        """The GitPython Repo (opened, and GitPython imported, on first use)."""
        if self._repo is None:
            import git

            self._repo = git.Repo(self.cwd)
        return self._repo

    @property
    def cache(self) -> "BoardCache":
        """This clone's parse cache (:mod:`gitboard.store.cache`), one per process for the clone."""
        if self._cache is None:
            from gitboard.store.cache import cache_for

            self._cache = cache_for(self.state_dir("cache"))
        return self._cache

    @property
    def objects_dir(self) -> str:
        """The object database directory: ``$GIT_OBJECT_DIRECTORY``, else ``<git-common-dir>/objects``."""
        return os.environ.get("GIT_OBJECT_DIRECTORY") or os.path.join(self.common_dir, "objects")

    # -- lifecycle ---------------------------------------------------------
    def close(self) -> None:
        """Release the GitPython Repo, if one was opened, and its ``git cat-file`` children."""
        if self._repo is not None:
            self._repo.close()

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
        """Return the local board tip, or None if the board branch does not exist.

        Reads the loose ref, else ``packed-refs``, like git; anything unusual (a
        symbolic ref, the reftable format) is left to ``git rev-parse``.
        """
        return self.read_ref(self.ref)

    def read_ref(self, ref: str) -> str | None:
        """Return the object id a shared ref (``refs/heads/...``, ``refs/remotes/...``) holds, or None."""
        try:
            with open(os.path.join(self.common_dir, ref), "rb") as f:
                value = f.read().strip()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            value = None
        except OSError:
            return self.resolve(ref)
        if value is not None:
            return value.decode() if _OID.fullmatch(value) else self.resolve(ref)
        if os.path.isdir(os.path.join(self.common_dir, "reftable")):
            return self.resolve(ref)
        try:
            with open(os.path.join(self.common_dir, "packed-refs"), "rb") as f:
                packed = f.read()
        except OSError:
            return None
        m = re.search(rb"^([0-9a-f]{40,64}) " + re.escape(ref.encode()) + rb"$", packed, re.MULTILINE)
        return m.group(1).decode() if m else None

    def compare_and_swap(self, new: str, old: str | None, message: str, ref: str | None = None) -> bool:
        """Move ``ref`` (the board ref by default) from ``old`` (None: must not exist) to ``new``.

        This is ``git update-ref <ref> <new> <old>``. Returns False when the ref
        was not at ``old`` or another process held its ``.lock`` ("cannot lock
        ref"): a lost race, for the caller to retry.
        """
        res = self.git("update-ref", "-m", message, ref or self.ref, new, old or ZERO_OID, check=False)
        self.last_cas_error = "" if res.status == 0 else gitcmd.last_line(res.stderr)
        return res.status == 0

    def is_ancestor(self, older: str, newer: str) -> bool:
        """True if commit ``older`` is ``newer`` or one of its ancestors (``git merge-base --is-ancestor``)."""
        return older == newer or self.git("merge-base", "--is-ancestor", older, newer, check=False).status == 0

    def board_checked_out(self) -> str | None:
        """Return the path of a worktree that has the board branch checked out, or None.

        Reads ``HEAD`` of the main worktree and of every linked one
        (``<git-common-dir>/worktrees/*/HEAD``); gitboard never writes a checked-out branch.
        A worktree that another process adds or removes meanwhile is seen or not, never an error.
        """
        wanted = f"ref: {self.ref}".encode()
        heads = [(Path(self.common_dir, "HEAD"), None)]
        try:  # git worktree prune, in another process, removes the directory once it is empty
            heads += [(d / "HEAD", d / "gitdir") for d in Path(self.common_dir, "worktrees").iterdir()]
        except OSError:
            pass
        for head, gitdir in heads:
            try:
                if head.read_bytes().strip() != wanted:
                    continue
            except OSError:
                continue
            if gitdir is None:  # the main worktree (none in a bare repository)
                if self.common_dir == self.git_dir and self.work_dir is None:
                    continue
                return str(Path(self.common_dir).parent)
            try:
                return str(Path(gitdir.read_text().strip()).parent)
            except OSError:
                return str(gitdir.parent)
        return None

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
        if section == "gitboard" and name in ("branch", "remote", "base", "worktrees"):
            setattr(self, name, value)


_OID = re.compile(rb"[0-9a-f]{40}|[0-9a-f]{64}")


def _discover(path: str) -> tuple[tuple[str, str, str | None], list[tuple[str, str]]]:
    """Find the repository around ``path`` and read gitboard's settings, with two git commands
    run side by side: ``rev-parse`` and ``config --get-regexp``.

    Returns ``((git_dir, common_dir, work_dir or None), records)``; ``records`` are the
    ``(key, value)`` pairs in git's order, keys with lower-case section and name
    (``gitboard.branch``, ``user.name``, ...): ``dict(records)`` keeps each key's last value.

    Raises:
        GitFailure: ``path`` is not inside a git repository (or git refuses it, as
            one owned by another user), or git cannot be run.
    """
    if not os.path.isdir(path):
        raise GitFailure(f"not a git repository: {path}")
    env = {**os.environ, **gitcmd._QUIET_ENV}
    try:
        where = subprocess.Popen(
            ["git", "rev-parse", "--absolute-git-dir", "--git-common-dir", "--is-inside-work-tree", "--show-toplevel"],
            cwd=path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        conf = subprocess.Popen(["git", "config", "-z", "--get-regexp", r"^(gitboard|user|extensions|gc|maintenance|remote)\."],
                                cwd=path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    except OSError as e:
        raise GitFailure(f"cannot run git: {e}") from None
    out, err = where.communicate()
    raw, _ = conf.communicate()
    lines = out.decode(errors="surrogateescape").splitlines()
    # outside a work tree (a bare repository) --show-toplevel fails after printing the rest
    if len(lines) < 3 or (where.returncode != 0 and lines[2] != "false"):
        why = gitcmd.last_line(err.decode(errors="replace"))
        detail = f" ({why})" if why and "not a git repository" not in why else ""
        raise GitFailure(f"not a git repository: {path}{detail}")
    git_dir = lines[0]
    common_dir = os.path.normpath(os.path.join(path, lines[1]))
    work_dir = lines[3] if lines[2] == "true" and len(lines) > 3 else None
    records: list[tuple[str, str]] = []
    for rec in raw.decode(errors="surrogateescape").split("\0"):
        if rec:
            key, _, value = rec.partition("\n")
            records.append((key, value))
    return (git_dir, common_dir, work_dir), records
