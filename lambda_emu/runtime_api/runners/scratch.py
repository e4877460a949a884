"""An environment's /tmp as scratch data: a size-limited mount where the machine allows one, and its
removal (mounts undone first). Used by the process runner, the orphan reaper and the environments
(a deleted function's /tmp goes with it)."""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
from pathlib import Path

_MNT_DETACH = 2
_MS_REMOUNT = 32
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_CLONE_NEWNS = 0x00020000


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


def private_mounts() -> bool:
    """Give this process a mount namespace of its own, private to it, so the /tmp mounts it makes
    vanish with it (and the processes it started), even when it is killed with -9: nothing stays
    mounted on the host. Only while the process is single-threaded (unshare refuses otherwise); False
    when not allowed (not root), and then mounts are made on the host and removed on stop or by the
    next start."""
    libc = _libc()
    if libc is None or libc.unshare(_CLONE_NEWNS) != 0:
        return False
    # Mounts made here must not propagate back to the host's namespace (systemd makes / shared).
    libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None)
    return True


def mount_tmpfs(path: Path, size_mb: int) -> bool:
    """Make ``path`` a tmpfs of ``size_mb`` MB (a write past it fails with ENOSPC); a mounted one is
    resized. False when the machine doesn't allow it (not root, no mount permission, not Linux)."""
    libc = _libc()
    if libc is None:
        return False
    flags = _MS_REMOUNT if os.path.ismount(path) else 0
    options = f"size={size_mb}m,mode=0700".encode()
    return bool(libc.mount(b"tmpfs", str(path).encode(), b"tmpfs", flags, options) == 0)


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or below ``path``, deepest first."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    root = str(path.resolve()) if path.exists() else str(path)
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        point = fields[1].replace("\\040", " ")
        if point == root or point.startswith(root.rstrip("/") + "/"):
            found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def remove_tree(path: Path) -> None:
    """Remove an environment's scratch data: unmount what is mounted there first, then delete it."""
    libc = _libc()
    if libc is not None:
        for point in mounts_under(path):
            libc.umount2(str(point).encode(), _MNT_DETACH)
    shutil.rmtree(path, ignore_errors=True)
