"""The control plane's state in the SQLite store's file: journals, the fault queue, runtime settings.

Every gunicorn worker opens the same file, so a fault queued through one worker is taken by a
request to another, and ``GET /__mock/requests`` on any worker sees what every worker answered.
The tables live beside the store's (created here if missing) and use its per-thread, per-process
connections and its ``BEGIN IMMEDIATE`` transactions, so the file lock orders all writers:

- ``journal_requests`` / ``journal_callbacks``: one table per journal kind, ``seq INTEGER PRIMARY
  KEY AUTOINCREMENT`` (the rowid, so appends and ``seq > since`` reads are b-tree seeks, and a
  sequence number is never reused, even after :meth:`SqliteControlState.clear`), the entry's
  ``tenant`` for clearing one tenant, and the entry as JSON.
- ``faults``: the queued ``FaultRule`` rules as JSON (with their ``tenant`` for clearing one),
  taken in ``position`` order; ``id`` is ``AUTOINCREMENT`` so rule ids are never reused either.
- ``meta``: ``settings`` (JSON) and ``settings_version``.

There is no cross-process notification in SQLite: :meth:`SqliteControlState.wait` polls.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from mock_server.faults import Fault
from mock_server.faults import FaultRule
from mock_server.faults import choose_fault
from mock_server.request_entry import rendered
from mock_server.store.base import DEFAULT_JOURNAL_LIMIT
from mock_server.store.base import JOURNAL_KINDS
from mock_server.store.base import Entry
from mock_server.store.base import EntryFilter
from mock_server.store.base import poll_for_entry
from mock_server.store.documents import dumps
from mock_server.store.documents import rule_document
from mock_server.store.documents import rule_of
from mock_server.store.sqlite.store import SqliteStore

POLL_INTERVAL = 0.02
"""Seconds between two looks at the journal while :meth:`SqliteControlState.wait` waits."""

TRIM_EVERY = 64
"""Appends between two trims of a journal. Reads never see past the limit in between: they only
look at the newest ``journal_limit`` sequence numbers."""

_TABLES = {kind: f"journal_{kind}" for kind in JOURNAL_KINDS}

_SCHEMA = (
    *(
        f"CREATE TABLE IF NOT EXISTS {table} (seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT,"
        " data TEXT NOT NULL)"
        for table in _TABLES.values()
    ),
    "CREATE TABLE IF NOT EXISTS faults (id INTEGER PRIMARY KEY AUTOINCREMENT, position INTEGER NOT NULL,"
    " tenant TEXT, data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS faults_order ON faults (position)",
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('settings', '{}'), ('settings_version', 0)",
)


class SqliteControlState:
    """A :class:`~mock_server.store.base.ControlState` shared by every process using one file.

    Pass the :class:`~mock_server.store.sqlite.SqliteStore` (its connections are reused) or a path
    (a store of its own is opened, and closed by :meth:`close`).
    """

    def __init__(self, store_or_path: SqliteStore | str | os.PathLike[str],
                 journal_limit: int = DEFAULT_JOURNAL_LIMIT) -> None:
        self._owns_store = not isinstance(store_or_path, SqliteStore)
        self.store = SqliteStore(store_or_path) if self._owns_store else store_or_path
        self.journal_limit = max(0, int(journal_limit))
        # (version, settings) last read by this process; re-read when the version moved
        self._settings: tuple[int, dict[str, Any]] = (-1, {})
        with self.store._transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    # --- journals ----------------------------------------------------------------------------

    def append(self, kind: str, entry: Entry) -> int:
        """Insert the entry; every :data:`TRIM_EVERY` appends, drop what fell out of the window.

        The window is the newest ``journal_limit`` sequence numbers of the kind. Trimming in
        batches keeps almost every append to one insert: deleting the oldest row on every append
        touches the far end of the table each time, and made an append at the limit markedly dearer.
        """
        table = _table(kind)
        entry = rendered(entry)
        entry.pop("seq", None)
        data = dumps(entry)
        tenant = entry.get("tenant")
        with self.store._transaction() as conn:
            seq = int(conn.execute(f"INSERT INTO {table} (tenant, data) VALUES (?, ?)", (tenant, data)).lastrowid)
            if seq % TRIM_EVERY == 0:
                conn.execute(f"DELETE FROM {table} WHERE seq <= ?", (seq - self.journal_limit,))
        entry["seq"] = seq
        return seq

    def entries(self, kind: str, since: int = 0, accept: EntryFilter | None = None,
                limit: int | None = None) -> list[Entry]:
        found, _ = self._scan(kind, since, accept, limit)
        return found

    def _scan(self, kind: str, since: int, accept: EntryFilter | None,
              limit: int | None) -> tuple[list[Entry], int]:
        """Entries after ``since`` that pass ``accept`` (at most ``limit``), and the last ``seq`` read."""
        table = _table(kind)
        if limit is not None and limit <= 0:
            return [], since
        conn = self.store._connection()
        found: list[Entry] = []
        last = since
        # Only the newest ``journal_limit`` sequence numbers (older rows await the next trim);
        # ``sqlite_sequence`` holds the last seq handed out, even when that entry was cleared.
        sql = (f"SELECT seq, data FROM {table} WHERE seq > ? AND seq > COALESCE("
               "(SELECT seq FROM sqlite_sequence WHERE name = ?), 0) - ? ORDER BY seq")
        args: tuple[int | str, ...] = (since, table, self.journal_limit)
        if accept is None:
            if limit is not None:
                sql += " LIMIT ?"
                args = (*args, limit)
            for seq, data in conn.execute(sql, args):
                found.append(_entry(seq, data))
                last = seq
            return found, last
        cursor = conn.execute(sql, args)
        try:
            for seq, data in cursor:
                entry = _entry(seq, data)
                last = seq
                if accept(entry):
                    found.append(entry)
                    if limit is not None and len(found) >= limit:
                        break
        finally:
            cursor.close()  # ends the read transaction of a scan stopped early
        return found, last

    def wait(self, kind: str, since: int, accept: EntryFilter | None, timeout: float) -> Entry | None:
        """Poll every :data:`POLL_INTERVAL` seconds, reading only what arrived since the last look."""
        return poll_for_entry(lambda since: self._scan(kind, since, accept, 1), since, timeout, POLL_INTERVAL)

    # --- faults ------------------------------------------------------------------------------

    def add_fault(self, rule: FaultRule) -> FaultRule:
        with self.store._transaction() as conn:
            position = conn.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM faults").fetchone()[0]
            cursor = conn.execute(
                "INSERT INTO faults (position, tenant, data) VALUES (?, ?, ?)",
                (position, rule.tenant, rule_document(rule)),
            )
            rule = replace(rule, id=int(cursor.lastrowid))
        return rule

    def take_fault(self, endpoint: str, tenant: str | None, draw: Callable[[], float]) -> Fault | None:
        """The same walk as ``MemoryControlState.take_fault``, in one write transaction.

        An empty queue costs one read of an empty table; a queue whose rules all target other
        endpoints or tenants costs one read too, and never takes the write lock.
        """
        rules = self._rules(self.store._connection())
        if not any(rule.applies_to(endpoint, tenant) for rule in rules):
            return None
        with self.store._transaction() as conn:
            rule = choose_fault(self._rules(conn), endpoint, tenant, draw)
            if rule is None:
                return None
            used = rule.used()
            if used is None:
                conn.execute("DELETE FROM faults WHERE id = ?", (rule.id,))
            elif used is not rule:
                conn.execute("UPDATE faults SET data = ? WHERE id = ?", (rule_document(used), rule.id))
            return rule.fault

    @staticmethod
    def _rules(conn: sqlite3.Connection) -> list[FaultRule]:
        rows = conn.execute("SELECT id, data FROM faults ORDER BY position, id").fetchall()
        return [rule_of(rule_id, data) for rule_id, data in rows]

    def faults(self) -> list[FaultRule]:
        return self._rules(self.store._connection())

    def clear_faults(self, tenant: str | None = None) -> None:
        with self.store._transaction() as conn:
            self._clear_faults(conn, tenant)

    @staticmethod
    def _clear_faults(conn: sqlite3.Connection, tenant: str | None) -> None:
        if tenant is None:
            conn.execute("DELETE FROM faults")
        else:
            conn.execute("DELETE FROM faults WHERE tenant = ?", (tenant,))

    # --- settings ----------------------------------------------------------------------------

    def settings(self) -> tuple[int, dict[str, Any]]:
        """``(version, settings)``; the JSON is parsed again only when another put changed it."""
        version, data = self.store._connection().execute(
            "SELECT v.value, s.value FROM meta AS v, meta AS s"
            " WHERE v.key = 'settings_version' AND s.key = 'settings'"
        ).fetchone()
        cached = self._settings
        if cached[0] == int(version):
            return cached
        fresh = (int(version), json.loads(data))
        self._settings = fresh
        return fresh

    def put_settings(self, settings: dict[str, Any]) -> int:
        with self.store._transaction() as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'settings'", (dumps(settings),))
            row = conn.execute(
                "UPDATE meta SET value = value + 1 WHERE key = 'settings_version' RETURNING value"
            ).fetchone()
        version = int(row[0])
        self._settings = (version, json.loads(dumps(settings)))
        return version

    # --- lifecycle ---------------------------------------------------------------------------

    def clear(self, tenant: str | None = None) -> None:
        """Forget journals and faults (of one tenant only, when given), in one transaction."""
        with self.store._transaction() as conn:
            for table in _TABLES.values():
                if tenant is None:
                    conn.execute(f"DELETE FROM {table}")
                else:
                    conn.execute(f"DELETE FROM {table} WHERE tenant = ?", (tenant,))
            self._clear_faults(conn, tenant)

    def close(self) -> None:
        """Close this thread's connection when the store is this object's own."""
        if self._owns_store:
            self.store.close()


def _table(kind: str) -> str:
    try:
        return _TABLES[kind]
    except KeyError:
        raise KeyError(f"unknown journal {kind!r}; one of: {', '.join(JOURNAL_KINDS)}") from None



def _entry(seq: int, data: str) -> Entry:
    entry: Entry = json.loads(data)
    entry["seq"] = seq
    return entry
