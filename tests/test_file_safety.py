"""Files another user could have written, and paths that name an open descriptor.

- ``-o -`` (and ``/dev/stdout``, ``/dev/fd/N``) writes through the descriptor already open: ``>>``
  appends, a deleted file is not recreated beside it;
- a file in a sticky folder that belongs to another user cannot be replaced: refused before any work;
- a checkpoint another user could have written is never read (the ``.env`` rule).
"""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engagifii_data import export_csv
from engagifii_data.checkpoint import Checkpoint, check_path
from engagifii_data.exceptions import ConfigurationError, ReportNotWritable
from engagifii_data.ownership import cannot_replace_reason, untrusted_reason
from engagifii_data.pagination import Page
from engagifii_data.reports.files import check_writable

POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX file ownership and descriptors")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
OTHER_UID = 12345
CLI = [sys.executable, "-m", "engagifii_data.cli", "events", "--sandbox", "--tenant", "GLOBEX", "--no-progress"]


def small_frame() -> pd.DataFrame:
    return pd.DataFrame({"id": ["a", "b"], "name": ["one", "two"]})


# --------------------------------------------------------------------------------------------------
# -o - and other descriptor paths
# --------------------------------------------------------------------------------------------------


@POSIX
@pytest.mark.parametrize("output", ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_standard_output_redirected_with_append_is_appended_to(output: str, tmp_path: Path) -> None:
    if output.startswith("/proc") and not Path("/proc/self/fd").exists():
        pytest.skip("no /proc")
    report = tmp_path / "all.csv"
    report.write_bytes(b"PREVIOUS CONTENT\n")
    with open(report, "ab") as stdout:
        result = subprocess.run(
            [*CLI, "-o", output], stdout=stdout, stderr=subprocess.PIPE, cwd=tmp_path, timeout=120, check=False
        )
    assert result.returncode == 0, result.stderr
    data = report.read_bytes()
    assert data.startswith(b"PREVIOUS CONTENT\nid,")  # appended after what was there (no BOM in a stream)
    assert len(pd.read_csv(io.BytesIO(data[len(b"PREVIOUS CONTENT\n") :]))) == 36
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.csv"]  # no temp file, no replacement


@POSIX
@pytest.mark.parametrize(
    ("shell", "before", "bom"),
    [
        ("> all.csv", b"", True),  # a fresh redirect is the start of a file: the BOM Excel needs
        (">> all.csv", b"", True),  # appending to an empty file also starts it
        (">> all.csv", b"PREVIOUS\n", False),  # O_APPEND, offset 0, bytes already there
        ("| cat > all.csv", b"", True),  # a pipe: the report is the start of what flows
        ("1<> all.csv", b"", True),  # read-write at offset 0 of an empty file
    ],
)
def test_a_bom_only_where_the_report_starts_the_file(shell: str, before: bytes, bom: bool, tmp_path: Path) -> None:
    (tmp_path / "all.csv").write_bytes(before)
    command = " ".join(shlex.quote(part) for part in [*CLI, "-o", "-"]) + f" {shell}"
    result = subprocess.run(command, shell=True, stderr=subprocess.PIPE, cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    data = (tmp_path / "all.csv").read_bytes()
    assert data.startswith(before)
    assert data[len(before) :].startswith(b"\xef\xbb\xbfid," if bom else b"id,")
    assert data.count(b"\xef\xbb\xbf") == int(bom)


@POSIX
def test_standard_output_on_a_deleted_file_creates_nothing_beside_it(tmp_path: Path) -> None:
    report = tmp_path / "gone.csv"
    with open(report, "wb") as stdout:
        report.unlink()
        result = subprocess.run(
            [*CLI, "-o", "-"], stdout=stdout, stderr=subprocess.PIPE, cwd=tmp_path, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr
        assert os.fstat(stdout.fileno()).st_size > 1000  # written into the open (deleted) file
    assert list(tmp_path.iterdir()) == []


@POSIX
def test_another_open_descriptor_is_written_into(tmp_path: Path) -> None:
    report = tmp_path / "fd3.csv"
    with open(report, "wb") as target:
        result = subprocess.run(
            [*CLI, "-o", f"/dev/fd/{target.fileno()}"],
            pass_fds=(target.fileno(),),
            capture_output=True,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(report)) == 36
    assert b"wrote 36 rows" in result.stdout  # the report did not go to standard output


@POSIX
def test_a_descriptor_open_for_reading_only_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("x", encoding="utf-8")
    with open(source, "rb") as fh, pytest.raises(ReportNotWritable, match="reading only"):
        check_writable(f"/dev/fd/{fh.fileno()}")
    assert source.read_text(encoding="utf-8") == "x"


# --------------------------------------------------------------------------------------------------
# sticky folders: another user's file cannot be replaced
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def sticky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sticky folder holding ``theirs.csv``, seen as an unprivileged user who owns neither."""
    if os.name != "posix":
        pytest.skip("POSIX only")
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o1777)
    (folder / "theirs.csv").write_text("THEIRS\n", encoding="utf-8")
    if IS_ROOT:  # a real other owner; geteuid below makes us neither root nor the folder's owner
        os.chown(folder / "theirs.csv", OTHER_UID, OTHER_UID)
    monkeypatch.setattr(os, "geteuid", lambda: 65534)
    return folder


def test_a_file_of_another_user_in_a_sticky_folder_cannot_be_replaced(sticky: Path) -> None:
    theirs = sticky / "theirs.csv"
    reason = cannot_replace_reason(theirs)
    assert reason is not None and "sticky" in reason and "another user" in reason
    for attempt in (lambda: check_writable(theirs), lambda: export_csv(small_frame(), theirs)):
        with pytest.raises(ReportNotWritable) as caught:
            attempt()
        assert str(theirs) in str(caught.value) and "sticky" in str(caught.value)
    assert theirs.read_text(encoding="utf-8") == "THEIRS\n"
    assert cannot_replace_reason(sticky / "new.csv") is None  # a new name in the same folder is fine


def test_sticky_rule_spares_our_own_files_and_plain_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.name != "posix":
        pytest.skip("POSIX only")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "r.csv").write_text("x", encoding="utf-8")
    assert cannot_replace_reason(plain / "r.csv") is None  # not sticky
    os.chmod(plain, 0o1777)
    assert cannot_replace_reason(plain / "r.csv") is None  # ours (or root's)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert cannot_replace_reason(plain / "r.csv") is None  # root may replace anything


def test_the_cli_refuses_a_report_it_could_not_replace_before_the_walk(sticky: Path) -> None:
    from engagifii_data.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["events", "--sandbox", "--tenant", "GLOBEX", "--no-progress", "-o", str(sticky / "theirs.csv")],
        out=out,
        err=err,
    )
    assert code == 1, err.getvalue()
    assert "sticky" in err.getvalue() and "wrote" not in out.getvalue()
    assert (sticky / "theirs.csv").read_text(encoding="utf-8") == "THEIRS\n"


def test_a_checkpoint_of_another_user_in_a_sticky_folder_is_refused_first(sticky: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"checkpoint .*theirs\.csv"):
        check_path(sticky / "theirs.csv")


# --------------------------------------------------------------------------------------------------
# checkpoints another user could have written
# --------------------------------------------------------------------------------------------------


FILTERS = {"only_upcoming": False, "search": None}


def _checkpoint(path: Path) -> None:
    """A checkpoint of tenant T1 (page size 10) holding pages 1 and 2, as a stopped walk leaves it."""
    store = Checkpoint.open(path, tenant="T1", filters=FILTERS, page_size=10)
    rows = [{"id": f"e{i}", "name": f"Event {i}"} for i in range(20)]
    store.start(Page(1, rows[:10], 30))
    store.save(Page(2, rows[10:], 30))
    store.release()


def _arrange(path: Path, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if how == "world-writable":
        os.chmod(path, 0o666)
    elif how == "world-writable-602":
        os.chmod(path, 0o602)
    elif how == "another-owner":
        if IS_ROOT:
            os.chown(path, OTHER_UID, OTHER_UID)
        else:  # the file is ours: become someone else
            real = os.geteuid()
            monkeypatch.setattr(os, "geteuid", lambda: real + 1 if real + 1 != 0 else 2)
    else:
        raise AssertionError(how)


@POSIX
@pytest.mark.parametrize("how", ["world-writable", "world-writable-602", "another-owner"])
def test_a_checkpoint_another_user_could_have_written_is_never_read(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "walk.jsonl"
    _checkpoint(path)
    before = path.read_bytes()
    _arrange(path, how, monkeypatch)
    with pytest.raises(ConfigurationError) as caught:
        Checkpoint.open(path, tenant="T1", filters=FILTERS, page_size=10)
    text = str(caught.value)
    assert str(path) in text and "refusing to read checkpoint" in text
    assert path.read_bytes() == before  # untouched


@POSIX
def test_untrusted_reason_names_each_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f"
    path.write_text("x", encoding="utf-8")
    os.chmod(path, 0o600)
    assert untrusted_reason(path.stat()) is None
    os.chmod(path, 0o646)
    assert "any user" in (untrusted_reason(path.stat()) or "")
    os.chmod(path, 0o600)
    real = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: real + 1 if real + 1 != 0 else 2)
    if real != 0:
        assert "another user" in (untrusted_reason(path.stat()) or "")
    else:
        assert untrusted_reason(path.stat()) is None  # root's files are trusted


@POSIX
def test_the_cli_refuses_a_planted_checkpoint_before_any_request(tmp_path: Path) -> None:
    from engagifii_data.cli import main

    planted = tmp_path / "ck.jsonl"
    header = {"format": "engagifii-checkpoint", "version": 2, "tenant": "GLOBEX", "filters": {}, "page_size": 10}
    planted.write_text(json.dumps(header) + "\n", encoding="utf-8")
    os.chmod(planted, 0o666)
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "events",
            "--sandbox",
            "--tenant",
            "GLOBEX",
            "--no-progress",
            "--checkpoint",
            str(planted),
            "-o",
            str(tmp_path / "r.csv"),
        ],
        out=out,
        err=err,
    )
    assert code == 2, err.getvalue()
    assert "refusing to read checkpoint" in err.getvalue() and str(planted) in err.getvalue()
    assert not (tmp_path / "r.csv").exists()


@POSIX
@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_a_reader_that_goes_away_ends_every_format_quietly(fmt: str, tmp_path: Path) -> None:
    reader = subprocess.Popen(
        [*CLI, "-o", "-", "--format", fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    )
    assert reader.stdout is not None and reader.stderr is not None
    first = reader.stdout.read(100)
    reader.stdout.close()  # as `| head -c 100` does
    err = reader.stderr.read()
    code = reader.wait(timeout=120)
    assert len(first) == 100
    assert code in (0, 141), err
    assert b"Traceback" not in err and b"Exception ignored" not in err and b"error" not in err, err


@POSIX
@pytest.mark.parametrize(("fmt", "args"), [("xlsx", ["--format", "xlsx", "-o", "-"]), ("parquet", ["-o", "TTY"])])
def test_a_binary_report_is_never_written_to_a_terminal(fmt: str, args: list[str], tmp_path: Path) -> None:
    import pty

    leader, follower = pty.openpty()
    try:
        argv = [a if a != "TTY" else os.ttyname(follower) for a in args]
        if "--format" not in argv:
            argv = ["--format", fmt, *argv]
        result = subprocess.run(
            [*CLI, *argv], stdout=follower, stderr=subprocess.PIPE, cwd=tmp_path, timeout=120, check=False
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert result.returncode == 2, result.stderr
    assert f"a {fmt} report is binary and would be printed as garbage on the terminal".encode() in result.stderr
    assert b"GET" not in result.stderr and list(tmp_path.iterdir()) == []


@POSIX
@pytest.mark.parametrize("fmt", ["xlsx", "parquet"])
def test_a_binary_report_still_goes_to_dev_null_and_pipes(fmt: str, tmp_path: Path) -> None:
    for output in ("/dev/null", "-"):
        result = subprocess.run(
            [*CLI, "--format", fmt, "-o", output],
            capture_output=True,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        if output == "-":
            assert result.stdout[:4] in (b"PK\x03\x04", b"PAR1")
