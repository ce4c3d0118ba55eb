"""Compatibility entry of hooks installed before the hook moved to ``gitboard/hook/entry.py``
(gitboard-move: keep).

A pre-receive hook written by an earlier ``gitboard hook install`` runs
``python -I -S <dir>/gitboard/hook_entry.py <dir> <server>``. This file runs
``gitboard/hook/entry.py`` next to it as that script, with the same arguments, so such a
hook judges pushes exactly as a newly installed one. Reinstalling the hook
(``gitboard hook install``) writes the new path.
"""

import os
import sys

if __name__ == "__main__":
    _path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hook", "entry.py")
    with open(_path, "rb") as _f:
        _code = compile(_f.read(), _path, "exec")
    sys.argv[0] = _path
    exec(_code, {"__name__": "__main__", "__file__": _path, "__builtins__": __builtins__})
