"""Deployment packages: a .zip unpacked safely within AWS's quotas, and a code folder zipped back."""

from __future__ import annotations

import io
import os
import shutil
import stat
import zipfile
import zlib
from pathlib import Path

from lambda_emu.emulator.platform.errors import invalid_parameter

#: AWS quotas for deployment packages.
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 262_144_000
MAX_ZIP_ENTRIES = 20_000


def zip_directory(directory: Path) -> bytes:
    """A deployment package of a directory used in place (a template's CodeUri)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, str(path.relative_to(directory)))
    return buffer.getvalue()


def unzip_error() -> Exception:
    return invalid_parameter("Could not unzip uploaded file. Please check your file, then try to upload again.")


def extract_zip(data: bytes, target: Path) -> None:
    """Extract a deployment package safely: no entry may escape ``target``, and the real (not the
    declared) unzipped size is capped, so a zip bomb stops at the quota instead of filling the disk."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise unzip_error() from exc
    if len(entries) > MAX_ZIP_ENTRIES:
        raise invalid_parameter(f"Deployment package has more than {MAX_ZIP_ENTRIES} entries")
    if sum(e.file_size for e in entries) > MAX_UNZIPPED_BYTES:
        raise invalid_parameter(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
    root = target.resolve()
    for entry in entries:
        # A path the file system can't hold (PATH_MAX, NAME_MAX) can't be unzipped on Lambda either;
        # refusing it up front also keeps a 2,000-level path from recursing through mkdir and rmtree.
        parts = entry.filename.encode(errors="surrogateescape").split(b"/")
        if len(bytes(root)) + len(entry.filename.encode(errors="surrogateescape")) + 1 >= 4096 or any(
                len(part) > 255 for part in parts):
            raise unzip_error()
    target.mkdir(parents=True, exist_ok=False)
    written = 0
    try:
        for entry in entries:
            destination = (root / entry.filename).resolve()
            if entry.filename.startswith("/") or not destination.is_relative_to(root):
                raise invalid_parameter(f"Deployment package entry escapes the code directory: {entry.filename}")
            mode = entry.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise invalid_parameter(f"Deployment package contains a symbolic link: {entry.filename}")
            if entry.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(entry) as source, open(destination, "wb") as sink:
                while chunk := source.read(1 << 20):
                    written += len(chunk)
                    if written > MAX_UNZIPPED_BYTES:
                        raise invalid_parameter(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
                    sink.write(chunk)
            # Keep the executable bit (a provided.* bootstrap); AWS extracts files world-readable.
            permissions = 0o755 if mode & 0o111 else 0o644
            os.chmod(destination, permissions)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError,
            RecursionError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise unzip_error() from exc
    except Exception:
        shutil.rmtree(target, ignore_errors=True)
        raise
