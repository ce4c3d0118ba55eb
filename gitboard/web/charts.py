"""Charts drawn on the server as inline SVG: no script, every label escaped.

The cost page's chart is one bar per day (the UTC day the work was claimed, as
``gitboard cost --by day`` groups it): the height is the day's known cost in USD,
or its tokens when no task of the board has a price.
"""

from __future__ import annotations

from html import escape
from typing import Sequence

#: The chart's size in SVG user units (it scales to the page's width).
WIDTH, HEIGHT = 720, 220
_PAD_LEFT, _PAD_BOTTOM, _PAD_TOP = 64, 36, 16


def day_bars(groups: Sequence, *, by_cost: bool | None = None) -> str:
    """An SVG bar chart of :class:`gitboard.board.cost.Sum` groups keyed by day, in key order.

    Args:
        groups: ``gitboard cost --by day``'s groups (``key`` ``YYYY-MM-DD``, or ``-``).
        by_cost: bars of USD (True) or tokens (False); None: USD if any group has a cost.

    Returns:
        The ``<svg>`` element as a string ("" for no groups).
    """
    days = _every_day([g for g in groups if g.key != "-"])
    if not days:
        return ""
    if by_cost is None:
        by_cost = any(g.cost_usd is not None for g in days)
    values = [(g.cost_usd or 0.0) if by_cost else float(g.tokens) for g in days]
    top = max(values) or 1.0
    plot_w, plot_h = WIDTH - _PAD_LEFT - 8, HEIGHT - _PAD_BOTTOM - _PAD_TOP
    step = plot_w / len(days)
    bar = max(2.0, min(48.0, step * 0.7))
    unit = "USD" if by_cost else "tokens"
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-label="{escape(f"{unit} per day")}" xmlns="http://www.w3.org/2000/svg">']
    for frac in (0.0, 0.5, 1.0):
        y = _PAD_TOP + plot_h * (1 - frac)
        label = _label(top * frac, by_cost)
        out.append(f'<line x1="{_PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{_PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{escape(label)}</text>')
    every = max(1, len(days) // 8)
    for i, (g, v) in enumerate(zip(days, values)):
        h = plot_h * v / top
        x = _PAD_LEFT + step * i + (step - bar) / 2
        y = _PAD_TOP + plot_h - h
        title = f"{g.key}: {_label(v, by_cost)} ({g.tasks} task{'s' if g.tasks != 1 else ''})"
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(h, 0.5):.1f}" class="bar">'
                   f"<title>{escape(title)}</title></rect>")
        if i % every == 0:
            out.append(f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - _PAD_BOTTOM + 16}" text-anchor="middle" '
                       f'class="axis">{escape(str(g.key)[5:])}</text>')
    out.append(f'<text x="{_PAD_LEFT}" y="{HEIGHT - 4}" class="axis">{escape(unit)} per day (UTC day of the claim)</text>')
    out.append("</svg>")
    return "".join(out)


#: Fewest days a chart spans (the days before the first with usage are drawn empty).
MIN_DAYS = 7
#: Most days a chart spans (the latest).
MAX_DAYS = 90


def _every_day(groups: Sequence) -> list:
    """The day groups with the days between (and, up to :data:`MIN_DAYS`, before) them filled
    with empty groups, in order; the latest :data:`MAX_DAYS` days."""
    from datetime import date, timedelta

    from gitboard.board.cost import Sum

    by_day = {}
    for g in groups:
        try:
            by_day[date.fromisoformat(str(g.key))] = g
        except ValueError:
            continue
    if not by_day:
        return []
    last = max(by_day)
    first = min(min(by_day), last - timedelta(days=MIN_DAYS - 1))
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    out, day = [], first
    while day <= last:
        out.append(by_day.get(day) or Sum(key=day.isoformat()))
        day += timedelta(days=1)
    return out


def _label(v: float, by_cost: bool) -> str:
    if by_cost:
        return f"${v:,.2f}" if v >= 1 or v == 0 else f"${v:.4f}"
    from gitboard.words import compact

    return compact(int(v))


__all__ = ["day_bars", "WIDTH", "HEIGHT"]
