"""Board text is printed as written: never parsed as rich markup in human output.

Subjects, descriptions, run commands, names on a hand-edited board, message
content, plans, feedback and commit subjects may contain ``[/]`` or ``[bold]``;
every human (non ``--json``) view prints them literally and exits 0. Help
strings with square brackets render as written, too.
"""

from __future__ import annotations

import json

import pytest
import typer
from rich.markup import render as render_markup

from gitboard.board import protocol_ops
from gitboard.board.layout import task_path
from gitboard.cli import render
from gitboard.cli.main import app
from tests.cli.helpers import ok
from tests.helpers.inbox_helpers import new_id, run_op

MARKUP = "[red]subject[/red] [/] [bold]b"


@pytest.fixture
def wide(monkeypatch):
    """Render human output 200 columns wide, so tables do not wrap the text under test."""
    monkeypatch.setattr(render.console, "_width", 200)


def flat(text: str) -> str:
    """``text`` with box characters dropped and runs of whitespace collapsed."""
    return " ".join(text.replace("│", " ").split())


def human(run_cli, cwd, *args):
    """Run a human-output command; assert it exited 0 with nothing on stderr; return stdout."""
    res = ok(run_cli(list(args), cwd=cwd))
    assert "internal error" not in res.stderr and res.stderr == "", res.stderr
    return res.stdout


def test_task_text_prints_literally_in_list_show_and_log(run_cli, repo, wide):
    ok(run_cli(["task", "add", MARKUP, "-d", "desc [/] [italic]x", "--run", "echo [/]"], cwd=repo))
    ok(run_cli(["task", "claim", "1", "--as", "alice"], cwd=repo))
    ok(run_cli(["task", "done", "1", "--as", "alice", "--note", "[/] note"], cwd=repo))
    assert MARKUP in human(run_cli, repo, "task", "list")
    shown = human(run_cli, repo, "task", "show", "1")
    for text in (f"#1 {MARKUP}", "desc [/] [italic]x", "echo [/]", '"note": "[/] note"'):
        assert text in shown
    assert MARKUP in human(run_cli, repo, "log")


def test_hand_edited_names_and_times_print_literally(run_cli, repo, board_commit, wide):
    task = {"id": 1, "subject": "s", "status": "in_progress", "owner": "[/]owner", "role": "[bold]r",
            "created_at": "[/]", "claimed_at": "[red]"}
    team = {"team_name": "[b]crew[/]", "members": [
        {"name": "[/]x", "role": "[i]", "status": "idle", "task": None, "host": "[/]h", "pid": None,
         "updated_at": "[/]t"}]}
    board_commit(repo, {task_path(1): json.dumps(task), ".team/config.json": json.dumps(team)})
    listed = flat(human(run_cli, repo, "task", "list"))
    assert "[/]owner [bold]r" in listed
    shown = human(run_cli, repo, "task", "show", "1")
    for text in ("[/]owner", "[bold]r", "created     [/]", "claimed     [red]"):
        assert text in shown
    roster = flat(human(run_cli, repo, "team"))
    for text in ("team [b]crew[/]", "[/]x [i] idle", "[/]h", "[/]t"):
        assert text in roster


def test_message_content_prints_literally_in_peek_and_drain(run_cli, team, wide):
    ok(run_cli(["send", "alice", "[/] hi [bold]x\nline [red]two"], cwd=team))
    for args in (["inbox", "alice", "--peek"], ["inbox", "alice"]):
        out = human(run_cli, team, *args)
        assert "  [/] hi [bold]x\n  line [red]two\n" in out


def test_plan_and_feedback_print_literally(run_cli, team, wide):
    rid = new_id()
    run_op(team, protocol_ops.request_plan, sender="alice", plan="[/] step [bold]1\n2. more", request_id=rid,
           msg_id=new_id())
    assert "[/] step [bold]1" in human(run_cli, team, "plan", "list")
    assert "[/] step [bold]1" in human(run_cli, team, "inbox", "lead", "--peek")
    assert human(run_cli, team, "plan", "reject", rid, "--feedback", "[/] no [bold]").rstrip().endswith(
        ": [/] no [bold]")


def test_shutdown_reason_prints_literally(run_cli, team, wide):
    ok(run_cli(["stop", "alice", "--reason", "[/] done [b]"], cwd=team))
    assert "[/] done [b]" in human(run_cli, team, "inbox", "alice", "--peek")


# -- help strings ----------------------------------------------------------------------------

def _walk(cmd, path=()):
    yield path, cmd
    for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
        yield from _walk(sub, path + (name,))


COMMANDS = list(_walk(typer.main.get_command(app)))


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) or "gitboard" for p, _ in COMMANDS])
def test_help_strings_have_no_accidental_markup(path):
    """Square brackets in help text are escaped (``\\[``): rich shows exactly the text meant."""
    cmd = dict(COMMANDS)[path]
    for text in [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]:
        assert render_markup(text).plain == text.replace("\\[", "["), text


def test_team_add_help_shows_the_name_pattern(run_cli):
    out = flat(ok(run_cli(["team", "add", "--help"])).stdout)
    assert "Member name ([a-z][a-z0-9_-]{0,31})." in out
