"""JSON bodies: orjson where it is exact, the standard library elsewhere; depth limited; Unicode repaired."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from ..text import repair_text

#: Deepest JSON nesting accepted (an event is about 4 levels deep; orjson's own limit is 1024).
MAX_JSON_DEPTH = 64


@dataclass(frozen=True)
class Decoded:
    """A decoded JSON body.

    Attributes
    ----------
    data : Any
        The JSON value.
    repaired : int
        Places where text was not valid Unicode and became U+FFFD (0 for a clean body).
    """

    data: Any
    repaired: int = 0


# -- JSON ----------------------------------------------------------------------------------------

#: ``bytes.translate`` table: digits -> ``0``, everything else -> space (finds long digit runs fast).
_DIGIT_MAP: bytes = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
#: 19 digits: the shortest integer literal that can fall outside orjson's 64-bit integers.
_LONG_DIGIT_RUN: bytes = b"0" * 19
#: A JSON string literal (escapes included), removed before counting brackets. Possessive
#: quantifiers and an unterminated literal running to the end of the body keep this linear: a body
#: of ``"\\`` repeated (every quote escaped, none closing) used to be rescanned from every quote.
_STRING_LITERAL = re.compile(rb'"(?:[^"\\]++|\\[\s\S]?)*+(?:"|\Z)')
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")  # every byte but the brackets, to delete
_DEPTH_STEP = np.zeros(256, dtype=np.int8)
_DEPTH_STEP[[ord("["), ord("{")]] = 1
_DEPTH_STEP[[ord("]"), ord("}")]] = -1

#: Charsets whose bodies :func:`json.loads` reads from bytes itself.
_UNICODE_CHARSETS: frozenset[str] = frozenset(
    {"utf-8", "utf8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "ascii", "us-ascii"}
)


def json_depth(body: bytes) -> int:
    """The deepest bracket nesting of a JSON text (strings ignored), in a few C-level passes."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # cannot be deeper than the limit: skip the scan (the usual case for small bodies)
    brackets = _STRING_LITERAL.sub(b"", body).translate(None, _BRACKETS)
    if not brackets:
        return 0
    steps = _DEPTH_STEP[np.frombuffer(brackets, dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int64).max())


def decode_json(body: bytes, encoding: str | None = None) -> Decoded:
    """Decode a JSON body: orjson, or the standard library where the two could differ.

    ``encoding`` is the ``charset`` the answer's ``Content-Type`` declares, if any
    (:func:`declared_charset`). JSON is UTF-8 (RFC 8259), and UTF-8/16/32 bodies are recognised by
    :func:`json.loads` itself; a server that declares another charset (``iso-8859-1``) gets its body
    decoded with it first. An unknown charset is ignored.

    orjson is about 3x faster on a 100-row page. It refuses ``NaN``/``Infinity``, ``1e400``, a UTF-8
    BOM, invalid UTF-8 and lone surrogate escapes, which the standard library reads, and it silently
    turns integers beyond 64 bits into floats (losing digits). So a body with a run of 19 or more
    digits, or one orjson refuses, is decoded by the standard library: the result never depends on
    the fast path. On that path invalid UTF-8 bytes and lone surrogates become U+FFFD, counted in
    :attr:`Decoded.repaired`.

    Raises
    ------
    ValueError
        The body is not JSON, or nests deeper than :data:`MAX_JSON_DEPTH`.
    """
    if json_depth(body) > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    if encoding is not None and encoding.lower().replace("_", "-") not in _UNICODE_CHARSETS:
        try:
            text = body.decode(encoding, errors="replace")
        except LookupError:
            pass  # an unknown charset: read the bytes as JSON
        else:
            return _standard(text, 0)
    if _LONG_DIGIT_RUN not in body.translate(_DIGIT_MAP):
        try:
            return Decoded(orjson.loads(body))
        except orjson.JSONDecodeError:
            pass
    try:
        return _standard(body, 0)
    except UnicodeDecodeError:
        # invalid UTF-8 (a multibyte character cut in two): repair the bytes, count the repairs
        text = body.decode("utf-8", errors="replace")
        broken = text.count("\ufffd") - body.count("\ufffd".encode())
        return _standard(text, broken)


def _standard(text: str | bytes, repaired: int) -> Decoded:
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep") from None
    data, surrogates = repair_text(data)
    return Decoded(data, repaired + surrogates)


_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)


def declared_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a ``Content-Type`` header, or None when it declares none."""
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None
