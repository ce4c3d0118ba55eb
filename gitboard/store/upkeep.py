"""Keeping the clone's object store packed: git's automatic maintenance after gitboard's writes.

git's own commands that write (``commit``, ``merge``, ``fetch``, ...) end by running
``git maintenance run --auto``, which packs loose objects once there are too many and
merges packs once there are too many of them (``git gc --auto``). gitboard writes its
objects and moves its ref itself, so a clone whose board is written only through gitboard
(a lead planning on a laptop, a board that only teammates' claims and messages move)
would gather loose objects without end (a claim leaves about six) and a pack per bulk
write (``git fast-import``, see :data:`gitboard.store.objects.PACK_THRESHOLD`); a search of
every pack then slows each later ``git update-ref``.

After every board write that lands, and after a fetch (which gitboard runs with
``--no-auto-maintenance``) that brought new board commits, :func:`after_write` makes git's own checks, cheaply
(one directory listing): more loose objects than ``gc.auto`` allows, estimated as git does
from the ``objects/17`` fan-out directory, or more packs than ``gc.autoPackLimit``. Only then
does it run ``git maintenance run --auto --quiet``, which checks again with the whole of
git's configuration and, by default, packs in the background (``gc.autoDetach``). It
starts maintenance at most once a minute per process and object store.

Settings honoured, with git's defaults (git-config(1), git 2.39): ``gc.auto`` (6700; 0
turns the loose-object check off), ``gc.autoPackLimit`` (50; 0 turns the pack check off)
and ``maintenance.auto`` (true; false turns gitboard's maintenance off, as it does git's).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import TYPE_CHECKING, Mapping

from gitboard.store.git import _QUIET_ENV

if TYPE_CHECKING:
    from gitboard.store.repo import BoardRepo

#: git's default ``gc.auto``: loose objects beyond which ``git gc --auto`` packs them.
GC_AUTO = 6700
#: git's default ``gc.autoPackLimit``: packs beyond which ``git gc --auto`` merges them.
AUTO_PACK_LIMIT = 50
#: Seconds between two maintenance runs started by one process for one object store.
MIN_INTERVAL = 60.0

_LOOSE_NAME = re.compile(r"[0-9a-f]{38}")
_started: dict[str, float] = {}  # object directory -> when this process last started maintenance


def _int_setting(value: str | None, default: int) -> int:
    """A git integer setting (``6700``, ``1k``), or ``default`` when unset or unreadable."""
    if value is None:
        return default
    m = re.fullmatch(r"\s*(-?\d+)\s*([kmg]?)\s*", value.lower())
    if not m:
        return default
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2)]


def _is_off(value: str | None) -> bool:
    """True for a git boolean setting that says false (``false``, ``no``, ``off``, ``0``)."""
    return value is not None and value.strip().lower() in ("false", "no", "off", "0")


def too_many_loose(objects_dir: str, limit: int = GC_AUTO) -> bool:
    """True if the object store holds more loose objects than ``limit``, estimated as
    ``git gc --auto`` does: the objects in fan-out directory ``17`` against ``limit / 256``
    (rounded up). ``limit`` <= 0 means never."""
    if limit <= 0:
        return False
    try:
        names = os.listdir(os.path.join(objects_dir, "17"))
    except OSError:
        return False
    return sum(1 for n in names if _LOOSE_NAME.fullmatch(n)) > (limit + 255) // 256


def too_many_packs(objects_dir: str, limit: int = AUTO_PACK_LIMIT) -> bool:
    """True if the object store holds more packs than ``limit``, not counting packs kept
    with a ``.keep`` file (as ``git gc --auto`` counts them). ``limit`` <= 0 means never."""
    if limit <= 0:
        return False
    try:
        names = set(os.listdir(os.path.join(objects_dir, "pack")))
    except OSError:
        return False
    packs = [n for n in names if n.endswith(".pack") and n[:-5] + ".keep" not in names]
    return len(packs) > limit


def needs_maintenance(objects_dir: str, settings: Mapping[str, str]) -> bool:
    """True if git's automatic maintenance would find work in ``objects_dir``.

    ``settings``: the clone's ``gc.*`` and ``maintenance.*`` git config, keys in lower case
    (:attr:`gitboard.store.repo.BoardRepo.upkeep_config`).
    """
    if _is_off(settings.get("maintenance.auto")):
        return False
    return (too_many_loose(objects_dir, _int_setting(settings.get("gc.auto"), GC_AUTO))
            or too_many_packs(objects_dir, _int_setting(settings.get("gc.autopacklimit"), AUTO_PACK_LIMIT)))


def after_write(repo: "BoardRepo", *, now: float | None = None) -> bool:
    """Run ``git maintenance run --auto --quiet`` in ``repo`` if its object store needs it
    (:func:`needs_maintenance`) and this process has not started it there in the last
    :data:`MIN_INTERVAL` seconds. Returns True if it ran.

    Maintenance is only upkeep: its failure (git too old, a lock held by a running
    ``git gc``) is ignored and never fails the write that came before it. With
    ``gc.autoDetach`` false, git packs in the foreground and this waits for it, as
    ``git commit`` would.
    """
    objects_dir = repo.objects_dir
    now = time.monotonic() if now is None else now
    last = _started.get(objects_dir)
    if last is not None and now - last < MIN_INTERVAL:
        return False
    if not needs_maintenance(objects_dir, repo.upkeep_config):
        return False
    _started[objects_dir] = now
    try:  # not gitcmd.run, which captures output: nothing of git's, or of a gc it leaves running, may hold our pipes
        subprocess.run(["git", "maintenance", "run", "--auto", "--quiet"], cwd=repo.cwd,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, **_QUIET_ENV})
    except OSError:
        return False
    return True
