"""Replacing a state file whole: write a temporary file next to it, then rename it over.

Readers of the parse cache (:mod:`gitboard.store.cache`) and the listing index
(:mod:`gitboard.store.list_index`) see the old file or the new one, never a torn one,
whichever process writes.
"""

from __future__ import annotations

import itertools
import os

_counter = itertools.count()


def replace_whole(path: str, *chunks: bytes) -> bool:
    """Write ``chunks`` to ``path`` through a temporary file in the same directory and an
    atomic rename; return True if it was replaced. An OSError (a full disk, no permission)
    leaves ``path`` as it was, removes the temporary file and returns False: these files are
    caches, and a cache that cannot be written is only slower."""
    tmp = f"{path}.{os.getpid()}.{next(_counter)}.tmp"
    try:
        with open(tmp, "xb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
