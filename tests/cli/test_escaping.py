"""Board text never reaches a terminal or a log raw: escape sequences and control characters in
subjects, descriptions, messages, results and commit subjects are printed as visible escapes
(gitboard.board.text.safe) by every command, through the real console script; and a subject is
one line."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from gitboard.board.text import safe, safe_json, safe_json_utf8
from gitboard.runtime.port import Logger
from tests.helpers.merge_helpers import completed_task, init_board, project
from tests.helpers.fake_messages_api import FakeMessagesAPI, fake_api, reply, text  # noqa: F401
from tests.helpers.runtime_helpers import log_of, wait_for

#: Sets the window title, clears the screen, a C1 CSI, a backspace, a bidi override: all on one line.
SUBJECT = "evil \x1b]0;pwned\x07 \x1b[2J \x9b31m \x08 \u202e end"
#: The same and more in a multi-line text: a carriage return, a DEL, a SOH.
BODY = "line one \x1b[31mred\x1b[0m\rover\x7f\x01\nline two \x1b]8;;http://x\x07link\x1b]8;;\x07"

#: Any C0 control but newline and tab, DEL, C1: what must never be printed.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]")


def clean(out: str) -> None:
    found = RAW.search(out)
    assert found is None, f"raw {found.group()!r} printed: {out!r}"


@pytest.fixture
def board_with_payload(tmp_path: Path, run_gitboard) -> Path:
    p = project(tmp_path / "p")
    init_board(p)
    res = run_gitboard(["task", "add", SUBJECT, "--description", BODY], cwd=p)
    assert res.exit_code == 0, res.stderr
    clean(res.stdout + res.stderr)
    assert "\\x1b]0;pwned\\x07" in res.stdout
    return p


def test_safe_escapes_controls_and_keeps_the_rest() -> None:
    assert safe("plain text, ünïcode, \\ and [bold]") == "plain text, ünïcode, \\ and [bold]"
    assert safe("a\x1b[2Jb\x9bc\rd\x08e\x07\u202ef\n") == "a\\x1b[2Jb\\x9bc\\rd\\x08e\\x07\\u202ef\\n"
    assert safe("a\nb\tc\x1b", multiline=True) == "a\nb\tc\\x1b"
    assert safe(b"\xff".decode(errors="surrogateescape")) == "\\udcff"


def test_safe_json_escapes_what_json_dumps_leaves_raw_and_decodes_to_the_same_value() -> None:
    value = {"s": SUBJECT + " \u2028 \x7f", "k\x9b": [BODY]}
    text = json.dumps(value, ensure_ascii=False)
    assert RAW.search(text)                                   # json.dumps leaves DEL, C1 and bidi raw
    escaped = safe_json(text)
    clean(escaped)
    assert "\u2028" not in escaped and json.loads(escaped) == value
    assert safe_json_utf8(text.encode()) == escaped.encode()
    plain = "{\"a\": \"ünïcode\"}".encode()
    assert safe_json_utf8(memoryview(plain)) == plain


@pytest.mark.parametrize("args", [["task", "list", "--json"], ["task", "show", "1", "--json"],
                                  ["watch", "--once", "--json"], ["task", "claim", "9", "--json"]])
def test_json_output_escapes_what_a_terminal_could_act_on(board_with_payload: Path, run_gitboard,
                                                          args: list[str]) -> None:
    res = run_gitboard(args, cwd=board_with_payload)
    clean(res.stdout + res.stderr)
    doc = json.loads(res.stdout)
    if args[1] == "claim":  # an error document is escaped JSON too
        assert res.exit_code == 4 and doc["error"]["kind"] == "not_found"
    elif args[0] == "watch":  # counts and teammates: no board text, still JSON
        assert res.exit_code == 0 and doc["tasks"] == {"ready": 1}
    else:                     # the escapes decode to the very text
        assert res.exit_code == 0, res.stderr
        task = doc[0] if isinstance(doc, list) else doc
        assert (task["subject"], task["description"]) == (SUBJECT, BODY)


@pytest.mark.parametrize("args", [["task", "list"], ["task", "show", "1"], ["log"], ["watch", "--once"]])
def test_board_views_print_escapes(board_with_payload: Path, run_gitboard, args: list[str]) -> None:
    res = run_gitboard(args, cwd=board_with_payload)
    assert res.exit_code == 0, res.stderr
    clean(res.stdout + res.stderr)
    assert "\\x1b" in res.stdout and "\\x9b" in res.stdout


def test_task_show_escapes_the_description_and_keeps_its_lines(board_with_payload: Path, run_gitboard) -> None:
    res = run_gitboard(["task", "show", "1"], cwd=board_with_payload)
    assert "line one \\x1b[31mred\\x1b[0m\\rover\\x7f\\x01\nline two" in res.stdout


@pytest.mark.parametrize("subject", ["two\nlines", "carriage\rreturn", "para\u2029graph"])
def test_a_subject_is_one_line(tmp_path: Path, run_gitboard, subject: str) -> None:
    p = project(tmp_path / "p")
    init_board(p)
    res = run_gitboard(["task", "add", subject], cwd=p)
    assert res.exit_code == 2 and res.stdout == ""
    line, = res.stderr.splitlines()
    assert line.startswith("gitboard: error: ") and "one line" in line
    assert run_gitboard(["task", "add", "fine"], cwd=p).exit_code == 0
    res = run_gitboard(["task", "update", "1", "--subject", subject], cwd=p)
    assert res.exit_code == 2 and res.stderr.startswith("gitboard: error: ") and "one line" in res.stderr
    res = run_gitboard(["task", "import", "-"], cwd=p, input=json.dumps({"subject": subject}) + "\n")
    assert res.exit_code == 2 and "one line" in res.stderr
    assert run_gitboard(["task", "show", "1", "--json"], cwd=p).json()["subject"] == "fine"


def test_an_error_quoting_input_is_one_escaped_line(tmp_path: Path, run_gitboard) -> None:
    p = project(tmp_path / "p")
    init_board(p)
    res = run_gitboard(["task", "list", "--status", "\x1b[2J\x9b"], cwd=p)
    assert res.exit_code == 2
    line, = res.stderr.splitlines()
    assert line.startswith("gitboard: error: ")
    clean(res.stderr)


def test_review_and_merge_escape_subjects_and_the_patch(tmp_path: Path, run_gitboard) -> None:
    p = project(tmp_path / "p")
    init_board(p)
    cli = lambda args, cwd: run_gitboard(args, cwd=cwd)  # noqa: E731
    tid = completed_task(cli, p, SUBJECT, {"evil.txt": BODY}, approve=True)
    res = run_gitboard(["review", str(tid), "--patch"], cwd=p)
    assert res.exit_code == 0, res.stderr
    clean(res.stdout + res.stderr)
    assert "\\x1b]0;pwned\\x07" in res.stdout and "\\x1b[31mred" in res.stdout  # the subject, the patch
    for args in (["approve", str(tid)], ["merge", str(tid)]):
        res = run_gitboard(args, cwd=p)
        assert res.exit_code == 0, res.stderr
        clean(res.stdout + res.stderr)
    assert "\\x1b[2J" in res.stdout  # merge's log line names the subject


def test_inbox_escapes_message_content(board_with_payload: Path, run_gitboard) -> None:
    assert run_gitboard(["team", "add", "bob"], cwd=board_with_payload).exit_code == 0
    res = run_gitboard(["send", "bob", BODY], cwd=board_with_payload)
    assert res.exit_code == 0, res.stderr
    res = run_gitboard(["inbox", "--as", "bob"], cwd=board_with_payload)
    assert res.exit_code == 0, res.stderr
    clean(res.stdout + res.stderr)
    assert "\\x1b[31mred" in res.stdout and "\nline two" in res.stdout.replace("  line two", "\nline two")


def test_the_logger_escapes_every_part() -> None:
    out = io.StringIO()
    Logger("alice", out)(f"claimed #1: {SUBJECT}\nsecond\rline")
    text = out.getvalue()
    clean(text)
    lines = text.splitlines()
    assert len(lines) == 3 and all(" [alice] " in ln for ln in lines)
    assert "\\x1b]0;pwned\\x07" in lines[0]


def test_a_teammate_log_and_gitboard_logs_are_escaped(board_with_payload: Path, run_gitboard, gitboard_exe) -> None:
    p = board_with_payload
    run_gitboard(["task", "update", "1", "--run", "printf 'out \\033[2J \\302\\233 done\\n'"], cwd=p)
    res = run_gitboard(["work", "alice", "--agent", "shell", "--poll", "0.1", "--idle-timeout", "0.5"], cwd=p,
                       timeout=60)
    assert res.exit_code == 0, res.stderr
    clean(res.stdout)
    log = log_of(p, "alice") or res.stdout
    assert "claimed #1: evil \\x1b]0;pwned\\x07" in res.stdout
    assert "out \\x1b[2J \\x9b done" in res.stdout  # the command's own output, escaped too
    clean(log)
    shown = run_gitboard(["logs", "alice"], cwd=p)
    clean(shown.stdout)


def test_the_lead_repl_escapes_board_text_and_the_model_s_words(board_with_payload: Path, fake_api: FakeMessagesAPI,
                                                               gitboard_exe: Path) -> None:
    fake_api.script(reply(text(f"The subject is {SUBJECT}")))
    p = subprocess.run([str(gitboard_exe), "lead", "--model", "claude-sonnet-5-5"], cwd=board_with_payload,
                       input=b"/tasks\nwhat is task 1?\n", capture_output=True,
                       env={**os.environ, **fake_api.env()}, timeout=60)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, p.stderr
    clean(out)
    assert out.count("\\x1b]0;pwned\\x07") >= 2  # /tasks, then the reply
