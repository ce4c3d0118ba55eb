"""Shell completion (``gitboard --install-completion``) and flags in --help without ``<bool>``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gitboard.cli import help_flags
from tests.cli.test_entrypoints import COMMANDS


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) or "gitboard" for p, _ in COMMANDS])
def test_no_bool_placeholder_in_any_help(run_cli, path):
    out = run_cli([*path, "--help"], ).stdout
    assert "<bool>" not in out
    assert "--help" in out


def test_flags_lose_only_their_type_and_value_options_keep_theirs(run_cli):
    rows = {ln.split()[1]: ln.split() for ln in run_cli(["task", "list", "--help"]).stdout.splitlines()
            if len(ln.split()) > 2 and ln.split()[1].startswith("--")}
    assert rows["--ready"][2:4] == ["Only", "tasks"] and rows["--json"][2] == "Print"
    assert rows["--owner"][2] == "<str>"
    claim = " ".join(run_cli(["task", "claim", "--help"]).stdout.split())
    assert "--lease SECONDS" in claim
    assert help_flags.install() is True  # idempotent


def complete(home: Path, exe: Path, *words: str) -> list[str]:
    """Complete ``words`` (the last is being typed) with the script --install-completion installed in bash."""
    env = {**os.environ, "HOME": str(home), "PATH": f"{exe.parent}{os.pathsep}{os.environ['PATH']}"}
    script = ('source ~/.bash_completions/gitboard.sh; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
              '_gitboard_completion gitboard; printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "-c", script, "bash", *words], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_install_completion_for_bash_completes_commands_and_values(tmp_path, gitboard_exe):
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "SHELL": "/bin/bash"}
    # "; exit $?": bash stays the parent (no exec of a lone command), so it is the shell detected
    p = subprocess.run(["bash", "-c", f"'{gitboard_exe}' --install-completion; exit $?"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "bash completion installed in" in p.stdout
    script = home / ".bash_completions" / "gitboard.sh"
    assert f"source '{script}'" in (home / ".bashrc").read_text()
    assert complete(home, gitboard_exe, "gitboard", "ta") == ["task"]
    assert complete(home, gitboard_exe, "gitboard", "task", "cl") == ["claim"]
    assert complete(home, gitboard_exe, "gitboard", "cost", "--by", "t") == ["task", "teammate"]
    assert "--once" in complete(home, gitboard_exe, "gitboard", "watch", "--")


@pytest.mark.skipif(shutil.which("sh") is None, reason="sh is not installed")
def test_an_unsupported_shell_is_one_error_line_and_writes_nothing(tmp_path, gitboard_exe):
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    for option in ("--install-completion", "--show-completion"):
        p = subprocess.run(["sh", "-c", f"'{gitboard_exe}' {option}; exit $?"], env=env, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 2, (p.stdout, p.stderr)
        assert p.stdout == "" and p.stderr.startswith("gitboard: error: cannot set up completion: found the shell")
        assert len(p.stderr.splitlines()) == 1
    assert list(home.iterdir()) == []
