"""Executable specification of the robustness rules, against a misbehaving server (tests/hostile_server.py).

Driven only through public entry points: ``EngagifiiClient``, ``Settings`` / ``Settings.from_env``,
``cli.main``, ``export_csv`` / ``export_parquet``, ``client.events(..., checkpoint=..., cancel=...)``.

Sections follow the rules:

a. credentials go only where configured      e. listing shapes
b. .env safety                               f. Unicode and formula neutralising
c. every wait bounded and cancellable        g. files safe in shared directories
d. every answer bounded                      h. CLI hygiene

``request_deadline`` and ``max_body_bytes`` are Settings fields these rules introduce.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import email.utils
import grp
import io
import json
import os
import pickle
import pwd
import re
import resource
import shutil
import stat
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from engagifii_data import EngagifiiClient, Settings, export_csv, export_parquet, sandbox
from engagifii_data.cli import main as cli_main
from engagifii_data.exceptions import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    EngagifiiError,
    IncompleteWalkError,
    PaginationError,
    TransportError,
)
from engagifii_data.reports import WalkReport

from .helpers import SleepRecorder, hostile_settings
from .hostile_server import (
    Answer,
    HostileServer,
    Recorded,
    error_answer,
    event_id,
    event_rows,
    huge_answer,
    listing_answer,
    oauth_error,
    page_answer,
    redirect_to,
    token_answer,
)

SECRET = "s3cret-CANARY"
TOKEN_PATH = "/connect/token"
LIST_PATH = "/api/1.0/event/list"
EVENT_PATH = "/api/1.0/event/{id}"
MiB = 1024 * 1024
CHUNK_READ = 256 * 1024
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
OTHER_UID = 12345
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root (chown to another uid)")

#: C0 controls but LF and TAB, DEL, and C1 controls: a terminal may act on any of them.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# --------------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def hs() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@pytest.fixture
def attacker() -> Iterator[HostileServer]:
    """Another origin: nothing the client sends must ever reach it."""
    with HostileServer() as server:
        server.route("*", "/*", Answer(body={"access_token": "stolen", "expires_in": 3600}))
        yield server


def settings_for(hs: HostileServer, **overrides: Any) -> Settings:
    return hostile_settings(hs, secret=SECRET, **overrides)


def client_for(hs: HostileServer, sleep: Callable[[float], None] | None = None, **overrides: Any) -> EngagifiiClient:
    return EngagifiiClient(settings_for(hs, **overrides), sleep=sleep or SleepRecorder())


def serve(hs: HostileServer, rows: list[dict[str, Any]] | None = None, **listing: Any) -> list[dict[str, Any]]:
    """A well-behaved token endpoint and listing (default 3 rows); returns the rows."""
    rows = event_rows(3) if rows is None else rows
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, listing_answer(rows, **listing))
    return rows


def walk(client: EngagifiiClient, **kwargs: Any) -> pd.DataFrame:
    kwargs.setdefault("progress", False)
    kwargs.setdefault("workers", 1)
    return client.events("T1", **kwargs)


@dataclasses.dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None
    seconds: float = 0.0
    rescued: bool = False


def bounded(
    fn: Callable[[], Any], *, limit: float, rescue: Callable[[], None] | None = None, hard: float = 30.0
) -> Outcome:
    """Run ``fn`` on a thread and time it to its own end.

    When it is still running after ``limit`` seconds (the rule under test is broken), ``rescue()`` is
    called (e.g. closing the hostile server, which ends trickles at once) so the test fails fast
    instead of hanging; ``outcome.seconds`` still measures how long ``fn`` really took.
    """
    outcome = Outcome()
    started = time.monotonic()

    def target() -> None:
        try:
            outcome.value = fn()
        except BaseException as exc:
            outcome.error = exc
        finally:
            outcome.seconds = time.monotonic() - started

    thread = threading.Thread(target=target, name="bounded-call", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        outcome.rescued = True
        if rescue is not None:
            rescue()
        thread.join(hard)
        if thread.is_alive():
            pytest.fail(f"still running {hard + limit:.0f} s after the start, even after the rescue")
    return outcome


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def env_text(hs: HostileServer | None = None, **values: str) -> str:
    settings = {
        "ENGAGIFII_CLIENT_ID": "env-client",
        "ENGAGIFII_CLIENT_SECRET": SECRET,
        "ENGAGIFII_TENANT_CODE": "T1",
        # never the production default: if a rule is broken, nothing leaves this machine
        "ENGAGIFII_IDENTITY_SERVER_URL": hs.url if hs else "http://127.0.0.1:9",
        "ENGAGIFII_API_BASE_URL": hs.url if hs else "http://127.0.0.1:9",
    }
    settings.update(values)
    return "".join(f"{k}={v}\n" for k, v in settings.items())


def write_env(path: Path, hs: HostileServer | None = None, mode: int = 0o600, **values: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(env_text(hs, **values), encoding="utf-8")
    os.chmod(path, mode)
    return path


def cli_events(env: Path, *extra: str) -> tuple[int, str, str]:
    return run_cli("events", "--env-file", str(env), "--no-progress", *extra)


def origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{parts.hostname}:{port}"


def exception_texts(exc: BaseException) -> str:
    """Everything a person or a log could see of ``exc``: str, repr and args, with its causes."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


@contextlib.contextmanager
def address_space_limit(extra: int = 2 << 30) -> Iterator[None]:
    """Lower the soft RLIMIT_AS to the current size + ``extra`` bytes: a runaway allocation (a page plan
    of 10**10 entries) fails with MemoryError at once instead of swapping the machine to death."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = vm + extra
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def list_requests(hs: HostileServer) -> list[Recorded]:
    return hs.requests_to(LIST_PATH, "POST")


# --------------------------------------------------------------------------------------------------
# 0. The harness itself (plain requests, no engagifii_data): these must always pass
# --------------------------------------------------------------------------------------------------


def test_harness_scripts_answers_per_route_and_page(hs: HostileServer) -> None:
    hs.route("POST", TOKEN_PATH, [Answer(status=503), token_answer()])
    hs.route("POST", LIST_PATH, listing_answer(event_rows(25)))
    hs.route("POST", LIST_PATH, Answer(status=418), page=2)
    with requests.Session() as session:
        assert [session.post(hs.url + TOKEN_PATH).status_code for _ in range(3)] == [503, 200, 200]
        assert session.post(hs.url + TOKEN_PATH).json()["access_token"] == "tok-3"
        page_3 = session.post(hs.url + LIST_PATH, json={"pageNumber": 3, "pageSize": 10}).json()
        assert page_3 == {"collection": event_rows(5, start=20), "pagingModel": {"totalRecords": 25}}
        assert session.post(hs.url + LIST_PATH, json={"PageNumber": 2}).status_code == 418
        assert session.get(hs.url + "/nowhere").status_code == 404
    assert [(r.method, r.route_path, r.page) for r in hs.requests][-3:] == [
        ("POST", LIST_PATH, 3),
        ("POST", LIST_PATH, 2),
        ("GET", "/nowhere", None),
    ]
    assert hs.requests[0].headers["host"] == f"127.0.0.1:{hs.port}"


def test_harness_closing_ends_a_trickle_at_once() -> None:
    server = HostileServer().start()
    server.route("GET", "/slow", Answer(body=b"x" * 10_000, trickle=(1, 0.2)))
    out = bounded(lambda: requests.get(server.url + "/slow", timeout=5), limit=0.5, rescue=server.close)
    assert out.rescued and out.seconds < 1.5
    assert isinstance(out.error, requests.RequestException)
    assert server.closed


def test_harness_huge_body_is_generated_lazily_and_disconnects_are_quiet(hs: HostileServer) -> None:
    hs.route("GET", "/huge", huge_answer(200 * MiB, kind="text"))
    tracemalloc.start()
    try:
        with requests.get(hs.url + "/huge", stream=True, timeout=5) as response:
            assert int(response.headers["Content-Length"]) == 200 * MiB
            received = 0
            for chunk in response.iter_content(CHUNK_READ):
                received += len(chunk)
                if received > 20 * MiB:
                    break  # hang up mid-body
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * MiB
    hs.close()
    assert hs.errors == []


def test_harness_drop_and_tls(attacker: HostileServer) -> None:
    with HostileServer(tls=True) as tls:
        tls.route("GET", "/drop", Answer(drop=True))
        tls.route("GET", "/ok", Answer(body={"ok": True}))
        assert requests.get(tls.url + "/ok", verify=tls.ca_file, timeout=5).json() == {"ok": True}
        with pytest.raises(requests.ConnectionError):
            requests.get(tls.url + "/drop", verify=tls.ca_file, timeout=5)
    assert attacker.connections == 0


# --------------------------------------------------------------------------------------------------
# a. Credentials go only where configured
# --------------------------------------------------------------------------------------------------

REDIRECT_STATUSES = [301, 302, 303, 307, 308]


@pytest.mark.parametrize("status", REDIRECT_STATUSES)
@pytest.mark.parametrize("target", ["other-port", "localhost-name", "https-to-http", "same-origin-path"])
def test_token_endpoint_redirect_is_never_followed(
    status: int, target: str, hs: HostileServer, attacker: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity: HostileServer = hs
    with contextlib.ExitStack() as stack:
        if target == "https-to-http":
            identity = stack.enter_context(HostileServer(tls=True))
            assert identity.ca_file is not None
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", identity.ca_file)
        location = {
            "other-port": f"{attacker.url}/connect/token",
            "localhost-name": f"http://localhost:{attacker.port}/connect/token",
            "https-to-http": f"{attacker.url}/connect/token",
            "same-origin-path": f"{identity.url}/connect/token/elsewhere",
        }[target]
        identity.route("POST", TOKEN_PATH, redirect_to(location, status))
        identity.route("*", "/connect/token/elsewhere", token_answer())
        settings = settings_for(hs, identity_url=identity.url)
        with (
            EngagifiiClient(settings, sleep=SleepRecorder()) as client,
            pytest.raises((AuthenticationError, TransportError)) as caught,
        ):
            client.authenticate()
        assert attacker.connections == 0, f"followed the {status} to {location}: {attacker.requests}"
        assert [r.route_path for r in identity.requests] == [TOKEN_PATH] * len(identity.requests)
        text = str(caught.value)
        assert str(status) in text
        assert origin(location) in text, f"the redirect's origin {origin(location)} is not named: {text!r}"
        assert SECRET not in exception_texts(caught.value)


@pytest.mark.parametrize("status", REDIRECT_STATUSES)
@pytest.mark.parametrize("target", ["other-port", "localhost-name"])
@pytest.mark.parametrize("call", ["list", "event"])
def test_api_redirect_to_another_origin_is_not_followed(
    status: int, target: str, call: str, hs: HostileServer, attacker: HostileServer
) -> None:
    host = "127.0.0.1" if target == "other-port" else "localhost"
    hs.route("POST", TOKEN_PATH, token_answer())
    eid = event_id(7)
    path = LIST_PATH if call == "list" else EVENT_PATH.format(id=eid)
    hs.route("POST" if call == "list" else "GET", path, redirect_to(f"http://{host}:{attacker.port}{path}", status))
    with client_for(hs) as client, pytest.raises(EngagifiiError) as caught:
        if call == "list":
            walk(client)
        else:
            client.event(eid, tenant="T1")
    assert attacker.connections == 0, f"followed the {status}: {attacker.requests}"
    assert "tok-" not in exception_texts(caught.value)


@pytest.mark.parametrize("status", REDIRECT_STATUSES)
@pytest.mark.parametrize("absolute", [True, False], ids=["absolute", "relative"])
def test_api_same_origin_redirect_may_be_followed_with_the_bearer(
    status: int, absolute: bool, hs: HostileServer
) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    old, new = event_id(1), event_id(2)
    new_path = EVENT_PATH.format(id=new)
    hs.route("GET", EVENT_PATH.format(id=old), redirect_to((hs.url if absolute else "") + new_path, status))
    hs.route("GET", new_path, Answer(body={"id": new, "name": "moved"}))
    with client_for(hs) as client:
        try:
            event = client.event(old, tenant="T1")
        except EngagifiiError:
            event = None  # not following is allowed too
    followed = hs.requests_to(new_path)
    if event is not None:
        assert event["id"] == new
        assert followed, "an answer for the new path without asking it"
    for request in followed:
        assert request.headers.get("authorization", "").startswith("Bearer tok-")
        assert request.headers.get("tenant-code") == "T1"


NETRC_SHAPES = {
    "machine": "machine 127.0.0.1 login evil password netrc-pw\n",
    "default": "default login evil password netrc-pw\n",
    "multiline": "machine 127.0.0.1\n    login evil\n    password netrc-pw\n",
    "localhost": "machine localhost login evil password netrc-pw\n",
}


@pytest.mark.parametrize("shape", sorted(NETRC_SHAPES))
@pytest.mark.parametrize("via", ["HOME", "NETRC"])
def test_netrc_never_changes_the_authorization_header(
    shape: str, via: str, hs: HostileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "netrc-home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(NETRC_SHAPES[shape], encoding="ascii")
    os.chmod(netrc, 0o600)
    monkeypatch.setenv("HOME", str(home))
    if via == "NETRC":
        monkeypatch.setenv("NETRC", str(netrc))
    else:
        monkeypatch.delenv("NETRC", raising=False)
    rows = serve(hs)
    hs.route("GET", EVENT_PATH.format(id=rows[0]["id"]), Answer(body=rows[0]))
    base = f"http://localhost:{hs.port}" if shape == "localhost" else hs.url
    with EngagifiiClient(settings_for(hs, identity_url=base, api_base_url=base), sleep=SleepRecorder()) as client:
        df = walk(client)
        client.event(rows[0]["id"], tenant="T1")
    assert len(df) == 3
    api = [r for r in hs.requests if r.route_path != TOKEN_PATH]
    assert api
    for request in api:
        assert re.fullmatch(r"Bearer tok-\d+", request.headers.get("authorization", "")), request.headers
    for request in hs.requests_to(TOKEN_PATH):
        assert not request.headers.get("authorization", "").lower().startswith("basic")
    for request in hs.requests:
        assert b"netrc-pw" not in request.body and "netrc-pw" not in str(request.headers)


@pytest.mark.parametrize("field", ["identity_url", "api_base_url"])
@pytest.mark.parametrize(
    "url",
    [
        "https://user:hunter2pw@engagifii.example",
        "https://:hunter2pw@engagifii.example",
        "https://user:hunter2pw@engagifii.example/connect/token",
        "http://user:hunter2pw@127.0.0.1:8080",
        "https://user:hunter2pw%40x@engagifii.example",
    ],
)
def test_url_with_a_password_is_refused_without_echoing_it(field: str, url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(client_id="c", client_secret=SECRET, tenant_codes=("T1",), **{field: url})  # type: ignore[arg-type]
    text = exception_texts(caught.value)
    assert "hunter2pw" not in text and ":pw" not in text


def test_url_with_a_password_from_the_environment_is_refused_without_echoing_it() -> None:
    environ = {
        "ENGAGIFII_CLIENT_ID": "c",
        "ENGAGIFII_CLIENT_SECRET": SECRET,
        "ENGAGIFII_TENANT_CODE": "T1",
        "ENGAGIFII_API_BASE_URL": "https://user:hunter2pw@engagifii.example",
    }
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(environ=environ)
    assert "hunter2pw" not in exception_texts(caught.value)


def _show(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "backslashreplace")


SETTINGS_VIEWS: dict[str, Callable[[Settings], bytes]] = {
    "asdict": lambda s: _show(dataclasses.asdict(s)),
    "astuple": lambda s: _show(dataclasses.astuple(s)),
    "asdict-json": lambda s: _show(json.dumps(dataclasses.asdict(s), default=str)),
    "vars": lambda s: _show(vars(s)),
    "pickle": lambda s: pickle.dumps(s),
    "pickle-protocol-0": lambda s: pickle.dumps(s, protocol=0),
    "copy": lambda s: _show(repr(copy.copy(s))) + _show(str(copy.copy(s))),
    "deepcopy": lambda s: _show(repr(copy.deepcopy(s))),
    "repr": lambda s: _show(repr(s)),
    "str": lambda s: _show(str(s)),
    "format": lambda s: _show(f"{s} {s!r} {s!s}"),
    "replace": lambda s: _show(repr(s.replace(read_timeout=5))),
}


@pytest.mark.parametrize("view", sorted(SETTINGS_VIEWS))
def test_settings_views_never_expose_the_secret(view: str) -> None:
    settings = Settings(client_id="c", client_secret=SECRET, tenant_codes=("T1",))
    try:
        shown = SETTINGS_VIEWS[view](settings)
    except Exception:
        return  # refusing is fine
    for encoded in (SECRET.encode("utf-8"), SECRET.encode("utf-16-le"), SECRET.encode("utf-16-be")):
        assert encoded not in shown, f"{view} shows the client secret"


@pytest.mark.parametrize("field", ["identity_url", "api_base_url"])
@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1",
        "http://example.com",
        "http://localhost.evil.com",
        "http://127.0.0.1.nip.io",
        "http://192.168.1.10:8080",
        "http://0.0.0.0:80",
        "http://[fe80::1]",
        "http://evil.com#@127.0.0.1",
    ],
)
def test_plain_http_is_refused_for_non_loopback_hosts(field: str, url: str) -> None:
    with pytest.raises(ConfigurationError):
        Settings(client_id="c", client_secret=SECRET, tenant_codes=("T1",), **{field: url})  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://127.5.6.7", "http://[::1]:9", "http://localhost:1"])
def test_plain_http_is_accepted_for_loopback(url: str) -> None:
    settings = Settings(client_id="c", client_secret=SECRET, tenant_codes=("T1",), identity_url=url, api_base_url=url)
    assert settings.api_base_url.startswith("http://")


# --------------------------------------------------------------------------------------------------
# b. .env safety
# --------------------------------------------------------------------------------------------------


def _group_with_other_members() -> int | None:
    me = pwd.getpwuid(os.getuid()).pw_name
    for user in pwd.getpwall():
        if user.pw_uid != os.getuid():
            return user.pw_gid
    for group in grp.getgrall():
        if any(member != me for member in group.gr_mem):
            return group.gr_gid
    return None


def _group_without_other_members() -> int:
    """The current user's primary group if nobody else is in it, else a gid nobody has."""
    me = os.getuid()
    gid = os.getgid()

    def lonely(g: int) -> bool:
        if any(u.pw_gid == g and u.pw_uid != me for u in pwd.getpwall()):
            return False
        try:
            members = grp.getgrgid(g).gr_mem
        except KeyError:
            return True
        return all(m == pwd.getpwuid(me).pw_name for m in members)

    if lonely(gid):
        return gid
    for candidate in range(54321, 54421):
        if lonely(candidate):
            with contextlib.suppress(KeyError):
                grp.getgrgid(candidate)
                continue
            return candidate
    pytest.skip("no group without other members could be arranged")


def _arrange(path: Path, how: str) -> str:
    """Make ``path`` unsafe in the way named; returns a word the refusal must mention."""
    if how.startswith("world-writable"):
        os.chmod(path, int(how.rsplit("-", 1)[1], 8))
        return "writable"
    if how == "group-writable-shared-group":
        if not IS_ROOT:
            pytest.skip("needs root to give the file to another group")
        gid = _group_with_other_members()
        if gid is None:
            pytest.skip("no group with other members")
        os.chown(path, os.getuid(), gid)
        os.chmod(path, 0o664)
        return "writable"
    if how.startswith("other-owner"):
        if not IS_ROOT:
            pytest.skip("needs root to give the file away")
        os.chown(path, OTHER_UID, OTHER_UID)
        os.chmod(path, int(how.rsplit("-", 1)[1], 8))
        return "own"
    raise AssertionError(how)


UNSAFE_ENV = [
    "world-writable-666",
    "world-writable-602",
    "world-writable-777",
    "group-writable-shared-group",
    "other-owner-600",
    "other-owner-644",
]


@pytest.mark.parametrize("how", UNSAFE_ENV)
@pytest.mark.parametrize("via", ["env_file-argument", "ENGAGIFII_ENV_FILE", "parent-search", "cwd-search"])
def test_unsafe_env_file_is_refused_by_settings(
    how: str, via: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    path = write_env(project / ".env")
    word = _arrange(path, how)
    environ: dict[str, str] = {}
    env_file: Path | None = None
    if via == "env_file-argument":
        env_file = path
    elif via == "ENGAGIFII_ENV_FILE":
        environ["ENGAGIFII_ENV_FILE"] = str(path)
    elif via == "parent-search":
        deep = project / "a" / "b" / "c"
        deep.mkdir(parents=True)
        monkeypatch.chdir(deep)
    else:
        monkeypatch.chdir(project)
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env_file, environ=environ)
    text = str(caught.value)
    assert str(path) in text or str(path.resolve()) in text, text
    assert word in text.lower(), text
    assert SECRET not in exception_texts(caught.value)


@pytest.mark.parametrize("how", ["world-writable-666", "other-owner-600", "group-writable-shared-group"])
def test_unsafe_env_file_is_refused_by_the_cli(how: str, tmp_path: Path, hs: HostileServer) -> None:
    serve(hs)
    path = write_env(tmp_path / "conf" / "prod.env", hs)
    word = _arrange(path, how)
    code, _, err = cli_events(path, "-o", str(tmp_path / "out.csv"))
    assert code == 2, err
    assert str(path) in err and word in err.lower(), err
    assert "Traceback" not in err
    assert hs.requests == [], "settings from a refused .env were used"
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o644, 0o640])
def test_private_env_file_is_read(mode: int, tmp_path: Path) -> None:
    path = write_env(tmp_path / ".env", mode=mode)
    settings = Settings.from_env(path, environ={})
    assert settings.client_id == "env-client"


def test_group_writable_env_file_with_a_group_of_one_is_read(tmp_path: Path) -> None:
    path = write_env(tmp_path / ".env")
    gid = _group_without_other_members()
    if gid != os.getgid():
        if not IS_ROOT:
            pytest.skip("needs root to give the file to a group without members")
        os.chown(path, os.getuid(), gid)
    os.chmod(path, 0o664)
    assert Settings.from_env(path, environ={}).client_id == "env-client"


ENV_ENCODINGS: dict[str, Callable[[str], bytes]] = {
    "utf-8-bom": lambda text: text.encode("utf-8-sig"),
    "utf-16-le-bom (PowerShell >)": lambda text: text.replace("\n", "\r\n").encode("utf-16"),
    "utf-16-be-bom": lambda text: b"\xfe\xff" + text.encode("utf-16-be"),
    "utf-8-bom-crlf": lambda text: text.replace("\n", "\r\n").encode("utf-8-sig"),
}


@pytest.mark.parametrize("encoding", sorted(ENV_ENCODINGS))
def test_env_file_with_a_bom_is_read(encoding: str, tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(ENV_ENCODINGS[encoding](env_text(ENGAGIFII_CLIENT_ID="clïent-ü", ENGAGIFII_TENANT_CODE="T1,T2")))
    os.chmod(path, 0o600)
    settings = Settings.from_env(path, environ={})
    assert settings.client_id == "clïent-ü"
    assert settings.tenant_codes == ("T1", "T2")
    assert settings.api_base_url == "http://127.0.0.1:9"


BAD_ENV_BYTES = {
    "cp1252-quotes": b"\x93quoted\x94",
    "latin-1": b"caf\xe9",
    "invalid-utf8": b"\xc3\x28",
    "utf8-surrogate": b"\xed\xa0\x80",
    "cut-multibyte": b"\xf0\x9f",
}


@pytest.mark.parametrize("shape", sorted(BAD_ENV_BYTES))
@pytest.mark.parametrize("via", ["settings", "cli"])
def test_env_file_in_another_encoding_is_a_configuration_error(
    shape: str, via: str, tmp_path: Path, hs: HostileServer
) -> None:
    serve(hs)
    path = tmp_path / "legacy.env"
    text = env_text(hs).replace(f"ENGAGIFII_CLIENT_SECRET={SECRET}\n", "")
    path.write_bytes(text.encode("ascii") + b"ENGAGIFII_CLIENT_SECRET=" + BAD_ENV_BYTES[shape] + b"\n")
    os.chmod(path, 0o600)
    if via == "settings":
        with pytest.raises(ConfigurationError) as caught:
            Settings.from_env(path, environ={})
        message = str(caught.value)
    else:
        code, _, message = cli_events(path, "-o", str(tmp_path / "out.csv"))
        assert code == 2, message
        assert "Traceback" not in message and "UnicodeDecodeError" not in message
        assert hs.requests == []
    assert str(path) in message, message
    assert re.search(r"utf-?8|encod|decod", message, re.IGNORECASE), message


# --------------------------------------------------------------------------------------------------
# c. Every wait bounded and cancellable
# --------------------------------------------------------------------------------------------------

#: a valid token answer padded to 10 kB (2,000 s at the trickle's pace)
SLOW_TOKEN = Answer(body={"access_token": "tok-1", "expires_in": 3600, "padding": "y" * 10_000})


def _slow(answer: Answer) -> Answer:
    """``answer`` sent 1 byte every 0.2 s (correct Content-Length)."""
    return dataclasses.replace(answer, trickle=(1, 0.2))


@pytest.mark.parametrize("where", ["list-page-1", "list-page-2", "list-late-headers", "event", "token"])
def test_slow_body_is_bounded_by_the_request_deadline(where: str, hs: HostileServer) -> None:
    rows = event_rows(30)
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, listing_answer(rows))
    pad = {"id": event_id(99), "name": "y" * 10_000}
    if where == "list-page-1":
        hs.route("POST", LIST_PATH, _slow(page_answer([*rows[:10], pad], 30)), page=1)
    elif where == "list-page-2":
        hs.route("POST", LIST_PATH, _slow(page_answer([*rows[10:20], pad], 30)), page=2)
    elif where == "list-late-headers":  # each wait shorter than read_timeout, the whole answer is not
        hs.route("POST", LIST_PATH, dataclasses.replace(page_answer(rows[:10], 30), delay=3.0), page=1)
    elif where == "event":
        hs.route("GET", EVENT_PATH.format(id=rows[0]["id"]), _slow(Answer(body=pad)))
    else:
        hs.route("POST", TOKEN_PATH, _slow(SLOW_TOKEN))
    client = client_for(hs, request_deadline=0.5, read_timeout=5.0, max_attempts=2)

    def call() -> Any:
        with client:
            if where == "event":
                return client.event(rows[0]["id"], tenant="T1")
            return walk(client, page_size=10, workers=2)

    out = bounded(call, limit=4.0, rescue=hs.close)
    assert not out.rescued, "the slow body was read for longer than 2 attempts x request_deadline"
    assert out.seconds < 3.0
    if where == "list-page-2":
        assert isinstance(out.error, IncompleteWalkError), repr(out.error)
        assert isinstance(out.error.cause, TransportError), repr(out.error.cause)
    else:
        assert isinstance(out.error, TransportError), repr(out.error)


@pytest.mark.parametrize(
    "where",
    [
        "slow-page-1-body",
        "page-1-429-retry-after",
        "page-1-503-retry-after",
        "slow-page-2-body",
        "page-2-429-retry-after",
        "page-2-503-retry-after",
        "slow-token-body",
        "token-429-retry-after",
    ],
)
def test_cancel_stops_the_walk_promptly(where: str, hs: HostileServer) -> None:
    rows = event_rows(30)
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, listing_answer(rows))
    pad = {"id": event_id(99), "name": "y" * 10_000}
    status = 429 if "429" in where else 503
    busy = error_answer(status, "BUSY", "busy", headers={"Retry-After": "5"})  # 5 s: within retry_after_cap
    if where == "slow-page-1-body":
        hs.route("POST", LIST_PATH, _slow(page_answer([*rows[:10], pad], 30)), page=1)
    elif where.startswith("page-1-"):
        hs.route("POST", LIST_PATH, busy, page=1)
    elif where == "slow-page-2-body":
        hs.route("POST", LIST_PATH, _slow(page_answer([*rows[10:20], pad], 30)), page=2)
    elif where.startswith("page-2-"):
        hs.route("POST", LIST_PATH, busy, page=2)
    elif where == "token-429-retry-after":
        hs.route("POST", TOKEN_PATH, [busy, token_answer()])
    else:
        hs.route("POST", TOKEN_PATH, _slow(SLOW_TOKEN))
    # the real time.sleep: a cancel must interrupt the waits themselves
    client = EngagifiiClient(settings_for(hs, read_timeout=10.0, max_attempts=3, retry_after_cap=60.0))
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)

    def call() -> Any:
        with client:
            timer.start()
            return client.events("T1", page_size=10, workers=2, progress=False, cancel=cancel)

    try:
        out = bounded(call, limit=2.5, rescue=hs.close)
    finally:
        timer.cancel()
    assert not out.rescued and out.seconds < 2.0, f"cancel took {out.seconds:.1f} s"
    assert isinstance(out.error, IncompleteWalkError), repr(out.error)
    assert "cancelled" in out.error.reason


RETRYABLE = [429, 500, 502, 503, 504]


def _busy(status: int, retry_after: str | None, where: str) -> Answer:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    if where == "token":
        return Answer(status=status, headers=headers, body="busy", content_type="text/plain")
    return error_answer(status, "BUSY", "try later", headers=headers)


def _retry_once(hs: HostileServer, where: str, first: Answer) -> Callable[[EngagifiiClient], Any]:
    rows = event_rows(3)
    hs.route("POST", TOKEN_PATH, [first, token_answer()] if where == "token" else token_answer())
    hs.route("POST", LIST_PATH, [first, listing_answer(rows)] if where == "list" else listing_answer(rows))
    hs.route(
        "GET",
        EVENT_PATH.format(id=rows[0]["id"]),
        [first, Answer(body=rows[0])] if where == "event" else Answer(body=rows[0]),
    )

    def call(client: EngagifiiClient) -> Any:
        if where == "event":
            return client.event(rows[0]["id"], tenant="T1")
        return walk(client)

    return call


@pytest.mark.parametrize("status", RETRYABLE)
@pytest.mark.parametrize("where", ["list", "event", "token"])
def test_retry_after_is_honoured_on_every_retryable_status(status: int, where: str, hs: HostileServer) -> None:
    call = _retry_once(hs, where, _busy(status, "2", where))
    sleep = SleepRecorder()
    with client_for(hs, sleep, max_attempts=3, backoff=0.01, backoff_max=0.05) as client:
        call(client)
    assert sleep.waits and max(sleep.waits) >= 2, sleep.waits


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("where", ["list", "token"])
def test_retry_after_as_an_http_date(status: int, where: str, hs: HostileServer) -> None:
    when = email.utils.formatdate(time.time() + 4, usegmt=True)
    call = _retry_once(hs, where, _busy(status, when, where))
    sleep = SleepRecorder()
    with client_for(hs, sleep, max_attempts=3, backoff=0.01, backoff_max=0.05) as client:
        call(client)
    assert sleep.waits and 2 <= max(sleep.waits) <= 5, sleep.waits


@pytest.mark.parametrize("value", ["0", "-5", "garbage", "", "   ", "Wed, 99 Foo 2025 99:99:99 GMT"])
@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("where", ["list", "token"])
def test_unusable_retry_after_is_treated_as_absent(value: str, status: int, where: str, hs: HostileServer) -> None:
    call = _retry_once(hs, where, _busy(status, value, where))
    sleep = SleepRecorder()
    with client_for(hs, sleep, max_attempts=3, backoff=0.5, backoff_max=1.0) as client:
        call(client)
    assert len(sleep.waits) == 1, sleep.waits
    assert 0 < sleep.waits[0] <= 1.0, f"Retry-After {value!r}: waited {sleep.waits[0]} s instead of the backoff"


NON_JSON_TOKEN_BODIES = {
    "html": (b"<html><body><h1>Service Unavailable</h1></body></html>", "text/html"),
    "truncated-json": (b'{"access_token": "tok-', "application/json"),
    "empty": (b"", "application/json"),
    "plain-text": (b"OK", "text/plain"),
    "binary": (b"\xff\xfe\x00garbage", "application/json"),
}


@pytest.mark.parametrize("shape", sorted(NON_JSON_TOKEN_BODIES))
def test_token_200_with_a_non_json_body_is_retried(shape: str, hs: HostileServer) -> None:
    body, content_type = NON_JSON_TOKEN_BODIES[shape]
    serve(hs)
    hs.route("POST", TOKEN_PATH, [Answer(body=body, content_type=content_type), token_answer()])
    with client_for(hs, max_attempts=3) as client:
        df = walk(client)
        assert client.stats.token_requests == 2
    assert len(df) == 3
    assert len(hs.requests_to(TOKEN_PATH)) == 2


# --------------------------------------------------------------------------------------------------
# d. Every answer bounded
# --------------------------------------------------------------------------------------------------


def _names_limit(text: str, limit: int) -> bool:
    spellings = {
        str(limit),
        f"{limit:,}",
        f"{limit:_}",
        f"{limit // MiB} MiB",
        f"{limit / MiB:.1f} MiB",
        f"{limit // MiB} MB",
        f"{limit // MiB}MiB",
        f"{limit // MiB}MB",
        f"{limit // 1024} KiB",
    }
    return any(s in text for s in spellings)


def _gzip_bomb(size: int) -> Answer:
    """A listing page whose row name is ``size`` x's, gzip-compressed (about 1,000 : 1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(b'{"collection":[{"id":"' + event_id(1).encode() + b'","name":"')]
    block = b"x" * MiB
    parts += [packer.compress(block) for _ in range(size // MiB)]
    parts.append(packer.compress(b'"}],"pagingModel":{"totalRecords":1}}') + packer.flush())
    return Answer(body=b"".join(parts), headers={"Content-Encoding": "gzip"})


@pytest.mark.parametrize(
    "shape",
    ["list-content-length", "list-chunked", "list-200MB", "list-gzip-bomb", "event", "token", "list-slow-to-start"],
)
def test_body_larger_than_max_body_bytes_is_refused(shape: str, hs: HostileServer) -> None:
    rows = serve(hs)
    huge = huge_answer(5 * MiB, kind="row", chunked=shape == "list-chunked")
    if shape == "list-200MB":
        huge = huge_answer(200 * MiB, kind="row")
    if shape == "list-gzip-bomb":  # 50 KB on the wire, 50 MiB once decoded
        huge = _gzip_bomb(50 * MiB)
    if shape == "list-slow-to-start":
        huge = dataclasses.replace(huge, delay=0.2)
    if shape == "event":
        hs.route("GET", EVENT_PATH.format(id=rows[0]["id"]), huge_answer(5 * MiB, kind="string"))
    elif shape == "token":
        hs.route("POST", TOKEN_PATH, huge_answer(5 * MiB, kind="string"))
    else:
        hs.route("POST", LIST_PATH, huge)
    client = client_for(hs, max_body_bytes=MiB, max_attempts=2)

    def call() -> Any:
        with client:
            if shape == "event":
                return client.event(rows[0]["id"], tenant="T1")
            return walk(client)

    out = bounded(call, limit=5.0, rescue=hs.close)
    assert not out.rescued
    assert isinstance(out.error, TransportError), repr(out.error)
    assert _names_limit(str(out.error), MiB), str(out.error)


N = 100_000
DEEP_BODIES: dict[str, bytes] = {
    "arrays": b"[" * N + b"]" * N,
    "objects": b'{"a":' * N + b"1" + b"}" * N,
    "inside-a-row": b'{"collection":[{"id":"'
    + event_id(1).encode()
    + b'","name":'
    + b"[" * N
    + b"]" * N
    + b'}],"pagingModel":{"totalRecords":1}}',
    "total": b'{"collection":[],"pagingModel":{"totalRecords":' + b"[" * N + b"]" * N + b"}}",
}


@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
@pytest.mark.parametrize("where", ["list", "event", "token"])
def test_deeply_nested_json_is_a_transport_error_not_a_recursion_error(
    shape: str, where: str, hs: HostileServer
) -> None:
    rows = serve(hs)
    deep = Answer(body=DEEP_BODIES[shape])
    if where == "list":
        hs.route("POST", LIST_PATH, deep)
    elif where == "event":
        hs.route("GET", EVENT_PATH.format(id=rows[0]["id"]), deep)
    else:
        hs.route("POST", TOKEN_PATH, deep)
    with client_for(hs) as client:
        try:
            if where == "event":
                client.event(rows[0]["id"], tenant="T1")
            else:
                walk(client)
        except RecursionError:
            pytest.fail("RecursionError escaped")
        except TransportError:
            pass
        else:
            pytest.fail("a 100,000-level body was accepted")


@pytest.mark.parametrize("shape", ["arrays", "objects"])
@pytest.mark.parametrize("status", [400, 404, 500])
def test_deeply_nested_error_body_does_not_escape_as_recursion_error(
    shape: str, status: int, hs: HostileServer
) -> None:
    serve(hs)
    hs.route("POST", LIST_PATH, Answer(status=status, body=DEEP_BODIES[shape]))
    with client_for(hs) as client, pytest.raises(EngagifiiError) as caught:
        walk(client)
    if status == 404:  # a page-1 404 without the API's error envelope: a wrong API URL (test_failfast.py)
        assert isinstance(caught.value, ConfigurationError), repr(caught.value)
        return
    assert isinstance(caught.value, ApiError), repr(caught.value)
    assert caught.value.status == status


@pytest.mark.parametrize("status", [400, 401])
def test_deeply_nested_token_error_does_not_escape_as_recursion_error(status: int, hs: HostileServer) -> None:
    serve(hs)
    hs.route("POST", TOKEN_PATH, Answer(status=status, body=DEEP_BODIES["objects"]))
    with client_for(hs) as client, pytest.raises(AuthenticationError):
        client.authenticate()


def _big(
    status: int,
    prefix: bytes,
    suffix: bytes,
    content_type: str = "application/json",
    size: int = 5 * MiB,
    filler: bytes = b"x",
) -> Answer:
    return Answer(
        status=status,
        body_size=size,
        body_prefix=prefix,
        body_suffix=suffix,
        body_filler=filler,
        content_type=content_type,
    )


HUGE_ERRORS: dict[str, tuple[str, Answer]] = {
    "list-400-json-message": ("list", huge_answer(5 * MiB, status=400, kind="error")),
    "list-500-text": ("list", huge_answer(5 * MiB, status=500, kind="text")),
    "list-404-html-title": ("list", _big(404, b"<html><head><title>", b"</title></head></html>", "text/html")),
    "list-422-problem-detail": (
        "list",
        _big(422, b'{"title":"Invalid","status":422,"detail":"', b'"}', "application/problem+json"),
    ),
    "list-400-huge-code": ("list", _big(400, b'{"error":{"code":"', b'","message":"m"}}')),
    "list-400-huge-trace-id": ("list", _big(400, b'{"error":{"code":"E","message":"m","traceId":"', b'"}}')),
    "list-400-many-words": ("list", _big(400, b'{"error":{"code":"E","message":"', b'"}}', filler=b"word ")),
    "event-404-json-message": ("event", huge_answer(5 * MiB, status=404, kind="error")),
    "token-400-oauth-description": ("token", huge_answer(5 * MiB, status=400, kind="oauth")),
    "token-401-huge-error-code": ("token", _big(401, b'{"error":"', b'"}')),
    "token-500-text": ("token", huge_answer(5 * MiB, status=500, kind="text")),
}


@pytest.mark.parametrize("shape", sorted(HUGE_ERRORS))
def test_huge_error_bodies_give_short_messages(shape: str, hs: HostileServer) -> None:
    where, answer = HUGE_ERRORS[shape]
    rows = serve(hs)
    if where == "list":
        hs.route("POST", LIST_PATH, answer)
    elif where == "event":
        hs.route("GET", EVENT_PATH.format(id=rows[0]["id"]), answer)
    else:
        hs.route("POST", TOKEN_PATH, answer)
    with client_for(hs) as client, pytest.raises(EngagifiiError) as caught:
        if where == "event":
            client.event(rows[0]["id"], tenant="T1")
        else:
            walk(client)
    text = str(caught.value)
    assert len(text) <= 1_000, f"{len(text):,} characters: {text[:200]}..."


@pytest.mark.parametrize("shape", ["list-400-json-message", "list-400-huge-code", "token-400-oauth-description"])
def test_huge_error_bodies_give_short_cli_errors(shape: str, hs: HostileServer, tmp_path: Path) -> None:
    where, answer = HUGE_ERRORS[shape]
    serve(hs)
    hs.route("POST", LIST_PATH if where == "list" else TOKEN_PATH, answer)
    code, _, err = cli_events(write_env(tmp_path / "t.env", hs), "-o", str(tmp_path / "out.csv"))
    assert code in (3, 4), err[:500]
    assert len(err) <= 2_000, f"{len(err):,} characters on stderr"


ESCAPES = "\x1b[31mRED\x1b[0m\x07\rFAKE: all good\x1b]0;pwned\x07\x9b2J\x08"
ESCAPE_ANSWERS: dict[str, tuple[str, Answer]] = {
    "list-400-message": ("list", error_answer(400, "VALIDATION_ERROR", ESCAPES)),
    "list-403-code": ("list", error_answer(403, "FORBIDDEN" + ESCAPES, "no")),
    "list-404-trace-id": ("list", error_answer(404, "NOT_FOUND", "no such thing", trace_id="t" + ESCAPES)),
    "list-400-html-title": (
        "list",
        Answer(status=400, content_type="text/html", body=f"<html><title>{ESCAPES}</title></html>".encode()),
    ),
    "list-400-plain-text": ("list", Answer(status=400, body=ESCAPES.encode(), content_type="text/plain")),
    "list-422-problem": ("list", Answer(status=422, body={"title": ESCAPES, "status": 422, "detail": ESCAPES})),
    "list-400-newline-injection": ("list", error_answer(400, "E", "bad\nerror: FAKE second line\r\nok")),
    "token-400-description": ("token", oauth_error(400, "invalid_client", ESCAPES)),
    "token-401-error-code": ("token", oauth_error(401, "invalid_client" + ESCAPES, "no")),
}


@pytest.mark.parametrize("shape", sorted(ESCAPE_ANSWERS))
def test_server_text_on_stderr_has_control_characters_escaped(shape: str, hs: HostileServer, tmp_path: Path) -> None:
    where, answer = ESCAPE_ANSWERS[shape]
    serve(hs)
    hs.route("POST", LIST_PATH if where == "list" else TOKEN_PATH, answer)
    code, out, err = cli_events(write_env(tmp_path / "t.env", hs), "-o", str(tmp_path / "out.csv"))
    assert code in (3, 4), err
    assert err.strip()
    found = sorted({f"U+{ord(c):04X}" for c in CONTROL_CHARS.findall(err + out)})
    assert not found, f"raw control characters reach the terminal: {found}\n{err!r}"
    assert not any(line.startswith("error: FAKE") for line in err.splitlines()), err


# --------------------------------------------------------------------------------------------------
# e. Listing shapes
# --------------------------------------------------------------------------------------------------

EMPTY_LISTINGS: dict[str, Any] = {
    "wire-null-rows": {"collection": None, "pagingModel": {"totalRecords": 0}},
    "wire-no-rows-key": {"pagingModel": {"totalRecords": 0}},
    "docs-no-rows-key": {"totalCount": 0},
    "docs-null-rows": {"data": None, "totalCount": 0},
    "sibling-null-rows": {"itemCount": 0, "totalCount": 0, "result": None},
    "items-null-total": {"items": None, "total": 0},
    "wire-empty-list": {"collection": [], "pagingModel": {"totalRecords": 0}},
    "docs-empty-list": {"data": [], "totalCount": 0},
}


@pytest.mark.parametrize("shape", sorted(EMPTY_LISTINGS))
def test_empty_listing_with_null_or_absent_rows_is_an_empty_complete_frame(shape: str, hs: HostileServer) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, Answer(body=EMPTY_LISTINGS[shape]))
    with client_for(hs) as client:
        df = walk(client)
    assert len(df) == 0
    assert {"id", "name"} <= set(df.columns)
    assert df.attrs["engagifii"]["complete"] is True
    assert len(list_requests(hs)) == 1


LATER_TOTALS: dict[str, Callable[[list[dict[str, Any]]], dict[str, Any]]] = {
    "wire-no-paging-model": lambda rows: {"collection": rows},
    "wire-empty-paging-model": lambda rows: {"collection": rows, "pagingModel": {}},
    "wire-null-total": lambda rows: {"collection": rows, "pagingModel": {"totalRecords": None}},
    "wire-null-paging-model": lambda rows: {"collection": rows, "pagingModel": None},
    "docs-no-total": lambda rows: {"data": rows},
    "docs-null-total": lambda rows: {"data": rows, "totalCount": None},
}


@pytest.mark.parametrize("shape", sorted(LATER_TOTALS))
@pytest.mark.parametrize("workers", [1, 4])
def test_total_given_on_page_1_only(shape: str, workers: int, hs: HostileServer) -> None:
    rows = event_rows(25)
    envelope = "docs" if shape.startswith("docs") else "wire"
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, page_answer(rows[:10], 25, envelope=envelope), page=1)

    def later(request: Recorded) -> dict[str, Any]:
        number = request.page or 1
        return LATER_TOTALS[shape](rows[(number - 1) * 10 : number * 10])

    hs.route("POST", LIST_PATH, Answer(body=later))
    with client_for(hs) as client:
        df = walk(client, page_size=10, workers=workers)
    assert list(df["id"]) == [r["id"] for r in rows]
    assert df.attrs["engagifii"]["complete"] is True


ABSURD_TOTALS: dict[str, bytes] = {
    "1e12": b"1000000000000",
    "1e12-float": b"1e12",
    "10**30": b"1" + b"0" * 30,
    "2**63": str(2**63).encode(),
    "negative": b"-1",
    "fractional": b"12.5",
    "string": b'"lots"',
    "numeric-string-huge": b'"1000000000000"',
    "bool": b"true",
    "infinity": b"Infinity",
    "nan": b"NaN",
    "1e300": b"1e300",
    "object": b'{"value": 3}',
}


def _absurd_page(total: bytes) -> Answer:
    rows = json.dumps(event_rows(3)).encode()
    return Answer(body=b'{"collection":' + rows + b',"pagingModel":{"totalRecords":' + total + b"}}")


@pytest.mark.parametrize("shape", sorted(ABSURD_TOTALS))
def test_absurd_total_is_refused_before_any_plan(shape: str, hs: HostileServer) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, _absurd_page(ABSURD_TOTALS[shape]))
    with client_for(hs) as client:
        client.authenticate()
        tracemalloc.start()
        started = time.monotonic()
        try:
            with address_space_limit(), pytest.raises(PaginationError):
                walk(client, page_size=100, workers=4)
            seconds = time.monotonic() - started
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert seconds < 1.0, f"{seconds:.2f} s"
    assert peak < 50 * MiB, f"peak {peak / MiB:.0f} MiB"
    assert len(list_requests(hs)) == 1, "pages past page 1 were requested for an absurd total"


@pytest.mark.parametrize("shape", ["1e12", "bool", "fractional", "string"])
def test_absurd_total_in_the_cli_is_exit_5(shape: str, hs: HostileServer, tmp_path: Path) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, _absurd_page(ABSURD_TOTALS[shape]))
    with address_space_limit():
        code, _, err = cli_events(write_env(tmp_path / "t.env", hs), "-o", str(tmp_path / "out.csv"))
    assert code == 5, err
    assert "Traceback" not in err
    assert not (tmp_path / "out.csv").exists()


# --------------------------------------------------------------------------------------------------
# f. Unicode
# --------------------------------------------------------------------------------------------------

BROKEN_TEXT: dict[str, bytes] = {
    "escaped-lone-high-surrogate": b"\\ud83c",
    "escaped-lone-low-surrogate": b"x\\udc00y",
    "escaped-reversed-pair": b"\\udc00\\ud83c",
    "raw-utf8-surrogate": b"\xed\xa0\xbc",
    "cut-multibyte": b"ok\xf0\x9f",
    "latin-1-byte": b"caf\xe9",
    "lone-continuation": b"\x80\x80",
}


def _broken_page(text: bytes) -> Answer:
    good, bad = event_id(1), event_id(2)
    body = (
        b'{"collection":[{"id":"'
        + good.encode()
        + b'","name":"fine \xc3\xa9"},{"id":"'
        + bad.encode()
        + b'","name":"'
        + text
        + b'","description":"'
        + text
        + b'"}],"pagingModel":{"totalRecords":2}}'
    )
    return Answer(body=body)


def _surrogates(df: pd.DataFrame) -> list[str]:
    found = []
    for column in df.columns:
        for value in df[column].tolist():
            if isinstance(value, str) and re.search("[\ud800-\udfff]", value):
                found.append(f"{column}={value!r}")
    return found


@pytest.mark.parametrize("shape", sorted(BROKEN_TEXT))
def test_broken_unicode_becomes_replacement_characters_and_is_counted(
    shape: str, hs: HostileServer, tmp_path: Path
) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, _broken_page(BROKEN_TEXT[shape]))
    with client_for(hs) as client:
        df = walk(client)
    assert len(df) == 2
    assert df["name"].iloc[0] == "fine é"
    assert "\ufffd" in df["name"].iloc[1], repr(df["name"].iloc[1])
    assert not _surrogates(df)
    assert WalkReport.of(df).repaired_text >= 1, df.attrs
    csv_path = export_csv(df, tmp_path / "out.csv")
    text = Path(csv_path).read_bytes().decode("utf-8")
    assert "\ufffd" in text
    parquet_path = export_parquet(df, tmp_path / "out.parquet")
    assert "\ufffd" in pd.read_parquet(parquet_path)["name"].iloc[1]


@pytest.mark.parametrize("shape", ["escaped-lone-high-surrogate", "escaped-reversed-pair", "raw-utf8-surrogate"])
def test_broken_unicode_report_from_the_cli(shape: str, hs: HostileServer, tmp_path: Path) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, _broken_page(BROKEN_TEXT[shape]))
    report = tmp_path / "out.csv"
    code, _, err = cli_events(write_env(tmp_path / "t.env", hs), "-o", str(report))
    assert code == 0, err
    assert "\ufffd" in report.read_bytes().decode("utf-8")


INVISIBLE_FORMULAS = [
    '\u200b=HYPERLINK("http://evil.example","click")',
    "\ufeff=1+1",
    "\u2060@SUM(A1)",
    "\u00ad-2+3",
    "\u200e+1",
    "\u200c=cmd|' /C calc'!A0",
    "\u200b\u200b\u200b=1",
    "\u180e=1",
    "\u2066=1",
    "\u200d\u00a0=1",
]


@pytest.mark.parametrize(
    "name", INVISIBLE_FORMULAS, ids=[f"{i}-U+{ord(s[0]):04X}" for i, s in enumerate(INVISIBLE_FORMULAS)]
)
@pytest.mark.parametrize("dtype", ["string", "object"])
def test_formula_behind_invisible_characters_is_neutralised(name: str, dtype: str, tmp_path: Path) -> None:
    df = pd.DataFrame({"id": ["a", "b"], "name": pd.Series([name, "plain"], dtype=dtype)})
    path = export_csv(df, tmp_path / "out.csv")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][1].startswith("'"), repr(rows[1][1])
    assert rows[1][1][1:] == name
    assert rows[2][1] == "plain"


# --------------------------------------------------------------------------------------------------
# g. Files safe in shared directories
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Shared:
    shared: Path  # sticky and world-writable, like /tmp
    private: Path
    victim: Path


@pytest.fixture
def dirs(tmp_path: Path) -> Shared:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    private = tmp_path / "private"
    private.mkdir()
    os.chmod(private, 0o700)
    victim = private / "victim.txt"
    victim.write_text("VICTIM\n", encoding="utf-8")
    return Shared(shared, private, victim)


def small_frame() -> pd.DataFrame:
    return pd.DataFrame({"id": ["a", "b"], "name": ["one", "two"]})


@needs_root
@pytest.mark.parametrize("writer", ["csv", "parquet"])
@pytest.mark.parametrize("place", ["sticky-dir", "own-dir", "dangling-target"])
def test_symlink_owned_by_another_user_is_refused(writer: str, place: str, dirs: Shared, tmp_path: Path) -> None:
    folder = dirs.shared if place != "own-dir" else tmp_path / "mine"
    folder.mkdir(exist_ok=True)
    target = dirs.victim if place != "dangling-target" else dirs.private / "created.txt"
    link = folder / "report.csv"
    link.symlink_to(target)
    os.lchown(link, OTHER_UID, OTHER_UID)
    with pytest.raises(OSError) as caught:
        (export_csv if writer == "csv" else export_parquet)(small_frame(), link)
    assert str(link) in str(caught.value) or caught.value.filename == str(link), str(caught.value)
    assert dirs.victim.read_text(encoding="utf-8") == "VICTIM\n"
    assert not (dirs.private / "created.txt").exists()
    assert link.is_symlink()


@needs_root
def test_symlink_owned_by_another_user_is_refused_by_the_cli(dirs: Shared, hs: HostileServer, tmp_path: Path) -> None:
    serve(hs)
    link = dirs.shared / "report.csv"
    link.symlink_to(dirs.victim)
    os.lchown(link, OTHER_UID, OTHER_UID)
    code, _, err = cli_events(write_env(tmp_path / "t.env", hs), "-o", str(link))
    assert code == 1, err
    assert str(link) in err
    assert dirs.victim.read_text(encoding="utf-8") == "VICTIM\n"


@needs_root
@pytest.mark.parametrize("owner", ["current-user", "directory-owner"])
def test_symlink_owned_by_the_user_or_the_directory_owner_is_followed(owner: str, dirs: Shared) -> None:
    if owner == "directory-owner":
        os.chown(dirs.shared, OTHER_UID, OTHER_UID)
    link = dirs.shared / "report.csv"
    link.symlink_to(dirs.victim)
    if owner == "directory-owner":
        os.lchown(link, OTHER_UID, OTHER_UID)
    export_csv(small_frame(), link)
    assert link.is_symlink() and os.readlink(link) == str(dirs.victim)
    assert "one" in dirs.victim.read_text(encoding="utf-8-sig")


DECOYS = ["{name}.tmp", ".{name}.tmp", "{name}.part", ".{name}.swp", "{name}~", "{name}.new"]


def _plant_decoys(folder: Path, name: str, victim: Path) -> list[Path]:
    decoys = []
    for pattern in DECOYS:
        decoy = folder / pattern.format(name=name)
        decoy.symlink_to(victim)
        if IS_ROOT:
            os.lchown(decoy, OTHER_UID, OTHER_UID)
        decoys.append(decoy)
    return decoys


@pytest.mark.parametrize("writer", ["csv", "parquet"])
def test_reports_use_no_fixed_temp_names(writer: str, dirs: Shared) -> None:
    decoys = _plant_decoys(dirs.shared, "report.out", dirs.victim)
    target = dirs.shared / "report.out"
    (export_csv if writer == "csv" else export_parquet)(small_frame(), target)
    assert dirs.victim.read_text(encoding="utf-8") == "VICTIM\n"
    for decoy in decoys:
        assert decoy.is_symlink() and os.readlink(decoy) == str(dirs.victim)
    assert sorted(p.name for p in dirs.shared.iterdir()) == sorted([target.name, *(d.name for d in decoys)])
    assert target.is_file() and not target.is_symlink()


def _failing_walk(hs: HostileServer, rows: list[dict[str, Any]], failing_page: int = 2) -> None:
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, listing_answer(rows))
    hs.route("POST", LIST_PATH, error_answer(400, "VALIDATION_ERROR", "page refused"), page=failing_page)


def test_checkpoints_use_no_fixed_temp_names(dirs: Shared, hs: HostileServer) -> None:
    _failing_walk(hs, event_rows(30), failing_page=3)
    decoys = _plant_decoys(dirs.shared, "walk.jsonl", dirs.victim)
    with client_for(hs) as client, pytest.raises(IncompleteWalkError):
        walk(client, page_size=10, checkpoint=dirs.shared / "walk.jsonl")
    assert dirs.victim.read_text(encoding="utf-8") == "VICTIM\n"
    for decoy in decoys:
        assert decoy.is_symlink() and os.readlink(decoy) == str(dirs.victim)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o000], ids=["umask-022", "umask-002", "umask-000"])
def test_checkpoint_is_created_private(umask: int, hs: HostileServer, tmp_path: Path) -> None:
    _failing_walk(hs, event_rows(30), failing_page=3)
    path = tmp_path / "ck" / "walk.jsonl"
    old = os.umask(umask)
    try:
        with client_for(hs) as client, pytest.raises(IncompleteWalkError):
            walk(client, page_size=10, checkpoint=path)
    finally:
        os.umask(old)
    assert path.exists(), "the failed walk left no checkpoint to resume from"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)


@pytest.mark.parametrize("second", ["api", "cli"])
def test_second_concurrent_walk_on_the_same_checkpoint_is_refused(
    second: str, hs: HostileServer, tmp_path: Path
) -> None:
    rows = event_rows(30)
    serve(hs, rows)
    hs.route("POST", LIST_PATH, dataclasses.replace(listing_answer(rows), delay=1.5), page=2)
    checkpoint = tmp_path / "walk.jsonl"
    first_client = client_for(hs)
    results: list[Any] = []
    first = threading.Thread(
        target=lambda: results.append(_try(lambda: walk(first_client, page_size=10, checkpoint=checkpoint))),
        daemon=True,
    )
    with first_client:
        first.start()
        deadline = time.monotonic() + 3
        while not list_requests(hs)[1:] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert list_requests(hs)[1:], "the first walk did not reach page 2"
        started = time.monotonic()
        if second == "api":
            with client_for(hs) as other:
                outcome = _try(lambda: walk(other, page_size=10, checkpoint=checkpoint))
            assert isinstance(outcome, ConfigurationError), repr(outcome)
            message = str(outcome)
        else:
            code, _, message = cli_events(
                write_env(tmp_path / "t.env", hs),
                "--checkpoint",
                str(checkpoint),
                "--page-size",
                "10",
                "--workers",
                "1",
                "-o",
                str(tmp_path / "second.csv"),
            )
            assert code == 2, message
        assert time.monotonic() - started < 1.0, "the second walk waited for the first"
        assert str(checkpoint) in message, message
        first.join(10)
    assert results, "the first walk did not end"
    result = results[0]
    assert isinstance(result, pd.DataFrame), f"the first walk was disturbed: {result!r}"
    assert list(result["id"]) == [r["id"] for r in rows]


def _try(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:
        return exc


CHECKPOINT_EDITS: dict[str, tuple[bytes, bytes]] = {
    "rename": (b'"Event 12"', b'"EDITED BY SOMEONE"'),
    "rename-same-length": (b'"Event 12"', b'"Evil!!12"'),
    "swap-id": (event_id(12).encode(), event_id(999).encode()),
}


@pytest.mark.parametrize("edit", sorted(CHECKPOINT_EDITS))
def test_checkpoint_page_edited_on_disk_is_fetched_again(edit: str, hs: HostileServer, tmp_path: Path) -> None:
    rows = event_rows(30)
    hs.route("POST", TOKEN_PATH, token_answer())
    hs.route("POST", LIST_PATH, listing_answer(rows))
    hs.route("POST", LIST_PATH, [error_answer(400, "VALIDATION_ERROR", "not now"), listing_answer(rows)], page=3)
    checkpoint = tmp_path / "walk.jsonl"
    with client_for(hs) as client, pytest.raises(IncompleteWalkError):
        walk(client, page_size=10, checkpoint=checkpoint)
    old, new = CHECKPOINT_EDITS[edit]
    data = checkpoint.read_bytes()
    assert data.count(old) == 1, "cannot find page 2's row in the checkpoint file to edit it"
    checkpoint.write_bytes(data.replace(old, new))
    before = len(hs.requests_to(LIST_PATH, page=2))
    with client_for(hs) as client:
        df = walk(client, page_size=10, checkpoint=checkpoint)
    assert len(hs.requests_to(LIST_PATH, page=2)) == before + 1, "the edited page was reused"
    assert list(df["id"]) == [r["id"] for r in rows]
    assert list(df["name"]) == [r["name"] for r in rows]


@pytest.mark.parametrize("edit", ["rename", "drop-name"])
def test_checkpoint_page_edited_on_disk_is_fetched_again_from_the_sandbox(edit: str, tmp_path: Path) -> None:
    checkpoint = tmp_path / "walk.jsonl"
    with sandbox.run(tenants={"T1": 30}, fail_from_page=3) as sb:
        settings = sb.settings(max_attempts=2, backoff=0.0, backoff_max=0.0)
        with EngagifiiClient(settings, sleep=SleepRecorder()) as client, pytest.raises(IncompleteWalkError):
            walk(client, page_size=10, checkpoint=checkpoint)
        name = sb.events("T1")[12]["name"]
        old = json.dumps(name, ensure_ascii=False).encode("utf-8")
        data = checkpoint.read_bytes()
        if data.count(old) != 1:
            old = json.dumps(name).encode("utf-8")
        assert data.count(old) == 1, "cannot find page 2's row in the checkpoint file to edit it"
        checkpoint.write_bytes(data.replace(old, b'"EDITED"' if edit == "rename" else b"null"))
        sb.faults.fail_from_page = None
        sb.reset_log()
        with EngagifiiClient(settings, sleep=SleepRecorder()) as client:
            df = walk(client, page_size=10, checkpoint=checkpoint)
        page_2 = [r for r in sb.log if r["kind"] == "api" and r["page"] == 2]
        assert len(page_2) == 1, "the edited page was reused"
        assert list(df["name"]) == [e["name"] for e in sb.events("T1")]


@pytest.mark.parametrize("shape", ["under-a-file", "under-a-file-deep", "a-directory", "under-dev-null"])
def test_unwritable_checkpoint_is_a_configuration_error_before_any_request(
    shape: str, hs: HostileServer, tmp_path: Path
) -> None:
    serve(hs)
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    (tmp_path / "dir").mkdir()
    checkpoint = {
        "under-a-file": tmp_path / "file.txt" / "walk.jsonl",
        "under-a-file-deep": tmp_path / "file.txt" / "a" / "walk.jsonl",
        "a-directory": tmp_path / "dir",
        "under-dev-null": Path("/dev/null/walk.jsonl"),
    }[shape]
    report = tmp_path / "reports" / "out.csv"
    code, _, err = cli_events(write_env(tmp_path / "t.env", hs), "--checkpoint", str(checkpoint), "-o", str(report))
    assert code == 2, err
    assert str(checkpoint) in err, err
    assert "checkpoint" in err.lower()
    assert str(report) not in err and "cannot write the report" not in err, err
    assert list_requests(hs) == [], "the walk started before the checkpoint was known to be writable"
    assert not report.exists()


# --------------------------------------------------------------------------------------------------
# h. CLI hygiene
# --------------------------------------------------------------------------------------------------

NO_TRACEBACK_CASES: dict[str, tuple[str, Answer, int]] = {
    "list-400-deep-json": ("list", Answer(status=400, body=DEEP_BODIES["objects"]), 4),
    "list-404-deep-json": ("list", Answer(status=404, body=DEEP_BODIES["arrays"]), 2),  # no envelope: wrong URL
    "token-400-deep-json": ("token", Answer(status=400, body=DEEP_BODIES["objects"]), 3),
    "list-absurd-total": ("list", _absurd_page(ABSURD_TOTALS["1e12"]), 5),
    "list-infinite-total": ("list", _absurd_page(ABSURD_TOTALS["infinity"]), 5),
}


@pytest.mark.parametrize("shape", sorted(NO_TRACEBACK_CASES))
def test_no_traceback_without_debug(shape: str, hs: HostileServer, tmp_path: Path) -> None:
    where, answer, expected = NO_TRACEBACK_CASES[shape]
    serve(hs)
    hs.route("POST", LIST_PATH if where == "list" else TOKEN_PATH, answer)
    with address_space_limit():
        try:
            code, _, err = cli_events(write_env(tmp_path / "t.env", hs), "-o", str(tmp_path / "out.csv"))
        except BaseException as exc:
            pytest.fail(f"cli.main raised {type(exc).__name__} instead of returning an exit code")
    assert "Traceback" not in err, err[:2000]
    assert code == expected, err[:2000]


@pytest.mark.parametrize("shape", ["under-a-file", "a-directory"])
def test_exit_1_still_means_report_not_written(shape: str, hs: HostileServer, tmp_path: Path) -> None:
    serve(hs)
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    (tmp_path / "dir").mkdir()
    report = tmp_path / "file.txt" / "out.csv" if shape == "under-a-file" else tmp_path / "dir"
    code, _, err = cli_events(write_env(tmp_path / "t.env", hs), "-o", str(report))
    assert code == 1, err
    assert "no report was written" in err
    assert "Traceback" not in err


CONSOLE_SCRIPT = Path(sys.executable).with_name("engagifii-data")


@pytest.mark.skipif(not CONSOLE_SCRIPT.exists() or shutil.which("bash") is None, reason="needs the console script")
@pytest.mark.parametrize("reader", ["head -c 100", "head -n 1", "true"])
def test_stdout_report_into_a_closed_pipe_is_quiet(reader: str, tmp_path: Path) -> None:
    command = f"{CONSOLE_SCRIPT} events --sandbox --no-progress -o - | {reader} > /dev/null"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode in (0, 141), (proc.returncode, proc.stderr)
    assert "Broken pipe" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert not re.search(r"^error:", proc.stderr, re.MULTILINE), proc.stderr


# -- i. answers for something else than what was asked ---------------------------------------------


@pytest.mark.parametrize("wrong", ["another-event", "first-event-for-all", "uppercase-of-another"])
def test_a_detail_answering_another_event_is_never_merged(wrong: str, hs: HostileServer) -> None:
    rows = serve(hs)
    for i, row in enumerate(rows):
        other = rows[(i + 1) % len(rows)] if wrong != "first-event-for-all" else rows[0]
        if wrong == "first-event-for-all" and i == 0:
            other = rows[1]
        body = {**other, "id": other["id"].upper() if wrong == "uppercase-of-another" else other["id"]}
        hs.route("GET", EVENT_PATH.format(id=row["id"]), Answer(body=body))
    with EngagifiiClient(settings_for(hs), sleep=SleepRecorder()) as client:
        with pytest.raises(IncompleteWalkError) as caught:
            walk(client, details=True)
        assert isinstance(caught.value.cause, PaginationError)
        assert "answered event" in str(caught.value)
        with pytest.raises(PaginationError, match="answered event"):
            client.event(rows[0]["id"], tenant="T1")


def test_a_detail_with_the_same_id_in_other_case_or_braces_is_accepted(hs: HostileServer) -> None:
    rows = serve(hs)
    for i, row in enumerate(rows):
        shown = row["id"].upper() if i % 2 else "{" + row["id"] + "}"
        hs.route("GET", EVENT_PATH.format(id=row["id"]), Answer(body={**row, "id": shown}))
    with EngagifiiClient(settings_for(hs), sleep=SleepRecorder()) as client:
        df = walk(client, details=True)
    assert len(df) == 3 and WalkReport.of(df).complete


# -- j. the command line's own bounds and words ----------------------------------------------------


@pytest.mark.parametrize("how", ["slow-headers", "trickle"])
def test_timeout_and_attempts_bound_a_run_against_an_unresponsive_server(
    how: str, tmp_path: Path, hs: HostileServer
) -> None:
    serve(hs)
    slow = (
        Answer(body=listing_answer(event_rows(3)).body, delay=30)
        if how == "slow-headers"
        else Answer(body=b'{"collection": [], "pagingModel": {"totalRecords": 0}}' + b" " * 200, trickle=(1, 0.5))
    )
    hs.route("POST", LIST_PATH, slow)
    env = write_env(tmp_path / ".env", hs)
    started = time.monotonic()
    code, _, err = cli_events(env, "--timeout", "1", "--attempts", "2", "-o", str(tmp_path / "r.csv"))
    assert code == 4, err
    assert time.monotonic() - started < 15
    assert re.search(r"warning: retrying page 1 (now|in [0-9.]+ s): ", err) and "(attempt 1 of 2)" in err
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize("token", ["abc\r\nX-Evil: 1", "two words", "t\u00f6k"])
def test_a_token_no_header_can_carry_is_an_authentication_error(token: str, tmp_path: Path, hs: HostileServer) -> None:
    serve(hs)
    hs.route("POST", TOKEN_PATH, Answer(body={"access_token": token, "expires_in": 3600, "token_type": "Bearer"}))
    code, _, err = cli_events(write_env(tmp_path / ".env", hs), "-o", str(tmp_path / "r.csv"))
    assert code == 3, err
    assert "HTTP header" in err and "\r" not in err
    assert [r for r in hs.requests if r.route_path == LIST_PATH] == []


def test_tenant_option_stands_in_for_the_tenant_variable(tmp_path: Path, hs: HostileServer) -> None:
    serve(hs)
    env = tmp_path / ".env"
    env.write_text(env_text(hs).replace("ENGAGIFII_TENANT_CODE=T1\n", ""), encoding="utf-8")
    os.chmod(env, 0o600)
    code, out, err = cli_events(env, "--tenant", "T1", "-o", str(tmp_path / "r.csv"))
    assert code == 0, err
    assert "wrote 3 rows for tenant T1" in out
