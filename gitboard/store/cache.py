"""A cache of parsed board files, keyed by blob id, under the common git dir.

Blobs are immutable, so a blob id names its parsed JSON forever: a claim, which
changes one blob, re-reads one file instead of all of them. The cache is one
pickle file, ``<git-common-dir>/gitboard/cache/blobs.pickle``, written
atomically (temp file + rename); concurrent writers can only lose entries, never
corrupt them, and a cache that fails to load is rebuilt.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

CACHE_VERSION = 1


class BlobCache:
    """blob id (hex) -> parsed JSON value (or :class:`~gitboard.board.snapshot.ParseError`)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "blobs.pickle"
        self.entries: dict[str, Any] = {}
        self.dirty = False
        try:
            with open(self.path, "rb") as f:
                version, entries = pickle.load(f)
            if version == CACHE_VERSION and isinstance(entries, dict):
                self.entries = entries
        except Exception:  # a missing, old or damaged cache is rebuilt
            self.entries = {}

    def get(self, blob: str) -> Any:
        """Return the cached value for ``blob``, or the module's ``MISSING``."""
        return self.entries.get(blob, MISSING)

    def put(self, blob: str, value: Any) -> None:
        """Remember ``value`` for ``blob``."""
        self.entries[blob] = value
        self.dirty = True

    def save(self, keep: set[str] | None = None) -> None:
        """Write the cache if it changed, keeping only the blob ids in ``keep`` when given."""
        if not self.dirty:
            return
        if keep is not None:
            self.entries = {k: v for k, v in self.entries.items() if k in keep}
        fd, tmp = tempfile.mkstemp(prefix="blobs.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump((CACHE_VERSION, self.entries), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        self.dirty = False


MISSING = object()
