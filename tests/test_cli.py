"""The engagifii-data command: reports, exit codes and error lines (sandbox on 127.0.0.1)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from engagifii_data import sandbox
from engagifii_data.cli import exit_code_for, main
from engagifii_data.exceptions import (
    CLI_WORDS,
    AuthenticationError,
    IncompleteWalkError,
    TransportError,
    describe_error,
)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def env_file(tmp_path: Path, server: Any, **values: str) -> Path:
    settings = {
        "ENGAGIFII_CLIENT_ID": server.client_id,
        "ENGAGIFII_CLIENT_SECRET": server.client_secret,
        "ENGAGIFII_TENANT_CODE": ",".join(server.tenants),
        "ENGAGIFII_IDENTITY_SERVER_URL": server.identity_url,
        "ENGAGIFII_API_BASE_URL": server.api_url,
    }
    settings.update(values)
    path = tmp_path / "test.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()), encoding="utf-8")
    return path


def test_sandbox_export_writes_the_full_report_that_round_trips(tmp_path: Path) -> None:
    report = tmp_path / "out" / "events.csv"
    code, out, err = run_cli("events", "--sandbox", "-o", str(report), "--no-progress")
    assert code == 0, err
    assert "wrote 2,400 rows for tenant ACME" in out
    assert "token requests 1" in out
    assert "pages 24" in out
    raw = report.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    frame = pd.read_csv(report, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    with report.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    assert len(body) == 2400 == len(frame)
    assert header == list(frame.columns)
    assert [list(r) for r in frame.itertuples(index=False)] == body
    text_columns = [c for c in header if c in ("name", "description", "location.name", "tags")]
    for row in body:
        for column in text_columns:
            value = row[header.index(column)]
            assert not value.startswith(FORMULA_START), (column, value)
    names = frame["name"].tolist()
    assert any(n.startswith("'=") for n in names)
    assert any("\n" in d for d in frame["description"])
    assert not list(tmp_path.joinpath("out").glob("*.tmp"))


def test_parquet_report(tmp_path: Path) -> None:
    report = tmp_path / "events.parquet"
    code, _, err = run_cli("events", "--sandbox", "--tenant", "GLOBEX", "-o", str(report), "--no-progress")
    assert code == 0, err
    assert len(pd.read_parquet(report)) == 36


def test_wrong_secret_exits_3_naming_invalid_client_without_the_secret(sb: Any, tmp_path: Path) -> None:
    wrong = "wrong-secret-CANARY-4b1d"
    path = env_file(tmp_path, sb, ENGAGIFII_CLIENT_SECRET=wrong)
    report = tmp_path / "r.csv"
    code, out, err = run_cli("events", "--env-file", str(path), "-o", str(report), "--no-progress")
    assert code == 3
    assert "error: authentication failed: the identity server refused the client id or secret: invalid_client" in err
    assert wrong not in err and wrong not in out
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2
    assert not report.exists()


def test_unknown_tenant_exits_4_naming_the_code_and_trace_id(sb: Any, tmp_path: Path) -> None:
    path = env_file(tmp_path, sb)
    code, _, err = run_cli("events", "--env-file", str(path), "--tenant", "NOPE", "--no-progress")
    assert code == 4
    assert "TENANT_NOT_FOUND" in err
    assert "NOPE" in err
    assert "traceId " in err
    assert "Traceback" not in err


def test_a_walk_that_cannot_finish_exits_5_and_writes_no_report(sb: Any, tmp_path: Path) -> None:
    sb.faults.fail_from_page = 3
    path = env_file(tmp_path, sb)
    report = tmp_path / "r.csv"
    report.write_text("yesterday's report\n", encoding="utf-8")
    checkpoint = tmp_path / "cp.jsonl"
    code, _, err = run_cli(
        "events",
        "--env-file",
        str(path),
        "--tenant",
        "ACME",
        "-o",
        str(report),
        "--no-progress",
        "--checkpoint",
        str(checkpoint),
    )
    assert code == 5
    assert "INTERNAL_ERROR" in err and "traceId" in err
    assert "rerun the same command to resume" in err
    assert report.read_text(encoding="utf-8") == "yesterday's report\n"
    sb.faults.fail_from_page = None
    sb.reset_log()
    code, out, err = run_cli(
        "events",
        "--env-file",
        str(path),
        "--tenant",
        "ACME",
        "-o",
        str(report),
        "--no-progress",
        "--checkpoint",
        str(checkpoint),
    )
    assert code == 0, err
    assert "wrote 2,400 rows" in out
    assert sorted(r["page"] for r in sb.log if r["kind"] == "api") == [1, *range(3, 25)]


def test_plain_http_to_a_remote_host_exits_2(sb: Any, tmp_path: Path) -> None:
    path = env_file(tmp_path, sb, ENGAGIFII_API_BASE_URL="http://events.example.com")
    code, _, err = run_cli("events", "--env-file", str(path), "--no-progress")
    assert code == 2
    assert "http://" in err and "HTTPS" in err


def test_missing_configuration_exits_2_and_says_what_to_do(tmp_path: Path) -> None:
    code, _, err = run_cli("events", "--no-progress")
    assert code == 2
    assert "ENGAGIFII_CLIENT_ID" in err
    assert "--sandbox" in err


def test_usage_errors_exit_2() -> None:
    assert run_cli("events", "--page-size", "zero")[0] == 2
    assert run_cli("events", "--sandbox", "--page-size", "0")[0] == 2
    assert run_cli("events", "--sandbox", "--status", "Bogus", "--no-progress")[0] == 2
    for bad_date in ("now", "2026", "20261101", "01/02/2026"):
        assert run_cli("events", "--sandbox", "--from", bad_date, "--no-progress")[0] == 2, bad_date
    assert run_cli("nonsense")[0] == 2


def test_check_prints_a_health_report(sb: Any, tmp_path: Path) -> None:
    path = env_file(tmp_path, sb, ENGAGIFII_TENANT_CODE="ACME,GLOBEX,INITECH")
    code, out, _ = run_cli("check", "--env-file", str(path))
    assert code == 0
    assert "token     OK" in out
    assert "ACME: 2,400 events" in out
    assert "INITECH: 0 events" in out
    assert "status    healthy" in out
    code, out, _ = run_cli("check", "--env-file", str(path), "--tenant", "NOPE")
    assert code == 4
    assert "FAIL  NOPE" in out and "status    unhealthy" in out


def test_console_script_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "engagifii_data.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "events" in result.stdout and "sandbox" in result.stdout


def test_debug_output_shows_requests_but_no_secrets_or_tokens(tmp_path: Path) -> None:
    report = tmp_path / "g.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "engagifii_data.cli",
            "--debug",
            "events",
            "--sandbox",
            "--tenant",
            "GLOBEX",
            "--page-size",
            "10",
            "-o",
            str(report),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "POST /api/1.0/event/list -> 200" in result.stderr
    assert "access token acquired for client sandbox-client" in result.stderr
    for leak in (sandbox.CLIENT_SECRET, "eyJ", "Bearer "):
        assert leak not in result.stderr and leak not in result.stdout, leak


def test_a_tenant_named_twice_is_walked_once_and_the_cap_is_reported(tmp_path: Path) -> None:
    report = tmp_path / "dup.csv"
    code, out, err = run_cli(
        "events",
        "--sandbox",
        "--tenant",
        "GLOBEX",
        "--tenant",
        "GLOBEX",
        "--page-size",
        "500",
        "-o",
        str(report),
        "--no-progress",
    )
    assert code == 0, err
    assert "wrote 36 rows for tenant GLOBEX" in out
    frame = pd.read_csv(report, encoding="utf-8-sig", dtype=str)
    assert len(frame) == 36 and frame["id"].is_unique
    code, out, err = run_cli(
        "events", "--sandbox", "--tenant", "ACME", "--page-size", "500", "-o", str(report), "--no-progress"
    )
    assert "the server capped the page size at 100" in out


def test_empty_tenant_and_bad_port_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = run_cli("events", "--sandbox", "--tenant", "", "--no-progress")
    assert code == 2 and "--tenant" in err
    assert run_cli("sandbox", "--port", "80000")[0] == 2


def test_a_long_retry_after_mid_walk_says_how_long_to_wait(sb: Any, tmp_path: Path) -> None:
    sb.faults.rate_limit_every = 2
    sb.faults.retry_after = "120"
    path = env_file(tmp_path, sb)
    code, _, err = run_cli("events", "--env-file", str(path), "--tenant", "ACME", "--workers", "1", "--no-progress")
    assert code == 5
    assert "the server asked to wait 120 s" in err
    assert err.count("traceId") == 1
    assert "page 2: page 2" not in err


def test_an_unwritable_report_fails_before_the_walk(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    code, out, err = run_cli("events", "--sandbox", "--tenant", "GLOBEX", "-o", str(blocker / "r.csv"), "--no-progress")
    assert code == 1
    assert f"cannot write the report to {blocker / 'r.csv'}" in err
    assert "wrote" not in out
    code, _, err = run_cli("events", "--sandbox", "--tenant", "GLOBEX", "-o", str(tmp_path), "--no-progress")
    assert code == 1 and "it is a folder" in err


def test_multi_tenant_checkpoints_and_failures_name_the_tenant(sb: Any, tmp_path: Path) -> None:
    sb.faults.fail_from_page = 3
    path = env_file(tmp_path, sb)
    checkpoint = tmp_path / "walk.jsonl"
    args = (
        "events",
        "--env-file",
        str(path),
        "--tenant",
        "INITECH",
        "--tenant",
        "GLOBEX",
        "--page-size",
        "10",
        "--workers",
        "1",
        "--checkpoint",
        str(checkpoint),
        "-o",
        str(tmp_path / "m.csv"),
        "--no-progress",
    )
    code, _, err = run_cli(*args)
    assert code == 5
    assert "tenant GLOBEX:" in err and "(tenants INITECH completed)" in err
    assert "rerun the same command to resume" in err
    assert (tmp_path / "walk.GLOBEX.jsonl").exists()
    sb.faults.fail_from_page = None
    sb.reset_log()
    code, out, err = run_cli(*args)
    assert code == 0, err
    assert "wrote 36 rows for tenants INITECH, GLOBEX" in out
    assert sorted(r["page"] for r in sb.log if r["kind"] == "api" and r["tenant"] == "GLOBEX") == [1, 3, 4]
    assert "; 1 page from the checkpoint;" in out  # GLOBEX page 2 came from the checkpoint


def test_a_path_under_a_file_says_so_and_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x", encoding="utf-8")
    code, out, err = run_cli(
        "events", "--sandbox", "--tenant", "GLOBEX", "-o", str(blocker / "sub" / "r.csv"), "--no-progress"
    )
    assert code == 1 and "wrote" not in out
    assert f"{blocker} is a file, not a folder" in err and "File exists" not in err
    assert "free some space" not in err and "give the path of a file whose folders are folders" in err


def test_a_symlinked_report_keeps_the_link_and_replaces_its_target(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "reports" / "new.csv")
    for path in (link, dangling):
        code, _, err = run_cli("events", "--sandbox", "--tenant", "GLOBEX", "-o", str(path), "--no-progress")
        assert code == 0, err
        assert path.is_symlink()
        assert len(pd.read_csv(path)) == 36
    assert real.read_text(encoding="utf-8-sig").startswith("id,")
    assert (tmp_path / "reports" / "new.csv").is_file()


def test_a_named_pipe_is_written_into_not_replaced(tmp_path: Path) -> None:
    import os
    import stat
    import threading

    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = run_cli("events", "--sandbox", "--tenant", "GLOBEX", "-o", str(fifo), "--no-progress")
    reader.join(timeout=30)
    assert code == 0, err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a pipe, not a regular file
    assert len(pd.read_csv(io.BytesIO(received[0]))) == 36


def test_dash_writes_the_report_to_standard_output(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "engagifii_data.cli",
            "events",
            "--sandbox",
            "--tenant",
            "GLOBEX",
            "-o",
            "-",
            "--no-progress",
        ],
        capture_output=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(io.BytesIO(result.stdout))) == 36
    assert b"wrote 36 rows for tenant GLOBEX to standard output" in result.stderr  # the summary stays apart


def test_client_side_filters_are_named_with_their_bounds(tmp_path: Path) -> None:
    code, out, err = run_cli(
        "events",
        "--sandbox",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-31",
        "-o",
        str(tmp_path / "r.csv"),
        "--no-progress",
    )
    assert code == 0, err
    assert "after filters (startDateTime 2025-01-01..2025-01-31)" in out
    code, out, err = run_cli(
        "events",
        "--sandbox",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-31T12:00",
        "-o",
        str(tmp_path / "r.csv"),
        "--no-progress",
    )
    assert code == 0, err
    assert "after filters (startDateTime 2025-01-01..2025-01-31T12:00:00Z)" in out
    code, out, err = run_cli(
        "events",
        "--sandbox",
        "--from",
        "2025-02-01",
        "--to",
        "2025-01-31",
        "-o",
        str(tmp_path / "r.csv"),
        "--no-progress",
    )
    assert code == 2 and "--to (2025-01-31) is before --from (2025-02-01)" in err
    assert "end" not in err.replace("--to", "").split("(")[0]


@pytest.mark.parametrize(
    ("saved", "advice"),
    [
        ("walk.jsonl", "rerun the same command to resume from the checkpoint {checkpoint}"),
        ("walk.ACME.jsonl", "rerun the same command to resume from the checkpoint {checkpoint}"),  # a tenant's file
        (None, "no page was saved to the checkpoint {checkpoint} yet: a rerun starts from page 1"),
        ("walk.jsonl.lock", "no page was saved to the checkpoint {checkpoint} yet: a rerun starts from page 1"),
    ],
)
def test_ctrl_c_with_a_checkpoint_says_what_a_rerun_does(
    saved: str | None, advice: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from engagifii_data import client as client_module

    checkpoint = tmp_path / "walk.jsonl"

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        if saved:
            (tmp_path / saved).write_text("{}\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(client_module.EngagifiiClient, "events", interrupted)
    code, _, err = run_cli(
        "events", "--sandbox", "--checkpoint", str(checkpoint), "-o", str(tmp_path / "r.csv"), "--no-progress"
    )
    assert code == 130
    assert f"interrupted; no report was written; {advice.format(checkpoint=checkpoint)}" in err
    assert not (tmp_path / "r.csv").exists()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from engagifii_data import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"engagifii-data {__version__}"


@pytest.mark.parametrize(
    ("filters", "warned"),
    [
        (["--upcoming", "--to", "2020-01-31"], True),
        (["--upcoming", "--to", "2020-01-31T10:00:00Z"], True),
        (["--upcoming", "--from", "2020-01-01"], False),
        (["--to", "2020-01-31"], False),
    ],
)
def test_a_filter_that_cannot_match_is_a_warning(filters: list[str], warned: bool, tmp_path: Path) -> None:
    code, _, err = run_cli(
        "events", "--sandbox", "--tenant", "GLOBEX", *filters, "-o", str(tmp_path / "r.csv"), "--no-progress"
    )
    assert code == 0
    assert ("warning: only upcoming events (not ended) were asked for" in err) is warned, err


def test_missing_configuration_says_how_to_use_the_sandbox_in_each_place() -> None:
    from engagifii_data.config import Settings
    from engagifii_data.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(environ={})
    assert "sandbox.run() as sb" in str(caught.value) and "--sandbox" not in str(caught.value)
    code, _, err = run_cli("events", "-o", "r.csv")
    assert code == 2 and "--sandbox" in err and "sandbox.run()" not in err


@pytest.mark.parametrize(("name", "code", "said"), [("SIGTERM", 143, "terminated"), ("SIGHUP", 129, "hung up")])
def test_sigterm_ends_like_ctrl_c_with_no_report_and_a_resumable_checkpoint(
    name: str, code: int, said: str, sb: Any, tmp_path: Path
) -> None:
    import signal
    import time

    if not hasattr(signal, name):
        pytest.skip(f"no {name} here")

    sb.faults.latency = 0.3  # slow pages, so the run is mid-walk when it is terminated
    report, checkpoint = tmp_path / "r.csv", tmp_path / "walk.ckpt"
    command = [sys.executable, "-m", "engagifii_data.cli", "events", "--env-file", str(env_file(tmp_path, sb))]
    command += ["--tenant", "ACME", "--page-size", "100", "--checkpoint", str(checkpoint)]
    command += ["-o", str(report), "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not checkpoint.exists() or checkpoint.read_bytes().count(b"\n") < 3:  # the header and two pages
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(getattr(signal, name))
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert f"{said}; no report was written; rerun the same command to resume from the checkpoint {checkpoint}" in err
    assert "Traceback" not in err
    assert not report.exists() and not list(tmp_path.glob("r.csv*"))
    saved = checkpoint.read_bytes().count(b"\n") - 2  # not the header; page 1 is always fetched again

    sb.faults.latency = 0.0
    code, out, err = run_cli(*command[3:])
    assert code == 0, err
    assert f"{saved} pages from the checkpoint" in out and "wrote 2,400 rows for tenant ACME" in out, (saved, out)
    assert len(pd.read_csv(report, encoding="utf-8-sig")) == 2400


@pytest.mark.parametrize(
    ("cause", "code"),
    [
        (AuthenticationError("invalid_token", "the API rejected a freshly issued access token", status=401), 3),
        (AuthenticationError("invalid_client", "disabled", status=400), 3),
        (TransportError("connection reset"), 5),
        (None, 5),
    ],
)
def test_a_walk_stopped_by_authentication_exits_3_with_resume_advice(cause: Exception | None, code: int) -> None:
    exc = IncompleteWalkError(2, "page 2 could not be fetched", cause=cause, checkpoint="walk.jsonl")
    assert exit_code_for(exc) == code
    lines = describe_error(exc, dict(CLI_WORDS))
    assert ("check the client credentials" in lines[1]) is (code == 3)
    assert "resume" in lines[1] or cause is None


def test_status_takes_a_comma_list_as_repeated_options(tmp_path: Path) -> None:
    base = ("events", "--sandbox", "--tenant", "GLOBEX", "--no-progress")
    code1, _, err1 = run_cli(*base, "--status", "Published,Completed", "-o", str(tmp_path / "a.csv"))
    code2, _, err2 = run_cli(*base, "--status", "Published", "--status", " Completed", "-o", str(tmp_path / "b.csv"))
    assert (code1, code2) == (0, 0), err1 + err2
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert len(a) == len(b) > 0 and set(a["eventStatus"]) <= {"Published", "Completed"}
    assert run_cli(*base, "--status", "Published,Bogus", "-o", str(tmp_path / "c.csv"))[0] == 2


@pytest.mark.parametrize("verbose", [False, True])
def test_retry_warnings_are_capped_and_counted_in_the_summary(verbose: bool, sb: Any, tmp_path: Path) -> None:
    sb.faults.detail_faults = {"*": "html503"}  # every event's first detail request fails once: 36 retries
    path = env_file(tmp_path, sb)
    extra = ["--verbose"] if verbose else []
    code, out, err = run_cli(
        "events", "--env-file", str(path), "--tenant", "GLOBEX", "--details", "--no-progress", *extra,
        "-o", str(tmp_path / "r.csv"),
    )  # fmt: skip
    assert code == 0, err
    retry_lines = [line for line in err.splitlines() if line.startswith("warning: retrying /api/1.0/event/")]
    assert len(retry_lines) == (36 if verbose else 10)
    assert err.count("more retries follow; they are not shown (the summary counts them)") == (0 if verbose else 1)
    assert "retries 36" in out
