"""The team roster, ``.team/config.json``::

    {"team_name": str,
     "members": [{"name", "role", "status": "working"|"idle"|"shutdown",
                  "task": id or null, "host": str, "pid": int or null,
                  "updated_at": ISO-8601 UTC}]}
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from gitboard.board import layout
from gitboard.board.errors import Corrupt

CONFIG_PATH = layout.ROSTER_PATH
MEMBER_STATUSES = ("working", "idle", "shutdown")


@dataclass(frozen=True, slots=True)
class Member:
    """One roster entry; ``pid`` is the teammate process on ``host``, ``task`` the id it works on."""

    name: str
    role: str | None = None
    status: str = "idle"
    task: int | None = None
    host: str = ""
    pid: int | None = None
    updated_at: str = ""

    def to_json(self) -> dict:
        """Return the member object in file key order."""
        return {"name": self.name, "role": self.role, "status": self.status, "task": self.task,
                "host": self.host, "pid": self.pid, "updated_at": self.updated_at}

    @classmethod
    def from_json(cls, d: Any) -> "Member":
        """Build a member from its JSON object, checking the type of every field.

        ``d`` must be an object with a str ``name``; when present and not null,
        ``role`` must be a str, ``status`` one of :data:`MEMBER_STATUSES`
        (default ``idle``), ``task`` and ``pid`` ints, ``host`` and
        ``updated_at`` strs (default "").

        Raises:
            Corrupt: ``d`` is not such an object (the message names the member and field).
        """
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            raise Corrupt("malformed member entry")
        name = d["name"]
        role = d.get("role")
        if role is not None and not isinstance(role, str):
            raise Corrupt(f"member {name!r}: role is not a string or null")
        status = d.get("status")
        if status is None:
            status = "idle"
        elif not isinstance(status, str) or status not in MEMBER_STATUSES:
            raise Corrupt(f"member {name!r}: status is not one of {', '.join(MEMBER_STATUSES)}")
        for key in ("task", "pid"):
            value = d.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise Corrupt(f"member {name!r}: {key} is not an integer or null")
        for key in ("host", "updated_at"):
            value = d.get(key)
            if value is not None and not isinstance(value, str):
                raise Corrupt(f"member {name!r}: {key} is not a string")
        return cls(name=name, role=role, status=status, task=d.get("task"), host=d.get("host") or "",
                   pid=d.get("pid"), updated_at=d.get("updated_at") or "")

    def evolve(self, **changes: Any) -> "Member":
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Team:
    """The roster: team name and members in file order."""

    team_name: str
    members: tuple[Member, ...] = field(default=())

    def member(self, name: str) -> Member | None:
        """Return the member called ``name``, or None."""
        for m in self.members:
            if m.name == name:
                return m
        return None

    def role_of(self, name: str) -> str | None:
        """Return the roster role of ``name``, or None if absent or role-less."""
        m = self.member(name)
        return m.role if m else None

    def with_member(self, member: Member) -> "Team":
        """Return a roster with ``member`` added, or replacing the entry of the same name."""
        out = [m for m in self.members if m.name != member.name]
        if len(out) == len(self.members):
            return replace(self, members=(*self.members, member))
        return replace(self, members=tuple(member if m.name == member.name else m for m in self.members))

    def without_member(self, name: str) -> "Team":
        """Return a roster without ``name``."""
        return replace(self, members=tuple(m for m in self.members if m.name != name))

    def to_json(self) -> dict:
        """Return the config.json object."""
        return {"team_name": self.team_name, "members": [m.to_json() for m in self.members]}

    @classmethod
    def from_json(cls, d: Any) -> "Team":
        """Build the roster from config.json: an object with a str ``team_name`` and
        ``members``, a list of member objects (see :meth:`Member.from_json`; missing or
        null means none).

        Raises:
            Corrupt: ``d`` or any member entry is malformed or ill-typed.
        """
        if not isinstance(d, dict) or not isinstance(d.get("team_name"), str):
            raise Corrupt("team config is not an object with a team_name")
        members = d.get("members")
        if members is None:
            members = []
        if not isinstance(members, list):
            raise Corrupt("members is not a list")
        return cls(team_name=d["team_name"], members=tuple(Member.from_json(m) for m in members))
