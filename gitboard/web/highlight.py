"""A diff as HTML with syntax highlighting, escaped by pygments.

Each file's lines are highlighted in the file's language (pygments' lexer for its name,
plain text when none fits), one hunk at a time so that a multi-line string or comment
keeps its colour; each line then carries its diff mark (``+``, ``-``, space) and a class
(``add``, ``del``, ``ctx``). The headers (``diff --git``, ``@@ ... @@``) are classed too.
Every character of the patch -- a teammate's commits -- goes through pygments' or
:func:`html.escape`'s escaping: no markup in a diff reaches the page as markup.
"""

from __future__ import annotations

from html import escape

#: The CSS class the highlighted diff's tokens are scoped under.
CSS_CLASS = "hl"
#: Largest patch highlighted by language (characters); a bigger one is shown with diff colours only.
MAX_LEXED = 400_000


def diff_html(patch: str) -> str:
    """``patch`` (``git diff`` output) as ``<div class="hl"><pre>...</pre></div>``: one line of
    HTML per patch line, code tokens classed by pygments (see :func:`css`), lines classed
    ``add``, ``del``, ``ctx``, ``file``, ``hunk`` or ``meta``; "" for an empty patch."""
    if not patch:
        return ""
    out: list[str] = []
    lexer = None
    hunk: list[tuple[str, str]] = []  # (mark, code) of the current hunk's lines

    def flush() -> None:
        if hunk:
            out.extend(_hunk_html(hunk, lexer, len(patch) <= MAX_LEXED))
            hunk.clear()

    for line in patch.split("\n"):
        if line.startswith("diff --git "):
            flush()
            lexer = _lexer_for(line.rsplit(" b/", 1)[-1])
            out.append(f'<span class="file">{escape(line)}</span>')
        elif line.startswith("@@"):
            flush()
            out.append(f'<span class="hunk">{escape(line)}</span>')
        elif line[:1] in ("+", "-", " ") and not line.startswith(("+++ ", "--- ")):
            hunk.append((line[0], line[1:]))
        elif line.startswith("\\"):
            flush()
            out.append(f'<span class="meta">{escape(line)}</span>')
        elif line:
            flush()
            out.append(f'<span class="meta">{escape(line)}</span>')
    flush()
    return f'<div class="{CSS_CLASS}"><pre>' + "".join(out) + "</pre></div>"  # each line is a block


def _lexer_for(path: str):
    from pygments.lexers import TextLexer, get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        return get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


def _hunk_html(lines: list[tuple[str, str]], lexer, lex: bool) -> list[str]:
    """HTML of one hunk's lines: the code highlighted as one text, then split back into lines."""
    codes = [code for _, code in lines]
    if lex and lexer is not None:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter

        html = highlight("\n".join(codes) + "\n", lexer, HtmlFormatter(nowrap=True))
        rendered = html.split("\n")[:len(codes)]
        if len(rendered) != len(codes):
            rendered = [escape(c) for c in codes]
    else:
        rendered = [escape(c) for c in codes]
    kind = {"+": "add", "-": "del", " ": "ctx"}
    return [f'<span class="{kind[mark]}"><span class="mark">{escape(mark)}</span>{html}</span>'
            for (mark, _), html in zip(lines, rendered)]


def css() -> str:
    """The style sheet of the highlighted diff: pygments' ``default`` style for the code tokens,
    and the line classes."""
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(cssclass=CSS_CLASS, style="default").get_style_defs(f".{CSS_CLASS}") + """
.hl pre > span { display: block; }
.hl .add { background: #e6ffec; } .hl .del { background: #ffebe9; }
.hl .mark { display: inline-block; width: 1.2em; color: #6e7781; user-select: none; }
.hl .file { font-weight: 600; color: #0a3069; background: #f6f8fa; margin-top: 6px; }
.hl .hunk { color: #8250df; background: #fbefff; } .hl .meta { color: #6e7781; }
"""


__all__ = ["diff_html", "css", "CSS_CLASS", "MAX_LEXED"]
