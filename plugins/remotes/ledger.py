"""The pull and push ledgers: what was fetched and delivered, committed before each next step.

Why a database file of its own (``<state_dir>/remotes.sqlite``): the inbox worker holds the main
store's write lock for the whole of a file's transaction (seconds for a large catalog). A pull
that had to wait for it to record "this file is now in the inbox" would hold a connection to the
ERP open and block; worse, a commit from this thread in the middle of that transaction makes the
worker's snapshot stale. Here every step commits at once, ``synchronous=FULL``, so after a
``kill -9`` the ledger says exactly which step each file reached.

Pull row states: ``fetched`` (complete temp file in the inbox folder) -> ``landed`` (only when
the remote step has to wait: refused, or cut off) -> ``done`` (archived/deleted on the remote, or
kept with ``after = "keep"``); ``downloading`` marks a download that failed, with its backoff.
Push row states: ``pending`` -> ``renaming`` (uploaded under the temp name) -> ``done``;
``gone`` when the local file vanished before it was sent.
"""
from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from marketd.sdk import Backoff, ThreadConnections

SCHEMA = """
create table if not exists pulls (
  id integer primary key autoincrement,
  remote text not null, mapping text not null, path text not null,
  size integer not null, mtime integer not null, sha256 text,
  inbox text not null, name text not null, state text not null, temp text,
  action text, note text,
  attempts integer not null default 0, next_attempt_at text, last_error text,
  created_at text not null, landed_at text, done_at text
);
create index if not exists pulls_key on pulls (remote, path, size, mtime);
create index if not exists pulls_state on pulls (remote, state);
create table if not exists seen (
  remote text not null, path text not null, size integer not null, mtime integer not null,
  first_seen_at text not null,
  primary key (remote, path)
);
create table if not exists pull_runs (
  remote text not null, mapping text not null, last_run_at text, last_ok_at text,
  primary key (remote, mapping)
);
create table if not exists pushes (
  id integer primary key autoincrement,
  remote text not null, mapping text not null, local_path text not null,
  size integer not null, mtime_ns integer not null, ino integer not null,
  sha256 text, remote_path text not null, state text not null,
  attempts integer not null default 0, next_attempt_at text, last_error text,
  created_at text not null, done_at text,
  unique (remote, mapping, local_path, size, mtime_ns, ino)
);
create index if not exists pushes_state on pushes (remote, state);
create table if not exists push_mappings (
  remote text not null, mapping text not null, since_ns integer not null, created_at text not null,
  primary key (remote, mapping)
);
create table if not exists remote_state (
  remote text primary key, last_run_at text, last_ok_at text, last_error text, last_error_at text,
  failures integer not null default 0, next_connect_at text
);
"""

PULL_OPEN = ("downloading", "fetched", "landed")
PUSH_OPEN = ("pending", "renaming")
# Before the next try after n failures: 5 s, 10 s, 20 s … at most 15 min; a remote that comes back
# is not hit by every waiting file at the same instant (jitter).
BACKOFF = Backoff(base=5.0, cap=900.0, jitter=0.2)


def backoff(attempts: int) -> float:
    return BACKOFF.delay(attempts)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


class Ledger:
    """Thread-local connections to ``remotes.sqlite`` (the SDK's ``ThreadConnections``: WAL,
    ``synchronous=FULL``, owner-only file, connections of ended threads closed)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._conns = ThreadConnections(self.path, row_factory=sqlite3.Row)
        self.conn().executescript(SCHEMA)  # idempotent (create … if not exists); commits itself

    @classmethod
    def of(cls, app) -> "Ledger":
        """One ledger per app (every thread of the daemon or CLI shares it)."""
        with _OPEN_LOCK:
            ledger = app.__dict__.get("_remotes_ledger")
            if ledger is None:
                ledger = cls(Path(app.config["daemon"]["state_dir"]) / "remotes.sqlite")
                app.__dict__["_remotes_ledger"] = ledger
            return ledger

    def conn(self) -> sqlite3.Connection:
        return self._conns.raw()

    def tx(self):
        return _Tx(self.conn())

    def query(self, sql: str, params=()) -> list[dict]:
        return [dict(r) for r in self.conn().execute(sql, params)]

    def one(self, sql: str, params=()) -> dict | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        self._conns.close()

    # -- pulls ---------------------------------------------------------------------------------
    def open_pull(self, remote: str, path: str, size: int, mtime: int) -> dict | None:
        return self.one("select * from pulls where remote = ? and path = ? and size = ? and mtime = ? "
                        f"and state in {PULL_OPEN} order by id desc limit 1", (remote, path, size, mtime))

    def kept_pull(self, remote: str, path: str, size: int, mtime: int) -> dict | None:
        """A finished pull of exactly this listing entry left on the remote (``after = "keep"``)."""
        return self.one("select * from pulls where remote = ? and path = ? and size = ? and mtime = ? "
                        "and state = 'done' and action = 'keep' limit 1", (remote, path, size, mtime))

    def pulls_in(self, remote: str, states) -> list[dict]:
        states = tuple(states)
        marks = ",".join("?" * len(states))
        return self.query(f"select * from pulls where remote = ? and state in ({marks}) order by id",
                          (remote, *states))

    @staticmethod
    def record_pull(db, remote: str, mapping: str, path: str, size: int, mtime: int, inbox: str, name: str,
                    now: datetime, state: str, **fields) -> int:
        """Insert a pull row, or move this listing entry's ``downloading`` row on (inside ``db``'s
        transaction); returns the row id."""
        row = db.execute("select id from pulls where remote = ? and path = ? and size = ? and mtime = ? and "
                         "state = 'downloading' order by id desc limit 1", (remote, path, size, mtime)).fetchone()
        fields = {"state": state, **fields}
        if row is not None:
            cols = ", ".join(f"{k} = ?" for k in fields)
            db.execute(f"update pulls set {cols} where id = ?", (*fields.values(), row[0]))
            return row[0]
        base = {"remote": remote, "mapping": mapping, "path": path, "size": size, "mtime": mtime, "inbox": inbox,
                "name": name, "created_at": iso(now), "attempts": 0, **fields}
        cur = db.execute(f"insert into pulls ({', '.join(base)}) values ({', '.join('?' * len(base))})",
                         tuple(base.values()))
        return cur.lastrowid

    def update_pull(self, pull_id: int, **fields) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.tx() as db:
            db.execute(f"update pulls set {cols} where id = ?", (*fields.values(), pull_id))

    def delete_pull(self, pull_id: int) -> None:
        with self.tx() as db:
            db.execute("delete from pulls where id = ?", (pull_id,))

    def download_failed(self, remote: str, mapping: str, path: str, size: int, mtime: int, inbox: str, name: str,
                        error: str, now: datetime) -> None:
        """A download that did not finish: a ``downloading`` row carries its backoff."""
        with self.tx() as db:
            pull_id = self.record_pull(db, remote, mapping, path, size, mtime, inbox, name, now, "downloading")
            attempts = db.execute("select attempts from pulls where id = ?", (pull_id,)).fetchone()[0] + 1
            db.execute("update pulls set attempts = ?, last_error = ?, next_attempt_at = ? where id = ?",
                       (attempts, error[:500], iso(now + timedelta(seconds=backoff(attempts))), pull_id))

    def pull_failed(self, pull_id: int, error: str, now: datetime) -> None:
        row = self.one("select attempts from pulls where id = ?", (pull_id,)) or {"attempts": 0}
        attempts = (row["attempts"] or 0) + 1
        self.update_pull(pull_id, attempts=attempts, last_error=error[:500],
                         next_attempt_at=iso(now + timedelta(seconds=backoff(attempts))))

    # -- observations for the `stable` rule -----------------------------------------------------
    def observe(self, remote: str, entries: dict[str, tuple[int, int]], folder: str, now: datetime) -> dict[str, str]:
        """Record this listing of ``folder``; returns path -> when its (size, mtime) was first seen."""
        prefix = folder.rstrip("/") + "/"
        old = {r["path"]: r for r in self.query("select * from seen where remote = ? and substr(path, 1, ?) = ?",
                                                (remote, len(prefix), prefix))}
        first: dict[str, str] = {}
        with self.tx() as db:
            for path, (size, mtime) in entries.items():
                r = old.pop(path, None)
                if r is not None and (r["size"], r["mtime"]) == (size, mtime):
                    first[path] = r["first_seen_at"]
                    continue
                first[path] = iso(now)
                db.execute("insert or replace into seen (remote, path, size, mtime, first_seen_at) values (?, ?, ?, ?, ?)",
                           (remote, path, size, mtime, iso(now)))
            for path in old:  # gone from the listing
                db.execute("delete from seen where remote = ? and path = ?", (remote, path))
        return first

    def forget_seen(self, remote: str, path: str) -> None:
        with self.tx() as db:
            db.execute("delete from seen where remote = ? and path = ?", (remote, path))

    def pull_run(self, remote: str, mapping: str) -> dict:
        return self.one("select * from pull_runs where remote = ? and mapping = ?", (remote, mapping)) or {}

    def pull_ran(self, remote: str, mapping: str, now: datetime, ok: bool) -> None:
        with self.tx() as db:
            db.execute("insert into pull_runs (remote, mapping, last_run_at, last_ok_at) values (?, ?, ?, ?) "
                       "on conflict (remote, mapping) do update set last_run_at = excluded.last_run_at, "
                       "last_ok_at = coalesce(excluded.last_ok_at, pull_runs.last_ok_at)",
                       (remote, mapping, iso(now), iso(now) if ok else None))

    # -- pushes --------------------------------------------------------------------------------
    def mapping_since(self, remote: str, mapping: str, now: datetime, since_ns: int) -> int:
        """When this push mapping was first seen (files that appeared before it are "existing")."""
        with self.tx() as db:
            db.execute("insert or ignore into push_mappings (remote, mapping, since_ns, created_at) values (?, ?, ?, ?)",
                       (remote, mapping, since_ns, iso(now)))
            return db.execute("select since_ns from push_mappings where remote = ? and mapping = ?",
                              (remote, mapping)).fetchone()[0]

    def known_pushes(self, remote: str, mapping: str) -> set[tuple]:
        return {(r["local_path"], r["size"], r["mtime_ns"], r["ino"]) for r in self.query(
            "select local_path, size, mtime_ns, ino from pushes where remote = ? and mapping = ?", (remote, mapping))}

    def enqueue_pushes(self, remote: str, mapping: str, files: list[tuple[str, int, int, int, str]],
                       now: datetime) -> int:
        """Queue ``(local_path, size, mtime_ns, ino, remote_path)`` rows in one commit; returns how
        many were new (a file already queued or delivered is ignored)."""
        if not files:
            return 0
        with self.tx() as db:
            before = db.total_changes
            db.executemany(
                "insert or ignore into pushes (remote, mapping, local_path, size, mtime_ns, ino, remote_path, state, "
                "created_at) values (?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                [(remote, mapping, *f, iso(now)) for f in files])
            return db.total_changes - before

    def due_pushes(self, remote: str, now: datetime, force: bool = False) -> list[dict]:
        rows = self.query(f"select * from pushes where remote = ? and state in {PUSH_OPEN} order by mtime_ns, id",
                          (remote,))
        return [r for r in rows if force or not r["next_attempt_at"] or r["next_attempt_at"] <= iso(now)]

    def update_push(self, push_id: int, **fields) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.tx() as db:
            db.execute(f"update pushes set {cols} where id = ?", (*fields.values(), push_id))

    def push_failed(self, push_id: int, error: str, now: datetime) -> None:
        row = self.one("select attempts from pushes where id = ?", (push_id,)) or {"attempts": 0}
        attempts = (row["attempts"] or 0) + 1
        self.update_push(push_id, attempts=attempts, last_error=error[:500],
                         next_attempt_at=iso(now + timedelta(seconds=backoff(attempts))))

    # -- per remote ----------------------------------------------------------------------------
    def state(self, remote: str) -> dict:
        return self.one("select * from remote_state where remote = ?", (remote,)) or {"remote": remote, "failures": 0}

    def remote_ran(self, remote: str, now: datetime, error: str | None) -> None:
        st = self.state(remote)
        if error:
            failures = (st.get("failures") or 0) + 1
            fields = {"last_run_at": iso(now), "last_error": error[:500], "last_error_at": iso(now),
                      "failures": failures, "next_connect_at": iso(now + timedelta(seconds=backoff(failures)))}
        else:
            fields = {"last_run_at": iso(now), "last_ok_at": iso(now), "failures": 0, "next_connect_at": None}
        with self.tx() as db:
            db.execute("insert or ignore into remote_state (remote) values (?)", (remote,))
            cols = ", ".join(f"{k} = ?" for k in fields)
            db.execute(f"update remote_state set {cols} where remote = ?", (*fields.values(), remote))


_OPEN_LOCK = threading.Lock()


class _Tx:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rollback on error): take the write lock up front, so a
    step never fails half-way on a stale read snapshot."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
