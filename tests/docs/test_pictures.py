"""docs/make_pictures.py draws the live view of a real board as an SVG."""

from __future__ import annotations

import html

from tests.docs.helpers import DOCS, load_script

pictures = load_script("make_pictures")


def test_watch_svg_shows_a_team_at_work(tmp_path) -> None:
    out = tmp_path / "watch.svg"
    pictures.watch_svg(out)
    svg = out.read_text(encoding="utf-8")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    text = html.unescape(svg).replace("\u00a0", " ")
    for shown in ("gitboard watch", "in_progress", "Summarise the numbers", "alice", "working",
                  "merge queue", "review", "queued", "merged", "$0.5012"):
        assert shown in text, shown


def test_every_picture_has_a_maker() -> None:
    assert set(pictures.PICTURES) >= {"watch.svg"}
    assert (DOCS / "images" / "watch.svg").exists()
