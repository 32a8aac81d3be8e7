"""Helpers shared by the tests: reading an instance's databases, the in-process engine, plugins
installed as distributions.

Reading a database never turns an error into an empty result. The copies these replace caught
``sqlite3.OperationalError`` and returned ``[]``, so a typo in the SQL, a renamed column or a
missing table made ``assert not rows or …`` and ``in ([], [(0,)])`` pass. Here every SQL error
is raised; a test that means "this table was never created" says so with :func:`assert_no_table`
(or polls :func:`table_exists` while a daemon has not created it yet).
"""
from __future__ import annotations

import io
import os
import re
import sqlite3
import textwrap
import threading
from pathlib import Path

STORE = "marketd.sqlite"


# -- an instance's databases, read from outside (the daemon may be running) -------------------------
def db_path(root: Path, db: str = STORE) -> Path:
    return Path(root) / "var" / db


def _connect(root: Path, db: str) -> sqlite3.Connection:
    path = db_path(root, db)
    if not path.exists():  # mode=ro would say "unable to open database file": name the path instead
        raise FileNotFoundError(f"no database at {path} (has the daemon started?)")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def db_rows(root: Path, sql: str, params=(), db: str = STORE) -> list[tuple]:
    """Every row of ``sql`` as tuples. Any SQL error is raised."""
    conn = _connect(root, db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def db_dicts(root: Path, sql: str, params=(), db: str = STORE) -> list[dict]:
    """Every row of ``sql`` as a dict by column name. Any SQL error is raised."""
    conn = _connect(root, db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def db_value(root: Path, sql: str, params=(), db: str = STORE):
    """The single value of a one-row, one-column query (``select count(*) …``)."""
    rows = db_rows(root, sql, params, db)
    assert len(rows) == 1 and len(rows[0]) == 1, f"{sql!r} gave {rows!r}, not one value"
    return rows[0][0]


def table_exists(root: Path, table: str, db: str = STORE) -> bool:
    """Whether ``table`` exists (False while the database file itself does not)."""
    if not db_path(root, db).exists():
        return False
    return bool(db_rows(root, "select 1 from sqlite_master where type = 'table' and name = ?", (table,), db))


def assert_no_table(root: Path, table: str, db: str = STORE) -> None:
    """The explicit form of "nothing was ever written there": the table does not exist at all
    (a rolled-back transaction takes the table it created with it)."""
    assert db_path(root, db).exists(), f"no database at {db_path(root, db)}"
    assert not table_exists(root, table, db), f"table {table} exists: {db_rows(root, f'select * from {table} limit 5', (), db)}"


def file_states(root: Path) -> dict[str, str]:
    """Journal state per file name (the last claim of a name wins)."""
    return dict(db_rows(root, "select name, state from files order by rowid"))


def journal(root: Path, name: str) -> list[dict]:
    return db_dicts(root, "select id, state, size, sha256, error, final_path from files where name = ? "
                          "order by rowid", (name,))


def n_products(root: Path, prefix: str | None = None) -> int:
    if prefix:
        return db_value(root, "select count(*) from products where sku like ?", (f"{prefix}-%",))
    return db_value(root, "select count(*) from products")


# -- the in-process engine ---------------------------------------------------------------------------
def engine_for(app_factory, clock=None, extra=None, **overrides):
    """An App on a fresh instance (``overrides`` are config sections), its InboxEngine with the
    folders made, and the FakeClock they run on."""
    from marketd.clock import FakeClock
    from marketd.inbox import InboxEngine

    clock = clock or FakeClock()
    app = app_factory(clock=clock, extra_plugins=extra, **overrides)
    eng = InboxEngine(app)
    eng.ensure_dirs()
    return app, eng, clock


def drop(app, name: str, text: str, kind: str = "catalog") -> Path:
    """Write ``text`` straight into inbox ``kind`` (a direct write, as a person's copy would be)."""
    p = app.inbox_dir / kind / name
    p.write_text(text, encoding="utf-8")
    return p


def states(app) -> dict[str, str]:
    return {r["name"]: r["state"] for r in app.store.db.query("select name, state from files")}


def products(app) -> int:
    return app.store.db.execute("select count(*) from products").fetchone()[0]


# -- plugins installed as distributions (what a daemon subprocess loads by entry point) -------------
def install_plugin(site: Path, name: str, source: str, ep_name: str | None = None, version: str = "1.0") -> dict:
    """Module ``name`` and a dist-info registering it under the ``marketd`` entry-point group in
    folder ``site``; returns the environment (PYTHONPATH) that makes a subprocess find it."""
    site = Path(site)
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{name}.py").write_text(textwrap.dedent(source))
    di = site / f"{name}-{version}.dist-info"
    di.mkdir()
    (di / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (di / "entry_points.txt").write_text(f"[marketd]\n{ep_name or name} = {name}\n")
    return {"PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


# -- holding a request at a fake's door: an event instead of a time window ---------------------------
class HoldRequests:
    """WSGI middleware around a fake: once :meth:`arm`-ed, the next ``times`` requests whose
    method and path match wait at the door (``arrived`` is set once the whole request, body
    included, is in) until the test sets ``release``, then reach the fake, which applies them as
    usual even if the client is gone by then.

    "Delay the call by 2 s" faults made the test finish its checks (a database read, a kill)
    inside those 2 s on a loaded machine; a held request waits for the test instead."""

    def __init__(self, app, method: str, path_pattern: str, timeout: float = 300):
        self.app, self.method, self.pattern, self.timeout = app, method, re.compile(path_pattern), timeout
        self.arrived, self.release = threading.Event(), threading.Event()
        self._left = 0
        self._lock = threading.Lock()

    def arm(self, times: int = 1) -> "HoldRequests":
        with self._lock:
            self._left = times
        self.arrived.clear()
        self.release.clear()
        return self

    def __call__(self, environ, start_response):
        hold = False
        if environ["REQUEST_METHOD"] == self.method and self.pattern.search(environ.get("PATH_INFO", "")):
            with self._lock:
                hold, self._left = self._left > 0, max(0, self._left - 1)
        if hold:
            # the whole request first: a client may write its headers and its body apart, and a test
            # that kills it once the headers are in would leave the marketplace a truncated request
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length:
                environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
            self.arrived.set()
            if not self.release.wait(self.timeout):
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"held past the test's timeout"]
        return self.app(environ, start_response)
