"""Who may have written a file: the one rule for files whose content is trusted.

A ``.env`` file (it names the identity server the secret is sent to) and a checkpoint (its pages
become report rows) are read only when no other user could have written them: the file is owned by
the current user or by root, it is not writable by every user, and it is not writable through a group
that has other members. A file in a shared folder such as ``/tmp`` may have been planted by someone
else; this rule is what keeps it out.

The same module holds the rule of a shared folder with the sticky bit (``/tmp``): a file there that
belongs to another user cannot be replaced or removed by us, so a report or checkpoint cannot be
written over it.
"""

from __future__ import annotations

import os
import stat


def untrusted_reason(info: os.stat_result) -> str | None:
    """Why a file with this ``stat`` could have been written by another user, or None if it could not.

    Parameters
    ----------
    info : os.stat_result
        The file's ``stat`` (of the opened file, to leave no gap between the check and the read).

    Returns
    -------
    str or None
        ``"it belongs to another user (uid 1234)"``, ``"it is writable by any user (mode -rw-rw-rw-)"``
        or ``"it is writable by other members of its group (mode -rw-rw----)"``; None on non-POSIX
        systems, where file ownership is not checked.
    """
    if os.name != "posix":
        return None
    if info.st_uid not in (os.geteuid(), 0):
        return f"it belongs to another user (uid {info.st_uid})"
    if info.st_mode & stat.S_IWOTH:
        return f"it is writable by any user (mode {stat.filemode(info.st_mode)})"
    if info.st_mode & stat.S_IWGRP and group_has_others(info.st_gid, info.st_uid):
        return f"it is writable by other members of its group (mode {stat.filemode(info.st_mode)})"
    return None


def group_has_others(gid: int, owner: int) -> bool:
    """Whether a user other than ``owner`` belongs to group ``gid`` (as a member or by primary group)."""
    import grp
    import pwd

    try:
        owner_name = pwd.getpwuid(owner).pw_name
    except KeyError:
        owner_name = None
    try:
        members = set(grp.getgrgid(gid).gr_mem)
    except KeyError:
        return True  # an unknown group: assume the worst
    if members - {owner_name}:
        return True
    return any(p.pw_gid == gid and p.pw_uid != owner for p in pwd.getpwall())


def cannot_replace_reason(path: str | os.PathLike[str]) -> str | None:
    """Why the existing file at ``path`` cannot be replaced by us (a sticky folder), or None.

    In a folder with the sticky bit (``/tmp``), a file can be renamed over or removed only by its
    owner, the folder's owner or root, so an atomic replacement of another user's file fails with
    "Operation not permitted" after all the work was done. This says so before.
    """
    if os.name != "posix":
        return None
    me = os.geteuid()
    if me == 0:
        return None
    try:
        info = os.lstat(path)
        folder = os.stat(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return None
    if folder.st_mode & stat.S_ISVTX and info.st_uid != me and folder.st_uid != me:
        return (
            f"it belongs to another user (uid {info.st_uid}) in a shared folder with the sticky bit, "
            "where only its owner can replace it"
        )
    return None
