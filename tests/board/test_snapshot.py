"""The board snapshot: a board carried forward by ``with_files`` equals the board built afresh.

``with_files`` copies the last board and carries its index of inbox and request files
(oldest first per inbox) and its parsed messages forward, parsing the messages that
arrive; every answer must be the one ``build`` gives for the whole new set of files.
"""

from __future__ import annotations

import random

import pytest

from gitboard.board import layout
from gitboard.board.message import Message, message_path
from gitboard.board.snapshot import ParseError, build
from gitboard.board.task import Task

NAMES = ("alice", "bob", "lead")


def message_doc(rng: random.Random, n: int, to: str) -> tuple[str, object]:
    """A message file for ``to``: mostly valid, sometimes not a message, sometimes not JSON."""
    ts = 1_700_000_000 + rng.randrange(10_000) + n / 1000
    doc: object = {"id": f"m{n}", "type": "message", "from": "lead", "to": to, "content": f"text {n}",
                   "timestamp": ts}
    roll = rng.random()
    if roll < 0.1:
        doc = {"id": f"m{n}", "type": "message"}  # no valid message: corrupt once parsed
    elif roll < 0.15:
        doc = ParseError("not JSON")
    return message_path(to, ts, f"m{n}"), doc


def random_files(rng: random.Random, n: int) -> dict[str, object]:
    files: dict[str, object] = {layout.FORMAT_PATH: {"format": layout.FORMAT}}
    for i in range(n):
        kind = rng.random()
        if kind < 0.6:
            path, doc = message_doc(rng, i, rng.choice(NAMES))
        elif kind < 0.8:
            rid = f"r{i}"
            path, doc = layout.request_path(rid), {"id": rid, "type": "shutdown"}
        elif kind < 0.95:
            tid = i + 1
            path, doc = layout.task_path(tid), Task(id=tid, subject=f"task {tid}").to_json()
        else:
            path, doc = f".team/inbox/alice/notes-{i}.txt.json", {"stray": i}  # outside the layout
        files[path] = doc
    return files


def answers(board) -> dict:
    """Everything a reader asks a board, as plain values."""
    inboxes = {name: board.inbox_paths(name) for name in NAMES}
    parsed = {name: [m if isinstance(m, str) else m.to_json() for m in board.messages_at(paths)]
              for name, paths in inboxes.items()}
    return {"tasks": dict(board.tasks), "docs": dict(board.docs), "corrupt": dict(board.corrupt),
            "team": board.team, "inboxes": inboxes, "messages": parsed,
            "requests": sorted(board.request_paths()), "names": board.inbox_names()}


@pytest.mark.parametrize("seed", range(12))
def test_a_board_carried_forward_answers_as_the_board_built_afresh(seed):
    rng = random.Random(seed)
    files = random_files(rng, 60)
    board = build("t0", files)
    answers(board)  # the index and the parsed messages exist now: with_files carries them
    for step in range(25):
        paths = [p for p in files if p != layout.FORMAT_PATH]
        deleted = rng.sample(paths, min(len(paths), rng.randrange(0, 8)))
        if step % 7 == 3:  # now and then a whole inbox goes, as a drain does
            deleted = board.inbox_paths(rng.choice(NAMES))
        changed = dict(rng.choice([random_files(rng, 6), {}]))
        changed.pop(layout.FORMAT_PATH, None)
        for path in rng.sample(paths, min(len(paths), 2)):  # some files rewritten in place
            changed[path] = rng.choice([{"rewritten": step}, ParseError("torn"), files[path]])
        for path in deleted:
            files.pop(path, None)
        files.update(changed)
        board = board.with_files(f"t{step + 1}", changed, deleted)
        assert answers(board) == answers(build(f"t{step + 1}", files)), f"step {step}"


def test_an_inbox_is_oldest_first_and_its_messages_are_parsed():
    files = {message_path("alice", 1_700_000_000 + 10 - i, f"m{i}"): {
        "id": f"m{i}", "type": "message", "from": "lead", "to": "alice", "content": "x",
        "timestamp": 1_700_000_000 + 10 - i} for i in range(10)}
    board = build("t", files)
    got = board.messages_at(board.inbox_paths("alice"))
    assert [m.id for m in got] == [f"m{i}" for i in reversed(range(10))]
    assert all(type(m) is Message for m in got)
    later = message_path("alice", 1_700_000_100, "late")
    carried = board.with_files("t2", {later: {"id": "late", "type": "message", "from": "bob", "to": "alice",
                                              "content": "y", "timestamp": 1_700_000_100}})
    assert carried.inbox_paths("alice")[-1] == later
    assert carried.messages_at([later])[0].from_ == "bob"
    with pytest.raises(KeyError):
        carried.messages_at([layout.task_path(1)])
