"""Command-line values converted without pydantic (gitboard.cli.coercion), and what a read imports."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer import _adapters
from typer.models import ArgumentInfo, OptionInfo

from gitboard.cli.coercion import _NO, _plain, install

VALUES = {
    str: ["", "abc", "ünï", "--x", "a b"],
    int: ["0", "1", "-3", "12345678901234567", 5, "007", "1.0", " 1", "1_000", "+1", "x", "1e3", "٣"],
    float: ["0", "1.5", "-2.25", "600", 600.0, 3, "1e3", "nan", "inf", ".5", "1.", "0.1", "abc"],
    bool: [True, False],
}


@pytest.mark.parametrize("info", [OptionInfo(), ArgumentInfo(min=1), OptionInfo(min=0, max=10)],
                         ids=["plain", "min 1", "0..10"])
@pytest.mark.parametrize("annotation", list(VALUES), ids=lambda a: a.__name__)
def test_plain_values_convert_exactly_as_typer_would(annotation, info):
    adapter = _adapters.try_build_adapter(annotation, info)
    fast = 0
    for value in VALUES[annotation]:
        mine = _plain(annotation, info, value)
        if mine is _NO:  # left to typer, which converts or words the error
            continue
        fast += 1
        theirs = adapter.validate_python(value)
        assert mine == theirs and type(mine) is type(theirs), value
    assert fast


def test_the_hook_is_installed_and_errors_are_typers(run_cli, repo):
    assert install()
    res = run_cli(["task", "claim", "abc"], cwd=repo)
    assert res.exit_code == 2 and "valid integer" in res.stderr
    res = run_cli(["task", "show", "0"], cwd=repo)
    assert res.exit_code == 2 and "greater than or equal to 1" in res.stderr
    res = run_cli(["task", "add", "x", "--blocked-by", "nope"], cwd=repo)
    assert res.exit_code == 2
    res = run_cli(["task", "add", "first", "--json"], cwd=repo)
    assert res.exit_code == 0 and res.json()["id"] == 1
    res = run_cli(["task", "claim", "1", "--as", "alice", "--lease", "30", "--json"], cwd=repo)
    assert res.exit_code == 0 and res.json()["lease_expires_at"]


READ = """
import sys
from gitboard.cli.main import main
try:
    main(["-C", sys.argv[1], "task", "list", "--ready", "--json"])
except SystemExit as e:
    assert e.code == 0, e.code
heavy = ("pydantic", "git", "rich", "anthropic", "filelock")
print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
"""


def test_a_local_json_read_imports_nothing_heavy(repo, run_cli):
    run_cli(["task", "add", "one"], cwd=repo)
    proc = subprocess.run([sys.executable, "-c", READ, str(repo)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1] == "[]"
