"""The persistent store: one SQLite file shared by every thread and worker process (``sqlite:PATH``).

Every write is one ``BEGIN IMMEDIATE`` transaction, so SQLite's file lock orders the writers of
every process: that is what makes :meth:`SqliteStore.admit` atomic (count the executing jobs, then
insert) under gunicorn's forked workers too. WAL mode lets readers go on while one process writes,
and a job is committed before its HTTP answer leaves, so it survives the process being killed.

``jobs.callback_at`` mirrors ``Job.callback_due_at()`` (``NULL``: no callback left), so
:meth:`SqliteStore.claim_callbacks` is a range search on a partial index holding only the jobs
that still owe a callback. The control plane's journals, faults and settings live in the same
file (:mod:`mock_server.store.sqlite.control`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from mock_server.accounts import Account
from mock_server.jobs import Job
from mock_server.store.base import DEFAULT_LEASE
from mock_server.store.base import Candidate
from mock_server.store.base import JobBuilder
from mock_server.store.base import Rejected
from mock_server.store.documents import account_document
from mock_server.store.documents import account_of
from mock_server.store.documents import dumps
from mock_server.store.documents import job_of

SCHEMA_VERSION = 3
"""``PRAGMA user_version`` of the layout below; a file with a higher one is refused.

1: the first layout. 2: ``jobs.callback_at`` and its partial index ``jobs_callbacks``.
3: ``jobs.lease_until`` (callbacks out with a sender) and its partial index ``jobs_leases``.
"""

BUSY_TIMEOUT = 10.0
"""Seconds a connection waits for another process's write transaction before giving up."""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS tenants (tenant TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS accounts (tenant TEXT NOT NULL, channel TEXT NOT NULL, data TEXT NOT NULL,"
    " PRIMARY KEY (tenant, channel))",
    "CREATE TABLE IF NOT EXISTS jobs (tenant TEXT NOT NULL, jobid TEXT NOT NULL, channel TEXT NOT NULL,"
    " ends_at REAL NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, callback_at REAL,"
    " lease_until REAL,"
    " PRIMARY KEY (tenant, jobid))",
    "CREATE INDEX IF NOT EXISTS jobs_executing ON jobs (tenant, channel, ends_at)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)",
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('sequence', 0), ('generation', 0)",
)
_CALLBACK_INDEX = "CREATE INDEX IF NOT EXISTS jobs_callbacks ON jobs (callback_at) WHERE callback_at IS NOT NULL"
_LEASE_INDEX = "CREATE INDEX IF NOT EXISTS jobs_leases ON jobs (lease_until) WHERE lease_until IS NOT NULL"

DUE_CALLBACKS_SQL = (
    "SELECT tenant, jobid, data FROM jobs WHERE callback_at IS NOT NULL AND callback_at <= ?"
    " ORDER BY callback_at LIMIT ?"
)
"""The callback query: a range search on the partial index ``jobs_callbacks``, so jobs that owe
no callback (the vast majority) cost nothing."""

EXPIRED_LEASES_SQL = (
    "SELECT tenant, jobid, data FROM jobs WHERE lease_until IS NOT NULL AND lease_until <= ?"
    " ORDER BY lease_until LIMIT ?"
)
"""Callbacks whose sender stopped before settling them: a range search on ``jobs_leases``."""

EXECUTING_SQL = "SELECT jobid FROM jobs WHERE tenant = ? AND channel = ? AND ends_at > ? ORDER BY seq, rowid"
"""The admission query: a range search on ``jobs_executing``, so finished jobs and other channels
cost nothing. ``rowid`` breaks ties between directly inserted jobs (they share a ``seq``)."""

_UPSERT_JOB = (
    "INSERT INTO jobs (tenant, jobid, channel, ends_at, seq, data, callback_at, lease_until)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (tenant, jobid) DO UPDATE SET channel = excluded.channel, ends_at = excluded.ends_at,"
    " data = excluded.data, callback_at = excluded.callback_at, lease_until = excluded.lease_until"
)
_UPDATE_JOB = (
    "UPDATE jobs SET channel = ?, ends_at = ?, data = ?, callback_at = ?, lease_until = ?"
    " WHERE tenant = ? AND jobid = ?"
)
_UPSERT_ACCOUNT = (
    "INSERT INTO accounts (tenant, channel, data) VALUES (?, ?, ?)"
    " ON CONFLICT (tenant, channel) DO UPDATE SET data = excluded.data"
)

_SETTLED = "callback_at IS NULL AND lease_until IS NULL AND json_extract(data, '$.extra.seed') IS NULL"
"""A job that owes no callback and is no seed job (a fixture): the only kind retention may forget
(``Job.evictable``; whether it has ended is the caller's condition)."""
_CROWDED_SQL = "SELECT tenant, COUNT(*) FROM jobs GROUP BY tenant HAVING COUNT(*) > ?"
_OLDEST = "SELECT rowid, ends_at, callback_at, lease_until, data FROM jobs ORDER BY rowid LIMIT ?"
EVICT_WINDOW = 2000
"""Rows the age rule looks at per run, oldest first."""

# Connections opened before a fork, found again in the child. SQLite forbids using one across a
# fork, and closing it in the child could disturb the parent's locks: keep it referenced, untouched.
_INHERITED: list[sqlite3.Connection] = []


class _Local(threading.local):
    conn: sqlite3.Connection | None = None
    pid: int = 0
    depth: int = 0


class SqliteStore:
    """A :class:`~mock_server.store.base.Store` in one SQLite file, safe across threads and processes.

    Each thread of each process gets its own connection (re-opened after a fork, never shared).
    Jobs and accounts are kept as JSON documents; the columns beside them exist only for lookups.
    A write method called from inside a callback (``seed``, ``build``, ``change``) joins the running
    transaction as a savepoint, so callbacks may use the store as they may with ``MemoryStore``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._local = _Local()
        # (generation, tenants known to exist): per process, dropped when any process resets.
        self._known: tuple[int, set[str]] = (-1, set())
        try:
            self._connection()
        except sqlite3.OperationalError as error:
            message = f"cannot open the SQLite store {str(self.path)!r}: {error}"
            raise sqlite3.OperationalError(message) from error

    # --- connections and transactions --------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """The calling thread's connection, opened on first use and again in a forked child."""
        local = self._local
        pid = os.getpid()
        conn = local.conn
        if conn is not None:
            if local.pid == pid:
                return conn
            _INHERITED.append(conn)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        local.conn, local.pid, local.depth = conn, pid, 0
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            message = f"schema version {version} is newer than this mock's ({SCHEMA_VERSION})"
            raise sqlite3.OperationalError(message)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                for statement in _SCHEMA:
                    conn.execute(statement)
                columns = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
                if "callback_at" not in columns:
                    # A version-1 file. Its jobs predate callbacks: NULL (none owed) for every one,
                    # rather than a burst of stale callbacks for long-finished jobs after an upgrade.
                    conn.execute("ALTER TABLE jobs ADD COLUMN callback_at REAL")
                if "lease_until" not in columns:
                    conn.execute("ALTER TABLE jobs ADD COLUMN lease_until REAL")
                conn.execute(_CALLBACK_INDEX)
                conn.execute(_LEASE_INDEX)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` write transaction: committed on exit, rolled back on any exception.

        Nested use on the same thread (a callback writing) becomes a savepoint of the outer one.
        :class:`~mock_server.store.sqlite.control.SqliteControlState` uses this and
        :meth:`_connection` too, so the control tables share the connections and the write lock.
        """
        conn = self._connection()
        local = self._local
        if local.depth:
            name = f"nested{local.depth}"
            conn.execute(f"SAVEPOINT {name}")
            local.depth += 1
            try:
                yield conn
            except BaseException:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
                raise
            else:
                conn.execute(f"RELEASE {name}")
            finally:
                local.depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        local.depth = 1
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            local.depth = 0

    # --- tenants -----------------------------------------------------------------------------

    def ensure_tenant(self, tenant: str, seed: Callable[[], tuple[list[Account], list[Job]]]) -> None:
        """Seed the tenant the first time any process sees it; otherwise one small read.

        Known tenants are cached per process and the cache is dropped when the ``generation``
        counter (bumped by every :meth:`reset`, from any process) changed. ``seed`` runs inside the
        write transaction only after this call inserted the tenant row, so racing processes seed once.
        """
        conn = self._connection()
        generation = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
        seen, known = self._known
        if seen != generation:
            known = set()
            self._known = (generation, known)
        if tenant in known:
            return
        if conn.execute("SELECT 1 FROM tenants WHERE tenant = ?", (tenant,)).fetchone() is None:
            with self._transaction() as conn:
                if conn.execute("INSERT OR IGNORE INTO tenants (tenant) VALUES (?)", (tenant,)).rowcount:
                    accounts, jobs = seed()
                    for account in accounts:
                        self._put_account(conn, tenant, account)
                    sequence = self._sequence(conn)
                    for job in jobs:
                        self._put_job(conn, tenant, job, sequence)
        known.add(tenant)

    def reset(self, tenant: str | None = None) -> None:
        """Forget every tenant, or one; the clock reading and the sequence counter stay."""
        with self._transaction() as conn:
            where, args = ("", ()) if tenant is None else (" WHERE tenant = ?", (tenant,))
            for table in ("jobs", "accounts", "tenants"):
                conn.execute(f"DELETE FROM {table}{where}", args)
            conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
        self._known = (-1, set())

    # --- accounts ----------------------------------------------------------------------------

    def accounts(self, tenant: str) -> list[Account]:
        rows = self._connection().execute(
            "SELECT data FROM accounts WHERE tenant = ? ORDER BY rowid", (tenant,)
        )
        return [account_of(data) for (data,) in rows]

    def account(self, tenant: str, channel: str) -> Account | None:
        row = self._connection().execute(
            "SELECT data FROM accounts WHERE tenant = ? AND channel = ?", (tenant, channel)
        ).fetchone()
        return account_of(row[0]) if row else None

    def put_account(self, tenant: str, account: Account) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO tenants (tenant) VALUES (?)", (tenant,))
            self._put_account(conn, tenant, account)

    @staticmethod
    def _put_account(conn: sqlite3.Connection, tenant: str, account: Account) -> None:
        conn.execute(_UPSERT_ACCOUNT, (tenant, account.channel, account_document(account)))

    def delete_account(self, tenant: str, channel: str) -> bool:
        cursor = self._connection().execute(
            "DELETE FROM accounts WHERE tenant = ? AND channel = ?", (tenant, channel)
        )
        return cursor.rowcount > 0

    # --- jobs --------------------------------------------------------------------------------

    def job(self, tenant: str, jobid: str) -> Job | None:
        row = self._connection().execute(
            "SELECT data FROM jobs WHERE tenant = ? AND jobid = ?", (tenant, jobid)
        ).fetchone()
        return job_of(row[0]) if row else None

    def insert_job(self, job: Job) -> None:
        """Store a job as it is (replacing one with the same id), without admission.

        It counts against ``maxJobs`` while executing, ordered after every job stored before it.
        """
        with self._transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO tenants (tenant) VALUES (?)", (job.tenant,))
            self._put_job(conn, job.tenant, job, self._sequence(conn))

    @staticmethod
    def _put_job(conn: sqlite3.Connection, tenant: str, job: Job, sequence: int) -> None:
        data = dumps(job.to_dict())
        conn.execute(
            _UPSERT_JOB,
            (tenant, job.jobid, job.channel, job.ends_at, sequence, data, job.callback_due_at(), job.lease_until()),
        )

    @staticmethod
    def _write_back(conn: sqlite3.Connection, tenant: str, jobid: str, job: Job) -> None:
        """Rewrite a loaded job's document and lookup columns (its ``seq`` stays)."""
        data = dumps(job.to_dict())
        conn.execute(_UPDATE_JOB, (job.channel, job.ends_at, data, job.callback_due_at(), job.lease_until(),
                                   tenant, jobid))

    def update_job(self, tenant: str, jobid: str, change: Callable[[Job], None]) -> Job | None:
        """Load, ``change`` and write back in one transaction; an exception in ``change`` keeps the job."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT data FROM jobs WHERE tenant = ? AND jobid = ?", (tenant, jobid)
            ).fetchone()
            if row is None:
                return None
            job = job_of(row[0])
            change(job)
            self._write_back(conn, tenant, jobid, job)
            return job

    def admit(
        self, tenant: str, candidates: Sequence[Candidate], now: float, build: JobBuilder
    ) -> Job | Rejected:
        """Create a job on the first candidate with room, all in one write transaction.

        The transaction holds SQLite's write lock from the first count to the insert, so no other
        thread or process can admit in between. If ``build`` raises, nothing is kept (not even the
        sequence number) and the exception propagates.
        """
        with self._transaction() as conn:
            busy: list[str] = []
            for candidate in candidates:
                running = self._executing(conn, tenant, candidate.account.channel, now)
                if len(running) < candidate.limit:
                    sequence = self._sequence(conn) + 1
                    conn.execute("UPDATE meta SET value = ? WHERE key = 'sequence'", (sequence,))
                    job = build(candidate, sequence)
                    conn.execute("INSERT OR IGNORE INTO tenants (tenant) VALUES (?)", (tenant,))
                    self._put_job(conn, tenant, job, sequence)
                    return job
                busy.extend(jobid for jobid in running if jobid not in busy)
            return Rejected(max((c.limit for c in candidates), default=0), busy)

    def executing(self, tenant: str, channel: str, now: float) -> list[str]:
        return self._executing(self._connection(), tenant, channel, now)

    @staticmethod
    def _executing(conn: sqlite3.Connection, tenant: str, channel: str, now: float) -> list[str]:
        return [jobid for (jobid,) in conn.execute(EXECUTING_SQL, (tenant, channel, now))]

    @staticmethod
    def _sequence(conn: sqlite3.Connection) -> int:
        """The last sequence number handed out."""
        return int(conn.execute("SELECT value FROM meta WHERE key = 'sequence'").fetchone()[0])

    def claim_callbacks(self, now: float, limit: int = 100, *, lease: float = DEFAULT_LEASE,
                        wall: float | None = None) -> list[tuple[Job, str]]:
        """Lease up to ``limit`` jobs' callbacks, expired leases first, in one write transaction.

        Each claimed job is written back with its lease recorded, ``callback_at`` moved to its next
        callback (or ``NULL``) and ``lease_until`` to its earliest lease, inside the transaction that
        selected it: the write lock makes every other thread and process see either the unclaimed row
        or the claimed one. Every worker's scheduler calls this a few times a second: when nothing is
        due, one read on each index answers, without taking the write lock.
        """
        wall = time.time() if wall is None else wall
        conn = self._connection()
        if limit <= 0 or (conn.execute(DUE_CALLBACKS_SQL, (now, 1)).fetchone() is None
                          and conn.execute(EXPIRED_LEASES_SQL, (wall, 1)).fetchone() is None):
            return []
        with self._transaction() as conn:
            rows = {(tenant, jobid): data for tenant, jobid, data in conn.execute(EXPIRED_LEASES_SQL, (wall, limit))}
            for tenant, jobid, data in conn.execute(DUE_CALLBACKS_SQL, (now, limit - len(rows))).fetchall():
                rows.setdefault((tenant, jobid), data)
            claimed: list[tuple[Job, str]] = []
            for (tenant, jobid), data in rows.items():
                job = job_of(data)
                stages = job.take_callbacks(now, wall, lease)
                self._write_back(conn, tenant, jobid, job)  # also repairs a stale callback_at
                claimed.extend((job, stage) for stage in stages)
            return claimed

    def evict(self, now: float, max_age: float, keep: int) -> int:
        """Two deletes in one write transaction, taken only when a read finds something to forget.

        The age rule looks at the oldest :data:`EVICT_WINDOW` rows (rowid order is insertion order),
        so a run costs the same however many jobs the file holds; the count rule reads the tenants'
        counts from the primary key index.
        """
        conn = self._connection()
        old = now - max_age
        too_old = conn.execute(f"SELECT 1 FROM ({_OLDEST}) WHERE ends_at < ? AND {_SETTLED} LIMIT 1",
                               (EVICT_WINDOW, old)).fetchone()
        crowded = conn.execute(_CROWDED_SQL, (keep,)).fetchall()
        if too_old is None and not crowded:
            return 0
        with self._transaction() as conn:
            evicted = conn.execute(
                f"DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM ({_OLDEST}) WHERE ends_at < ? AND {_SETTLED})",
                (EVICT_WINDOW, old)).rowcount
            for tenant, count in conn.execute(_CROWDED_SQL, (keep,)).fetchall():
                evicted += conn.execute(
                    f"DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs WHERE tenant = ? AND ends_at <= ?"
                    f" AND {_SETTLED} ORDER BY seq, rowid LIMIT ?)", (tenant, now, count - keep)).rowcount
        return evicted

    def job_count(self) -> int:
        return int(self._connection().execute("SELECT COUNT(*) FROM jobs").fetchone()[0])

    # --- clock and lifecycle -----------------------------------------------------------------

    def get_clock(self) -> float | None:
        row = self._connection().execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()
        return None if row is None else float(row[0])

    def set_clock(self, value: float) -> None:
        self._connection().execute(
            "INSERT INTO meta (key, value) VALUES ('clock', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
            (float(value),),
        )

    def advance_clock(self, seconds: float) -> float:
        """One statement, so two worker processes advancing at once both count."""
        row = self._connection().execute(
            "INSERT INTO meta (key, value) VALUES ('clock', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = value + ? RETURNING value",
            (float(seconds), float(seconds)),
        ).fetchone()
        return float(row[0])

    def close(self) -> None:
        """Close this thread's connection (the next call on this thread opens a new one)."""
        local = self._local
        conn = local.conn
        if conn is None:
            return
        local.conn, local.depth = None, 0
        if local.pid == os.getpid():
            conn.close()
        else:
            _INHERITED.append(conn)
