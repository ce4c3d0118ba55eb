"""Writing git objects: loose objects straight into the object database, and blob ids.

The lowest layer of the store's writes: :mod:`gitboard.store.trees` writes trees and
:mod:`gitboard.store.objects` writes blobs and commits through :func:`write_object`.
No subprocess; the format is git's loose object format (``<kind> <size>\\0<data>``,
zlib-compressed, named by the SHA-1 of the uncompressed bytes).
"""

from __future__ import annotations

import os
import zlib

from gitboard.store.repo import BoardRepo

#: zlib level of loose objects: git's default ``core.looseCompression`` (best speed).
LOOSE_COMPRESSION = 1

__all__ = ["LOOSE_COMPRESSION", "blob_id", "write_object"]


def blob_id(data: bytes) -> str:
    """Return the git object id (SHA-1 hex) of a blob with content ``data``."""
    import hashlib  # loads OpenSSL: only writers pay for it

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def write_object(repo: BoardRepo, kind: bytes, data: bytes) -> str:
    """Write a loose object of type ``kind`` (b"blob", b"tree", b"commit") and return its id.

    Like git: the compressed object goes to a temporary file in its fan-out
    directory and is renamed into place, so readers never see half an object;
    an object that already exists is left as it is (its time refreshed, so that
    ``git gc`` does not prune it as old garbage before the ref names it).
    """
    import hashlib  # loads OpenSSL: only writers pay for it

    raw = b"%s %d\0" % (kind, len(data)) + data
    oid = hashlib.sha1(raw).hexdigest()
    directory = os.path.join(repo.objects_dir, oid[:2])
    path = os.path.join(directory, oid[2:])
    try:
        os.utime(path)
        return oid
    except OSError:
        pass
    tmp = os.path.join(directory, f"tmp_obj_{os.getpid()}_{os.urandom(6).hex()}")
    try:
        f = open(tmp, "xb")
    except FileNotFoundError:  # the fan-out directory is new
        os.makedirs(directory, exist_ok=True)
        f = open(tmp, "xb")
    with f:
        f.write(zlib.compress(raw, LOOSE_COMPRESSION))
    os.chmod(tmp, 0o444)
    os.replace(tmp, path)
    return oid
