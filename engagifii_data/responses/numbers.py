"""Numbers in answers: plain ASCII JSON numbers (or ASCII digit strings), read by one parser.

Python's ``int()`` and ``float()`` are generous: they accept Arabic-Indic (``"١٢٣"``) and fullwidth
(``"１２"``) digits, underscores (``"1_000"``), surrounding whitespace (``" 12 "``), ``"nan"`` and
``"inf"``; and ``True`` is an ``int``. A count, a page number, a lifetime or a delay that arrives in
one of those shapes is not what the contract allows, so :func:`plain_number` refuses it with a
reason, and each caller turns the refusal into its own error (``PaginationError`` for a total,
``AuthenticationError`` for ``expires_in`` ...).
"""

from __future__ import annotations

import contextlib
import math
import re
from typing import Any

#: What a number written as a string may look like: ASCII digits, with a fraction where allowed.
_DIGITS = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
#: Longest digit string read (a count beyond 10**30 is absurd; ``int()`` of a huge string is slow).
MAX_DIGITS = 30


class NotPlainNumber(ValueError):
    """A value that is not a plain ASCII JSON number.

    Attributes
    ----------
    value : Any
        The value refused.
    disguised : bool
        True when Python's ``int()``/``float()`` would have read it as a finite number (``True``,
        ``"١٢٣"``, ``"1_000"``, ``" 12 "``, ``12.5`` where a whole number is needed): a malformed
        number, not merely a missing one.
    reading : float or None
        What ``float()`` would have made of it, when ``disguised``.
    """

    def __init__(self, what: str, value: Any, reason: str, *, disguised: bool) -> None:
        self.value = value
        self.disguised = disguised
        self.reading: float | None = None
        if disguised:
            with contextlib.suppress(TypeError, ValueError):
                self.reading = float(value)
        text = repr(value)
        if len(text) > 60:
            text = text[:59] + "…"
        super().__init__(f"{what} is not a number: {text} ({reason})")


def plain_number(value: Any, what: str, *, whole: bool = False, fraction_in_strings: bool = False) -> int | float:
    """``value`` as a number if it is a plain JSON number, or a plain ASCII digit string.

    Parameters
    ----------
    value : Any
        A decoded JSON value (or header text).
    what : str
        Its name in the message (``"total count"``, ``"expires_in"``).
    whole : bool
        Require a whole number (a float such as ``12.0`` is accepted and returned as ``12``).
    fraction_in_strings : bool
        Let a string carry a decimal fraction (``"1.5"``, as ``Retry-After`` may).

    Returns
    -------
    int or float
        An ``int`` for integers and digit strings without a fraction, else a finite ``float``.

    Raises
    ------
    NotPlainNumber
        ``bool``, a non-finite float, a fraction where a whole number is needed, a string with
        anything but ASCII digits (signs, spaces, underscores, other scripts' digits, exponents),
        more than :data:`MAX_DIGITS` digits, or any other type.
    """
    if isinstance(value, bool):
        raise NotPlainNumber(what, value, "true or false", disguised=True)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotPlainNumber(what, value, "infinite or NaN", disguised=False)
        if whole:
            if not value.is_integer():
                raise NotPlainNumber(what, value, "a fraction where a whole number is needed", disguised=True)
            return int(value)
        return value
    if isinstance(value, str):
        pattern = _DECIMAL if fraction_in_strings and not whole else _DIGITS
        if len(value) <= MAX_DIGITS and pattern.fullmatch(value):
            return float(value) if "." in value else int(value)
        if len(value) > MAX_DIGITS and _DIGITS.fullmatch(value):
            raise NotPlainNumber(what, value, f"more than {MAX_DIGITS} digits", disguised=True)
        return _refuse_string(what, value)
    raise NotPlainNumber(what, value, f"a JSON {_json_type(value)}", disguised=False)


def _refuse_string(what: str, value: str) -> int:
    """Raise for a string that is not plain digits, saying what Python would have let through."""
    if not value.isascii() and any(c.isdigit() for c in value):
        reason, disguised = "digits other than ASCII 0-9", True
    elif "_" in value:
        reason, disguised = "underscores", True
    elif value != value.strip():
        reason, disguised = "surrounding whitespace", True
    else:
        try:
            number = float(value)
        except ValueError:
            reason, disguised = "not ASCII digits", False
        else:
            disguised = math.isfinite(number)
            reason = "a sign, an exponent or a fraction" if disguised else "infinite or NaN"
    raise NotPlainNumber(what, value, reason, disguised=disguised)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
