"""Resumable walks: every fetched page saved as it arrives, so a rerun fetches only what is missing.

A checkpoint is a JSON-lines file. Line 1 is a header naming what the pages belong to::

    {"format": "engagifii-checkpoint", "version": 2, "tenant": "ACME",
     "filters": {"only_upcoming": false, "search": null}, "page_size": 100, "total": 2400}

and every further line is one page as the API sent it, with a checksum of its content::

    {"page": 3, "total": 2400, "rows": [...], "sha256": "..."}

Lines are appended, flushed and fsync'ed one page at a time, so an interrupted walk (a dropped
network, a killed kernel) loses at most the page being written; a torn last line is ignored.

Rules:

- **Private and exclusive.** The file is created with mode 0600 through a uniquely named temp file
  beside it (never a fixed ``.tmp`` name a symlink could be planted at), and appended to without
  following symlinks. While a walk uses it, ``<name>.lock`` is locked (``flock``): a second walk on
  the same checkpoint gets a :class:`ConfigurationError` naming it, at once.
- **Checked first.** The path is checked when the walk starts, before any request: a folder, a path
  under a file or an unwritable folder is a :class:`ConfigurationError` naming the checkpoint; so is
  a write that fails later in the walk.
- **Yours only.** An existing checkpoint is read only when no other user could have written it (owned
  by you or root, not writable by others: :mod:`engagifii_data.ownership`, the rule ``.env`` files
  follow), and not when it sits in a sticky folder such as ``/tmp`` owned by someone else.
- **Trusted only when intact.** A page whose checksum does not match its content (edited or damaged
  on disk) is ignored and fetched again; so is a damaged line. A file of another format version, or
  made for another tenant, other server-side filters or another page size, is refused.
- **Re-checked.** On resume page 1 is always fetched again. The same total and the same ids on page 1:
  saved pages are reused and only missing pages are fetched. Otherwise the listing changed, so the
  saved pages are discarded and the walk starts over.
- **Gone when done.** When the walk completes the checkpoint (and its lock file) is deleted, so the
  next scheduled run reads fresh data instead of yesterday's pages.

Detail walks save their answers in a sibling file with the same rules (:class:`DetailCheckpoint`,
``walk.jsonl`` -> ``walk.details.jsonl``): one line per event id, a 404 saved as ``null``.

Modules: :mod:`.files` (the file rules both kinds share: path check, trust, lock, private atomic
writes, the header), :mod:`.pages` (the listing's pages, :class:`Checkpoint`), :mod:`.details` (a
detail walk's answers, :class:`DetailCheckpoint`).
"""

from __future__ import annotations

from .details import DETAIL_FORMAT, DETAIL_VERSION, DetailCheckpoint, detail_checkpoint_path
from .files import check_path
from .pages import FORMAT, VERSION, Checkpoint

__all__ = [
    "DETAIL_FORMAT",
    "DETAIL_VERSION",
    "FORMAT",
    "VERSION",
    "Checkpoint",
    "DetailCheckpoint",
    "check_path",
    "detail_checkpoint_path",
]
