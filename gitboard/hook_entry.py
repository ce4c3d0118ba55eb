"""The installed pre-receive hook's fast start: ``python -I -S <this file> <dir>``.

Run as a script by the hook (``gitboard/resources/pre-receive``), isolated (``-I``: no
``PYTHON*`` variables, no user site, no script directory on ``sys.path``) and without
``site`` (``-S``): site's work, above all an editable install's import finder, is about
half of Python's start-up, and a push waits for it. ``<dir>`` is the directory holding
the ``gitboard`` package that ``gitboard hook install`` recorded; the hook's path needs
only it and the standard library. If it cannot be imported from there (a package moved,
or one that needs a third-party module), this re-runs as ``python -m gitboard hook-impl
pre-receive`` with ``site``; stdin is still unread then.
"""

import os
import sys


def main() -> None:
    """Import the hook from ``sys.argv[1]`` and exit with its status (else re-exec with site)."""
    sys.path.insert(0, sys.argv[1])
    try:
        from gitboard.store.hooks import pre_receive_main
    except ImportError:
        os.execv(sys.executable, [sys.executable, "-m", "gitboard", "hook-impl", "pre-receive"])
    sys.exit(pre_receive_main())


if __name__ == "__main__":
    main()
