"""The SQLite store: schema, versioned migrations and every core query.

One database file in WAL mode, one connection per thread (the inbox worker, scheduler jobs and
the CLI each get their own), ``synchronous=FULL`` so a journal row that says "published"
survives a power cut as well as a kill -9. Plugins own their tables through
``register_migrations``; the core owns the journal, business keys, job runs and orders.

Every write transaction starts with ``BEGIN IMMEDIATE`` (:class:`marketd.sqlitedb.Database`), including the ones
sqlite-utils opens itself inside ``insert``/``upsert``, and an inbox file's transaction
(:meth:`Store.file_transaction`) begins that way at its first use of the store. A plain (deferred) ``BEGIN`` reads first
(sqlite-utils looks at the table's columns) and then upgrades to a write; if another connection
holds the write lock at that moment, SQLite answers ``database is locked`` at once, without
waiting for the busy timeout (a connection that already reads must not wait for a writer, or two
could wait for each other). With several threads writing (the inbox worker, every scheduled
job), that made a fresh daemon's first jobs fail despite ``busy_timeout=60000``.
"""
from __future__ import annotations

import json
import sqlite3
import os
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from typing import TYPE_CHECKING

from .errors import MarketdError

if TYPE_CHECKING:
    import sqlite_utils


def utcnow_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def _core_v1(db: sqlite_utils.Database) -> None:
    db["files"].create(
        {
            "id": str, "kind": str, "name": str, "sha256": str, "size": int, "state": str,
            "attempts": int, "claimed_at": str, "updated_at": str, "finished_at": str,
            "work_path": str, "final_path": str, "outputs": str, "summary": str,
            "error": str, "next_attempt_at": str, "duplicate_of": str, "requeue": int,
        },
        pk="id",
    )
    db["files"].create_index(["kind", "sha256"])
    db["files"].create_index(["state"])
    db["business_keys"].create({"key": str, "file_id": str, "recorded_at": str}, pk="key")
    db["job_runs"].create(
        {"job": str, "last_success_at": str, "last_started_at": str, "last_finished_at": str,
         "last_error": str, "runs": int, "failures": int},
        pk="job",
    )
    db["orders"].create(
        {
            "key": str, "channel": str, "channel_type": str, "order_id": str,
            "merchant_order_id": str, "status": str, "purchased_at": str, "updated_at": str,
            "currency": str, "total": str, "buyer_name": str, "ship_to": str, "items": str,
            "raw": str, "imported_at": str,
        },
        pk="key",
    )
    db["orders"].create_index(["order_id"])
    db["orders"].create_index(["merchant_order_id"])


def _core_v2(db: sqlite_utils.Database) -> None:
    """Orders of every channel (issue 11): the marketplace's own status beside the normalised one,
    the fee a marketplace announced on the order, and other ids an order is known by.

    ``status`` becomes the vocabulary of :mod:`marketd.orderstatus` (Amazon's values already
    are); the value stored so far is kept as ``channel_status``. ``order_aliases`` holds ids
    such as eBay's legacy order id, MALL's purchase id or the id a payout named the order by, so
    matching and ``marketd orders show`` find the order by any of them."""
    from .orderstatus import normalise_order_status

    columns = db["orders"].columns_dict
    for name in ("channel_status", "expected_fee"):
        if name not in columns:
            db.execute(f"ALTER TABLE orders ADD COLUMN {name} TEXT")
    for (raw,) in list(db.execute("select distinct status from orders where status is not null")):
        db.execute("update orders set channel_status = coalesce(channel_status, status), status = ? where status = ?",
                   [normalise_order_status(raw), raw])
    db.execute("CREATE TABLE order_aliases (alias TEXT NOT NULL, order_key TEXT NOT NULL, kind TEXT, "
               "PRIMARY KEY (alias, order_key)) WITHOUT ROWID")
    db.execute("CREATE INDEX idx_order_aliases_order_key ON order_aliases (order_key)")
    db.execute("CREATE INDEX idx_orders_purchased_at ON orders (purchased_at)")


CORE_MIGRATIONS: list[tuple[int, Callable]] = [(1, _core_v1), (2, _core_v2)]


class StoreError(MarketdError):
    """The state database cannot be opened or written (a one-line message, not a traceback)."""


def _database(conn: sqlite3.Connection):
    """``conn`` wrapped as :class:`marketd.sqlitedb.Database`; sqlite-utils (which imports pandas
    and numpy, a third of a second) is imported by the first connection a thread opens, not by
    every command that merely imports this module."""
    from .sqlitedb import Database

    return Database(conn)


class ThreadConnections:
    """One SQLite connection per thread to one database file, all closed together.

    Why per thread: the worker, the scheduler's jobs and the main thread each write; sqlite3
    connections are not for sharing, and WAL lets readers run beside the one writer. Every
    connection waits up to a minute for a lock instead of failing, and commits with
    ``synchronous=FULL`` (a committed journal row must survive a power cut). ``wrap`` turns the
    raw connection into what callers use (``sqlite_utils.Database`` for the store)."""

    def __init__(self, path: str | Path, *, wrap: Callable | None = None, row_factory=None,
                 foreign_keys: bool = False):
        from .outbox import ensure_dir

        self.path = Path(path)
        ensure_dir(self.path.parent)
        # Orders (buyer names, addresses) and carrier requests live in these files: owner-only,
        # whatever the umask; SQLite gives its -wal/-shm files the database file's mode.
        os.close(os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o600))
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.chmod(f"{self.path}{suffix}", 0o600)
            except FileNotFoundError:
                pass
        self._wrap, self._row_factory, self._foreign_keys = wrap, row_factory, foreign_keys
        self._local = threading.local()
        self._all: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._closed = False
        mode = self.raw().execute("PRAGMA journal_mode=WAL").fetchone()[0]  # creates the file; WAL is kept in it
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(
                f"{self.path}: SQLite cannot use WAL here (journal_mode stays {mode!r}); put the state directory "
                "on a local file system")

    def raw(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                if self._closed:
                    # After close() nothing may write any more: a thread still running at shutdown
                    # (a worker past its stop budget) must fail, not silently open a new connection
                    # and commit half of what it was doing.
                    raise sqlite3.ProgrammingError(f"{self.path} is closed")
            conn = sqlite3.connect(str(self.path), timeout=60, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=60000")
            conn.execute("PRAGMA synchronous=FULL")
            if self._foreign_keys:
                conn.execute("PRAGMA foreign_keys=ON")
            if self._row_factory is not None:
                conn.row_factory = self._row_factory
            self._local.conn = conn
            self._local.wrapped = self._wrap(conn) if self._wrap else conn
            with self._lock:
                self._reap()
                self._all.append((threading.current_thread(), conn))
        return conn

    def _reap(self) -> None:
        """Close the connections of threads that have ended (caller holds ``_lock``): a pool
        that replaces its threads must not leak one connection (and its files) per thread."""
        alive = []
        for thread, conn in self._all:
            if thread.is_alive():
                alive.append((thread, conn))
            else:
                try:
                    conn.close()  # rolls back whatever that thread left open
                except Exception:
                    pass
        self._all = alive

    def get(self):
        """This thread's connection, wrapped."""
        self.raw()
        return self._local.wrapped

    def close(self) -> None:
        """Close every thread's connection, for good: later use raises ``ProgrammingError``."""
        with self._lock:
            self._closed = True
            for _thread, conn in self._all:
                try:
                    conn.close()
                except Exception:
                    pass
            self._all.clear()
        self._local = threading.local()


class Store:
    """Narrow door to the database: ``db`` for plugin tables, named methods for core ones."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lazy = threading.local()  # file_transaction() not begun yet, per thread
        try:
            self._conns = ThreadConnections(self.path, wrap=_database, foreign_keys=True)
        except (OSError, sqlite3.Error) as exc:
            raise self._unusable(exc, "open") from None

    def _unusable(self, exc: BaseException, doing: str) -> StoreError:
        import pwd

        try:
            who = pwd.getpwuid(os.geteuid()).pw_name
        except KeyError:
            who = f"uid {os.geteuid()}"
        why = getattr(exc, "strerror", None) or str(exc)
        return StoreError(
            f"cannot {doing} the state database {self.path}: {why}. marketd (user {who}) needs read and "
            f"write permission on it, on its -wal and -shm files and on the folder {self.path.parent}, "
            "on a writable local file system")

    def check_writable(self) -> None:
        """Take the write lock once and let it go (``BEGIN IMMEDIATE``/``ROLLBACK``): a read-only
        database or folder is found at start-up, in one line, not by the first file's claim."""
        try:
            conn = self._conns.raw()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("CREATE TABLE IF NOT EXISTS _write_probe (x)")  # a real write: READONLY shows here
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            try:
                self._conns.raw().execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise self._unusable(exc, "write to") from None

    # -- connections ---------------------------------------------------------------------------
    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection (sqlite-utils), opened on first use. Inside a
        :meth:`file_transaction` that has not begun yet, the first use begins it."""
        db = self._conns.get()
        lazy = self._lazy
        if getattr(lazy, "pending", False):
            lazy.pending = False
            db.conn.execute("BEGIN IMMEDIATE")
            lazy.begun = True
        return db

    @contextmanager
    def transaction(self):
        """One atomic unit (``BEGIN IMMEDIATE``); nested use becomes a savepoint."""
        with self.db.atomic() as db:
            yield db

    @contextmanager
    def file_transaction(self):
        """The inbox's unit of work for one file: atomic like :meth:`transaction`, but the write
        lock is taken at this thread's first use of the store inside it, not at once.

        A handler that does its slow part first (the shipments handler calls carriers for
        minutes, reading orders through a connection of its own) and writes at the end then
        holds the lock only while it writes, so scheduled jobs are not kept waiting past the
        busy timeout; one that reads the store first holds it from that read on, and never
        has a read upgraded to a write (see the module docstring).
        """
        lazy = self._lazy
        if getattr(lazy, "pending", False) or self._conns.raw().in_transaction:
            with self.transaction() as db:  # nested: a savepoint as usual
                yield db
            return
        lazy.pending, lazy.begun = True, False
        try:
            yield None
        except BaseException:
            lazy.pending = False
            if lazy.begun:
                self._rollback()
            raise
        lazy.pending = False
        if lazy.begun:
            try:
                self._conns.raw().execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        conn = self._conns.raw()
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conns.close()

    # -- migrations ----------------------------------------------------------------------------
    def migrate(self, components: dict[str, list[tuple[int, Callable]]]) -> list[str]:
        """Apply each component's migrations once, in version order; returns what ran. A
        database that cannot be read or written raises :class:`StoreError` (one line)."""
        try:
            return self._migrate(components)
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if any(t in text for t in ("readonly", "unable to open", "disk i/o", "locked", "not a database",
                                       "disk is full")):
                raise self._unusable(exc, "write to" if "readonly" in text else "use") from None
            raise
        except sqlite3.DatabaseError as exc:  # "file is not a database"
            raise self._unusable(exc, "read") from None

    def _migrate(self, components: dict[str, list[tuple[int, Callable]]]) -> list[str]:
        db = self.db
        if "_migrations" not in db.table_names():
            db["_migrations"].create({"component": str, "version": int, "applied_at": str}, pk=("component", "version"))
        done = {(r["component"], r["version"]) for r in db["_migrations"].rows}
        applied = []
        ordered = [("core", CORE_MIGRATIONS)] + sorted((k, v) for k, v in components.items() if k != "core")
        for component, steps in ordered:
            for version, fn in sorted(steps, key=lambda s: s[0]):
                if (component, version) in done:
                    continue
                with self.transaction():
                    fn(db)
                    db["_migrations"].insert({"component": component, "version": version, "applied_at": utcnow_iso()})
                applied.append(f"{component}:{version}")
        return applied

    def schema_versions(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.db["_migrations"].rows:
            out[r["component"]] = max(out.get(r["component"], 0), r["version"])
        return out

    # -- inbox journal -------------------------------------------------------------------------
    def journal_insert(self, record: dict) -> None:
        rec = {"attempts": 0, "requeue": 0, "updated_at": utcnow_iso(), **record}
        self.db["files"].insert(rec)

    def journal_update(self, file_id: str, **fields) -> None:
        for key in ("outputs", "summary", "error"):
            if key in fields and not isinstance(fields[key], (str, type(None))):
                fields[key] = json.dumps(fields[key], default=str)
        fields["updated_at"] = utcnow_iso()
        self.db["files"].update(file_id, fields)

    def journal_get(self, file_id: str) -> dict | None:
        rows = list(self.db.query("select * from files where id = ?", [file_id]))
        return rows[0] if rows else None

    def journal_in_states(self, states: Iterable[str], kind: str | None = None) -> list[dict]:
        states = list(states)
        sql = f"select * from files where state in ({','.join('?' * len(states))})"
        params: list = list(states)
        if kind:
            sql += " and kind = ?"
            params.append(kind)
        return list(self.db.query(sql + " order by claimed_at, id", params))

    def first_applied(self, kind: str, sha256: str) -> dict | None:
        """The first file with this content in this inbox that was applied: done, or committed
        and still being published or archived (its changes are in the store already)."""
        rows = list(self.db.query(
            "select * from files where kind = ? and sha256 = ? and (state = 'done' or (state in "
            "('processed', 'published') and duplicate_of is null)) order by claimed_at limit 1",
            [kind, sha256],
        ))
        return rows[0] if rows else None

    def counts_by_state(self) -> dict[str, int]:
        return {r["state"]: r["n"] for r in self.db.query("select state, count(*) n from files group by state")}

    def plugin_error_count(self) -> int:
        """Files rejected because a handler raised unexpectedly (bugs, counted by ``marketd status``)."""
        return next(self.db.query("select count(*) n from files where state = 'error' and "
                                  "json_extract(error, '$.reason') like 'plugin\\_error%' escape '\\'"))["n"]

    def last_processed(self, limit: int = 5) -> list[dict]:
        return list(self.db.query(
            "select id, kind, name, state, finished_at, error from files where finished_at is not null "
            "order by finished_at desc limit ?", [limit]))

    # -- business keys -------------------------------------------------------------------------
    def business_key(self, key: str) -> dict | None:
        rows = list(self.db.query("select * from business_keys where key = ?", [key]))
        return rows[0] if rows else None

    def record_business_key(self, key: str, file_id: str) -> None:
        self.db["business_keys"].insert({"key": key, "file_id": file_id, "recorded_at": utcnow_iso()}, replace=True)

    # -- jobs ----------------------------------------------------------------------------------
    def job_run(self, job: str) -> dict | None:
        rows = list(self.db.query("select * from job_runs where job = ?", [job]))
        return rows[0] if rows else None

    def job_started(self, job: str, at: datetime) -> None:
        row = self.job_run(job) or {"job": job, "runs": 0, "failures": 0}
        row.update(last_started_at=at.isoformat(), runs=(row.get("runs") or 0) + 1)
        self.db["job_runs"].upsert(row, pk="job")

    def job_finished(self, job: str, started: datetime, finished: datetime, error: str | None) -> None:
        row = self.job_run(job) or {"job": job, "runs": 1, "failures": 0}
        row["last_finished_at"] = finished.isoformat()
        if error:
            row["last_error"] = error
            row["failures"] = (row.get("failures") or 0) + 1
        else:
            # The watermark is the start of the run: anything changed during it is seen next time.
            row["last_success_at"] = started.isoformat()
            row["last_error"] = None
        self.db["job_runs"].upsert(row, pk="job")

    # -- orders --------------------------------------------------------------------------------
    def upsert_order(self, order: dict) -> None:
        """Insert or update one order (``key`` = ``<channel>:<order_id>`` unless given).

        ``status`` is stored in the normalised vocabulary (:mod:`marketd.orderstatus`); a row
        without ``channel_status`` keeps the value it came with there. ``aliases`` (optional:
        ``[(alias, kind), ...]``, or dicts with those keys) go to ``order_aliases``."""
        from .orderstatus import normalise_order_status

        row = dict(order)
        aliases = row.pop("aliases", None)
        row.setdefault("key", f"{row['channel']}:{row['order_id']}")
        if "status" in row:
            if "channel_status" not in row:
                row["channel_status"] = row["status"]
            row["status"] = normalise_order_status(row["status"])
        for key in ("ship_to", "items", "raw"):
            if key in row and not isinstance(row[key], (str, type(None))):
                row[key] = json.dumps(row[key], default=str)
        row.setdefault("imported_at", utcnow_iso())
        self.db["orders"].upsert(row, pk="key", alter=True)
        if aliases:
            self.add_order_aliases(row["key"], aliases)

    def save_orders(self, rows, *, now: str, skip_unchanged: bool = True) -> tuple[list[tuple[str, bool]], int]:
        """A page of a channel's orders into the store, in the caller's transaction: ([(key, new?)]
        of the stored rows in page order, how many unchanged). Unchanged = same ``updated_at`` and the same status
        as the channel writes it (``channel_status``, else ``status``): skipped, so a sync that
        sees an order again neither rewrites it nor announces it. ``imported_at`` is the first
        time the order was stored (``now`` for a new one), kept on every update."""
        stored, unchanged = [], 0
        for row in rows:
            key = row.get("key") or f"{row['channel']}:{row['order_id']}"
            old = self.get_order(key)
            if skip_unchanged and old is not None and row.get("updated_at") is not None \
                    and old.get("updated_at") == row["updated_at"] \
                    and (old.get("channel_status") or old.get("status")) == \
                    (row.get("channel_status") or row.get("status")):
                unchanged += 1
                continue
            self.upsert_order({**row, "key": key, "imported_at": (old or {}).get("imported_at") or now})
            stored.append((key, old is None))
        return stored, unchanged

    def add_order_aliases(self, order_key: str, aliases) -> None:
        """Record other ids of an order (``[(alias, kind), ...]`` or dicts ``{alias, kind}``)."""
        pairs = []
        for a in aliases:
            alias, kind = (a.get("alias"), a.get("kind")) if isinstance(a, dict) else (a if isinstance(a, (tuple, list))
                                                                                         else (a, None))
            if alias not in (None, ""):
                pairs.append((str(alias), order_key, kind))
        if pairs:
            self.db.conn.executemany("insert or ignore into order_aliases (alias, order_key, kind) values (?, ?, ?)",
                                     pairs)

    def find_orders_by_ref(self, ref: str) -> list[dict]:
        """Orders a person may mean by ``ref``: its key, order id, merchant order id, or an alias
        (``order_aliases``: a legacy id, a purchase id, the id a payout named it by)."""
        return list(self.db.query(
            "select * from orders where key = ? or order_id = ? or merchant_order_id = ? or key in "
            "(select order_key from order_aliases where alias = ?) order by key", [ref, ref, ref, ref]))

    def list_orders(self, *, channel: str | None = None, status: str | None = None, since: str | None = None,
                    limit: int | None = None) -> list[dict]:
        """Orders newest first; ``channel`` is an account name or a channel type, ``status`` a
        normalised status (case-insensitive), ``since`` an ISO time (``purchased_at >= since``)."""
        clauses, params = [], []
        if channel:
            clauses.append("(channel = ? or channel_type = ?)")
            params += [channel, channel]
        if status:
            clauses.append("upper(status) = upper(?)")
            params.append(status)
        if since:
            clauses.append("purchased_at >= ?")
            params.append(since)
        sql = "select * from orders" + (" where " + " and ".join(clauses) if clauses else "")
        sql += " order by purchased_at desc, key"
        if limit:
            sql += f" limit {int(limit)}"
        return list(self.db.query(sql, params))

    def get_order(self, key: str) -> dict | None:
        rows = list(self.db.query("select * from orders where key = ?", [key]))
        return rows[0] if rows else None

    def find_orders(self, *, order_id: str | None = None, merchant_order_id: str | None = None,
                    channel: str | None = None) -> list[dict]:
        clauses, params = [], []
        if order_id is not None:
            clauses.append("order_id = ?"); params.append(order_id)
        if merchant_order_id is not None:
            clauses.append("merchant_order_id = ?"); params.append(merchant_order_id)
        if channel is not None:
            clauses.append("channel = ?"); params.append(channel)
        where = " and ".join(clauses) or "1"
        return list(self.db.query(f"select * from orders where {where}", params))
