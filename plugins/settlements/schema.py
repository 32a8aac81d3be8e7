"""The settlements plugin's tables (component ``settlements``); docs/plugins/settlements.md.

Money columns come in pairs: ``<x>`` TEXT (the exact Decimal, as the source wrote it) and
``<x>_e4`` INTEGER (ten-thousandths). Every SQL sum runs over ``_e4`` (SQLite sums text as
floats). Times are ISO-8601 UTC text.

- ``payouts``: one row per payout (``payout_key``; ``pid`` is its integer handle inside the
  store), its check, totals per category, counts, file.
- ``payout_refs``: one row per (payout, order reference): the reference, the merchant's own
  reference, the matched order (``order_key`` → ``orders.key``, NULL until matched) and how it
  matched. One row per reference, not per line, so attaching an order that arrives later is one
  update, and the lines stay narrow. Index ``order_key`` (an order's money), partial indexes
  for the references still waiting (``order_ref``/``merchant_ref`` where unmatched).
- ``payout_lines``: the money, ``WITHOUT ROWID`` keyed ``(pid, ref_no, line_no)`` — a payout's
  lines are written in key order (append-only) and read by key prefix. ``amount`` is generated
  from ``amount_e4`` (exact text, never out of step, nothing to write). Grain: (payout,
  reference, category, subtype, currency), aggregated; the raw rows stay in the archived file.
  ``informational`` lines are excluded from every sum; ``superseded`` lines were split into
  ``derived`` ones (a net-of-fees line with a matching breakdown).
- ``payout_paid_items``: (channel type, order reference, item) each payout paid revenue for —
  a later payout paying one again is flagged (a double payment, or a copy under another id).
- ``order_breakdowns``: gross/fee/net per order from files that are not payouts (ManoMano's
  sales/commission file), used to split net-of-fees lines.
- view ``order_finance``: per (order, currency) the sums per category, ``net_e4`` (every
  category but ``payout``/``transfer``), how many payouts, first/last posted — one source of
  truth, so nothing drifts after a ``forget``, a late match or a split.

Migration 1 also moves a store built by the Amazon plugin's settlement tables
(``settlements``, ``settlement_orders``, ``settlement_paid_lines``) into these (``legacy.py``).
"""
from __future__ import annotations

from marketd.sdk.settlements import CATEGORIES, NOT_IN_NET

COMPONENT = "settlements"
MONEY = ("stated_total", "computed_total", "difference", *CATEGORIES, "net")


# A line's exact text, computed from its integer by SQLite (integer arithmetic only): 2 decimals,
# or 3 or 4 when the amount has them ("12.34", "-0.0005"). A generated column cannot disagree
# with the integer and costs nothing to write (a large settlement has ~600,000 lines).
_ABS = "abs(amount_e4)"
E4_TEXT_SQL = (f"CASE WHEN amount_e4 < 0 THEN '-' ELSE '' END || ({_ABS} / 10000) || '.' || "
               f"substr(substr('0000' || ({_ABS} % 10000), -4), 1, CASE WHEN {_ABS} % 100 = 0 THEN 2 "
               f"WHEN {_ABS} % 10 = 0 THEN 3 ELSE 4 END)")


def _money_columns(names) -> str:
    return ", ".join(f"{n} TEXT, {n}_e4 INTEGER" for n in names)


def create_tables(db) -> None:
    db.execute(
        "CREATE TABLE payouts (pid INTEGER PRIMARY KEY, payout_key TEXT NOT NULL UNIQUE, business_key TEXT, "
        "channel_type TEXT NOT NULL, channel TEXT, match_channels TEXT, match_merchant_refs INTEGER NOT NULL DEFAULT 0, "
        "payout_id TEXT NOT NULL, kind TEXT, source TEXT, status TEXT, check_rule TEXT, check_detail TEXT, "
        "currency TEXT, period_start TEXT, period_end TEXT, paid_at TEXT, "
        f"{_money_columns(MONEY)}, "
        "lines INTEGER, orders INTEGER, matched INTEGER, unmatched INTEGER, other_refs INTEGER, "
        "no_order_rows INTEGER, unclassified_rows INTEGER, scale INTEGER, posted_min TEXT, posted_max TEXT, "
        "meta TEXT, warnings TEXT, file_id TEXT, file_name TEXT, file_sha256 TEXT, ingested_at TEXT)")
    db.execute("CREATE INDEX idx_payouts_business_key ON payouts (business_key)")
    db.execute("CREATE INDEX idx_payouts_paid_at ON payouts (channel_type, paid_at)")
    db.execute(
        "CREATE TABLE payout_refs (pid INTEGER NOT NULL, ref_no INTEGER NOT NULL, order_ref TEXT, merchant_ref TEXT, "
        "alt_refs TEXT, order_key TEXT, channel TEXT, match TEXT NOT NULL, marketplace TEXT, rows INTEGER, "
        "posted_first TEXT, posted_last TEXT, PRIMARY KEY (pid, ref_no)) WITHOUT ROWID")
    db.execute("CREATE INDEX idx_payout_refs_order_key ON payout_refs (order_key) WHERE order_key IS NOT NULL")
    db.execute("CREATE INDEX idx_payout_refs_pending ON payout_refs (order_ref) "
               "WHERE order_key IS NULL AND match = 'none'")
    db.execute("CREATE INDEX idx_payout_refs_pending_merchant ON payout_refs (merchant_ref) "
               "WHERE order_key IS NULL AND match = 'none' AND merchant_ref IS NOT NULL")
    db.execute(
        "CREATE TABLE payout_lines (pid INTEGER NOT NULL, ref_no INTEGER NOT NULL, line_no INTEGER NOT NULL, "
        "category TEXT NOT NULL, subtype TEXT, description TEXT, currency TEXT, amount_e4 INTEGER NOT NULL, "
        f"amount TEXT GENERATED ALWAYS AS ({E4_TEXT_SQL}) VIRTUAL, "
        "informational INTEGER NOT NULL DEFAULT 0, derived INTEGER NOT NULL DEFAULT 0, "
        "superseded INTEGER NOT NULL DEFAULT 0, rows INTEGER, posted_first TEXT, posted_last TEXT, sku TEXT, "
        "PRIMARY KEY (pid, ref_no, line_no)) WITHOUT ROWID")
    db.execute(
        "CREATE TABLE payout_paid_items (channel_type TEXT NOT NULL, order_ref TEXT NOT NULL, item TEXT NOT NULL, "
        "pid INTEGER NOT NULL, PRIMARY KEY (channel_type, order_ref, item, pid)) WITHOUT ROWID")
    db.execute(
        "CREATE TABLE order_breakdowns (channel_type TEXT NOT NULL, channel TEXT NOT NULL DEFAULT '', "
        "order_ref TEXT NOT NULL, kind TEXT NOT NULL, source_key TEXT NOT NULL DEFAULT '', "
        f"{_money_columns(('gross', 'fee', 'tax', 'net'))}, fee_subtype TEXT, currency TEXT, file_id TEXT, "
        "file_name TEXT, recorded_at TEXT, "
        "PRIMARY KEY (channel_type, channel, order_ref, kind, source_key)) WITHOUT ROWID")
    db.execute(f"CREATE VIEW order_finance AS {order_finance_select()}")


def order_finance_select(keys_json: bool = False) -> str:
    """The ``order_finance`` view's SELECT; with ``keys_json`` limited to the orders of a JSON
    array parameter. Why both: SQLite materialises the whole view (every matched payout line)
    for a join against it, so a caller asking for some orders runs this same text with the
    filter inside (one definition: the view and the filtered read cannot drift)."""
    cats = ", ".join(f"SUM(CASE WHEN l.category = '{c}' THEN l.amount_e4 ELSE 0 END) AS {c}_e4" for c in CATEGORIES)
    net_excluded = ", ".join(f"'{c}'" for c in sorted(NOT_IN_NET))
    only = "r.order_key IN (SELECT value FROM json_each(?)) AND " if keys_json else ""
    return (f"SELECT r.order_key AS order_key, l.currency AS currency, {cats}, "
            f"SUM(CASE WHEN l.category NOT IN ({net_excluded}) THEN l.amount_e4 ELSE 0 END) AS net_e4, "
            "COUNT(DISTINCT r.pid) AS payouts, MIN(coalesce(l.posted_first, r.posted_first)) AS first_posted, "
            "MAX(coalesce(l.posted_last, r.posted_last)) AS last_posted "
            "FROM payout_refs r JOIN payout_lines l ON l.pid = r.pid AND l.ref_no = r.ref_no "
            f"WHERE {only}r.order_key IS NOT NULL AND l.informational = 0 AND l.superseded = 0 "
            "GROUP BY r.order_key, l.currency")


def _v1(db) -> None:
    from .legacy import migrate_amazon_settlements

    create_tables(db)
    migrate_amazon_settlements(db)


MIGRATIONS = [(1, _v1)]
