"""Entry points: --version, --help of every command, python -m gitboard, the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import pytest
import typer

import gitboard
from gitboard.cli.main import app


def _walk(cmd, path=()):
    subs = getattr(cmd, "commands", None)
    if subs is None:
        yield path, cmd
        return
    yield path, cmd
    for name, sub in sorted(subs.items()):
        yield from _walk(sub, path + (name,))


COMMANDS = list(_walk(typer.main.get_command(app)))
#: user-facing commands (the hidden ``hook-impl`` is what git's hook runs, not a command for people)
LEAVES = [(path, cmd) for path, cmd in COMMANDS
          if getattr(cmd, "commands", None) is None and not getattr(cmd, "hidden", False)]


def test_version_matches_the_package_metadata(run_cli):
    res = run_cli(["--version"])
    assert res.exit_code == 0 and res.stderr == ""
    assert res.stdout == f"gitboard {gitboard.__version__}\n"
    assert version("gitboard-team") == gitboard.__version__


def test_core_commands_are_registered():
    paths = {" ".join(p) for p, _ in LEAVES}
    assert {"init", "log", "sync", "task add", "task import", "task list", "task show", "task claim",
            "task release", "task renew", "task done", "task fail", "task update"} <= paths


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) or "gitboard" for p, _ in COMMANDS])
def test_help_of_every_command(run_cli, path):
    res = run_cli([*path, "--help"])
    assert res.exit_code == 0, res.stderr
    assert res.stderr == ""
    assert f"Usage: gitboard {' '.join(path)}".rstrip() in " ".join(res.stdout.split())


@pytest.mark.parametrize("path", [p for p, _ in LEAVES], ids=[" ".join(p) for p, _ in LEAVES])
def test_every_command_takes_json(path):
    cmd = dict(LEAVES)[path]
    assert any("--json" in getattr(p, "opts", ()) for p in cmd.params), f"{' '.join(path)} has no --json"


def test_help_documents_the_options(run_cli):
    out = " ".join(run_cli(["task", "claim", "--help"]).stdout.split())
    for opt in ("--next", "--as", "--role", "--lease", "--json"):
        assert opt in out
    out = " ".join(run_cli(["task", "update", "--help"]).stdout.split())
    for opt in ("--subject", "--description", "--blocked-by", "--unblock", "--status"):
        assert opt in out


def test_python_dash_m(repo):
    p = subprocess.run([sys.executable, "-m", "gitboard", "--version"], capture_output=True, text=True, cwd=repo)
    assert p.returncode == 0 and p.stdout == f"gitboard {gitboard.__version__}\n" and p.stderr == ""
    p = subprocess.run([sys.executable, "-m", "gitboard", "task", "add", "via -m", "--json"], capture_output=True,
                       text=True, cwd=repo)
    assert p.returncode == 0 and json.loads(p.stdout)["subject"] == "via -m"


def test_console_script_version_and_help(run_gitboard, gitboard_exe):
    res = run_gitboard(["--version"])
    assert res.exit_code == 0 and res.stdout == f"gitboard {gitboard.__version__}\n"
    res = run_gitboard(["--help"])
    assert res.exit_code == 0 and "task" in res.stdout and res.stderr == ""
    res = run_gitboard(["task", "claim", "--help"])
    assert res.exit_code == 0 and "--next" in res.stdout


def test_a_session_through_the_console_script(run_gitboard, git_repo, git):
    def ok(*args, input=None):
        res = run_gitboard(list(args), cwd=git_repo, input=input)
        assert res.exit_code == 0, res.stderr
        return res.json() if "--json" in args else res.stdout

    assert ok("init", "--json")["created"] is True
    assert ok("task", "add", "Write the parser", "--json")["id"] == 1
    assert ok("task", "add", "Test the parser", "--blocked-by", "1", "--json")["blockedBy"] == [1]
    assert [t["id"] for t in ok("task", "import", "-", "--json", input='{"subject": "docs"}\n')] == [3]
    assert [t["id"] for t in ok("task", "list", "--ready", "--json")] == [1, 3]
    assert ok("task", "claim", "--next", "--as", "alice", "--lease", "600", "--json")["id"] == 1
    assert ok("task", "renew", "1", "--as", "alice", "--lease", "1200", "--json")["owner"] == "alice"
    assert ok("task", "done", "1", "--as", "alice", "--note", "in src/parse.py", "--json")["status"] == "completed"
    assert [t["id"] for t in ok("task", "list", "--ready", "--json")] == [2, 3]
    assert ok("task", "show", "1", "--json")["result"] == {"note": "in src/parse.py"}
    assert ok("task", "update", "2", "--subject", "Test it", "--json")["subject"] == "Test it"
    assert ok("task", "claim", "2", "--as", "bob", "--json")["owner"] == "bob"
    assert ok("task", "release", "2", "--force", "--json")["owner"] == ""
    assert ok("task", "claim", "3", "--as", "carol", "--json")["owner"] == "carol"
    assert ok("task", "fail", "3", "--as", "carol", "--json")["status"] == "failed"
    log = ok("log", "--json")
    assert [e["action"] for e in log] == ["fail", "claim", "release", "claim", "update", "done", "renew", "claim",
                                          "import", "add", "add", "init"]
    assert ok("sync", "--json")["tip"] == log[0]["commit"]
    assert "Write the parser" in ok("task", "list")
    assert git(git_repo, "status", "--porcelain") == ""
    git(git_repo, "fsck", "--strict", "--no-dangling")


def test_json_path_imports_neither_rich_nor_anthropic(repo):
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: sys.stderr.write(repr(sorted(m for m in sys.modules"
             " if m.split('.')[0] in ('rich', 'anthropic')))))\n"
             "from gitboard.cli.main import main\n"
             "main(sys.argv[1:])\n")
    for args in (["task", "list", "--json"], ["task", "add", "x", "--json"], ["task", "claim", "--next", "--json"]):
        p = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=repo)
        assert p.returncode == 0, p.stderr
        json.loads(p.stdout)
        assert p.stderr == "[]", f"{args}: {p.stderr}"


def test_human_path_does_not_import_anthropic(repo):
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: sys.stderr.write(str('anthropic' in sys.modules)))\n"
             "from gitboard.cli.main import main\n"
             "main(sys.argv[1:])\n")
    p = subprocess.run([sys.executable, "-c", probe, "task", "list"], capture_output=True, text=True, cwd=repo)
    assert p.returncode == 0 and p.stderr == "False"
