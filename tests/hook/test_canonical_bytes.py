"""The hook and ``verify`` judge a board file's bytes, not only its parsed value; texts have limits.

A legal ``send`` by mallory that also rewrites a task file (an unknown key of 10 MB, UTF-16,
no indentation) is refused by the hook and reported by ``verify``; so is a file nested too
deep (with a rule's reason, not an internal error) or too big, and a subject, description or
message over its limit, which the client refuses too (``gitboard: error:``, exit 2).
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import canonical, inbox_ops, task_ops, roster_ops
from gitboard.board.task import dump_json
from gitboard.store.repo import BoardRepo
from gitboard.store.verify import check_range
from tests.helpers.board_helpers import board, do
from tests.conftest import _git, board_tip, unhook
from tests.hook.forgery import board_at, forge, trailers


@pytest.fixture
def lead(clone) -> Path:
    """The lead's clone of the hooked ``bare_remote``: mallory on the roster, tasks 1 and 2."""
    path = clone("lead")
    do(path, partial(roster_ops.add_member, actor="lead", name="mallory"))
    do(path, partial(task_ops.import_tasks, actor="lead", items=[{"subject": "one"}, {"subject": "two"}]))
    _git(path, "fetch", "-q", "origin")
    return path


def mallorys_message(path: Path, parent: str) -> dict[str, bytes]:
    b = board_at(path, parent)
    where, msg = inbox_ops.compose(b, datetime.now(timezone.utc), sender="mallory", to="lead", content="hello",
                                   msg_id="m1")
    return {where: dump_json(msg.to_json())}


def task_json(path: Path, parent: str, tid: int) -> tuple[str, dict]:
    b = board_at(path, parent)
    return b.path_of_task(tid), b.tasks[tid].to_json()


def push(path: Path, commit: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "push", "--porcelain", "origin", f"{commit}:refs/heads/gitboard"], cwd=path,
                          capture_output=True, text=True)


REWRITES = {
    "an unknown key of 10 MB": (lambda d: (json.dumps({**d, "x": "a" * 10_000_000}, indent=2, ensure_ascii=False)
                                           + "\n").encode(), "at most 262,144"),
    "an unknown key": (lambda d: dump_json({**d, "note": "mine"}), "a send may not change"),
    "UTF-16": (lambda d: (json.dumps(d, indent=2, ensure_ascii=False) + "\n").encode("utf-16"),
               "not gitboard's canonical form"),
    "no indentation": (lambda d: (json.dumps(d, ensure_ascii=False) + "\n").encode(), "not gitboard's canonical form"),
    "keys reordered": (lambda d: dump_json(dict(sorted(d.items()))), "not gitboard's canonical form"),
    "no trailing newline": (lambda d: dump_json(d)[:-1], "not gitboard's canonical form"),
}


@pytest.mark.parametrize("kind", list(REWRITES))
def test_a_send_that_rewrites_a_task_files_bytes_is_refused_and_verify_reports_it(bare_remote, lead, kind):
    rewrite, reason = REWRITES[kind]
    parent = _git(lead, "rev-parse", "origin/gitboard")
    path, value = task_json(lead, parent, 1)
    commit = forge(lead, parent, {**mallorys_message(lead, parent), path: rewrite(value)},
                   trailers("send", "mallory"))
    res = push(lead, commit)
    assert res.returncode == 1 and f"remote: gitboard: refused {commit}: send by mallory: " in res.stderr
    assert reason in res.stderr, res.stderr
    assert board_tip(bare_remote) == parent
    # the same commit on a board without the hook: verify reports it
    unhook(bare_remote)
    assert push(lead, commit).returncode == 0
    with BoardRepo(bare_remote) as r:
        report, _ = check_range(r, parent, commit)
    assert [v.commit for v in report.violations] and {v.commit for v in report.violations} == {commit}
    assert any(reason in v.message for v in report.violations), [v.message for v in report.violations]


def test_deep_nesting_gets_a_rules_reason_not_an_internal_error(bare_remote, lead):
    parent = _git(lead, "rev-parse", "origin/gitboard")
    path, value = task_json(lead, parent, 2)
    deep = dump_json(value).replace(b'"result": null', b'"result": ' + b"[" * 100_000 + b"]" * 100_000)
    commit = forge(lead, parent, {path: deep}, trailers("update", "lead", 2))
    res = push(lead, commit)
    assert res.returncode == 1 and "internal error" not in res.stderr and "RecursionError" not in res.stderr
    assert f"remote: gitboard: refused {commit}: update by lead: " in res.stderr
    assert "nested too deep" in res.stderr, res.stderr
    value["result"] = json.loads("[" * 20 + "]" * 20)       # parses, but deeper than the bound
    commit = forge(lead, parent, {path: dump_json(value)}, trailers("update", "lead", 2))
    res = push(lead, commit)
    assert res.returncode == 1 and f"nests deeper than {canonical.DEPTH_MAX} levels" in res.stderr, res.stderr
    assert board_tip(bare_remote) == parent


@pytest.mark.parametrize("field,value,reason", [
    ("description", "d" * (canonical.TEXT_MAX + 1), "the description is 65,537 bytes; the limit is 65,536"),
    ("subject", "two\nlines", "a subject is one line"),
    ("subject", "s" * (canonical.SUBJECT_MAX + 1), f"a subject is at most {canonical.SUBJECT_MAX} characters"),
    ("run", "r" * (canonical.RUN_MAX + 1), "the run command is 4,097 bytes; the limit is 4,096"),
])
def test_texts_over_their_limits_are_refused_by_the_hook(bare_remote, lead, field, value, reason):
    parent = _git(lead, "rev-parse", "origin/gitboard")
    path, doc = task_json(lead, parent, 2)
    doc[field] = value
    commit = forge(lead, parent, {path: dump_json(doc)}, trailers("update", "lead", 2))
    res = push(lead, commit)
    assert res.returncode == 1 and reason in res.stderr, res.stderr
    assert board_tip(bare_remote) == parent


def test_the_client_refuses_texts_over_their_limits(lead, run_cli):
    big = "x" * (canonical.TEXT_MAX + 1)
    tip = _git(lead, "rev-parse", "origin/gitboard")
    for args, reason in ((["task", "add", "ok", "-d", big], "the description is 65,537 bytes"),
                         (["task", "add", "two\nlines"], "a subject is one line"),
                         (["task", "update", "1", "-d", big], "the description is 65,537 bytes"),
                         (["send", "mallory", big], "the content is 65,537 bytes")):
        res = run_cli(args, cwd=lead)
        assert res.exit_code == 2, (args[:2], res.stderr)
        assert res.stderr.startswith("gitboard: error: ") and res.stderr.count("\n") == 1 and reason in res.stderr
    _git(lead, "fetch", "-q", "origin")
    assert _git(lead, "rev-parse", "origin/gitboard") == tip and len(board(lead).tasks) == 2


def test_the_client_refuses_a_result_too_big_or_too_deep_for_a_board_file(lead, run_cli):
    assert run_cli(["task", "claim", "1", "--as", "mallory"], cwd=lead).exit_code == 0
    for result, reason in (({"summary": "s" * canonical.FILE_MAX}, "a board file is at most 262,144"),
                           (json.loads("[" * 20 + "]" * 20), f"deeper than {canonical.DEPTH_MAX} levels")):
        with pytest.raises(Exception, match=reason) as e:
            do(lead, partial(task_ops.finish, actor="mallory", task_id=1, ok=True, result=result))
        assert e.value.exit_code == 2
    assert board(lead).tasks[1].status == "in_progress"
