"""The lead's saved conversations on disk: where they live, and the meters they record.

:class:`gitboard.lead.session.LeadSession` writes ``<git-common-dir>/gitboard/lead/session.json``
after every prompt and moves an old one aside to ``session-<UTC time>-<n>.json`` when a new
session starts, so every conversation this clone's lead had is one file there. Each holds a
``meter``: ``{"usage": {input_tokens, output_tokens, cache_read_input_tokens,
cache_creation_input_tokens}, "priced_usd": USD, "responses": N, "unpriced_responses": N,
"models": [...]}``. This module reads them without the SDK or the lead's runtime, for
``gitboard cost``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def lead_dir(state_dir: str | Path) -> Path:
    """``<state_dir>/lead``: where the lead's conversation and readline history live."""
    return Path(state_dir) / "lead"


def saved_meters(state_dir: str | Path) -> list[dict[str, Any]]:
    """The ``meter`` of every saved lead conversation under ``<state_dir>/lead`` (``session.json``
    and the ``session-*.json`` set aside), in file-name order. A file that cannot be read or
    parsed, or has no meter, is left out."""
    out = []
    for path in sorted(lead_dir(state_dir).glob("session*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        meter = doc.get("meter") if isinstance(doc, dict) else None
        if isinstance(meter, dict):
            out.append(meter)
    return out
