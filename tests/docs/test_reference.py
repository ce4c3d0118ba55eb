"""The command reference, docs/reference/commands.md, is generated from the CLI and cannot drift."""

from __future__ import annotations

import subprocess
import sys

import typer

from tests.docs.helpers import DOCS, ROOT, load_script

gen = load_script("gen_reference")
PAGE = DOCS / "reference" / "commands.md"


def test_committed_page_is_what_the_cli_generates() -> None:
    expected = gen.render()
    assert PAGE.read_text(encoding="utf-8") == expected, (
        "docs/reference/commands.md is out of date: run python docs/gen_reference.py")


def test_every_command_has_a_section() -> None:
    names = gen.command_names()
    # the whole tree: top-level commands and every subcommand of task, team, plan and hook
    for expected in ("gitboard init", "gitboard task claim", "gitboard task import", "gitboard team add",
                     "gitboard plan approve", "gitboard hook install", "gitboard merge", "gitboard watch",
                     "gitboard lead", "gitboard demo"):
        assert expected in names
    headings = {line.lstrip("#").strip() for line in PAGE.read_text(encoding="utf-8").splitlines()
                if line.startswith("#")}
    missing = [n for n in names if n not in headings]
    assert not missing, f"commands without a section: {missing}"
    assert "gitboard hook-impl" not in names and "gitboard hook-impl" not in headings  # hidden


def test_check_mode_reports_a_stale_page(tmp_path, monkeypatch) -> None:
    script = DOCS / "gen_reference.py"
    ok = subprocess.run([sys.executable, str(script), "--check"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    stale = tmp_path / "commands.md"
    stale.write_text(PAGE.read_text(encoding="utf-8").replace("## gitboard merge", "## gitboard mrege"))
    monkeypatch.setattr(gen, "PAGE", stale)
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0  # rewrites it
    assert stale.read_text(encoding="utf-8") == gen.render()


def test_a_new_command_and_its_options_appear() -> None:
    app = typer.Typer(help="A test application.")

    @app.command("frobnicate", help="Frobnicate a task.\n\nExit 3 when it | is <already> frobnicated.")
    def frobnicate(task_id: int = typer.Argument(..., metavar="ID", help="The task."),
                   times: int = typer.Option(2, "--times", "-t", metavar="N", help="How often."),
                   dry: bool = typer.Option(False, "--dry-run", help="Change nothing.")) -> None:
        """unused"""

    sub = typer.Typer(help="Things.")
    sub.command("list")(lambda: None)
    app.add_typer(sub, name="things")
    page = gen.render(app)
    assert "## gitboard frobnicate" in page and "### gitboard things list" in page
    assert "Exit 3 when it \\| is \\<already\\> frobnicated." in page  # Markdown-escaped, one row
    assert "| `-t`, `--times` | `N` | `2` | How often. |" in page
    assert "| `--dry-run` | flag |  | Change nothing. |" in page
    assert "| `ID` | argument |  | The task. |" in page
    assert gen.command_names(app) == ["gitboard frobnicate", "gitboard things", "gitboard things list"]
