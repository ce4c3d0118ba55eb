"""Helpers for the teammate-runtime tests: projects with a base commit, tasks, waiting, spawned processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

from gitboard.board import task_ops
from gitboard.proc import pid_alive
from gitboard.store.repo import BoardRepo
from gitboard.store.setup import init
from gitboard.store.transact import transact
from tests.helpers.board_helpers import board, do as lead  # noqa: F401  (the runtime tests' names for them)

IDENT = ("-c", "user.name=Test Hand", "-c", "user.email=hand@example.invalid")


def git(cwd: Path | str, *args: str, check: bool = True) -> str:
    """Run git (no identity unless the args bring one); return stdout stripped of its final newline."""
    p = subprocess.run(["git", *args], cwd=cwd, capture_output=True)
    if check and p.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {p.stderr.decode(errors='replace')}")
    return p.stdout.decode(errors="replace").removesuffix("\n")


def base_commit(path: Path, files: dict[str, str] | None = None) -> None:
    """Commit ``files`` (default a README) on ``main`` in the work tree ``path``."""
    git(path, "symbolic-ref", "HEAD", "refs/heads/main")
    for name, text in (files or {"README.md": "project\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, *IDENT, "commit", "-q", "-m", "base")


def make_project(root: Path, name: str = "work", files: dict[str, str] | None = None) -> Path:
    """A work tree with a base commit on main and the board initialised (local mode)."""
    path = root / name
    path.mkdir(parents=True)
    git(path, "init", "-q")
    base_commit(path, files)
    with BoardRepo(path) as r:
        init(r, actor="lead", team_name="test")
    return path


def make_remote_project(root: Path, clones: Iterable[str]) -> tuple[Path, list[Path]]:
    """A bare remote with a base commit and a board, and clones of it in remote mode."""
    remote = root / "remote.git"
    git(root, "init", "-q", "--bare", str(remote))
    git(remote, "symbolic-ref", "HEAD", "refs/heads/main")
    seed = root / "seed"
    seed.mkdir()
    git(seed, "init", "-q")
    base_commit(seed)
    git(seed, "push", "-q", str(remote), "main")
    out = []
    for name in clones:
        path = root / name
        git(root, "clone", "-q", str(remote), str(path))
        with BoardRepo(path) as r:
            init(r, actor="lead", team_name="test", remote="origin")
        out.append(path)
    return remote, out


def add_tasks(path: Path, items: list[dict]) -> list:
    """Import task objects (subject, blockedBy, run, role ...) in one commit; returns the tasks."""
    with BoardRepo(path) as r:
        return transact(r, partial(task_ops.import_tasks, actor="lead", items=items))


def teammate(path: Path, name: str = "alice", agent: Any = None, **kw: Any) -> tuple[Any, list[str]]:
    """An in-process :class:`~gitboard.runtime.loop.Teammate` in ``path`` with short timings
    (poll 0.1 s, idle timeout 0.6 s, lease 30 s; ``kw`` overrides), the shell agent by
    default, and the list its log lines go to."""
    from gitboard.runtime.loop import Settings, Teammate
    from gitboard.agents.shell import ShellAgent

    lines: list[str] = []
    opts = {"poll": 0.1, "idle_timeout": 0.6, "lease": 30.0, **kw}
    t = Teammate(Settings(name=name, repo_path=str(path), **opts), agent or ShellAgent(), log=lines.append)
    return t, lines


def task_worktree(path: Path, task_id: int) -> Path:
    """The directory of task ``task_id``'s worktree for the clone at ``path`` (under the test's XDG_STATE_HOME)."""
    from gitboard.runtime.worktree import worktree_path

    with BoardRepo(path) as r:
        return worktree_path(r, task_id, create=False)


def inbox_worktree(path: Path, name: str) -> Path:
    """The directory of teammate ``name``'s inbox-session scratch worktree for the clone at ``path``."""
    from gitboard.runtime.worktree import inbox_worktree_path

    with BoardRepo(path) as r:
        return inbox_worktree_path(r, name)


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll ``pred`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    limit = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > limit:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def log_of(path: Path, name: str) -> str:
    """The teammate's log text in the clone at ``path`` ('' if none)."""
    with BoardRepo(path) as r:
        p = Path(r.common_dir) / "gitboard" / "logs" / f"{name}.log"
    return p.read_text(errors="replace") if p.exists() else ""


class Spawner:
    """Spawns teammates through the console script and ends whatever is left at teardown."""

    def __init__(self, exe: Path) -> None:
        self.exe = exe
        self.pids: list[int] = []

    def spawn(self, path: Path, name: str, *options: str, env: dict[str, str] | None = None) -> int:
        """``gitboard spawn NAME --json OPTIONS`` in ``path``; returns the teammate's pid."""
        p = subprocess.run([str(self.exe), "spawn", name, "--json", *options], cwd=path, capture_output=True,
                           env={**os.environ, **(env or {})}, timeout=60)
        assert p.returncode == 0, f"spawn {name} failed ({p.returncode}): {p.stderr.decode()}"
        pid = json.loads(p.stdout)["pid"]
        self.pids.append(pid)
        return pid

    def cleanup(self) -> None:
        """End every teammate still running: SIGTERM (it stops its command), then SIGKILL."""
        from gitboard.proc import end_process_group

        for pid in self.pids:
            if pid_alive(pid):
                end_process_group(pid, grace=5)


def claims_in_log(path: Path, ref: str = "gitboard") -> list[str]:
    """Subjects of the claim commits on the board branch, oldest first."""
    out = git(path, "log", "--reverse", "--format=%s", "-E", "--grep=^Gitboard-Action: claim$", ref)
    return [line for line in out.splitlines() if line]


PYTHON = sys.executable


class FakeTeammate:
    """A stand-in for teammate ``name``'s process: a sleeping python whose command line looks like
    ``gitboard work NAME`` (so gitboard's identity check accepts it), leading its own process
    group. Use as a context manager; it is killed on exit.

    Attributes:
        proc: the Popen object; ``pid`` its pid.
    """

    def __init__(self, name: str, code: str = "import time; time.sleep(120)") -> None:
        self.proc = subprocess.Popen([PYTHON, "-c", code, "gitboard", "work", name], start_new_session=True)
        self.pid = self.proc.pid
        # until the child has exec'd, /proc shows the forking pytest's command line, not ours
        cmdline = Path(f"/proc/{self.pid}/cmdline")
        deadline = time.monotonic() + 30
        while cmdline.parent.is_dir() and time.monotonic() < deadline:
            try:
                if f"work\0{name}".encode() in cmdline.read_bytes():
                    break
            except OSError:
                break
            time.sleep(0.01)

    def __enter__(self) -> "FakeTeammate":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, 9)
            except OSError:
                pass
            self.proc.wait()
