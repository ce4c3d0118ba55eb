"""A rich console whose output, when it is not a terminal, suits grep, awk and cut.

rich lays out for an 80-column screen when its stream is not a terminal (or for the
terminal that stdin happens to be), wraps long values onto more lines, and pads every
table cell, the last one included, with spaces. Piped into another program that gives
lines cut in the middle of a subject and lines ending in runs of spaces.

:func:`console` returns a :class:`PipeConsole`: on a terminal it is rich's console
unchanged; on anything else it lays out for :data:`UNWRAPPED_WIDTH` columns (so no
value wraps) and removes the spaces before each line end (so nothing is padded).
Columns of a table stay separated by spaces.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from rich.console import Console, ConsoleDimensions

#: Columns a console lays out for when its stream is not a terminal: wide enough that no
#: board value (a subject, a path, a commit subject) is wrapped. A table that expands to
#: the full width is padded to it, then the padding is removed, so keep it moderate.
UNWRAPPED_WIDTH = 8192

_SPACES_BEFORE_LINE_END = re.compile(r" +(?=\n)")


class TrimmedStdout:
    """``sys.stdout`` (looked up at each write, so a redirected or captured stdout is used),
    with the spaces before each line end removed when it is not a terminal.

    rich writes each printed renderable in one ``write`` that ends in a newline, so a
    line is never split across two writes."""

    def write(self, text: str) -> int:
        out = sys.stdout
        if not _isatty(out):
            text = _SPACES_BEFORE_LINE_END.sub("", text)
        out.write(text)
        return len(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def isatty(self) -> bool:
        return _isatty(sys.stdout)

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, ...: those of sys.stdout
        return getattr(sys.stdout, name)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # a closed or odd stream is no terminal
        return False


class PipeConsole(Console):
    """A :class:`rich.console.Console` that lays out for :data:`UNWRAPPED_WIDTH` columns when
    its stream is not a terminal (``COLUMNS`` and the terminal behind stdin are ignored then)."""

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size; off a terminal, :data:`UNWRAPPED_WIDTH` columns and rich's height."""
        dims = Console.size.fget(self)  # type: ignore[attr-defined]
        if self.is_terminal:
            return dims
        return ConsoleDimensions(UNWRAPPED_WIDTH, dims.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


def console() -> PipeConsole:
    """A console printing to stdout (whatever ``sys.stdout`` is at each print) that neither
    wraps nor pads when stdout is not a terminal; board text is never highlighted."""
    return PipeConsole(file=TrimmedStdout(), highlight=False)  # type: ignore[arg-type]
