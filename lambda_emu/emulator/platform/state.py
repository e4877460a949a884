"""The state directory (`lambda-emu up --state-dir DIR`): everything accepted, on disk before the answer.

One embedded SQLite database, ``DIR/state.db``, in WAL mode. Rooms write through compact records —
one JSON document per entity (a function, a queue, a message, a stream record, an async event, an
event source mapping, a journal attempt) — keyed by ``(kind, key)``, with an ``owner`` that lets a
room drop everything of a deleted queue, stream or function in one statement.

Writes are collected in memory (the newest value of each record wins) and committed in one
transaction: before any HTTP response is sent (``server`` commits in ``on_response_prepare``, so no
client hears "accepted" before it is on disk) and, for work nobody waits on (pollers, retries), at
the end of the event loop turn that made it. ``synchronous=NORMAL`` in WAL mode: a commit is in the
database file before the answer, so a kill -9 of lambda-emu loses nothing; only a power cut or an
OS crash can lose the last commits (``FULL`` would fsync every answer; see BENCHMARKS.md).

Without ``--state-dir`` there is no StateStore at all: rooms hold ``None`` and skip every call.

A state directory written by another schema version is refused before anything is read, with a
message naming both versions; two lambda-emu processes never share one directory (an exclusive
lock, released by the kernel even on kill -9).
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

#: Bump when a record's layout changes in a way an older reader would misread.
SCHEMA_VERSION = 1
DATABASE = "state.db"
LOCK = "state.lock"

Record = dict[str, Any]
Serializer = Callable[[], Record]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, written_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_owner ON records (kind, owner);
"""


class StateError(Exception):
    """The state directory can't be used; the message is the user's answer."""


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"$b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"not storable: {type(value).__name__}")


def _hook(value: dict[str, Any]) -> Any:
    if len(value) == 1 and "$b64" in value:
        return base64.b64decode(value["$b64"])
    return value


def dumps(record: Record) -> str:
    return json.dumps(record, default=_default, separators=(",", ":"))


def loads(text: str) -> Record:
    result: Record = json.loads(text, object_hook=_hook)
    return result


class StateStore:
    def __init__(self, directory: Path, written_by: str) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise StateError(f"the state directory {directory} is in use by another lambda-emu") from None
        try:
            self._db = self._open(directory / DATABASE, written_by)
        except BaseException:
            os.close(self._lock_fd)
            raise
        # (kind, key) → (owner, serializer) or None for a delete; the newest wins.
        self._pending: dict[tuple[str, str], tuple[str, Serializer] | None] = {}
        self._dropped: list[tuple[str, str]] = []  # (kind, owner): delete everything it owns
        self._cleared: list[str] = []  # kinds to empty entirely
        self._scheduled = False
        #: Called at each commit for records that change all the time (the clock's time).
        self.on_commit: list[Callable[[], None]] = []
        self.commits = 0

    @staticmethod
    def _open(path: Path, written_by: str) -> sqlite3.Connection:
        import sqlite3  # only with --state-dir: keeps it off `lambda-emu up`'s start-up path

        fresh = not path.exists()
        try:
            if not fresh:
                # The version is read before anything is written (even WAL mode), so a refused
                # directory is left exactly as it was.
                check = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
                try:
                    rows = check.execute("SELECT version, written_by FROM schema_version").fetchall()
                finally:
                    check.close()
                if len(rows) != 1 or rows[0][0] != SCHEMA_VERSION:
                    found = (f"state schema {rows[0][0]}, written by lambda-emu {rows[0][1]}" if rows
                             else "no schema version")
                    raise StateError(f"the state directory {path.parent} holds state of an incompatible version "
                                     f"({found}); this lambda-emu ({written_by}) reads state schema {SCHEMA_VERSION}. "
                                     "Nothing was read: use another --state-dir, or remove that one to start fresh")
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if fresh:
                # One transaction: a kill while creating leaves no database that looks half made.
                db.executescript(f"BEGIN; {_SCHEMA} INSERT INTO schema_version VALUES ({SCHEMA_VERSION}, "
                                 f"'{written_by.replace(chr(39), '')}'); COMMIT;")
            return db
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{path} is not a lambda-emu state database ({exc}); use another --state-dir "
                             "or remove it to start fresh") from None

    # ---- writing ----------------------------------------------------------------------------

    def put(self, kind: str, key: str, serializer: Serializer, owner: str = "") -> None:
        """Write ``serializer()`` (called at commit time, so the newest state is what lands)."""
        self._pending[(kind, key)] = (owner, serializer)
        self._schedule()

    def delete(self, kind: str, key: str) -> None:
        self._pending[(kind, key)] = None
        self._schedule()

    def delete_owned(self, kind: str, owner: str) -> None:
        """Delete every record of ``kind`` owned by ``owner`` (a queue's messages, a stream's records)."""
        for pending_key, entry in list(self._pending.items()):
            if pending_key[0] == kind and entry is not None and entry[0] == owner:
                del self._pending[pending_key]
        self._dropped.append((kind, owner))
        self._schedule()

    def delete_all(self, kind: str) -> None:
        """Delete every record of ``kind`` (``POST /_emu/reset``)."""
        for pending_key in [k for k in self._pending if k[0] == kind]:
            del self._pending[pending_key]
        self._dropped = [d for d in self._dropped if d[0] != kind]
        self._cleared.append(kind)
        self._schedule()

    def _schedule(self) -> None:
        # Work nobody waits on is committed at the end of this loop turn, with everything else it made.
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (building state before serving): the next commit takes it
        self._scheduled = True
        loop.call_soon(self.commit)

    @property
    def pending(self) -> bool:
        return bool(self._pending or self._dropped or self._cleared)

    def commit(self) -> None:
        """Write everything pending in one transaction (a no-op when nothing is)."""
        self._scheduled = True  # what the hooks put is part of this commit: schedule no other
        try:
            for hook in self.on_commit:
                hook()
        finally:
            self._scheduled = False
        if not self.pending:
            return
        pending, self._pending = self._pending, {}
        dropped, self._dropped = self._dropped, []
        cleared, self._cleared = self._cleared, []
        upserts = []
        deletes = []
        for (kind, key), entry in pending.items():
            if entry is None:
                deletes.append((kind, key))
            else:
                upserts.append((kind, key, entry[0], dumps(entry[1]())))
        db = self._db
        db.execute("BEGIN")
        try:
            if cleared:
                db.executemany("DELETE FROM records WHERE kind = ?", [(kind,) for kind in cleared])
            if dropped:
                db.executemany("DELETE FROM records WHERE kind = ? AND owner = ?", dropped)
            if deletes:
                db.executemany("DELETE FROM records WHERE kind = ? AND key = ?", deletes)
            if upserts:
                db.executemany("INSERT OR REPLACE INTO records (kind, key, owner, body) VALUES (?, ?, ?, ?)",
                               upserts)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.commits += 1

    # ---- reading (restore at start) -----------------------------------------------------------

    def load(self, kind: str) -> Iterator[tuple[str, Record]]:
        """Every record of ``kind``, in key order."""
        for key, body in self._db.execute("SELECT key, body FROM records WHERE kind = ? ORDER BY key", (kind,)):
            yield key, loads(body)

    def get(self, kind: str, key: str) -> Record | None:
        row = self._db.execute("SELECT body FROM records WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return loads(row[0]) if row else None

    def empty(self) -> bool:
        """Whether nothing but bookkeeping (the clock's time) is kept."""
        return self._db.execute("SELECT 1 FROM records WHERE kind != 'meta' LIMIT 1").fetchone() is None

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self._db.close()
            os.close(self._lock_fd)
