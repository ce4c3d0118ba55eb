"""The board layout: paths of every kind of board file, fan-out, classify, and the format-1 mapping."""

from __future__ import annotations

import zlib
from collections import Counter

import pytest

from gitboard.board import layout
from gitboard.board.layout import (
    FORMAT_FILE, LEGACY_FORMAT, MESSAGE, REQUEST, ROSTER, TASK, BoardFile, bucket, classify, message_path,
    migrate_path, request_path, task_path,
)


def test_task_paths_fan_out_by_id_ranges():
    assert task_path(1) == ".tasks/00/00/task_1.json"
    assert task_path(99) == ".tasks/00/00/task_99.json"
    assert task_path(100) == ".tasks/00/01/task_100.json"
    assert task_path(9999) == ".tasks/00/99/task_9999.json"
    assert task_path(10000) == ".tasks/01/00/task_10000.json"
    assert task_path(123456) == ".tasks/12/34/task_123456.json"
    assert task_path(7, LEGACY_FORMAT) == ".tasks/task_7.json"


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_no_task_directory_holds_more_than_100_entries(n):
    entries: dict[str, set[str]] = {}
    for tid in range(1, n + 1):
        parts = task_path(tid).split("/")
        for depth in range(1, len(parts)):
            entries.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
    assert max(len(v) for v in entries.values()) == 100
    assert len(entries[".tasks"]) == n // 10_000 + 1  # 00 .. n/10000


def test_bucket_is_two_hex_digits_of_crc32_of_the_file_name():
    name = "0001767323045000000-m1.json"
    h = format(zlib.crc32(name.encode()), "08x")
    assert bucket(name) == f"{h[0]}/{h[1]}"


def test_messages_spread_over_256_buckets():
    paths = [message_path("alice", layout.message_file_name(1_767_000_000_000_000 + i, f"m{i}")) for i in range(1000)]
    leaves = Counter(p.rpartition("/")[0] for p in paths)
    assert len(leaves) > 200 and max(leaves.values()) < 20
    assert len({p.split("/")[3] for p in paths}) == 16  # 16 first-level directories


def test_request_paths():
    assert request_path("r1", LEGACY_FORMAT) == ".team/requests/r1.json"
    assert request_path("r1") == f".team/requests/{bucket('r1.json')}/r1.json"


@pytest.mark.parametrize("path, expected", [
    (".team/config.json", BoardFile(ROSTER)),
    (".gitboard/format.json", BoardFile(FORMAT_FILE)),
    (task_path(1), BoardFile(TASK, 1)),
    (task_path(123456), BoardFile(TASK, 123456)),
    (message_path("alice", "0001767323045000000-m1.json"), BoardFile(MESSAGE, "alice")),
    (request_path("abc123"), BoardFile(REQUEST, "abc123")),
    # outside the layout
    (".tasks/task_1.json", None),                       # a format-1 path
    (".tasks/00/01/task_1.json", None),                 # task 1 in task 100's directory
    (".tasks/0/00/task_1.json", None),                  # not two digits
    (".tasks/00/00/task_01.json", None),                # leading zero
    (".tasks/00/00/task_0.json", None),
    (".tasks/00/00/notes.json", None),
    (".team/inbox/Alice/0/0/1-a.json", None),           # not a member name
    (".team/inbox/alice/1-a.json", None),               # no bucket
    (".team/requests/r1.json", None),
    ("other.json", None),
    (".gitboard/other.json", None),
])
def test_classify(path, expected):
    assert classify(path) == expected


def test_classify_refuses_a_file_in_the_wrong_bucket():
    good = message_path("bob", "1-a.json")
    h1, h2 = good.split("/")[3:5]
    wrong = good.replace(f"/{h1}/{h2}/", f"/{h1}/{'0' if h2 != '0' else '1'}/")
    assert classify(good) == (MESSAGE, "bob") and classify(wrong) is None
    good = request_path("r9")
    h1, h2 = good.split("/")[2:4]
    assert classify(good.replace(f"/{h1}/{h2}/", f"/{'0' if h1 != '0' else '1'}/{h2}/")) is None


def test_classify_format_1():
    assert classify(".tasks/task_3.json", LEGACY_FORMAT) == (TASK, 3)
    assert classify(".team/inbox/bob/1-a.json", LEGACY_FORMAT) == (MESSAGE, "bob")
    assert classify(".team/requests/r1.json", LEGACY_FORMAT) == (REQUEST, "r1")
    assert classify(".team/config.json", LEGACY_FORMAT) == (ROSTER, None)
    assert classify(task_path(3), LEGACY_FORMAT) is None
    assert classify(".gitboard/format.json", LEGACY_FORMAT) is None


def test_migrate_path_moves_each_format_1_file_to_its_format_2_path():
    assert migrate_path(".tasks/task_12345.json") == task_path(12345)
    assert migrate_path(".team/inbox/bob/0001767323045000000-m1.json") == message_path(
        "bob", "0001767323045000000-m1.json")
    assert migrate_path(".team/requests/r1.json") == request_path("r1")
    assert migrate_path(".team/config.json") == ".team/config.json"
    assert migrate_path("notes/readme.md") == "notes/readme.md"
    assert migrate_path(".team/inbox/bob/we!rd.json") == ".team/inbox/bob/we!rd.json"  # format 2 has no place for it
    for old in (".tasks/task_5.json", ".team/inbox/bob/1-a.json", ".team/requests/r1.json"):
        assert classify(migrate_path(old)) == classify(old, LEGACY_FORMAT)


def test_format_file_and_format_of():
    assert layout.format_file() == b'{"format": 2}\n'
    assert layout.format_of({"format": 2}) == 2
    for bad in ({"format": "2"}, {"format": True}, {"format": 0}, [], None, {}):
        assert layout.format_of(bad) is None


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("name", ["a", "alice", "bob-2", "x" * 32])
def test_message_name_start_is_where_the_file_name_starts(version, name):
    for file_name in ("0000000000000001-m.json", "1764611234123456-" + "z" * 100 + ".json"):
        path = layout.message_path(name, file_name, version)
        assert path[layout.message_name_start(name, version):] == file_name
        assert path.rpartition("/")[2] == file_name
