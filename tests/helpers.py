"""Helpers shared by the test modules (no fixtures here: they live in ``conftest.py``).

- :class:`SleepRecorder`, the ``sleep`` that records retry waits;
- :func:`shared_sandbox`, the one sandbox the ``sb`` fixture resets before each test;
- the sandbox over plain HTTP (:func:`get_token`, :func:`post_list`, :func:`assert_envelope`, ...);
- the cassette machinery: :func:`make_vcr` (the one VCR configuration), :func:`replay_cassette`,
  the scrubbing hooks, :func:`capture_requests`;
- the secret scan (:func:`scan_text`).

The cassette machinery
----------------------
:func:`make_vcr` builds the only VCR configuration; :data:`VCR` is its replay instance and the
recorder (``python -m tests.record_cassettes``, ``make cassettes``) calls ``make_vcr("all", ...)``.

- ``record_mode`` ``"none"`` by default: tests never record, a request missing from a cassette fails.
- ``match_on``: method, scheme, host, port, path, query, plus :func:`body_matcher` (JSON bodies
  compared as data: key order does not matter, ``1``/``1.0``/``true`` stay distinct; form bodies as
  parsed dicts without the scrubbed ``client_secret``) and :func:`routing_headers_matcher`
  (``tenant-code`` and ``api-version``: tenant isolation is by header alone). So the page number,
  page size, filters and tenant of every list request are part of the match.
- ``decode_compressed_response=True``; cassettes are YAML with decoded, pretty-printed JSON bodies
  (multi-line strings as literal blocks, non-ASCII kept as is) via the ``engagifii-yaml`` serializer.
- Secrets: the ``Authorization``, ``Proxy-Authorization`` and ``Cookie`` request headers are
  dropped; :func:`scrub_request` replaces the ``client_secret`` form field with
  :data:`REDACTED_SECRET`; the response hook drops ``Set-Cookie`` and replaces ``access_token``
  (and ``refresh_token``/``id_token``) in token responses with :data:`REDACTED_TOKEN`, re-serialising
  the JSON so it stays valid.
- Host: every request URI is rewritten to :data:`REPLAY_ORIGIN` (``http://localhost:9``),
  so the sandbox's random port (or a real tenant's environment host) never reaches a cassette, and
  replays use Settings pointing there. ``localhost`` is loopback, so :class:`Settings` accepts plain
  ``http://`` for it; if a request ever escaped vcrpy it would go to the discard port of the local
  machine, never to a remote host.
- Determinism: ``Date`` and ``Server`` response headers and the volatile transport request
  headers (``Accept-Encoding``, ``Connection``, ``Content-Length``) are dropped; the sandbox's random
  request ids (``X-Request-Id`` and the error body's ``traceId``) are renumbered per cassette
  (``000…001``, ``000…002``, …) and error ``timestamp`` fields fixed. The hooks are idempotent
  because vcrpy runs them again when it loads a cassette.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
import vcr
import yaml
from vcr.cassette import Cassette
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

from engagifii_data import sandbox
from engagifii_data.config import Settings
from engagifii_data.sandbox.constants import TIME_ZONES


class SleepRecorder:
    """A ``sleep`` for ``EngagifiiClient(..., sleep=...)``: records the waits asked for, in seconds.

    Retry-After and backoff waits are asserted, not timed: it really sleeps at most ``cap`` seconds
    per call (0 = never), so retries cost nothing but still let other threads run.
    """

    def __init__(self, cap: float = 0.0) -> None:
        self.cap = cap
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
        if self.cap > 0:
            time.sleep(min(seconds, self.cap))


# -- the one shared sandbox ------------------------------------------------------------------------

_SHARED: list[Any] = []
_SHARED_LOCK = threading.Lock()


def shared_sandbox() -> Any:
    """The session's one running sandbox (started on first use; a daemon thread ends with pytest).

    The ``sb`` fixture resets it before every test (seeded data, default faults, empty log).
    """
    with _SHARED_LOCK:
        if not _SHARED:
            context = sandbox.run()
            _SHARED.append(context.__enter__())
            _SHARED.append(context)
        return _SHARED[0]


# -- the sandbox over plain HTTP (for the sandbox's own contract tests) -----------------------------

LIST = "/api/1.0/event/list"
TRACE_RE = re.compile(r"^[0-9a-f]{32}$")
STAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ENVELOPE_KEYS = {"code", "message", "details", "timestamp", "traceId", "path", "method"}
#: The keys of a session (``eventDates`` item) as the live API sends them (engagifii-api.md).
SESSION_KEYS = frozenset(
    {
        "id",
        "name",
        "addressLine",
        "city",
        "state",
        "zip",
        "country",
        "latitude",
        "longitude",
        "sessionStartTime",
        "sessionEndTime",
        "sessionDay",
    }
)


def get_token(sb: Any, **form: str) -> str:
    data = {
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "grant_type": "client_credentials",
        "scope": "EventsApi",
        **form,
    }
    r = requests.post(sb.identity_url + "/connect/token", data=data, timeout=10)
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def headers(token: str, tenant: str | None = "ACME", **extra: str) -> dict[str, str]:
    h = {"Authorization": f"Bearer {token}", "api-version": "1.0", "Content-Type": "application/json"}
    if tenant is not None:
        h["tenant-code"] = tenant
    h.update(extra)
    return h


def post_list(
    sb: Any, token: str, body: Any = None, tenant: str | None = "ACME", *, raw: bytes | str | None = None, **extra: str
) -> requests.Response:
    payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
    return requests.post(sb.api_url + LIST, headers=headers(token, tenant, **extra), data=payload, timeout=10)


def ids(response: requests.Response) -> list[str]:
    return [e["id"] for e in response.json()["collection"]]


def instant(value: str, tz_name: str | None) -> datetime:
    """Independent reading of a sandbox timestamp (7 fractional digits, Z, offsets, naive)."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$", value)
    assert m, value
    dt = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    if m.group(2):
        dt += timedelta(microseconds=int(m.group(2)[:6].ljust(6, "0")))
    zone = m.group(3)
    if zone == "Z":
        return dt.replace(tzinfo=UTC)
    if zone:
        sign = 1 if zone[0] == "+" else -1
        off = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) * sign
        return dt.replace(tzinfo=timezone(off)).astimezone(UTC)
    return dt.replace(tzinfo=timezone(timedelta(minutes=TIME_ZONES[tz_name or "UTC"]))).astimezone(UTC)


def assert_envelope(
    r: requests.Response, status: int, code: str, path: str = LIST, method: str = "POST"
) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}
    err: dict[str, Any] = body["error"]
    assert set(err) == ENVELOPE_KEYS
    assert err["code"] == code
    assert TRACE_RE.match(err["traceId"])
    assert STAMP_RE.match(err["timestamp"])
    assert err["path"] == path and err["method"] == method
    assert r.headers["X-Request-Id"] == err["traceId"]
    return err


# -- cassettes --------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
#: Where the cassettes live (named after the tests that replay them).
CASSETTES = ROOT / "cassettes"
#: Recordings of a real tenant (``ENGAGIFII_RECORD_REAL=1 make cassettes``).
REAL_CASSETTES = CASSETTES / "real"
#: Every recorded request URI is rewritten to this origin; replays point Settings at it.
REPLAY_ORIGIN = "http://localhost:9"
#: What the ``client_secret`` form field is replaced with: nothing. An empty value cannot be mistaken
#: for a secret by any scanner (a placeholder such as "client_secret-REDACTED" is secret-shaped).
REDACTED_SECRET = ""
#: What ``access_token`` (and other tokens) in token responses are replaced with.
REDACTED_TOKEN = "access-token-REDACTED"
#: Fixed value for volatile ``timestamp`` fields of error bodies (the sandbox's clock).
FIXED_TIMESTAMP = "2026-11-01T12:00:00.000Z"
#: Form fields that carry secrets (scrubbed when recording, ignored when matching).
SECRET_FORM_FIELDS = ("client_secret",)
#: Token response fields that carry secrets.
SECRET_TOKEN_FIELDS = ("access_token", "refresh_token", "id_token")
#: Request headers never recorded: credentials, and transport details that vary by machine.
DROPPED_REQUEST_HEADERS = ("Authorization", "Proxy-Authorization", "Cookie")
VOLATILE_REQUEST_HEADERS = ("Accept-Encoding", "Connection", "Content-Length", "Host")
#: Response headers never recorded: cookies, and values that change on every run.
DROPPED_RESPONSE_HEADERS = ("set-cookie", "date", "server")
#: Request headers that select what the API answers, so they are part of the match.
ROUTING_HEADERS = ("tenant-code", "api-version")
#: Response headers that carry a per-request trace id (renumbered when recording).
TRACE_HEADERS = ("x-request-id",)
_NORMALISED_TRACE = re.compile(r"^0{16}[0-9a-f]{16}$")


# -- request side -------------------------------------------------------------------------------


def _body_text(body: Any) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes | bytearray):
        try:
            return bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return str(body)


def _is_form(request: Request, text: str) -> bool:
    content_type = str(request.headers.get("Content-Type") or "")
    if "x-www-form-urlencoded" in content_type:
        return True
    return not content_type and "=" in text and not text.lstrip().startswith(("{", "["))


def scrub_request(request: Request) -> Request:
    """``before_record_request``: fixed origin, no secret form fields, no volatile headers.

    vcrpy hands this hook a copy of the request (when recording, when loading a cassette and
    before matching a live request), so it may modify it; it is idempotent.
    """
    parts = urlsplit(request.uri)
    origin = urlsplit(REPLAY_ORIGIN)
    request.uri = parts._replace(scheme=origin.scheme, netloc=origin.netloc).geturl()
    for name in VOLATILE_REQUEST_HEADERS:
        request.headers.pop(name, None)
    text = _body_text(request.body)
    if text and _is_form(request, text):
        pairs = parse_qsl(text, keep_blank_values=True)
        if any(k in SECRET_FORM_FIELDS for k, _ in pairs):
            scrubbed = [(k, REDACTED_SECRET if k in SECRET_FORM_FIELDS else v) for k, v in pairs]
            request.body = urlencode(scrubbed).encode("utf-8")
    return request


def _parsed_body(request: Request) -> tuple[str, Any]:
    """``(kind, value)`` used by :func:`body_matcher`: json, form (dict of lists), raw or empty."""
    raw = request.body
    if raw in (None, b"", ""):
        return "empty", None
    text = _body_text(raw)
    if text is None:
        return "raw", raw
    try:
        return "json", json.loads(text)
    except ValueError:
        pass
    if _is_form(request, text):
        form: dict[str, list[str]] = {}
        for key, value in parse_qsl(text, keep_blank_values=True):
            if key not in SECRET_FORM_FIELDS:
                form.setdefault(key, []).append(value)
        return "form", form
    return "raw", text


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _differences(sent: Any, recorded: Any, prefix: str = "") -> list[str]:
    if isinstance(sent, dict) and isinstance(recorded, dict):
        out = []
        for key in sorted(set(sent) | set(recorded), key=str):
            here = f"{prefix}{key}"
            if key not in recorded:
                out.append(f"{here}: sent {_canonical(sent[key])}, not in the recording")
            elif key not in sent:
                out.append(f"{here}: not sent, recorded {_canonical(recorded[key])}")
            elif _canonical(sent[key]) != _canonical(recorded[key]):
                out.extend(_differences(sent[key], recorded[key], here + "."))
        return out
    return [f"{prefix.rstrip('.') or 'body'}: sent {_canonical(sent)}, recorded {_canonical(recorded)}"]


def body_matcher(r1: Request, r2: Request) -> None:
    """vcrpy matcher: the bodies carry the same data (JSON or form), whatever the key order.

    Raises ``AssertionError`` naming the differing fields (vcrpy shows it in its report).
    """
    kind1, value1 = _parsed_body(r1)
    kind2, value2 = _parsed_body(r2)
    if kind1 != kind2:
        raise AssertionError(f"body kinds differ: sent {kind1}, recorded {kind2}")
    if kind1 in ("json", "form"):
        if _canonical(value1) != _canonical(value2):
            raise AssertionError("body differs: " + "; ".join(_differences(value1, value2)))
    elif value1 != value2:
        raise AssertionError("body differs")


def routing_headers_matcher(r1: Request, r2: Request) -> None:
    """vcrpy matcher: same ``tenant-code`` and ``api-version`` headers (absent == absent)."""
    for name in ROUTING_HEADERS:
        sent, recorded = r1.headers.get(name), r2.headers.get(name)
        if sent != recorded:
            raise AssertionError(f"header {name} differs: sent {sent!r}, recorded {recorded!r}")


# -- response side ------------------------------------------------------------------------------


def _header(headers: dict[str, list[str]], name: str) -> tuple[str, list[str]] | None:
    for key, values in headers.items():
        if key.lower() == name:
            return key, values
    return None


def make_response_scrubber() -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A ``before_record_response`` hook with its own trace-id counter (one per cassette).

    Drops cookies, ``Date`` and ``Server``; replaces tokens in token responses; renumbers trace ids
    (header and body) and fixes error timestamps; pretty-prints JSON bodies and fixes
    ``Content-Length``. Idempotent: already normalised values are left alone.
    """
    counter = itertools.count(1)
    lock = threading.Lock()

    def scrub(response: dict[str, Any]) -> dict[str, Any]:
        headers: dict[str, list[str]] = {
            k: list(v) for k, v in response.get("headers", {}).items() if k.lower() not in DROPPED_RESPONSE_HEADERS
        }
        renames: dict[str, str] = {}
        for name in TRACE_HEADERS:
            found = _header(headers, name)
            if found is None:
                continue
            key, values = found
            new_values = []
            for value in values:
                if not _NORMALISED_TRACE.match(value):
                    with lock:
                        renames.setdefault(value, f"{next(counter):032x}")
                    value = renames[value]
                new_values.append(value)
            headers[key] = new_values
        body = response.get("body", {}).get("string")
        text = _body_text(body)
        if text:
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            if isinstance(data, dict | list):
                data = _scrub_json(data, renames)
                new = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
                encoded = new.encode("utf-8")
                response["body"]["string"] = encoded if isinstance(body, bytes | bytearray) else new
                length = _header(headers, "content-length")
                if length is not None:
                    headers[length[0]] = [str(len(encoded))]
        response["headers"] = headers
        return response

    return scrub


def _scrub_json(data: Any, renames: dict[str, str]) -> Any:
    if isinstance(data, dict):
        for field in SECRET_TOKEN_FIELDS:
            if isinstance(data.get(field), str):
                data[field] = REDACTED_TOKEN
        for key in list(data):
            if key.lower() == "traceid" and isinstance(data[key], str) and data[key] in renames:
                data[key] = renames[data[key]]
        error = data.get("error")
        if isinstance(error, dict):
            if isinstance(error.get("timestamp"), str):
                error["timestamp"] = FIXED_TIMESTAMP
            _scrub_json(error, renames)
    return data


# -- YAML with readable bodies ------------------------------------------------------------------


class _CassetteDumper(yaml.SafeDumper):  # type: ignore[misc]  # PyYAML has no type information here
    """Multi-line strings (pretty-printed JSON bodies) as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_CassetteDumper.add_representer(str, _represent_str)


class ReadableYamlSerializer:
    """vcrpy serializer: YAML, sorted keys, unicode kept, bodies as literal blocks, no line folding."""

    @staticmethod
    def serialize(cassette_dict: dict[str, Any]) -> str:
        text: str = yaml.dump(cassette_dict, Dumper=_CassetteDumper, allow_unicode=True, width=100_000, sort_keys=True)
        return text

    @staticmethod
    def deserialize(cassette_string: str) -> Any:
        return yaml.load(cassette_string, Loader=yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader)


# -- the one VCR configuration ------------------------------------------------------------------


def make_vcr(record_mode: str = "none", *, library: Path | str = CASSETTES) -> vcr.VCR:
    """The project's VCR configuration (see the module docstring).

    Parameters
    ----------
    record_mode : str
        ``"none"`` (default; tests) or ``"all"`` / ``"new_episodes"`` (the recorder only).
    library : path
        Cassette directory (default ``cassettes/``).

    Returns
    -------
    vcr.VCR
        A fresh instance: its response hook numbers trace ids from 1, so use one per recording.
    """
    config = vcr.VCR(
        cassette_library_dir=str(library),
        path_transformer=vcr.VCR.ensure_suffix(".yaml"),
        serializer="engagifii-yaml",
        record_mode=record_mode,
        match_on=["method", "scheme", "host", "port", "path", "query", "json_body", "routing_headers"],
        decode_compressed_response=True,
        filter_headers=list(DROPPED_REQUEST_HEADERS),
        before_record_request=scrub_request,
        before_record_response=make_response_scrubber(),
    )
    config.register_serializer("engagifii-yaml", ReadableYamlSerializer())
    config.register_matcher("json_body", body_matcher)
    config.register_matcher("routing_headers", routing_headers_matcher)
    return config


#: The replay configuration every test uses (record mode "none").
VCR = make_vcr()


# -- replay helper with errors that explain themselves ------------------------------------------


class CassetteError(AssertionError):
    """A replay could not be served from its cassette."""


class CassetteMissingError(CassetteError):
    """The cassette file does not exist."""


class CassetteMismatchError(CassetteError):
    """The cassette exists but holds no (unplayed) recording of a request the code sent."""


def cassette_path(name: str | Path) -> Path:
    """``cassettes/<name>.yaml`` for a bare name; a path is returned as is (``.yaml`` added)."""
    path = Path(name)
    if not path.is_absolute() and path.parent == Path("."):
        path = CASSETTES / path
    return path if path.suffix == ".yaml" else path.with_name(path.name + ".yaml")


def _missing_message(path: Path) -> str:
    return (
        f"cassette missing: {path} does not exist. Run `make cassettes` "
        "(python -m tests.record_cassettes) to record it against the sandbox."
    )


def describe_request(request: Request) -> str:
    """Method, URI, routing headers and body of a (scrubbed) request, for error messages."""
    lines = [f"{request.method} {request.uri}"]
    for name in ROUTING_HEADERS:
        if request.headers.get(name) is not None:
            lines.append(f"  {name}: {request.headers.get(name)}")
    text = _body_text(request.body)
    if text:
        lines.append(f"  body: {text if len(text) <= 500 else text[:500] + '…'}")
    return "\n".join(lines)


def _mismatch_message(exc: CannotOverwriteExistingCassetteException, path: Path) -> str:
    cassette: Cassette = exc.cassette
    failed = cassette.filter_request(exc.failed_request) or exc.failed_request
    if exc.reason == "cassette_not_found" or not path.exists():
        return _missing_message(path)
    if exc.reason == "already_played":
        why = (
            "it matches a recording that was already replayed: the code sent this request more often "
            "than when the cassette was recorded"
        )
    else:
        why = "the cassette exists but lacks this request"
    lines = [
        f"no matching recording in cassette {path}: {why}.",
        f"cassette has {len(cassette)} recorded interactions, {sum(cassette.play_counts.values())} replayed.",
        "unmatched request:",
        "  " + describe_request(failed).replace("\n", "\n  "),
    ]
    similar = [s for s in exc.similar_requests if s[2]][:3]
    if similar:
        lines.append("closest recordings:")
        for stored, _ok, failures in similar:
            lines.append(f"  {stored.method} {stored.uri}")
            lines.extend(f"    {name}: {message}" for name, message in failures)
    lines.append(
        "If the requests changed on purpose, re-record with `make cassettes`; otherwise the code under test "
        "now sends something the recording never saw."
    )
    return "\n".join(lines)


def _vcr_error(exc: BaseException | None) -> CannotOverwriteExistingCassetteException | None:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, CannotOverwriteExistingCassetteException):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


#: Held while vcrpy has put the real connection classes back, and while a pool makes a connection.
_VCR_CLASSES_LOCK = threading.RLock()


@contextmanager
def vcr_thread_safe() -> Iterator[None]:
    """Make vcrpy safe for the walk's worker threads while a cassette is in use.

    vcrpy is not thread-safe where connections are made (kevin1024/vcrpy#212): to build or use a
    real connection it puts urllib3's real classes back for a moment (``vcr.patch.force_reset``),
    process-wide, and a pool in another thread that makes a connection in that moment gets a real
    one: in replay a request then goes to the network (``localhost:9``, connection refused, retried),
    in recording it is left out of the cassette. Here ``force_reset`` and every pool's
    ``_new_conn`` take one lock, so no connection is made while the real classes are back.
    """
    import vcr.patch
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    real_reset = vcr.patch.force_reset
    made = {cls: cls.__dict__["_new_conn"] for cls in (HTTPConnectionPool, HTTPSConnectionPool)}

    @contextmanager
    def locked_reset() -> Iterator[None]:
        with _VCR_CLASSES_LOCK, real_reset():
            yield

    def locked(new_conn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def _new_conn(self: Any) -> Any:
            with _VCR_CLASSES_LOCK:
                return new_conn(self)

        return _new_conn

    vcr.patch.force_reset = locked_reset
    for cls, new_conn in made.items():
        cls._new_conn = locked(new_conn)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        vcr.patch.force_reset = real_reset
        for cls, new_conn in made.items():
            cls._new_conn = new_conn  # type: ignore[method-assign]


@contextmanager
def replay_cassette(name: str | Path, *, require_all_played: bool = True) -> Iterator[Cassette]:
    """Replay ``cassettes/<name>.yaml`` (record mode ``none``) with errors that explain themselves.

    Raises
    ------
    CassetteMissingError
        The file does not exist (run ``make cassettes``).
    CassetteMismatchError
        A request has no unplayed recording (names the cassette, the request and its body), or,
        with ``require_all_played``, recordings were left unplayed (the code sent fewer requests).
    """
    path = cassette_path(name)
    if not path.is_file():
        raise CassetteMissingError(_missing_message(path))
    try:
        with vcr_thread_safe(), VCR.use_cassette(str(path)) as cassette:
            yield cassette
    except BaseException as exc:
        found = _vcr_error(exc)
        if found is None:
            raise
        raise CassetteMismatchError(_mismatch_message(found, path)) from exc
    if require_all_played and not cassette.all_played:
        unplayed = [
            describe_request(req) for i, (req, _resp) in enumerate(cassette.data) if cassette.play_counts[i] == 0
        ]
        raise CassetteMismatchError(
            f"cassette {path}: {len(unplayed)} recorded interactions were never replayed "
            "(the code sent fewer requests than when recorded):\n" + "\n".join(unplayed)
        )


def cassette_name_for(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node_name).strip("_")


def replay_settings_for(**overrides: Any) -> Settings:
    """Settings at :data:`REPLAY_ORIGIN` with the sandbox's canary credentials and tenants."""
    values: dict[str, Any] = {
        "client_id": sandbox.CLIENT_ID,
        "client_secret": sandbox.CLIENT_SECRET,
        "tenant_codes": tuple(sandbox.TENANTS),
        "identity_url": REPLAY_ORIGIN,
        "api_base_url": REPLAY_ORIGIN,
    }
    values.update(overrides)
    return Settings(**values)


# -- what was sent ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentRequest:
    """One request as ``requests`` sent it (headers as a plain dict, body as bytes or None)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@contextmanager
def capture_requests() -> Iterator[list[SentRequest]]:
    """Collect every request sent through ``requests`` (thread-safe) while the block runs."""
    log: list[SentRequest] = []
    lock = threading.Lock()
    original = requests.adapters.HTTPAdapter.send

    def send(self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
        entry = SentRequest(str(request.method), str(request.url), dict(request.headers), copy.copy(body))
        with lock:
            log.append(entry)
        return original(self, request, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
    try:
        yield log
    finally:
        requests.adapters.HTTPAdapter.send = original  # type: ignore[method-assign]


# -- the secret scan -------------------------------------------------------------------------------

#: (what, pattern): anything matching is a finding.
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("the sandbox's canary client secret", re.compile(re.escape(sandbox.CLIENT_SECRET))),
    ("a CANARY marker (canary secrets and tokens carry it)", re.compile(r"CANARY")),
    ("a JWT-shaped string (access token)", re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.")),
    ("a Bearer credential", re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{16,}")),
    (
        "an unredacted client_secret form field",
        re.compile(r"client_secret=(?!" + re.escape(REDACTED_SECRET) + r"(?:[&\s'\"]|$))[^&\s'\"]*"),
    ),
    (
        "an unredacted secret or token JSON field",
        re.compile(
            r"\"(?:client_secret|access_token|refresh_token|id_token)\"\s*:\s*\"(?!"
            + re.escape(REDACTED_TOKEN)
            + r"\")[^\"]*\""
        ),
    ),
    ("a recorded Authorization or Cookie header", re.compile(r"^\s*(?:Authorization|Cookie|Set-Cookie):", re.I | re.M)),
]


def configured_secret() -> str | None:
    """The client secret from the environment or ``.env``, if any (long enough to search for)."""
    value = os.environ.get("ENGAGIFII_CLIENT_SECRET")
    if not value:
        try:
            from dotenv import dotenv_values, find_dotenv
        except ImportError:  # pragma: no cover - python-dotenv is a dependency
            return None
        path = find_dotenv(usecwd=True)
        value = dotenv_values(path).get("ENGAGIFII_CLIENT_SECRET") if path else None
    return value if value and len(value) >= 8 else None


def scan_text(text: str, extra_secrets: tuple[str, ...] = ()) -> list[tuple[int, str]]:
    """``(line number, what)`` for every finding in ``text`` (1-based lines)."""
    findings: list[tuple[int, str]] = []
    patterns = PATTERNS + [("the configured client secret", re.compile(re.escape(s))) for s in extra_secrets if s]
    for what, pattern in patterns:
        for match in pattern.finditer(text):
            findings.append((text.count("\n", 0, match.start()) + 1, what))
    return sorted(set(findings))


def hostile_settings(identity: Any, api: Any = None, *, secret: str, **overrides: Any) -> Settings:
    """Settings for a client of a :class:`tests.hostile_server.HostileServer` (``api`` defaults to it).

    Short timeouts (connect 1 s, read 3 s), 2 attempts, no backoff; ``overrides`` replace any field.
    """
    values: dict[str, Any] = {
        "client_id": "c",
        "client_secret": secret,
        "tenant_codes": ("T1",),
        "identity_url": identity.url,
        "api_base_url": (api or identity).url,
        "connect_timeout": 1.0,
        "read_timeout": 3.0,
        "max_attempts": 2,
        "backoff": 0.0,
        "backoff_max": 0.0,
    }
    values.update(overrides)
    return Settings(**values)
