"""Checkpoints on their own: saved pages, checksums, locking, privacy and refusals (no server)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from engagifii_data.checkpoint import VERSION, Checkpoint, check_path
from engagifii_data.exceptions import ConfigurationError
from engagifii_data.pagination import Page

FILTERS = {"only_upcoming": False, "search": None}


def page(number: int, total: int = 30, size: int = 10) -> Page:
    start = (number - 1) * size
    return Page(number, [{"id": f"e{i}", "name": f"Event {i}"} for i in range(start, min(start + size, total))], total)


def open_checkpoint(path: Path, tenant: str = "T1", page_size: int = 10) -> Checkpoint:
    return Checkpoint.open(path, tenant=tenant, filters=FILTERS, page_size=page_size)


def saved(path: Path, *pages: Page) -> None:
    store = open_checkpoint(path)
    store.start(pages[0])
    for p in pages[1:]:
        store.save(p)
    store.release()


def test_saved_pages_are_offered_again_when_page_1_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "walk.jsonl"
    saved(path, page(1), page(2))
    store = open_checkpoint(path)
    assert store.saved_pages == 2
    reusable = store.start(page(1))
    assert sorted(reusable) == [2] and reusable[2].rows == page(2).rows
    store.complete()
    assert not path.exists() and not (tmp_path / "walk.jsonl.lock").exists()


@pytest.mark.parametrize(
    "changed",
    [page(1, total=31), Page(1, [{"id": "other"}, *page(1).rows[1:]], 30)],
    ids=["total-changed", "first-ids-changed"],
)
def test_a_changed_listing_starts_over(tmp_path: Path, changed: Page) -> None:
    path = tmp_path / "walk.jsonl"
    saved(path, page(1), page(2), page(3))
    store = open_checkpoint(path)
    assert store.start(changed) == {}
    store.release()


def _edit_line(path: Path, number: int, edit: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines[1:], start=1):
        item = json.loads(line)
        if item["page"] == number:
            if edit == "rename":
                item["rows"][0]["name"] = "Edited"
            elif edit == "drop-row":
                item["rows"].pop()
            elif edit == "total":
                item["total"] = 999
            elif edit == "no-checksum":
                del item["sha256"]
            lines[i] = json.dumps(item)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("edit", ["rename", "drop-row", "total", "no-checksum"])
def test_a_page_changed_on_disk_is_not_trusted(tmp_path: Path, edit: str) -> None:
    path = tmp_path / "walk.jsonl"
    saved(path, page(1), page(2), page(3))
    _edit_line(path, 2, edit)
    store = open_checkpoint(path)
    reusable = store.start(page(1))
    assert sorted(reusable) == [3]  # page 2 will be fetched again
    store.release()


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "walk.jsonl"
    saved(path, page(1), page(2))
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"page": 3, "total": 30, "rows": [{"id"')
    store = open_checkpoint(path)
    assert sorted(store.start(page(1))) == [2]
    store.release()


def test_the_checkpoint_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        path = tmp_path / "walk.jsonl"
        saved(path, page(1), page(2))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_second_walk_on_the_same_checkpoint_is_refused_until_the_first_releases(tmp_path: Path) -> None:
    path = tmp_path / "walk.jsonl"
    first = open_checkpoint(path)
    with pytest.raises(ConfigurationError, match=r"walk\.jsonl is in use by another walk"):
        open_checkpoint(path)
    first.release()
    open_checkpoint(path).release()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"tenant": "T2"}, "made for tenant 'T2'"),
        ({"page_size": 50}, "made for page size 50"),
        ({"filters": {"only_upcoming": True, "search": None}}, "made for server filters only_upcoming=True, not none;"),
        ({"filters": {"only_upcoming": False, "search": "gala"}}, "made for server filters search='gala', not none;"),
        ({"version": VERSION + 1}, f"format version {VERSION + 1}"),
        ({"format": "something-else"}, "is not an engagifii-data checkpoint"),
    ],
)
def test_a_foreign_checkpoint_is_refused_and_stays_unlocked(
    tmp_path: Path, header: dict[str, object], message: str
) -> None:
    path = tmp_path / "walk.jsonl"
    base = {
        "format": "engagifii-checkpoint",
        "version": VERSION,
        "tenant": "T1",
        "filters": FILTERS,
        "page_size": 10,
        "total": 30,
    }
    path.write_text(json.dumps({**base, **header}) + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        open_checkpoint(path)
    with pytest.raises(ConfigurationError):  # the refusal released the lock: same error, not "in use"
        open_checkpoint(path)


def test_binary_garbage_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "walk.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigurationError, match="not an engagifii-data checkpoint"):
        open_checkpoint(path)


@pytest.mark.parametrize("where", ["a-folder", "under-a-file", "under-a-file-deep"])
def test_unusable_paths_are_named_before_anything_is_written(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    path = {
        "a-folder": tmp_path,
        "under-a-file": blocker / "walk.jsonl",
        "under-a-file-deep": blocker / "a" / "b" / "walk.jsonl",
    }[where]
    with pytest.raises(ConfigurationError, match=f"checkpoint {path}"):
        check_path(path)


def test_a_planted_temp_symlink_is_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    path = tmp_path / "walk.jsonl"
    for name in ("walk.jsonl.tmp", ".walk.jsonl.tmp"):
        (tmp_path / name).symlink_to(victim)
    saved(path, page(1), page(2))
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not path.is_symlink()
