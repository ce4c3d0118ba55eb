"""gitboard: a git-backed task board and team runtime for AI coding agents.

The package is layered as a functional core with an imperative shell:

- :mod:`gitboard.board` -- the pure domain (tasks, team, messages, requests and
  the operations on them); no git and no I/O.
- :mod:`gitboard.store` -- the only code that reads or writes the board branch.
- :mod:`gitboard.team` -- the teammate runtime.
- :mod:`gitboard.cli` -- the ``gitboard`` command line.
"""

__version__ = "0.1.0"
