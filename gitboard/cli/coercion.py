"""Command-line values converted without pydantic when they are plainly valid.

typer (0.2x) converts every command-line value through a pydantic ``TypeAdapter``:
the first conversion imports pydantic (about 70 ms here) and each parameter
builds an adapter (a few ms more), so every gitboard command paid about 100 ms
before doing anything -- more than a warm ``task list`` of 10,000 tasks does.

:func:`install` wraps typer's ``build_runtime_param`` so that a value whose
conversion is beyond doubt -- a string for a ``str`` parameter, a plain decimal
for an ``int`` or ``float`` one within its ``min``/``max`` -- is converted
directly. Anything else (a malformed number, a value out of range, lists,
paths, choices, files, custom parsers) goes to typer's own adapter, built on
first use, so typer's validation and error messages are unchanged.

This hooks a private typer function: :func:`install` checks what it hooks and
leaves typer alone if its internals differ, so a typer upgrade can only make
gitboard slower, never wrong.
"""

from __future__ import annotations

import re
from typing import Any

_DECIMAL_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_DECIMAL_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,15})?")
_NO = object()
_installed = False


def _plain(annotation: Any, info: Any, value: Any) -> Any:
    """Return ``value`` converted for ``annotation`` when that is beyond doubt, else ``_NO``."""
    if annotation is str:
        return value if type(value) is str else _NO
    if annotation is bool:
        return value if type(value) is bool else _NO
    if annotation is int:
        if type(value) is int:
            number = value
        elif type(value) is str and _DECIMAL_INT.fullmatch(value):
            number = int(value)
        else:
            return _NO
    elif annotation is float:
        if type(value) is float or type(value) is int:
            number = float(value)
        elif type(value) is str and _DECIMAL_FLOAT.fullmatch(value):
            number = float(value)
        else:
            return _NO
    else:
        return _NO
    if (info.min is not None and number < info.min) or (info.max is not None and number > info.max):
        return _NO  # typer words the range error
    return number


def install() -> bool:
    """Hook typer's parameter conversion (once); return whether it is hooked."""
    global _installed
    if _installed:
        return True
    try:
        from typer import _coercion, core
    except ImportError:
        return False
    original = getattr(core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if original is None or base is None or original is not getattr(_coercion, "build_runtime_param", None):
        return False

    class PlainFirst(base):  # type: ignore[misc, valid-type]
        """Converts plainly valid values itself; hands everything else to typer's adapter."""

        def __init__(self, descriptor: Any) -> None:
            super().__init__(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation)
            object.__setattr__(self, "_descriptor", descriptor)
            object.__setattr__(self, "_typer", None)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            converted = _plain(self.annotation, self.parameter_info, value)
            if converted is not _NO:
                return converted
            if self._typer is None:
                object.__setattr__(self, "_typer", original(self._descriptor))
            return self._typer._coerce_value(value, param=param, ctx=ctx)

    def build_runtime_param(descriptor: Any) -> Any:
        info = descriptor.parameter_info
        if (descriptor.file_annotation is None and getattr(info, "parser", None) is None
                and not getattr(info, "clamp", False) and descriptor.annotation in (str, bool, int, float)):
            return PlainFirst(descriptor)
        return original(descriptor)

    core.build_runtime_param = build_runtime_param
    _installed = True
    return True
