"""Reading answers: bounded JSON bodies with Unicode repair, error bodies in every shape, ``Retry-After``.

No sending here: the transport hands over status, headers and body bytes (already read under the
size limit and the deadline); these functions say what they mean. Every rule about the *content* of
an answer lives here, once:

- **Text** (:func:`decode_text`): UTF-8 whenever the body is UTF-8, whatever charset is declared;
  else the declared charset; else invalid bytes become U+FFFD, counted.
- **JSON** (:func:`decode_json`): orjson, or the standard library where the two could differ; nesting
  deeper than :data:`MAX_JSON_DEPTH` is refused (``ValueError``, never ``RecursionError``); text that
  is not valid Unicode (invalid UTF-8 bytes, lone surrogate escapes such as a name cut in the middle
  of an emoji) is repaired to U+FFFD and counted.
- **Error bodies** (:func:`parse_error_body`): the documented envelope, OAuth 2.0 errors, RFC 7807
  problem details, HTML pages and plain text; every text taken from a server is cut to
  :data:`MAX_SERVER_TEXT` characters with control characters escaped (:func:`server_text`), so an
  exception message can neither be 200 MB long nor move a terminal's cursor.
- **Numbers** (:func:`plain_number`): a count, page number, lifetime or delay is a plain JSON
  number or ASCII digits; ``True``, ``"١٢٣"``, ``"１２"``, ``"1_000"``, ``" 12 "`` are refused.
- **Retry-After** (:func:`parse_retry_after`): seconds or an HTTP date; zero, negative and garbage
  mean "not given".
- **Deadlines and size limits** (:class:`Deadline`, :func:`read_body`): a total time per attempt,
  enforced by one watchdog, and a cap on the bytes read.

Modules: :mod:`.decoding` (JSON), :mod:`.errors` (error answers, Retry-After, server text),
:mod:`.deadlines` (time and size bounds).
"""

from __future__ import annotations

from .deadlines import BodyTooLarge, Deadline, DeadlineAdapter, read_body
from .decoding import MAX_JSON_DEPTH, Decoded, declared_charset, decode_json, decode_text, json_depth
from .errors import MAX_SERVER_TEXT, error_from_answer, parse_error_body, parse_retry_after, server_text
from .numbers import NotPlainNumber, plain_number

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_SERVER_TEXT",
    "BodyTooLarge",
    "Deadline",
    "DeadlineAdapter",
    "Decoded",
    "NotPlainNumber",
    "declared_charset",
    "decode_json",
    "decode_text",
    "error_from_answer",
    "json_depth",
    "parse_error_body",
    "parse_retry_after",
    "plain_number",
    "read_body",
    "server_text",
]
