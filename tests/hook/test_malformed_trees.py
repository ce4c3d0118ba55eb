"""Malformed board trees are refused: by git (``receive.fsckObjects``, which ``gitboard hook install``
turns on), by the hook itself where that is off, and reported by ``verify``.

The forgery: a ``.tasks/00`` tree written with ``git hash-object -t tree --literally`` that holds,
besides the real ``00`` directory, an entry named ``00/task_3.json``; a path walk reads it as
task 3's file, so the commit is otherwise a legal ``add``.
"""

from __future__ import annotations

import subprocess
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops
from gitboard.board.task import Task
from gitboard.board.tree_rules import tree_refusals
from gitboard.store.repo import BoardRepo
from gitboard.store.verify import check_range
from tests.helpers.board_helpers import do
from tests.conftest import _git, board_tip, unhook
from tests.hook.forgery import g, trailers


def entry(mode: str, name: bytes, oid: str) -> bytes:
    return mode.encode() + b" " + name + b"\0" + bytes.fromhex(oid)


def literal_tree(path: Path, body: bytes) -> str:
    return g(path, "hash-object", "-t", "tree", "--literally", "-w", "--stdin", input=body)


def forged_add(path: Path) -> str:
    """A commit on origin/gitboard adding task 3 through an entry named ``00/task_3.json`` in ``.tasks/00``."""
    parent = _git(path, "rev-parse", "origin/gitboard")
    blob = g(path, "hash-object", "-w", "--stdin",
             input=Task(id=3, subject="smuggled", created_at="2026-01-01T00:00:00Z",
                        updated_at="2026-01-01T00:00:00Z").to_bytes())
    inner = _git(path, "rev-parse", f"{parent}:.tasks/00/00")
    tasks00 = literal_tree(path, entry("40000", b"00", inner) + entry("100644", b"00/task_3.json", blob))
    tasks = g(path, "mktree", input=f"040000 tree {tasks00}\t00\n".encode())
    root = [ln for ln in _git(path, "ls-tree", parent).splitlines() if not ln.endswith("\t.tasks")]
    tree = g(path, "mktree", input=("\n".join(root + [f"040000 tree {tasks}\t.tasks"]) + "\n").encode())
    return g(path, "commit-tree", tree, "-p", parent, "-m", trailers("add", "lead", 3))


@pytest.fixture
def lead(clone) -> Path:
    path = clone("lead")
    do(path, partial(task_ops.import_tasks, actor="lead", items=[{"subject": "one"}, {"subject": "two"}]))
    _git(path, "fetch", "-q", "origin")
    return path


def push(path: Path, commit: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "push", "--porcelain", "origin", f"{commit}:refs/heads/gitboard"], cwd=path,
                          capture_output=True, text=True)


def test_git_refuses_the_tree_under_fsckObjects(bare_remote, lead):
    tip = board_tip(bare_remote)
    commit = forged_add(lead)
    res = push(lead, commit)
    assert res.returncode == 1 and "fullPathname" in res.stderr, res.stderr
    assert board_tip(bare_remote) == tip


def test_the_hook_refuses_it_where_fsckObjects_is_off_and_verify_reports_it(bare_remote, lead):
    _git(bare_remote, "config", "receive.fsckObjects", "false")
    tip = board_tip(bare_remote)
    commit = forged_add(lead)
    res = push(lead, commit)
    assert res.returncode == 1, res.stderr
    assert (f"remote: gitboard: refused {commit}: add by lead: tree .tasks/00/: entry '00/task_3.json' "
            f"has a '/' in its name (fullPathname)") in res.stderr, res.stderr
    assert board_tip(bare_remote) == tip
    unhook(bare_remote)                                   # without the hook it lands; verify sees it
    assert push(lead, commit).returncode == 0
    with BoardRepo(bare_remote) as r:
        report, _ = check_range(r, tip, commit)
    assert [v.message for v in report.violations] == [
        "tree .tasks/00/: entry '00/task_3.json' has a '/' in its name (fullPathname)"]


Z = "ab" * 20


@pytest.mark.parametrize("body,reason", [
    (entry("100644", b"a/b", Z), "fullPathname"),
    (entry("100644", b"", Z), "emptyName"),
    (entry("40000", b".", Z), "hasDot"),
    (entry("40000", b"..", Z), "hasDotdot"),
    (entry("40000", b".git", Z), "hasDotgit"),
    (entry("40000", b".GiT", Z), "hasDotgit"),
    (entry("40000", b".git. ", Z), "hasDotgit"),
    (entry("40000", b"git~1", Z), "hasDotgit"),
    (entry("100644", b"a", Z) + entry("100644", b"a", Z), "duplicateEntries"),
    (entry("40000", b"a", Z) + entry("100644", b"a", Z), "duplicateEntries"),
    (entry("100644", b"b", Z) + entry("100644", b"a", Z), "treeNotSorted"),
    (entry("40000", b"a", Z) + entry("100644", b"a.json", Z), "treeNotSorted"),  # "a/" sorts after "a.json"
    (entry("100664", b"a", Z), "badFilemode"),
    (entry("040000", b"a", Z), "zeroPaddedFilemode"),
    (entry("100644", b"a", "00" * 20), "nullSha1"),
    (b"100644 a\0" + b"\1" * 5, "badTree"),
])
def test_tree_refusals_flags_what_fsck_would(body, reason):
    found = tree_refusals(body)
    assert any(f"({reason})" in why for why in found), found


def test_a_well_formed_tree_passes(lead):
    for tree in _git(lead, "rev-list", "--objects", "origin/gitboard").splitlines():
        oid = tree.split()[0]
        if _git(lead, "cat-file", "-t", oid) == "tree":
            raw = subprocess.run(["git", "cat-file", "tree", oid], cwd=lead, capture_output=True).stdout
            assert tree_refusals(raw) == []
