"""The anthropic SDK (over a second to import) is imported only when the anthropic agent runs."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import pkgutil, sys
import gitboard.cli.main
import gitboard.agents, gitboard.lead, gitboard.llm, gitboard.merge_queue, gitboard.runtime
for pkg in (gitboard.runtime, gitboard.agents, gitboard.llm, gitboard.lead, gitboard.merge_queue):
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        __import__(m.name)
print(sorted(k for k in sys.modules if k == "anthropic" or k.startswith("anthropic.")))
"""


def test_cli_and_team_modules_do_not_import_anthropic() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", CHECK], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
    # and -X importtime confirms it: no line for the anthropic package
    assert not [line for line in proc.stderr.splitlines() if line.rstrip().endswith("| anthropic")]
    assert "gitboard.agents.anthropic" in proc.stderr
