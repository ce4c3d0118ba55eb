"""Flags in ``--help`` without a ``<bool>`` placeholder.

typer (0.2x) prints every option's type in its rich help, flags included, so
``--json``, ``--ready`` and ``--help`` itself read ``--json <bool>``, as if
they took a value. Its plain-text help already leaves the type out for flags
(``TyperOption.get_help_record``). :func:`install` makes the rich help do the
same: ``TyperOption.display_type_rich`` returns nothing for a flag (an option
with ``is_flag`` or ``count``) and is unchanged for every other option.

Like :mod:`gitboard.cli.coercion`, this hooks typer internals: :func:`install`
checks what it hooks and leaves typer alone if they differ, so a typer upgrade
can bring the placeholder back, never break a command.
"""

from __future__ import annotations

from typing import Any

_MARK = "_gitboard_no_flag_type"


def install() -> bool:
    """Hide the type of flags in typer's rich help (once); return whether it is hooked."""
    try:
        from typer.core import TyperOption
    except ImportError:
        return False
    original = getattr(TyperOption, "display_type_rich", None)
    if original is None:
        return False
    if getattr(original, _MARK, False):
        return True

    def display_type_rich(self: Any, ctx: Any) -> Any:
        if getattr(self, "is_flag", False) or getattr(self, "count", False):
            return None
        return original(self, ctx)

    setattr(display_type_rich, _MARK, True)
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
    return True
