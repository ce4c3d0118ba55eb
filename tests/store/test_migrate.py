"""Boards in format 1 (before the fan-out): read as they are, migrated by the first write or init."""

from __future__ import annotations

import json
import sys
import threading
from functools import partial
from pathlib import Path

from gitboard.board import inbox_ops, layout, task_ops
from gitboard.board.layout import message_path, request_path, task_path
from gitboard.board.message import Message
from gitboard.board.task import Task, dump_json
from gitboard.board.roster import Member, Team
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.store.setup import init
from gitboard.store.hooks import install
from gitboard.store.transact import Stats, transact
from tests.conftest import unhook

T0 = "2026-01-01T00:00:00Z"
MSG_FILE = "0001767225600000000-m1.json"
V1_FILES = {
    ".team/config.json": dump_json(Team("old", (Member("alice", updated_at=T0),)).to_json()),
    ".tasks/task_1.json": Task(id=1, subject="one", created_at=T0, updated_at=T0).to_bytes(),
    ".tasks/task_2.json": Task(id=2, subject="two", blockedBy=(1,), created_at=T0, updated_at=T0).to_bytes(),
    ".tasks/task_3.json": b"{ hand-broken",
    f".team/inbox/alice/{MSG_FILE}": dump_json(Message("m1", "message", "lead", "alice", "hello", 1767225600.0)
                                               .to_json()),
    ".team/requests/r1.json": dump_json({"request_id": "r1", "kind": "plan", "from": "alice", "to": "lead",
                                         "status": "pending", "created_at": T0, "updated_at": T0,
                                         "feedback": "", "plan": "p"}),
    "notes.txt": b"kept as it is\n",
}
V2_PATHS = {".team/config.json": ".team/config.json", ".tasks/task_1.json": task_path(1),
            ".tasks/task_2.json": task_path(2), ".tasks/task_3.json": task_path(3),
            f".team/inbox/alice/{MSG_FILE}": message_path("alice", MSG_FILE),
            ".team/requests/r1.json": request_path("r1"), "notes.txt": "notes.txt"}


def make_v1_board(path: Path, board_commit) -> str:
    """Write a format-1 board (as gitboard wrote before the fan-out) by hand; return its tip."""
    return board_commit(path, dict(V1_FILES), "init board old by lead\n\nGitboard-Action: init\n")


def blobs(git, path: Path, rev: str) -> dict[str, str]:
    out = {}
    for line in git(path, "ls-tree", "-r", rev).splitlines():
        meta, name = line.split("\t")
        out[name] = meta.split()[2]
    return out


def actions(git, path: Path, rev: str = "gitboard") -> list[str]:
    return git(path, "log", "--format=%(trailers:key=Gitboard-Action,valueonly)", rev).split()


def loose_objects(path: Path) -> set[str]:
    objects = path / ".git" / "objects"
    return {f"{d.name}{f.name}" for d in objects.iterdir() if len(d.name) == 2 for f in d.iterdir()}


def test_a_format_1_board_is_read_as_it_is_without_writing(git_repo, board_commit, board_tip, run_cli, git):
    tip = make_v1_board(git_repo, board_commit)
    objects, refs = loose_objects(git_repo), git(git_repo, "for-each-ref")
    with BoardRepo(git_repo) as r:
        b = read_board(r)
    assert b.format == 1
    assert sorted(b.tasks) == [1, 2] and b.tasks[2].blockedBy == (1,)
    assert list(b.corrupt) == [".tasks/task_3.json"]
    assert [m.content for m in inbox_ops.peek(b, "alice")] == ["hello"]
    listed = run_cli(["task", "list", "--json"], cwd=git_repo)
    assert listed.exit_code == 0 and [t["id"] for t in listed.json()] == [1, 2]
    assert ".tasks/task_3.json" in listed.stderr
    for args in (["task", "show", "2", "--json"], ["team", "--json"], ["inbox", "alice", "--peek", "--json"],
                 ["log", "--json"], ["task", "list", "--ready"]):
        assert run_cli(args, cwd=git_repo).exit_code == 0, args
    # an operation that refuses or changes nothing leaves the old board alone too
    assert run_cli(["task", "claim", "9", "--as", "alice"], cwd=git_repo).exit_code == 4
    assert run_cli(["task", "claim", "2", "--as", "alice"], cwd=git_repo).exit_code == 3  # blocked
    assert run_cli(["inbox", "bob", "--as", "lead"], cwd=git_repo).exit_code == 4
    assert board_tip(git_repo) == tip
    assert git(git_repo, "for-each-ref") == refs
    assert loose_objects(git_repo) == objects  # not a blob, tree or commit written


def test_the_first_write_migrates_in_one_commit_then_writes(git_repo, board_commit, board_tip, git):
    old = make_v1_board(git_repo, board_commit)
    before = blobs(git, git_repo, old)
    stats = Stats()
    with BoardRepo(git_repo) as r:
        task = transact(r, partial(task_ops.claim, actor="alice", task_id=1), stats=stats)
    assert task.owner == "alice"
    tip = board_tip(git_repo)
    assert actions(git, git_repo) == ["claim", "migrate", "init"]
    migration = git(git_repo, "rev-parse", f"{tip}^")
    assert stats.migrated == migration and stats.commit == tip
    assert git(git_repo, "rev-parse", f"{migration}^") == old
    # every file moved, with its content (blob) unchanged; the format file added
    after = blobs(git, git_repo, migration)
    assert after.pop(layout.FORMAT_PATH) == git(git_repo, "hash-object", "--stdin", input='{"format": 2}\n')
    assert after == {V2_PATHS[p]: sha for p, sha in before.items()}
    subject, body = git(git_repo, "log", "-1", "--format=%s%n%b", migration).split("\n", 1)
    assert subject == "migrate board to format 2 by alice"
    assert "Gitboard-Action: migrate\nGitboard-Actor: alice" in body
    # the claim itself changed only task 1's file, at its new path
    assert git(git_repo, "diff-tree", "--no-commit-id", "--name-only", "-r", migration, tip) == task_path(1)
    with BoardRepo(git_repo) as r:
        b = read_board(r)
    assert b.format == 2 and sorted(b.tasks) == [1, 2] and b.tasks[1].owner == "alice"
    assert list(b.corrupt) == [task_path(3)]
    assert [m.content for m in inbox_ops.peek(b, "alice")] == ["hello"]
    assert git(git_repo, "show", f"{tip}:notes.txt") == "kept as it is"


def test_init_migrates_a_format_1_board(git_repo, board_commit, board_tip, git, run_cli):
    make_v1_board(git_repo, board_commit)
    with BoardRepo(git_repo) as r:
        team, created = init(r, actor="lead", team_name="ignored")
    assert not created and team.team_name == "old"
    assert actions(git, git_repo) == ["migrate", "init"]
    tip = board_tip(git_repo)
    with BoardRepo(git_repo) as r:
        init(r, actor="lead", team_name="ignored")  # idempotent once migrated
    assert board_tip(git_repo) == tip
    res = run_cli(["inbox", "alice", "--json"], cwd=git_repo)
    assert res.exit_code == 0 and [m["content"] for m in res.json()] == ["hello"]
    assert git(git_repo, "ls-tree", "-r", "--name-only", "gitboard", ".team/inbox") == ""


def test_a_board_in_a_newer_format_is_refused(repo, board_commit, board_tip, run_cli):
    tip = board_commit(repo, {layout.FORMAT_PATH: b'{"format": 3}\n'})
    for args in (["task", "list"], ["task", "add", "x"], ["init"]):
        res = run_cli(args, cwd=repo)
        assert res.exit_code == 1 and "format 3, newer than this gitboard reads (2)" in res.stderr
    assert board_tip(repo) == tip
    tip = board_commit(repo, {layout.FORMAT_PATH: b'{"format": "two"}\n'})
    for args in (["task", "list"], ["task", "add", "x"]):
        res = run_cli(args, cwd=repo)
        assert res.exit_code == 1 and "damaged" in res.stderr and len(res.stderr.splitlines()) == 1
    assert board_tip(repo) == tip


def test_two_clones_race_to_migrate_through_a_bare_remote(tmp_path, bare_remote, board_commit, git, clone):
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare_remote), str(seed))
    make_v1_board(seed, board_commit)
    unhook(bare_remote)  # the hand-made format-1 history goes in unchecked; the migrations race through the hook
    git(seed, "push", "-q", "origin", "gitboard")
    install(str(bare_remote), python=sys.executable)
    c1, c2 = clone("c1", init=False), clone("c2", init=False)
    for c in (c1, c2):
        git(c, "config", "gitboard.remote", "origin")
    both_read_v1 = threading.Barrier(2, timeout=60)
    results: dict[str, object] = {}
    stats = {"c1": Stats(), "c2": Stats()}

    def op(name: str, board, now):
        if board.format == 1:
            both_read_v1.wait()  # both have read the old board before either pushes
        return task_ops.add(board, now, actor=name, subject=f"from {name}")

    def run(name: str, path: Path) -> None:
        try:
            with BoardRepo(path) as r:
                results[name] = transact(r, partial(op, name.replace("c", "x")), stats=stats[name])
        except BaseException as e:  # reported below
            results[name] = e

    threads = [threading.Thread(target=run, args=(n, p)) for n, p in (("c1", c1), ("c2", c2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(isinstance(results[n], Task) for n in ("c1", "c2")), results
    assert sorted(results[n].id for n in ("c1", "c2")) == [4, 5]  # the corrupt file keeps id 3
    log = actions(git, bare_remote)
    assert log.count("migrate") == 1 and log == ["add", "add", "migrate", "init"]
    winners = [n for n in ("c1", "c2") if stats[n].migrated]
    assert len(winners) == 1
    loser = "c2" if winners == ["c1"] else "c1"
    assert stats[loser].attempts >= 2  # its migration lost the push race, and it wrote on the winner's
    remote = blobs(git, bare_remote, "gitboard")
    assert layout.FORMAT_PATH in remote and ".tasks/task_1.json" not in remote
    for c in (c1, c2):
        with BoardRepo(c) as r:
            b = read_board(r)
        assert b.format == 2 and sorted(b.tasks) == [1, 2, 4, 5]
    assert json.loads(git(bare_remote, "show", f"gitboard:{task_path(1)}"))["subject"] == "one"
