"""Text shown to a person: secrets redacted, control characters escaped, length bounded.

One reason to change: how server text and secrets may appear in messages, logs and widgets. A leaf
module: it imports nothing from the package, so the exceptions can use it.
"""

from __future__ import annotations

import functools
import re
import threading
import weakref
from typing import Any

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "protect", "redact", "safe_text"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named is not None:
        return named
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def safe_text(value: object, limit: int = 300) -> str:
    """Text made safe to show a person: secrets redacted, control characters escaped, at most ``limit`` characters.

    The client secret and access tokens become ``***`` (:func:`redact`, before anything is cut, so
    no prefix of one survives); terminal escapes (``ESC``, ``BEL``, ``CR``), line breaks and
    bidirectional overrides become visible escapes (``\\x1b``); longer text is cut with ``…``. Every
    server text quoted in an exception passes through here, and so does every error line the CLI
    and the explorer show.
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit * 40:
        text = text[: limit * 40]
    text = redact(text)
    if len(text) > limit * 4:
        text = text[: limit * 4]
    text = _CONTROL.sub(_escape, text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- secrets never shown ----------------------------------------------------------------------------

#: What a secret becomes in any text shown.
REDACTED = "***"
#: Shorter values are not redacted: they cannot be told from ordinary words.
MIN_SECRET_LENGTH = 4
#: id(owner) -> (a weak reference to the owner, the value). Keyed by identity, not equality: a
#: WeakKeyDictionary keeps the first of two equal keys, and dropped the second owner's value when
#: the first (an equal Secret of other, discarded settings) was collected.
_PROTECTED: dict[int, tuple[weakref.ref[Any], str]] = {}
_PROTECTED_LOCK = threading.RLock()  # re-entrant: a collected owner's callback may run inside redact()
_JSON_SHORT = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HTML_NAMED = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}


def protect(owner: object, value: str) -> None:
    """Redact ``value`` from every text shown for as long as ``owner`` lives.

    ``Settings`` protect their client secret, the token manager each access token it holds.
    """
    if len(value) < MIN_SECRET_LENGTH:
        return
    key = id(owner)

    def forget(ref: weakref.ref[Any]) -> None:
        with _PROTECTED_LOCK:
            if _PROTECTED.get(key, (None,))[0] is ref:
                del _PROTECTED[key]

    with _PROTECTED_LOCK:
        _PROTECTED[key] = (weakref.ref(owner, forget), value)
    _value_patterns(value)  # compiled now, not inside the first error of a busy walk


def redact(text: str) -> str:
    """``text`` with every protected value (:func:`protect`) replaced by ``***``.

    A value is found as it is and in the forms a server may echo it in: URL-encoded (``%2F``, ``+``
    for a space, either case), JSON-escaped (``\\"``, ``\\/``, ``\\u00fc``, as .NET escapes ``+`` and
    ``&``), HTML-escaped, and in any mix of these, case-insensitively (a host name is lower-cased).
    Linear in the length of ``text``.
    """
    with _PROTECTED_LOCK:
        # a snapshot first (dict.copy runs without a collection in between): building the set
        # allocates, a collection may free an owner, and its callback (same thread, re-entrant lock)
        # deletes from _PROTECTED; iterating the dict itself then raised "changed size during iteration"
        entries = _PROTECTED.copy()
    live = {value for ref, value in entries.values() if ref() is not None}
    if not live or not text:
        return text
    for value in sorted(live, key=lambda v: (-len(v), v)):  # longest first: a value inside another
        for pattern in _value_patterns(value):
            text = pattern.sub(REDACTED, text)
    return text


@functools.lru_cache(maxsize=32)
def _value_patterns(value: str) -> tuple[re.Pattern[str], ...]:
    # each character is one atomic group of its spellings, so a match never backtracks (linear);
    # two orders of the spellings, so a plain character and an escape starting with it both match
    plain_first = "".join(_char_group(c, plain_first=True) for c in value)
    escapes_first = "".join(_char_group(c, plain_first=False) for c in value)
    return re.compile(plain_first, re.IGNORECASE), re.compile(escapes_first, re.IGNORECASE)


def _char_group(char: str, *, plain_first: bool) -> str:
    if char.isascii() and char.isalnum():
        return char  # no encoding escapes letters or digits: a plain character (a JWT compiles fast)
    code = ord(char)
    escapes = [
        "".join(f"\\u{unit:04x}" for unit in _utf16_units(code)),
        "".join(f"%{byte:02x}" for byte in char.encode("utf-8", "surrogatepass")),
        f"&#{code};",
        f"&#x{code:x};",
    ]
    escapes += [e for e in (_JSON_SHORT.get(char), _HTML_NAMED.get(char), "+" if char == " " else None) if e]
    spellings = [char, *escapes] if plain_first else [*escapes, char]
    return "(?>" + "|".join(re.escape(s) for s in dict.fromkeys(spellings)) + ")"


def _utf16_units(code: int) -> tuple[int, ...]:
    if code < 0x10000:
        return (code,)
    code -= 0x10000
    return (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))
