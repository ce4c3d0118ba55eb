"""The layers around the web board: board commands never load the web stack or Apprise, and
neither the web board nor the notifier imports the command line."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import gitboard

PACKAGE = Path(gitboard.__file__).parent
WEB_STACK = ("starlette", "uvicorn", "jinja2", "apprise", "markupsafe", "playwright")

PROBE = r"""
import json, sys
from gitboard.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print(json.dumps({"code": code, "loaded": sorted(m for m in sys.modules if m.split(".")[0] in %r)}), file=sys.stderr)
"""


def loaded_by(args: list[str], cwd: Path) -> tuple[int, list[str]]:
    p = subprocess.run([sys.executable, "-c", PROBE % (WEB_STACK,), *args], cwd=cwd, capture_output=True, text=True,
                       timeout=120)
    report = json.loads(p.stderr.strip().splitlines()[-1])
    return report["code"], report["loaded"]


def test_board_commands_never_import_the_web_stack(board_project):
    for args in (["task", "add", "x", "--json"], ["task", "list", "--json"], ["task", "claim", "1", "--as", "a"],
                 ["team", "--json"], ["log", "--json"], ["cost", "--json"], ["watch", "--once", "--json"],
                 ["--help"], ["serve", "--help"], ["notify", "--help"]):
        code, loaded = loaded_by(args, board_project)
        assert code == 0, args
        assert loaded == [], f"gitboard {' '.join(args)} imported {loaded}"


def test_notify_loads_apprise_but_not_the_web_server(board_project):
    code, loaded = loaded_by(["notify", "--json"], board_project)
    assert code == 0
    assert not any(m.split(".")[0] in ("starlette", "uvicorn", "jinja2") for m in loaded), loaded


def imports_of(path: Path) -> set[str]:
    """Every module a Python file imports, at any depth (lazy imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_the_web_board_and_the_notifier_never_import_the_command_line():
    files = sorted((PACKAGE / "web").glob("*.py")) + [PACKAGE / "notify.py", PACKAGE / "overview.py",
                                                       PACKAGE / "words.py", PACKAGE / "client.py"]
    for path in files:
        bad = sorted(m for m in imports_of(path) if m == "gitboard.cli" or m.startswith("gitboard.cli."))
        assert bad == [], f"{path.relative_to(PACKAGE.parent)} imports {bad}"
    web_users = [p for p in PACKAGE.rglob("*.py") if any(m.startswith("gitboard.web") for m in imports_of(p))]
    assert sorted(p.relative_to(PACKAGE).as_posix() for p in web_users
                  if not p.relative_to(PACKAGE).as_posix().startswith("web/")) == [
        "cli/serve_cmds.py"]
