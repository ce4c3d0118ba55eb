"""Board text made safe for a terminal or a log: the one escaping function, :func:`safe`.

Subjects, descriptions, messages, names, notes, commit subjects and results are data that
anyone with push access writes. Printed raw, a control character is an instruction to the
terminal: ``ESC ] 0 ; ... BEL`` sets the window title, ``ESC [ 2 J`` clears the screen,
``CR`` and backspace overwrite what a line showed, a C1 ``CSI`` (U+009B) starts a sequence
without ``ESC``, and a newline in a log line forges the next line. :func:`safe` shows each such
character as a visible escape instead, so the text reads as typed and does nothing:

=========================================  ============================================
characters                                 shown as
=========================================  ============================================
``\\t`` ``\\n`` ``\\r``                        ``\\t`` ``\\n`` ``\\r`` (newline and tab kept with
                                           ``multiline=True``)
other C0 controls, DEL, C1 (U+0080-009F)   ``\\xHH`` (ESC is ``\\x1b``, CSI ``\\x9b``)
bidirectional controls (U+061C, U+200E,    ``\\uHHHH`` (they reorder what a line shows:
U+200F, U+202A-202E, U+2066-2069),         "Trojan Source", CVE-2021-42574)
line/paragraph separators (U+2028-2029),
lone surrogates (undecodable bytes)
=========================================  ============================================

Everything else, backslashes included, passes unchanged. Pure: no I/O, no rich. Where rich
renders, the result still goes in as :class:`rich.text.Text` (never parsed as markup).
"""

from __future__ import annotations

import re

#: Named escapes for the common C0 controls; every other escaped character is ``\xHH`` or ``\uHHHH``.
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}

#: Characters a terminal or a log reader could take as an instruction (see the module table).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")
_UNSAFE_MULTILINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                               "\u2028\u2029\ud800-\udfff]")


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    named = _NAMED.get(c)
    if named is not None:
        return named
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def safe(text: object, *, multiline: bool = False) -> str:
    """Return ``text`` (converted with ``str`` if it is not one) with every control character,
    bidirectional control and lone surrogate shown as a visible escape (see the module table).

    Args:
        multiline: keep newlines and tabs (a description, a message body shown as a block);
            by default they are escaped too, so the result is one line (a table cell, a log line).

    Returns:
        The escaped text; the same string when there was nothing to escape.
    """
    s = text if isinstance(text, str) else str(text)
    return (_UNSAFE_MULTILINE if multiline else _UNSAFE).sub(_escape, s)



#: What ``json.dumps(..., ensure_ascii=False)`` leaves raw that a terminal could act on: DEL,
#: C1, bidirectional controls, line/paragraph separators and lone surrogates (C0 it escapes).
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")

#: The same characters in UTF-8 (lone surrogates cannot occur in valid UTF-8).
_UNSAFE_IN_JSON_UTF8 = re.compile(b"\x7f|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]")


def safe_json(text: str) -> str:
    """Return the JSON document ``text`` (as ``json.dumps(..., ensure_ascii=False)`` writes it) with
    the characters of the module table that it leaves raw written as ``\\uHHHH`` escapes.

    The result decodes to the same value: outside strings a JSON document is ASCII, so
    every such character is inside a string, where ``\\uHHHH`` means that very character.
    """
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def safe_json_utf8(data: bytes | memoryview) -> bytes | memoryview:
    """:func:`safe_json` for a UTF-8 encoded JSON document or piece of one; ``data`` itself when
    there is nothing to escape (the common case costs one scan, no copy)."""
    if _UNSAFE_IN_JSON_UTF8.search(data) is None:
        return data
    return _UNSAFE_IN_JSON_UTF8.sub(lambda m: f"\\u{ord(m.group().decode()):04x}".encode(), bytes(data))


__all__ = ["safe", "safe_json", "safe_json_utf8"]
