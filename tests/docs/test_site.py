"""The docs site builds with mkdocs --strict: every page in the nav exists, every link and anchor resolves."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.docs.helpers import DOCS, ROOT

mkdocs = pytest.importorskip("mkdocs", reason="mkdocs-material is not installed (pip install -e '.[docs]')")


def test_strict_build(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "reference" / "commands" / "index.html").exists()
    assert (tmp_path / "site" / "images" / "watch.svg").exists()


def test_every_page_is_in_the_nav() -> None:
    nav = [line for line in (ROOT / "mkdocs.yml").read_text(encoding="utf-8").splitlines()
           if not line.strip().startswith("#")]  # "# pending:" entries wait for their pages
    listed = {m.group(1) for line in nav for m in [re.search(r":\s*([\w/-]+\.md)\s*$", line)] if m}
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert pages - listed == set(), f"pages missing from the nav in mkdocs.yml: {sorted(pages - listed)}"


def test_no_page_speaks_of_how_it_was_developed() -> None:
    history = re.compile(r"\bissue \d+|\bthis round\b|\bthe seed\b|\bthis evening\b|\(was \d", re.I)
    found = [str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if history.search(p.read_text(encoding="utf-8"))]
    assert not found, found
