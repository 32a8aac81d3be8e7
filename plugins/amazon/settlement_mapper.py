"""Settlement reconciliation: classify every amount, match it to a stored order, add up per order.

Categories (per row, from transaction-type / amount-type / amount-description, see
:func:`classify`): ``revenue``, ``fees`` (paid to Amazon), ``promotions``, ``withheld_tax``,
``refunds``, ``other`` (account-level: storage, subscription, reserve, transfer…) and
``unclassified`` (kept, counted in every sum, listed for a human). ``net`` is their sum.

Matching (per distinct ``order-id`` in the file):

1. ``order-id`` = ``orders.order_id`` of an Amazon channel (``channel_type = 'amazon'``, or the
   inbox's ``channel``);
2. otherwise (MCF orders ``S01-…``) ``merchant-order-id`` = ``orders.merchant_order_id`` or
   ``orders.order_id`` of any channel (the seller's own order that Amazon fulfilled);
3. ``order-id`` that is an FBA shipment id (``FBA…``): an inbound-shipment fee, not an order;
4. no order-id (reserve, storage, subscription rows) or no stored order: unmatched. Unmatched
   order-ids are kept in ``settlement_orders`` with ``order_key`` NULL and attached later, when
   the order arrives: at the next settlement (:func:`rematch_pending`), or at once when the
   ``order_imported`` event reaches :func:`settlement_plugin.settlement_order_imported`.

All money is exact: rows carry integer minor units, sums are integers, Decimal is built only
for the totals that are stored or shown.
"""
from __future__ import annotations

import json
import re
import sqlite3
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

import numpy as np
import pandas as pd

from .settlement_parser import ParsedSettlement
from .settlement_schema import AMOUNTS

UTC = timezone.utc
CATEGORIES = ("revenue", "fees", "promotions", "withheld_tax", "refunds", "other", "unclassified")
REVENUE, FEES, PROMOTIONS, WITHHELD, REFUNDS, OTHER, UNCLASSIFIED = range(7)
CAT_INDEX = {c: i for i, c in enumerate(CATEGORIES)}
STATUS_OK = "ok"
STATUS_INCONSISTENT = "inconsistent settlement"
FBA_SHIPMENT_RE = re.compile(r"FBA[0-9A-Z]{5,}")
INT64_MAX = np.iinfo(np.int64).max
NO_DATE = ParsedSettlement.NO_DATE


def _k(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


# -- classification --------------------------------------------------------------------------------
FEE_AMOUNT_TYPES = {"itemfees", "shipmentfees", "orderfees", "miscfees", "otherfees", "fbafees", "itemfee"}
PRICE_AMOUNT_TYPES = {"itemprice"}
PROMO_AMOUNT_TYPES = {"promotion", "promotions"}
WITHHELD_AMOUNT_TYPES = {"itemwithheldtax", "withheldtax", "marketplacefacilitatortax"}
OTHER_AMOUNT_TYPES = {"othertransaction", "other", "fbainventoryreimbursement", "directpayment", "transfer"}
# Account-level transaction types: V2 ones, and V1's "transaction-type = description" rows.
ACCOUNT_TRANSACTION_TYPES = {
    "othertransactionreversal", "transfer", "adjustment", "fbainventoryfee", "subscriptionfee", "storagefee",
    "payabletoamazon", "successfulcharge", "microdeposit", "currentreserveamount", "previousreserveamountbalance",
    "inboundtransportationfee", "loanrepayment", "warehousedamage", "warehouselost", "reversalreimbursement",
    "refundreimbursal", "disposalcomplete", "removalcomplete", "storagerenewalbilling",
    "fbainboundtransportationfee", "manualprocessingfee",
}
# Words that make an other-transaction description a known account-level item.
OTHER_DESCRIPTION_WORDS = (
    "reserve", "storage", "subscription", "reimburs", "transfer", "payable", "charge", "deposit", "disposal",
    "removal", "label", "advertising", "loan", "warehouse", "inbound", "damage", "lost", "transactiontotalamount",
    "manualprocessing", "liquidation", "compensat", "clawback", "retrocharge", "reversal", "return", "fee",
    "tax", "balance", "adjustment",
)
FEE_DESCRIPTIONS = {
    "commission", "refundcommission", "shippingchargeback", "giftwrapchargeback", "digitalservicesfee",
    "fbaperunitfulfillmentfee", "fbaperorderfulfillmentfee", "fbaweightbasedfee", "variableclosingfee",
    "fixedclosingfee", "salestaxservicefee", "shippinghb", "fbatransportationfee", "highvolumelistingfee",
}


def classify(transaction_type: str, amount_type: str, amount_description: str) -> str:
    """The category of one amount row (see the module doc and docs/plugins/amazon-settlements.md).

    Keys are compared lower-case without punctuation, on (transaction-type, amount-type,
    amount-description) together: the same description appears under several amount-types.
    """
    tt, at, ad = _k(transaction_type), _k(amount_type), _k(amount_description)
    if at in WITHHELD_AMOUNT_TYPES or ad.startswith(("marketplacefacilitator", "tcs", "tds")):
        return "withheld_tax"
    if tt == "servicefee" or at == "costofadvertising":
        return "other"  # advertising and other service fees paid from the balance
    if at in FEE_AMOUNT_TYPES:
        return "fees"  # also on refunds: commission credited back, RefundCommission charged
    refundish = "refund" in tt and "reimburs" not in tt
    if at in PRICE_AMOUNT_TYPES or at in PROMO_AMOUNT_TYPES:
        if refundish:
            return "refunds"
        return "revenue" if at in PRICE_AMOUNT_TYPES else "promotions"
    if tt == "fbafees" or ad in FEE_DESCRIPTIONS:
        return "fees"
    if tt in ACCOUNT_TRANSACTION_TYPES:
        return "other"
    if at in OTHER_AMOUNT_TYPES or tt == "othertransaction":
        if any(w in ad for w in OTHER_DESCRIPTION_WORDS):
            return "other"
        if refundish:
            return "refunds"
    return "unclassified"


# -- money helpers ---------------------------------------------------------------------------------
def units_to_decimal(units: int, scale: int) -> Decimal:
    d = Decimal(int(units)).scaleb(-scale) if scale else Decimal(int(units))
    return d.quantize(Decimal(1).scaleb(-scale)) if scale else d


def fmt_units(values, scale: int) -> list[str]:
    """Exact ``format(Decimal, "f")`` text for integer minor units (fast for big arrays: zeros,
    the common case for most categories, are not formatted one by one)."""
    arr = np.asarray(values)
    if arr.dtype == object:
        return [format(units_to_decimal(int(v), scale), "f") for v in arr.tolist()]
    zero = "0" if scale == 0 else "0." + "0" * scale
    out = np.full(len(arr), zero, dtype=object)
    nz = np.flatnonzero(arr)
    if len(nz):
        if scale == 0:
            out[nz] = [str(v) for v in arr[nz].tolist()]
        else:
            div, f = 10 ** scale, "%d.%0" + str(scale) + "d"
            out[nz] = [("-" + f % divmod(-v, div)) if v < 0 else (f % divmod(v, div)) for v in arr[nz].tolist()]
    return out.tolist()


def iso(epoch: int) -> str | None:
    if epoch == NO_DATE or epoch == INT64_MAX:
        return None
    return datetime.fromtimestamp(int(epoch), UTC).isoformat()


def iso_array(epochs: np.ndarray) -> list[str | None]:
    """ISO-8601 UTC text (``2026-08-11T18:46:04+00:00``, as ``datetime.isoformat``) per epoch
    second; None for the no-date sentinels."""
    epochs = np.asarray(epochs, dtype=np.int64)
    missing = (epochs == NO_DATE) | (epochs == INT64_MAX)
    safe = np.where(missing, 0, epochs)
    text = np.strings.add(np.datetime_as_string(safe.astype("datetime64[s]"), unit="s"), "+00:00")
    out = text.astype(object)
    out[missing] = None
    return out.tolist()


# -- the reconciliation ----------------------------------------------------------------------------
@dataclass
class Reconciliation:
    parsed: ParsedSettlement
    refs: list[str]                  # distinct order-ids ("" = rows without order-id)
    merchant_refs: list[str]
    marketplaces: list[str]
    kinds: list[str]                 # "order" | "fba_shipment" | "no_order"
    order_keys: list[str | None]
    channels: list[str | None]
    match: list[str]                 # order_id | merchant_order_id | none | fba_shipment | no_order
    amounts: np.ndarray              # (refs × 7) integer minor units per category
    row_counts: np.ndarray
    posted_first: np.ndarray
    posted_last: np.ndarray
    totals: np.ndarray               # 7 categories, integer units
    breakdown: list[dict]            # per (transaction-type, amount-type, amount-description)
    unclassified_rows: pd.DataFrame
    no_order_rows: pd.DataFrame
    ambiguous: int = 0
    warnings: list[str] = field(default_factory=list)
    paid_lines: list[tuple[str, str]] = field(default_factory=list)  # (order-id, sku) with revenue here
    paid_before: list[dict] = field(default_factory=list)            # of those, paid by another settlement
    _order_table: dict | None = field(default=None, repr=False)

    @property
    def scale(self) -> int:
        return self.parsed.scale

    def dec(self, units) -> Decimal:
        return units_to_decimal(int(units), self.scale)

    @property
    def computed_total(self) -> Decimal:
        return self.dec(int(self.totals.sum()))

    @property
    def difference(self) -> Decimal:
        return self.computed_total - self.parsed.total

    @property
    def status(self) -> str:
        return STATUS_OK if self.difference == 0 else STATUS_INCONSISTENT

    def order_table(self) -> dict:
        """Per order-id (rows without order-id excluded), in order-id order, as exact texts:
        ``sel`` (indexes into refs), ``cols`` (7 categories + net), ``firsts``, ``lasts``. Cached:
        the store writes and the reports share it."""
        if self._order_table is None:
            sel = sorted((i for i, k in enumerate(self.kinds) if k != "no_order"), key=self.refs.__getitem__)
            sel_arr = np.asarray(sel, dtype=np.int64)
            mat = self.amounts[sel_arr] if sel else np.zeros((0, len(CATEGORIES)), dtype=np.int64)
            cols = [fmt_units(mat[:, j], self.scale) for j in range(len(CATEGORIES))]
            cols.append(fmt_units(mat.sum(axis=1), self.scale))
            pf, pl = self.posted_first[sel_arr], self.posted_last[sel_arr]
            firsts = iso_array(pf)
            differ = np.flatnonzero(pf != pl)
            if len(differ) == len(pf):
                lasts = iso_array(pl)
            else:  # usually every row of an order-id has the same posted time
                lasts = list(firsts)
                for j, text in zip(differ.tolist(), iso_array(pl[differ])):
                    lasts[j] = text
            self._order_table = {"sel": sel, "sel_arr": sel_arr, "cols": cols, "firsts": firsts, "lasts": lasts}
        return self._order_table

    def totals_by_category(self) -> dict[str, Decimal]:
        return {c: self.dec(self.totals[i]) for i, c in enumerate(CATEGORIES)}

    def counts(self) -> dict[str, int]:
        kinds = np.asarray(self.kinds, dtype=object)
        match = np.asarray(self.match, dtype=object)
        return {
            "orders": int((kinds == "order").sum()),
            "matched": int(np.isin(match, ["order_id", "merchant_order_id"]).sum()),
            "unmatched": int((match == "none").sum()),
            "fba_shipment_refs": int((kinds == "fba_shipment").sum()),
            "no_order_rows": len(self.no_order_rows),
            "unclassified_rows": len(self.unclassified_rows),
        }


def _first_nonempty(values: np.ndarray, codes: np.ndarray, n: int) -> list[str]:
    """Per group (code), the first non-empty value in row order."""
    out = [""] * n
    idx = np.flatnonzero(values != "")
    if len(idx):
        groups, first = np.unique(codes[idx], return_index=True)
        for g, v in zip(groups.tolist(), values[idx[first]].tolist()):
            out[g] = v.strip()
    return out


def reconcile(db, parsed: ParsedSettlement, *, channels: list[str] | None = None,
              known_channels: list[str] | None = None) -> Reconciliation:
    """Classify, aggregate per order-id and match against the store (reads only).

    ``channels`` restricts matching by Amazon order-id to those channel accounts (the inbox's
    ``channel`` setting, or the account in a fetched file's name); ``known_channels`` are the
    Amazon accounts of the configuration, tried first through the orders' primary key."""
    rows = parsed.rows
    n = len(rows)
    units = rows["units"].to_numpy()
    exact_objects = units.dtype == object

    # classification, once per distinct (transaction-type, amount-type, amount-description)
    ctt, utt = pd.factorize(rows["transaction-type"].to_numpy(dtype=object))
    cat_, uat = pd.factorize(rows["amount-type"].to_numpy(dtype=object))
    cad, uad = pd.factorize(rows["amount-description"].to_numpy(dtype=object))
    n_at, n_ad = max(len(uat), 1), max(len(uad), 1)
    combo = (ctt.astype(np.int64) * n_at + cat_) * n_ad + cad
    ccombo, ucombo = pd.factorize(combo)
    combo_parts = [(int(c) // n_ad // n_at, (int(c) // n_ad) % n_at, int(c) % n_ad) for c in ucombo]
    combo_cat = np.asarray([CAT_INDEX[classify(utt[a], uat[b], uad[c])] for a, b, c in combo_parts],
                           dtype=np.int64)
    cat = combo_cat[ccombo] if n else np.zeros(0, dtype=np.int64)

    breakdown = []
    combo_counts = np.bincount(ccombo, minlength=len(ucombo)) if n else np.zeros(0, dtype=np.int64)
    combo_sums = np.zeros(len(ucombo), dtype=object if exact_objects else np.int64)
    if n:
        np.add.at(combo_sums, ccombo, units)
    for i, (a, b, c) in enumerate(combo_parts):
        breakdown.append({"transaction_type": utt[a], "amount_type": uat[b], "amount_description": uad[c],
                          "category": CATEGORIES[combo_cat[i]], "rows": int(combo_counts[i]),
                          "units": int(combo_sums[i])})
    breakdown.sort(key=lambda r: (CATEGORIES.index(r["category"]), r["transaction_type"], r["amount_type"],
                                  r["amount_description"]))

    # per order-id
    ocode, orefs = pd.factorize(rows["order-id"].to_numpy(dtype=object))
    stripped = np.asarray([r.strip() for r in orefs], dtype=object)
    c2, refs_idx = pd.factorize(stripped)
    ocode = c2[ocode] if n else ocode
    refs = [str(r) for r in refs_idx]
    R = len(refs)
    kinds = ["no_order" if not r else ("fba_shipment" if r.startswith("FBA") and FBA_SHIPMENT_RE.fullmatch(r)
                                       else "order") for r in refs]
    names, _, _ = lookup_channels(db, channels, known_channels)
    lookup = KeyLookup(db, [r for r, k in zip(refs, kinds) if k == "order"], names).start()
    paid_lines = _paid_lines(rows, ocode, cat, units, refs, kinds)
    sid = parsed.settlement_id
    overlap = ReadInThread(store_path(db), lambda conn: paid_before(conn, sid, paid_lines),
                           "settlement-overlap").start()
    try:
        merchant_refs = _first_nonempty(rows["merchant-order-id"].to_numpy(dtype=object), ocode, R) if n else []
        amounts = np.zeros((R, len(CATEGORIES)), dtype=object if exact_objects else np.int64)
        if n:
            np.add.at(amounts, (ocode, cat), units)
        row_counts = np.bincount(ocode, minlength=R) if n else np.zeros(R, dtype=np.int64)
        posted = rows["posted"].to_numpy()
        valid = posted != NO_DATE
        posted_first = np.full(R, INT64_MAX, dtype=np.int64)
        posted_last = np.full(R, NO_DATE, dtype=np.int64)
        if valid.any():
            np.minimum.at(posted_first, ocode[valid], posted[valid])
            np.maximum.at(posted_last, ocode[valid], posted[valid])
        marketplaces = _first_nonempty(rows["marketplace-name"].to_numpy(dtype=object), ocode, R) if n else []
        totals = amounts.sum(axis=0) if R else np.zeros(len(CATEGORIES), dtype=np.int64)
        # row lists for people
        no_order_code = refs.index("") if "" in refs else -1
        untyped_zero = (cat == UNCLASSIFIED) & (units == 0)
        if untyped_zero.any():  # V2 quantity-only rows: no type, no amount; not worth a human's look
            untyped_zero &= (rows["amount-type"].to_numpy(dtype=object) == "")
        sel_unc = np.flatnonzero((cat == UNCLASSIFIED) & ~untyped_zero)
        sel_none = np.flatnonzero(ocode == no_order_code) if no_order_code >= 0 else np.zeros(0, dtype=np.int64)
        cols = ["line", "transaction-type", "order-id", "merchant-order-id", "amount-type", "amount-description",
                "amount", "units", "posted", "sku"]
        unclassified_rows = rows.iloc[sel_unc][cols].reset_index(drop=True)
        no_order_rows = rows.iloc[sel_none][cols].reset_index(drop=True)
        no_order_rows["category"] = [CATEGORIES[i] for i in cat[sel_none]]

        rec = Reconciliation(parsed, refs, merchant_refs, marketplaces, kinds, [None] * R, [None] * R, [""] * R,
                             amounts, row_counts, posted_first, posted_last, totals, breakdown, unclassified_rows,
                             no_order_rows, warnings=list(parsed.warnings), paid_lines=paid_lines)
        rec.order_table()  # the exact texts, formatted while the lookup runs
        by_key = lookup.join()
        rec.paid_before = overlap.join() if overlap.started else paid_before(db.conn, sid, paid_lines)
    finally:
        lookup.join_quietly()
        overlap.join_quietly()
    rec.order_keys, rec.channels, rec.match, rec.ambiguous = match_orders(
        db, refs, merchant_refs, kinds, channels, known_channels, by_key=by_key)
    ambiguous = rec.ambiguous
    if ambiguous:
        rec.warnings.append(f"{ambiguous} order-id(s) matched more than one stored order; the first key was used")
    if rec.paid_before:
        others = sorted({p["other_settlement"] for p in rec.paid_before})
        rec.warnings.append(
            f"{len(rec.paid_before)} order line(s) (order-id + SKU) were already paid by settlement(s) "
            f"{', '.join(others[:5])}{' …' if len(others) > 5 else ''}: real settlements never pay a sale twice, so "
            "this is a double payment to report to Amazon, or this settlement is a copy of one already applied "
            "under another id (sheet 'Paid before')")
    return rec


def _paid_lines(rows: pd.DataFrame, ocode: np.ndarray, cat: np.ndarray, units: np.ndarray, refs: list[str],
                kinds: list[str]) -> list[tuple[str, str]]:
    """The (order-id, SKU) pairs this settlement pays revenue for (a sale, not a refund), in key
    order (so their insert walks the table's primary key instead of jumping around in it).
    Codes are paired and sorted in numpy, by the texts' ranks; strings are touched once."""
    if not len(rows):
        return []
    is_order = np.asarray([k == "order" for k in kinds], dtype=bool)
    sel = np.flatnonzero((cat == REVENUE) & (units != 0))
    sel = sel[is_order[ocode[sel]]] if len(sel) else sel
    if not len(sel):
        return []
    scode, sku_values = pd.factorize(np.asarray([s.strip() for s in rows["sku"].to_numpy(dtype=object)[sel]],
                                                dtype=object))
    skus = list(sku_values)
    ref_order, sku_order = _text_order(refs), _text_order(skus)
    ref_rank, sku_rank = np.empty_like(ref_order), np.empty_like(sku_order)
    ref_rank[ref_order] = np.arange(len(ref_order))
    sku_rank[sku_order] = np.arange(len(sku_order))
    n = len(skus)
    keys = np.unique(ref_rank[ocode[sel]] * n + sku_rank[scode])  # distinct, sorted
    return list(zip(np.asarray(refs, dtype=object)[ref_order[keys // n]].tolist(),
                    np.asarray(skus, dtype=object)[sku_order[keys % n]].tolist()))


def _text_order(texts: list[str]) -> np.ndarray:
    """Indexes that sort ``texts`` by code point (SQLite's BINARY order), sorted in C."""
    return np.argsort(np.asarray(texts, dtype=str), kind="stable").astype(np.int64)


def paid_before(conn, settlement_id: str, lines: list[tuple[str, str]]) -> list[dict]:
    """The lines of ``lines`` that another settlement already paid: one primary-key probe per
    order-id, skipped when no other settlement has paid lines stored (a first settlement, a store
    from before the table)."""
    if not lines:
        return []
    if conn.execute("select 1 from sqlite_master where type = 'table' and name = 'settlement_paid_lines'"
                    ).fetchone() is None:
        return []
    if conn.execute("select 1 from settlement_paid_lines where settlement_id != ? limit 1",
                    [settlement_id]).fetchone() is None:
        return []
    wanted = set(lines)
    refs = list(dict.fromkeys(r for r, _ in lines))
    out = []
    for ref, sku, other in conn.execute(
            "select p.order_ref, p.sku, p.settlement_id from json_each(?) j join settlement_paid_lines p "
            "on p.order_ref = j.value where p.settlement_id != ? order by p.order_ref, p.sku, p.settlement_id",
            [json.dumps(refs), settlement_id]):
        if (ref, sku) in wanted:
            out.append({"order_ref": ref, "sku": sku, "other_settlement": other})
    return out


def lookup_channels(db, channels=None, known_channels=None) -> tuple[list[str], str, list]:
    """(channel names to try by primary key, SQL condition on ``o`` for the order_id fallback,
    its parameters): ``channels`` when the settlement is restricted to accounts; else the
    configured Amazon accounts, or without any the Amazon channels found in the store (a table
    scan). Orders of other (renamed, removed) channels are still found by order_id."""
    if channels:
        names = list(channels)
        return names, f" and o.channel in ({','.join('?' * len(names))})", names
    names = list(known_channels or [])
    if not names and "orders" in db.table_names():
        names = [r[0] for r in db.conn.execute("select distinct channel from orders where channel_type = 'amazon'")]
    return names, " and o.channel_type = 'amazon'", []


def find_by_key(conn, refs: list[str], names: list[str]) -> dict[str, str]:
    """{order-id: channel} for the order-ids stored as ``<channel>:<order-id>`` (the orders'
    primary key), first channel in ``names`` order wins. One query per channel returning a
    single JSON text, so SQLite works without the GIL all along (see :class:`KeyLookup`)."""
    found: dict[str, str] = {}
    todo = list(refs)
    for name in names:
        if not todo:
            break
        (text,) = conn.execute(
            "select json_group_array(j.value) from json_each(?) j "
            "where exists (select 1 from orders o where o.key = ? || j.value)",
            [json.dumps(todo), f"{name}:"]).fetchone()
        hits = json.loads(text)
        for ref in hits:
            found[ref] = name
        if hits:
            todo = [r for r in todo if r not in found]
    return found


def readonly_connection(db_path) -> sqlite3.Connection:
    """A read-only connection of its own to the store's file (for lookups in a thread)."""
    conn = sqlite3.connect(f"file:{urllib.parse.quote(str(db_path))}?mode=ro", uri=True, timeout=60,
                           check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=60000")
    return conn


def store_path(db) -> str | None:
    """The store's file, or None (in-memory or temporary database)."""
    row = db.conn.execute("pragma database_list").fetchone()
    return row[2] if row and row[2] else None


class ReadInThread:
    """``query(conn)`` on a read-only connection of its own to the store's file, in a thread, so
    SQLite works while the caller adds up amounts. Not started when ``path`` is None (an
    in-memory store has no file to open twice): the caller then runs the query itself."""

    def __init__(self, path, query, name: str):
        self.path = path if path and str(path) != ":memory:" else None
        self.query, self.name = query, name
        self.value = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def _run(self) -> None:
        try:
            conn = readonly_connection(self.path)
            try:
                self.value = self.query(conn)
            finally:
                conn.close()
        except BaseException as exc:  # re-raised by join()
            self.error = exc

    def start(self) -> "ReadInThread":
        if self.path:
            self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self.thread.start()
        return self

    @property
    def started(self) -> bool:
        return self.thread is not None

    def join_quietly(self) -> None:
        """Wait for the thread (on every way out of the caller, so it never outlives it)."""
        if self.thread is not None:
            self.thread.join()

    def join(self):
        self.join_quietly()
        if self.error is not None:
            raise self.error
        return self.value


class KeyLookup(ReadInThread):
    """:func:`find_by_key` in a thread while the file's amounts are added up (it sees the
    committed orders, which is all there is: a settlement never writes orders). Inline when
    the store has no file."""

    def __init__(self, db, refs: list[str], names: list[str]):
        self.db, self.refs, self.names = db, refs, names
        wanted = bool(refs and names and "orders" in db.table_names())
        super().__init__(store_path(db) if wanted else None,
                         lambda conn: find_by_key(conn, refs, names), "settlement-match")
        self.wanted = wanted

    def join(self) -> dict[str, str]:
        if not self.started:
            return find_by_key(self.db.conn, self.refs, self.names) if self.wanted else {}
        return super().join()


def match_orders(db, refs: list[str], merchant_refs: list[str], kinds: list[str], channels=None,
                 known_channels=None, by_key: dict[str, str] | None = None) -> tuple[list, list, list, int]:
    """Stored orders for the file's order-ids: (order_keys, channels, match, ambiguous count).

    1. Amazon orders are stored under ``key = "<channel>:<order_id>"``: looked up through the
       primary key for each Amazon channel (:func:`lookup_channels`; ``by_key`` when that ran
       already, see :class:`KeyLookup`);
    2. order-ids not found that way: by ``orders.order_id`` (keys written otherwise, renamed
       channels) among Amazon orders (or ``channels``);
    3. still unmatched with a merchant-order-id (MCF ``S01-…`` orders): that reference as
       ``merchant_order_id`` or ``order_id`` of an order in *any* channel (the seller's own shop
       order that Amazon fulfilled).

    One query per step and channel: the ids travel as one JSON array (``json_each``), so there
    is no host-parameter limit and no per-id round trip."""
    R = len(refs)
    order_keys: list[str | None] = [None] * R
    chans: list[str | None] = [None] * R
    match = ["no_order" if k == "no_order" else ("fba_shipment" if k == "fba_shipment" else "none") for k in kinds]
    if "orders" not in db.table_names() or "order" not in kinds:
        return order_keys, chans, match, 0
    conn = db.conn
    index = {r: i for i, r in enumerate(refs) if kinds[i] == "order"}
    names, cond, cparams = lookup_channels(db, channels, known_channels)
    if by_key is None:
        by_key = find_by_key(conn, list(index), names)
    for ref, name in by_key.items():
        i = index[ref]
        order_keys[i], chans[i], match[i] = f"{name}:{ref}", name, "order_id"
    todo = [r for r in index if r not in by_key]
    multi: set = set()
    if todo:
        for ref, key, chan in conn.execute(
                "select j.value, o.key, o.channel from json_each(?) j join orders o on o.order_id = j.value"
                f" where 1{cond} order by j.value, o.key", [json.dumps(todo), *cparams]):
            i = index[ref]
            if order_keys[i] is None:
                order_keys[i], chans[i], match[i] = key, chan, "order_id"
            elif order_keys[i] != key:
                multi.add(ref)
    pending: dict[str, list[int]] = {}
    for r in todo:
        i = index[r]
        if order_keys[i] is None and merchant_refs[i]:
            pending.setdefault(merchant_refs[i], []).append(i)
    for column in ("merchant_order_id", "order_id"):
        if not pending:
            break
        found: set = set()
        for mref, key, chan in conn.execute(
                f"select j.value, o.key, o.channel from json_each(?) j join orders o on o.{column} = j.value "
                "order by j.value, o.key", [json.dumps(sorted(pending))]):
            for i in pending[mref]:
                if order_keys[i] is None:
                    order_keys[i], chans[i], match[i] = key, chan, "merchant_order_id"
                elif order_keys[i] != key:
                    multi.add(refs[i])
            found.add(mref)
        pending = {m: v for m, v in pending.items() if m not in found}
    return order_keys, chans, match, len(multi)


# -- store writes ----------------------------------------------------------------------------------
@dataclass
class FileInfo:
    file_id: str = ""
    name: str = ""
    sha256: str = ""
    channel: str | None = None


SO_COLUMNS = ("settlement_id", "order_ref", "merchant_order_id", "order_key", "channel", "match", "marketplace",
              "currency", "revenue", "fees", "promotions", "withheld_tax", "refunds", "other", "unclassified", "net",
              "rows", "posted_first", "posted_last")


def apply(db, rec: Reconciliation, info: FileInfo, now: datetime) -> dict:
    """Write ``settlements`` and ``settlement_orders`` (the caller holds the transaction and
    makes sure a settlement is applied once), then attach earlier settlements' order-ids whose
    orders arrived since. Returns the counts, ``matched_keys`` (per order-id of the file, its
    stored order's key or None) and ``rematched_keys`` (orders of earlier settlements attached now)."""
    p = rec.parsed
    sid = p.settlement_id
    totals = rec.totals_by_category()
    counts = rec.counts()
    db["settlements"].insert({
        "settlement_id": sid, "status": rec.status, "currency": p.currency,
        "start_date": p.start.isoformat() if p.start else None, "end_date": p.end.isoformat() if p.end else None,
        "deposit_date": p.deposit.isoformat() if p.deposit else None, "total_amount": format(p.total, "f"),
        "computed_total": format(rec.computed_total, "f"), "difference": format(rec.difference, "f"),
        **{c: format(v, "f") for c, v in totals.items()}, "net": format(rec.computed_total, "f"),
        "layout": p.layout, "columns": len(p.columns), "encoding": p.encoding, "decimal_sep": p.decimal_sep,
        "date_formats": json.dumps(p.date_formats), "rows": p.transaction_rows, "amount_rows": len(p.rows),
        **counts, "warnings": json.dumps(rec.warnings), "file_id": info.file_id, "file_name": info.name,
        "file_sha256": info.sha256, "channel": info.channel, "ingested_at": now.isoformat(),
    }, replace=True)

    table = rec.order_table()
    sel, sel_arr = table["sel"], table["sel_arr"]
    n = len(sel)
    keys = [rec.order_keys[i] for i in sel]
    if n:
        db.conn.executemany(
            f"insert into settlement_orders ({', '.join(SO_COLUMNS)}) values ({','.join('?' * len(SO_COLUMNS))})",
            zip([sid] * n, [rec.refs[i] for i in sel], [rec.merchant_refs[i] or None for i in sel], keys,
                [rec.channels[i] for i in sel], [rec.match[i] for i in sel],
                [rec.marketplaces[i] or None for i in sel], [p.currency] * n, *table["cols"],
                rec.row_counts[sel_arr].tolist(), table["firsts"], table["lasts"]))
    if rec.paid_lines and "settlement_paid_lines" in db.table_names():
        # one statement over a JSON array (in key order): no per-row parameter binding in Python
        db.conn.execute("insert or ignore into settlement_paid_lines (order_ref, sku, settlement_id) "
                        "select json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), ? from json_each(?) j",
                        [sid, json.dumps(rec.paid_lines)])
    rematched_keys: set = set()
    rematched = rematch_pending(db, keys_out=rematched_keys, exclude_settlement=sid)
    return {"settlement_orders": n, "rematched": rematched, "matched_keys": keys, "rematched_keys": rematched_keys}


def order_finance(db, key: str) -> dict | None:
    """What every settlement so far paid and charged for one stored order (``orders.key``):
    the exact Decimal sums of its ``settlement_orders`` rows (a refund may come in an earlier or
    later settlement than the sale), as ``format(Decimal, "f")`` texts, plus the settlement ids.
    None when no settlement mentions the order yet."""
    if "settlement_orders" not in db.table_names():
        return None
    rows = list(db.query("select * from settlement_orders where order_key = ? order by settlement_id, order_ref",
                         [key]))
    if not rows:
        return None
    sums = {a: sum((Decimal(r[a] or "0") for r in rows), Decimal("0.00")) for a in AMOUNTS}
    settlements = list(dict.fromkeys(r["settlement_id"] for r in rows))
    firsts = [r["posted_first"] for r in rows if r["posted_first"]]
    lasts = [r["posted_last"] for r in rows if r["posted_last"]]
    return {"order_key": key, "channel": rows[0]["channel"], "order_refs": sorted({r["order_ref"] for r in rows}),
            "currency": "/".join(sorted({r["currency"] for r in rows if r["currency"]})) or None,
            **{a: format(v, "f") for a, v in sums.items()}, "settlements": ",".join(settlements),
            "settlement_count": len(settlements), "posted_first": min(firsts) if firsts else None,
            "posted_last": max(lasts) if lasts else None}


def rematch_pending(db, order_ids: list[str] | None = None, merchant_ids: list[str] | None = None,
                    keys_out: set | None = None, exclude_settlement: str | None = None) -> int:
    """Attach order-ids of earlier settlements that had no stored order to orders that arrived
    since (by order-id for Amazon orders — within the settlement's channel restriction, if it
    had one — by merchant-order-id for MCF). ``order_ids``/``merchant_ids`` narrow the search
    (event hook); ``exclude_settlement`` skips the settlement being applied (its lookups just
    ran). Returns how many (settlement, order-id) pairs were attached."""
    conn = db.conn
    if "settlement_orders" not in db.table_names() or "orders" not in db.table_names():
        return 0
    pending = "s.order_key is null and s.match = 'none'"
    base = []
    if exclude_settlement is not None:
        pending += " and s.settlement_id != ?"
        base = [exclude_settlement]
    queries = []
    if merchant_ids is None:
        extra, params = "", list(base)
        if order_ids:
            extra = f" and s.order_ref in ({','.join('?' * len(order_ids))})"
            params += list(order_ids)
        queries.append((
            "select s.settlement_id, s.order_ref, o.key, o.channel, 'order_id' from settlement_orders s "
            "join settlements st on st.settlement_id = s.settlement_id "
            f"join orders o on o.order_id = s.order_ref where {pending}{extra} and (case "
            "when coalesce(st.channel, '') = '' then o.channel_type = 'amazon' "
            "else instr(',' || st.channel || ',', ',' || o.channel || ',') > 0 end) "
            "order by s.settlement_id, s.order_ref, o.key", params))
    if order_ids is None:
        extra, params = "", list(base)
        if merchant_ids:
            extra = f" and s.merchant_order_id in ({','.join('?' * len(merchant_ids))})"
            params += list(merchant_ids)
        for column in ("merchant_order_id", "order_id"):
            queries.append((
                "select s.settlement_id, s.order_ref, o.key, o.channel, 'merchant_order_id' from settlement_orders s "
                f"join orders o on o.{column} = s.merchant_order_id where {pending} and s.merchant_order_id is not null "
                f"and s.merchant_order_id != ''{extra} order by s.settlement_id, s.order_ref, o.key", params))
    done: set = set()
    keys: set = set()
    for sql, params in queries:
        for sid, ref, key, chan, how in list(conn.execute(sql, params)):
            if (sid, ref) in done:
                continue
            done.add((sid, ref))
            keys.add(key)
            conn.execute("update settlement_orders set order_key = ?, channel = ?, match = ? "
                         "where settlement_id = ? and order_ref = ?", [key, chan, how, sid, ref])
    if keys_out is not None:
        keys_out |= keys
    for sid in sorted({s for s, _ in done}):
        conn.execute(
            "update settlements set unmatched = (select count(*) from settlement_orders where settlement_id = ? "
            "and match = 'none'), matched = (select count(*) from settlement_orders where settlement_id = ? "
            "and order_key is not null) where settlement_id = ?", [sid, sid, sid])
    return len(done)


def forget_settlement(db, settlement_id: str) -> int:
    """Remove a settlement and its per-order amounts (to apply a corrected copy); returns the
    number of stored orders it had amounts for."""
    conn = db.conn
    n = conn.execute("select count(distinct order_key) from settlement_orders where settlement_id = ?",
                     [settlement_id]).fetchone()[0]
    conn.execute("delete from settlement_orders where settlement_id = ?", [settlement_id])
    conn.execute("delete from settlements where settlement_id = ?", [settlement_id])
    if "settlement_paid_lines" in db.table_names():
        conn.execute("delete from settlement_paid_lines where settlement_id = ?", [settlement_id])
    return n


def _unsettled_sql(now: datetime, days: float, channels, max_days) -> tuple[str, list]:
    from datetime import timedelta

    if channels:
        cond, params = f"o.channel in ({','.join('?' * len(channels))})", list(channels)
    else:
        cond, params = "o.channel_type = 'amazon'", []
    sql = (f"from orders o where {cond} and upper(o.status) = 'SHIPPED' and o.purchased_at < ? "
           + ("and o.purchased_at >= ? " if max_days else "")
           + "and not exists (select 1 from settlement_orders s where s.order_key = o.key)")
    params.append((now - timedelta(days=float(days))).astimezone(UTC).isoformat())
    if max_days:
        params.append((now - timedelta(days=float(max_days))).astimezone(UTC).isoformat())
    return sql, params


def unsettled_keys(db, now: datetime, days: float, channels: list[str] | None = None,
                   max_days: float | None = 180) -> list[str]:
    """The keys of :func:`unsettled_orders`, as one JSON text from SQLite (so a thread running
    it does not compete for the GIL row by row)."""
    if "orders" not in db.table_names() or "settlement_orders" not in db.table_names():
        return []
    sql, params = _unsettled_sql(now, days, channels, max_days)
    (text,) = db.conn.execute(f"select json_group_array(o.key) {sql}", params).fetchone()
    return json.loads(text)


def unsettled_orders(db, now: datetime, days: float, channels: list[str] | None = None,
                     limit: int | None = None, max_days: float | None = 180,
                     keys: list[str] | None = None) -> list[dict]:
    """The aging list: shipped orders purchased between ``max_days`` and ``days`` days before
    ``now`` that no settlement has mentioned yet, oldest first (among ``keys`` if given)."""
    if "orders" not in db.table_names() or "settlement_orders" not in db.table_names():
        return []
    if keys is not None and not keys:
        return []
    sql, params = _unsettled_sql(now, days, channels, max_days)
    if keys is not None:
        sql += " and o.key in (select value from json_each(?))"
        params.append(json.dumps(keys))
    sql = ("select o.key as order_key, o.channel, o.order_id, o.merchant_order_id, o.status, o.purchased_at, "
           f"o.updated_at, o.currency, o.total {sql} order by o.purchased_at, o.key")
    if limit:
        sql += f" limit {int(limit)}"
    cur = db.conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    out = []
    for row in cur:
        r = dict(zip(names, row))
        try:
            r["age_days"] = (now - datetime.fromisoformat(r["purchased_at"])).days
        except (TypeError, ValueError):
            r["age_days"] = None
        out.append(r)
    return out
