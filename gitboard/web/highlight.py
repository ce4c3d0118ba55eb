"""A diff as HTML with syntax highlighting (pygments' diff lexer), escaped by pygments.

The patch is board-adjacent text (a teammate's commits): pygments escapes every character
it writes, so no markup in a diff reaches the page as markup.
"""

from __future__ import annotations

#: The CSS class the highlighted diff's tokens are scoped under.
CSS_CLASS = "hl"


def diff_html(patch: str) -> str:
    """``patch`` (``git diff`` output) as a ``<div class="hl"><pre>...</pre></div>`` HTML
    string, each line's tokens classed by pygments (see :func:`css`); "" for an empty patch."""
    if not patch:
        return ""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import DiffLexer

    return highlight(patch, DiffLexer(), HtmlFormatter(cssclass=CSS_CLASS))


def css() -> str:
    """The style sheet of the highlighted diff's classes (pygments' ``default`` style)."""
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(cssclass=CSS_CLASS, style="default").get_style_defs(f".{CSS_CLASS}")


__all__ = ["diff_html", "css", "CSS_CLASS"]
