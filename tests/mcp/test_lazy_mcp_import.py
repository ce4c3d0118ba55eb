"""The MCP SDK is imported only by ``gitboard mcp``: no board command, and no module of the
CLI, the team runtime or the board client, loads it."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import pkgutil, sys
import gitboard.cli.main, gitboard.client
import gitboard.team, gitboard.mcp
for pkg in (gitboard.team, gitboard.mcp):
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if m.name != "gitboard.mcp.server":
            __import__(m.name)
print(sorted(k for k in sys.modules if k in ("mcp", "mcp_types") or k.startswith(("mcp.", "mcp_types."))))
"""


def test_board_commands_and_the_runtime_do_not_import_the_mcp_sdk() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", CHECK], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
    assert not [line for line in proc.stderr.splitlines() if line.rstrip().endswith("| mcp")]
    assert "gitboard.cli.mcp_cmds" in proc.stderr and "gitboard.mcp.tools" in proc.stderr


def test_a_board_command_run_does_not_load_the_sdk(repo) -> None:
    code = ("import sys, runpy; sys.argv = ['gitboard', 'task', 'list', '--json'];\n"
            "import gitboard.cli.main as m\n"
            "try:\n    m.main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(repr(sorted(k for k in sys.modules if k == 'mcp' or k.startswith('mcp.'))))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]" and proc.stderr.strip().endswith("[]"), proc.stderr
