"""``--help`` reads well: text reflowed to the screen, commands in groups and in a reading order."""

from __future__ import annotations

import re

import typer

from gitboard.cli.help_text import PANELS
from gitboard.cli.main import app


def _top_commands() -> list[str]:
    group = typer.main.get_command(app)
    return [n for n, c in group.commands.items() if not getattr(c, "hidden", False)]


def test_help_paragraphs_keep_no_line_breaks_of_the_source(run_gitboard, tmp_path) -> None:
    # at 200 columns, a sentence the source broke over lines is on one line
    res = run_gitboard(["merge", "--help"], cwd=tmp_path, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.stderr
    assert re.search(r"Each merge is computed with git merge-tree, checked in a temporary worktree of the exact "
                     r"merge commit, and lands with the task's \"merged\" board commit atomically\. A conflict",
                     res.stdout), res.stdout
    for args, sentence in ((["cost", "--help"], "per group and in total, and the model-driven lead's own"),
                           (["reject", "--help"], "pending, unowned, branch kept, a rework record"),
                           (["review", "--help"], '--json prints {"task", "base": {"branch", "commit"}, "branch": '
                                                  '{"name", "commit"}, "merge_base"')):
        out = run_gitboard(args, cwd=tmp_path, env={"COLUMNS": "250"}).stdout
        assert sentence in out, out


def test_every_command_help_is_reflowed() -> None:
    group = typer.main.get_command(app)

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, path + [name])
        else:
            yield path, cmd

    for path, cmd in walk(group, []):
        for para in (cmd.help or "").split("\n\n"):
            assert "\n" not in para, (path, para)


def test_top_level_help_groups_every_command_once_in_order(run_gitboard, tmp_path) -> None:
    listed = [name for _, names in PANELS for name in names]
    assert sorted(listed) == sorted(_top_commands()) and len(set(listed)) == len(listed)
    out = run_gitboard(["--help"], cwd=tmp_path, env={"COLUMNS": "120"}).stdout
    titles = [m.group(1) for m in re.finditer(r"╭─ (.+?) ─", out)]
    assert titles == ["Options"] + [panel for panel, _ in PANELS]
    shown = [m.group(1) for m in re.finditer(r"^│ ([a-z][a-z-]*) ", out, re.M)]
    assert shown == listed


def test_help_names_the_default_model_not_the_readme(run_gitboard, tmp_path) -> None:
    from gitboard.llm.models import DEFAULT_MODEL

    for args in (["lead", "--help"], ["spawn", "--help"]):
        out = run_gitboard(args, cwd=tmp_path, env={"COLUMNS": "300"}).stdout
        assert f"else $GITBOARD_MODEL, else {DEFAULT_MODEL}." in out, out
    group = typer.main.get_command(app)

    def texts(cmd):
        yield cmd.help or ""
        for p in cmd.params:
            yield getattr(p, "help", None) or ""
        for sub in (getattr(cmd, "commands", None) or {}).values():
            yield from texts(sub)

    assert [t for t in texts(group) if "README" in t] == []
