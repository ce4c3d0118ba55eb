"""Timestamps in the board's formats.

Task and request times are ISO-8601 UTC strings with second precision and a
``Z`` suffix (``2026-11-21T12:00:00Z``); message timestamps are epoch seconds
as floats. Operations take ``now`` as an argument so that
they stay pure; only the shell reads the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


def iso(t: datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC, seconds precision: ``YYYY-MM-DDTHH:MM:SSZ``."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s: str) -> datetime:
    """Parse an ISO-8601 timestamp (``Z`` or an offset); naive values are taken as UTC.

    Raises:
        ValueError: if ``s`` is not ISO-8601.
    """
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t


def after(now: datetime, seconds: float) -> str:
    """Return ``iso(now + seconds)`` rounded up to the next whole second; used for lease
    expiry times, so a lease is never shorter than asked."""
    t = now + timedelta(seconds=seconds)
    if t.microsecond:
        t += timedelta(microseconds=1_000_000 - t.microsecond)
    return iso(t)
