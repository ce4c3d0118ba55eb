"""Fixtures shared by the whole test suite.

Every test runs in an isolated git environment (the autouse fixture
:func:`isolated_git_env`): ``HOME`` is a fresh temporary directory,
``XDG_STATE_HOME`` under it (task worktrees go there), ``GIT_CONFIG_GLOBAL`` an empty
file, ``GIT_CONFIG_NOSYSTEM=1``, and no git
identity exists -- ``user.useConfigOnly=true`` is set through
``GIT_CONFIG_COUNT`` so that git itself refuses to guess one. gitboard must
work like that. ``GITBOARD_*``, ``ANTHROPIC_*``, ``GIT_AUTHOR_*``,
``GIT_COMMITTER_*``, ``GIT_DIR`` and friends are removed from the environment, and
``GITBOARD_CHECK_RULES=1`` makes every transaction check its change against
:mod:`gitboard.board.rules` first (an operation the hook would refuse is a bug).

Fixtures and helpers (all paths are :class:`pathlib.Path`):

``git(cwd, *args, input=None, check=True, ident=False) -> str``
    Run git, return stdout (text, stripped of the final newline). ``ident=True``
    passes a throwaway identity, for tests that commit by hand.
``git_repo``
    A fresh ``git init`` work tree with an unborn HEAD and no board.
``repo``
    ``git_repo`` with the board initialised (team ``test``).
``bare_remote``
    An empty bare repository with gitboard's pre-receive hook installed. (Every repository a
    test makes gets the hook from the git template ``isolated_git_env`` configures;
    ``unhook(path)`` removes it.)
``clone(name=None, init=True) -> Path``
    Clone ``bare_remote`` into a new directory; with ``init``, run
    ``gitboard init --remote origin`` there (the first clone creates the
    remote board, later ones adopt it).
``run_cli(args, cwd=None, input=None) -> CliResult``
    Run ``gitboard.cli.main.main(args)`` in-process, inside typer's
    ``CliRunner`` isolation (stdin/stdout/stderr captured), from ``cwd``.
    Goes through ``main()``'s error handling exactly like the console script.
    An exception escaping ``main()`` (a would-be traceback) propagates.
``run_gitboard(args, cwd=None, input=None, env=None, timeout=120) -> CliResult``
    Run the installed console script (``gitboard`` next to ``sys.executable``)
    as a subprocess.
``gitboard_exe``
    Path of that console script.
``board_tip(path, branch="gitboard") -> str | None``
    The commit ``refs/heads/<branch>`` points at in the repository at ``path``.
``board_commit(path, files, message="hand edit", branch="gitboard") -> str``
    Commit ``files`` (board path -> bytes, or None to delete) onto the board
    branch by hand with git plumbing and a temporary index -- a user editing
    the board behind gitboard's back. Moves the ref; returns the new tip.

``CliResult`` has ``exit_code``, ``stdout``, ``stderr`` and ``json()`` (parses
stdout, which must be exactly one JSON document).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest

#: A throwaway identity for commits tests make by hand (``git(..., ident=True)``).
TEST_IDENT = ("-c", "user.name=Test Hand", "-c", "user.email=hand@example.invalid")

_CLEARED_PREFIXES = ("GITBOARD_", "ANTHROPIC_", "GIT_AUTHOR_", "GIT_COMMITTER_")
_CLEARED_NAMES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                  "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
                  "GIT_CEILING_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS",
                  "GIT_CONFIG_SYSTEM", "EMAIL")


@dataclass(frozen=True)
class CliResult:
    """Outcome of one gitboard invocation."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """Parse stdout, which must hold exactly one JSON document."""
        return json.loads(self.stdout)


@pytest.fixture(scope="session", autouse=True)
def end_the_hook_server_the_suite_started() -> Any:
    """At the end of the session, end the hook server of this installation if the session
    started it (a push through the hook starts one, which would wait ten minutes for the
    next push); one that was running before the session is left alone."""
    from gitboard.store.hooks import package_root
    from tests.helpers.hook_servers import end_hook_server, hook_server_pid

    root = package_root()
    before = hook_server_pid(root) if sys.platform.startswith("linux") else None
    yield
    pid = hook_server_pid(root) if sys.platform.startswith("linux") else None
    if pid is not None and pid != before:
        end_hook_server(pid)


@pytest.fixture(scope="session")
def hook_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git template directory whose ``hooks/pre-receive`` is gitboard's hook (this Python)."""
    from gitboard.store.hooks import render

    root = tmp_path_factory.mktemp("git-template")
    (root / "hooks").mkdir()
    hook = root / "hooks" / "pre-receive"
    hook.write_text(render(sys.executable))
    hook.chmod(0o755)
    return root


@pytest.fixture(autouse=True)
def isolated_git_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
                     hook_template: Path) -> Path:
    """Give every test a HOME of its own, a git config that only names gitboard's hook template,
    and no git identity; returns HOME."""
    home = tmp_path_factory.mktemp("home")
    empty = home / "gitconfig"
    # every repository a test creates (bare remotes included) gets gitboard's pre-receive hook,
    # so every push to a remote in the suite goes through it; a test of an unhooked remote
    # removes <remote>/hooks/pre-receive (see unhook)
    empty.write_text(f"[init]\n\ttemplateDir = {hook_template}\n")
    for key in list(os.environ):
        if key.startswith(_CLEARED_PREFIXES) or key.startswith("GIT_CONFIG_") or key in _CLEARED_NAMES:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    # task worktrees go under the per-user state directory: never the real ~/.local/state
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # git must not guess an identity from the host: gitboard has to bring its own.
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.useConfigOnly")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "true")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    # the warm hook server the suite's pushes start (gitboard/hook/server.py) exits a minute
    # after the last one, not ten
    monkeypatch.setenv("GITBOARD_HOOK_IDLE", "60")
    # every change any test commits is first checked against the rules the server hook enforces
    monkeypatch.setenv("GITBOARD_CHECK_RULES", "1")
    monkeypatch.setattr("gitboard.store.transact._CHECK_RULES", True)
    return home


def _git(cwd: Path | str, *args: str, input: str | bytes | None = None, check: bool = True,
         ident: bool = False) -> str:
    cmd = ["git", *(TEST_IDENT if ident else ()), *args]
    data = input.encode() if isinstance(input, str) else input
    p = subprocess.run(cmd, cwd=cwd, input=data, capture_output=True)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    return p.stdout.decode(errors="replace").removesuffix("\n")


@pytest.fixture
def git() -> Callable[..., str]:
    """``git(cwd, *args, input=None, check=True, ident=False) -> stdout``."""
    return _git


def board_tip(path: Path | str, branch: str = "gitboard") -> str | None:
    """Return the commit ``refs/heads/<branch>`` points at in ``path``, or None."""
    p = subprocess.run(["git", "rev-parse", "--verify", "-q", f"refs/heads/{branch}"], cwd=path,
                       capture_output=True, text=True)
    return p.stdout.strip() or None


@pytest.fixture(name="board_tip")
def board_tip_fixture() -> Callable[..., str | None]:
    """``board_tip(path, branch="gitboard") -> commit id or None``."""
    return board_tip


def _board_commit(path: Path | str, files: dict[str, bytes | str | None], message: str = "hand edit",
                  branch: str = "gitboard") -> str:
    ref = f"refs/heads/{branch}"
    old = board_tip(path, branch)
    index = Path(path, ".git", "gitboard-test-index") if Path(path, ".git").is_dir() else None
    env = {**os.environ, "GIT_INDEX_FILE": str(index or Path(path, "gitboard-test-index"))}

    def g(*args: str, input: bytes | None = None) -> str:
        p = subprocess.run(["git", *TEST_IDENT, *args], cwd=path, input=input, capture_output=True, env=env)
        if p.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {p.stderr.decode(errors='replace')}")
        return p.stdout.decode().strip()

    try:
        if old:
            g("read-tree", old)
        else:
            g("read-tree", "--empty")
        for name, data in files.items():
            if data is None:
                g("update-index", "--force-remove", name)
            else:
                blob = g("hash-object", "-w", "--stdin", input=data.encode() if isinstance(data, str) else data)
                g("update-index", "--add", "--cacheinfo", f"100644,{blob},{name}")
        tree = g("write-tree")
        new = g("commit-tree", tree, *(["-p", old] if old else []), "-m", message)
        g("update-ref", ref, new, *([old] if old else []))
        return new
    finally:
        Path(env["GIT_INDEX_FILE"]).unlink(missing_ok=True)


@pytest.fixture
def board_commit() -> Callable[..., str]:
    """``board_commit(path, files, message="hand edit", branch="gitboard") -> new tip``."""
    return _board_commit


def _init_board(path: Path, **kwargs: Any) -> None:
    from gitboard.store.repo import BoardRepo
    from gitboard.store.setup import init

    with BoardRepo(path) as r:
        init(r, actor="lead", team_name=kwargs.pop("team_name", "test"), **kwargs)


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A fresh ``git init`` work tree (unborn HEAD, no commits, no board)."""
    path = tmp_path / "work"
    path.mkdir()
    _git(path, "init", "-q")
    return path


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """A fresh git work tree with the board initialised (team ``test``, local mode)."""
    _init_board(git_repo)
    return git_repo


@pytest.fixture
def bare_remote(tmp_path: Path) -> Path:
    """An empty bare repository, to use as ``origin``, with gitboard's pre-receive hook installed
    (``gitboard hook install``: the hook and receive.fsckObjects)."""
    from gitboard.store.hooks import install

    path = tmp_path / "remote.git"
    _git(tmp_path, "init", "-q", "--bare", str(path))
    install(str(path), python=sys.executable)
    return path


def unhook(repo: Path | str) -> None:
    """Remove the pre-receive hook from ``repo``: for tests of what a client does with a remote
    that enforces nothing (forged history pushed with plain git)."""
    Path(repo, "hooks", "pre-receive").unlink(missing_ok=True)


@pytest.fixture
def clone(bare_remote: Path, tmp_path: Path) -> Callable[..., Path]:
    """``clone(name=None, init=True) -> Path``: a clone of ``bare_remote`` in remote mode."""
    made: list[Path] = []

    def make(name: str | None = None, init: bool = True) -> Path:
        path = tmp_path / (name or f"clone{len(made) + 1}")
        _git(tmp_path, "clone", "-q", str(bare_remote), str(path))
        if init:
            _init_board(path, remote="origin")
        made.append(path)
        return path

    return make


@pytest.fixture
def run_cli() -> Callable[..., CliResult]:
    """``run_cli(args, cwd=None, input=None) -> CliResult``: ``main(args)`` in-process via CliRunner isolation."""
    from typer.testing import CliRunner

    from gitboard.cli.main import main

    def run(args: Sequence[str], cwd: Path | str | None = None, input: str | bytes | None = None) -> CliResult:
        old = os.getcwd()
        runner = CliRunner()
        code: Any = 0
        with runner.isolation(input=input) as (out, err, _):
            if cwd is not None:
                os.chdir(cwd)
            try:
                main([str(a) for a in args])
            except SystemExit as e:
                code = e.code
            finally:
                os.chdir(old)
                sys.stdout.flush()
                sys.stderr.flush()
                stdout, stderr = out.getvalue(), err.getvalue()
        if code is None:
            code = 0
        assert isinstance(code, int), f"main() exited with {code!r}, not an int"
        return CliResult(code, stdout.decode(), stderr.decode())

    return run


@pytest.fixture(scope="session")
def gitboard_exe() -> Path:
    """The installed ``gitboard`` console script, next to ``sys.executable``."""
    exe = Path(sys.executable).parent / "gitboard"
    if not exe.exists():
        pytest.fail(f"console script not installed at {exe}; run pip install -e '.[test]'")
    return exe


@pytest.fixture
def run_gitboard(gitboard_exe: Path) -> Callable[..., CliResult]:
    """``run_gitboard(args, cwd=None, input=None, env=None, timeout=120) -> CliResult`` via the console script."""

    def run(args: Sequence[str], cwd: Path | str | None = None, input: str | bytes | None = None,
            env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
        data = input.encode() if isinstance(input, str) else input
        p = subprocess.run([str(gitboard_exe), *map(str, args)], cwd=cwd, input=data, capture_output=True,
                           env={**os.environ, **(env or {})}, timeout=timeout)
        return CliResult(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))

    return run
