"""Validation of member, role and branch-safe names.

Names become file names (``.team/inbox/<name>/``) and branch names, so they are
restricted to ``[a-z][a-z0-9_-]{0,31}`` (the issue's contract).
"""

from __future__ import annotations

import re

from gitboard.board.errors import Invalid

NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")

#: The lead is always a valid sender and recipient, on the roster or not.
LEAD = "lead"


def check_name(name: str, what: str = "name") -> str:
    """Return ``name`` if it matches ``[a-z][a-z0-9_-]{0,31}``.

    Raises:
        Invalid: naming ``what`` ("name", "role", ...) and the offending value.
    """
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise Invalid(f"invalid {what} {name!r}: must match [a-z][a-z0-9_-]{{0,31}}")
    return name


def check_role(role: str | None) -> str | None:
    """Return ``role`` (or None) after :func:`check_name`; an empty string means no role."""
    if role is None or role == "":
        return None
    return check_name(role, "role")
