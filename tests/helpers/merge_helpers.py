"""Helpers for review and merge-queue tests: a project with a base branch and completed tasks
whose work sits on real ``task/<id>`` branches (made with git plumbing, no checkout)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import TEST_IDENT


def g(cwd: Path | str, *args: str, input: bytes | None = None, env: dict | None = None) -> str:
    p = subprocess.run(["git", *TEST_IDENT, *args], cwd=cwd, input=input, capture_output=True,
                       env={**os.environ, **(env or {})})
    if p.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {p.stderr.decode(errors='replace')}")
    return p.stdout.decode(errors="replace").strip()


def project(path: Path, files: dict[str, str] | None = None) -> Path:
    """A work tree on ``main`` with one commit holding ``files`` (default: README)."""
    path.mkdir(parents=True, exist_ok=True)
    g(path, "init", "-q", "-b", "main")
    for name, text in (files or {"README": "hello\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    g(path, "add", "-A")
    g(path, "commit", "-q", "-m", "start")
    return path


def commit_on(cwd: Path | str, branch: str, start: str, files: dict[str, str | None], message: str) -> str:
    """Commit ``files`` (None deletes) on ``branch`` (created at ``start`` if missing) without a checkout."""
    index = Path(cwd, ".git", "helper-index") if Path(cwd, ".git").is_dir() else Path(cwd, "helper-index")
    env = {"GIT_INDEX_FILE": str(index)}
    ref = f"refs/heads/{branch}"
    old = subprocess.run(["git", "rev-parse", "--verify", "-q", ref], cwd=cwd, capture_output=True, text=True).stdout.strip()
    parent = old or g(cwd, "rev-parse", start)
    try:
        g(cwd, "read-tree", parent, env=env)
        for name, text in files.items():
            if text is None:
                g(cwd, "update-index", "--force-remove", name, env=env)
            else:
                blob = g(cwd, "hash-object", "-w", "--stdin", input=text.encode())
                g(cwd, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
        tree = g(cwd, "write-tree", env=env)
        new = g(cwd, "commit-tree", tree, "-p", parent, "-m", message)
        g(cwd, "update-ref", ref, new, *([old] if old else []))
        return new
    finally:
        index.unlink(missing_ok=True)


def completed_task(run_cli, cwd: Path, subject: str, files: dict[str, str | None], *, start: str = "main",
                   blocked_by: tuple[int, ...] = (), who: str = "alice", push: bool = False,
                   approve: bool = False) -> int:
    """Add a task, commit ``files`` on its branch, claim and complete it as ``who``; return its id."""
    args = ["task", "add", subject, "--json"] + [a for b in blocked_by for a in ("--blocked-by", str(b))]
    res = run_cli(args, cwd=cwd)
    assert res.exit_code == 0, res.stderr
    tid = res.json()["id"]
    commit_on(cwd, f"task/{tid}", start, files, f"task #{tid}: {subject}")
    if push:
        g(cwd, "push", "-q", "origin", f"task/{tid}")
    for args in (["task", "claim", tid, "--as", who], ["task", "done", tid, "--as", who]):
        res = run_cli(args, cwd=cwd)
        assert res.exit_code == 0, res.stderr
    if approve:
        res = run_cli(["approve", tid], cwd=cwd)
        assert res.exit_code == 0, res.stderr
    return tid


def init_board(path: Path, remote: str | None = None) -> None:
    from gitboard.store.repo import BoardRepo
    from gitboard.store.setup import init

    with BoardRepo(path) as r:
        init(r, actor="lead", team_name="test", **({"remote": remote} if remote else {}))


def remote_project(tmp_path: Path, name: str = "a", files: dict[str, str] | None = None) -> tuple[Path, Path]:
    """A bare remote (``remote.git``, HEAD ``main``) and a clone of it, ``<tmp_path>/<name>``: a
    project on ``main`` (``files``, default ``a.txt``) pushed there, with its board made in remote
    mode. Returns ``(bare, clone)``. The remote has the suite's hook (see tests/conftest.py)."""
    bare = tmp_path / "remote.git"
    g(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    clone = project(tmp_path / name, files or {"a.txt": "a\n"})
    g(clone, "remote", "add", "origin", str(bare))
    g(clone, "push", "-q", "origin", "main")
    init_board(clone, remote="origin")
    return bare, clone


def first_parent(cwd: Path | str, ref: str = "main") -> list[str]:
    """Subjects of ``git log --first-parent`` of ``ref``, newest first."""
    return g(cwd, "log", "--first-parent", "--format=%s", ref).splitlines()
