"""Amazon settlement files as the SDK's payout model: classify every amount row, add the rows up
per (order-id, category, fee subtype), hand them to the ``settlements`` plugin as one
:class:`marketd.sdk.settlements.Payout` (docs/plugins/amazon-settlements.md).

This is Amazon's mapper: the vocabulary (transaction-type / amount-type / amount-description)
is Amazon's and stays here; matching, storing, the payout check and the reports are the
settlements plugin's, the same for every channel.

Categories (per row, from transaction-type / amount-type / amount-description, see
:func:`classify`): ``revenue``, ``marketplace_fee`` (paid to Amazon; subtype from the
description: commission, fulfilment, …), ``promotion``, ``withheld_tax``, ``refund``,
``shipping_label`` (labels bought from Amazon for returns), ``other`` (account-level: storage,
subscription, reserve, transfer…) and ``unclassified`` (kept, counted in every sum, listed for a
person).

Speed: a 1,000,000-row file gives ~200,000 order-ids. Rows carry integer minor units; they are
grouped in numpy (one factorize per column, one ``unique`` over the combined keys), so the lines
are built as columns (:class:`marketd.sdk.settlements.LineTable`) without one Python object per
row or line. The order-ids are handed to the plugin (``ctx.prefetch``) before the adding-up
starts, so its store lookups run meanwhile.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

import numpy as np
import pandas as pd

from marketd.sdk.settlements import (Category, FeeSubtype, LineTable, Payout, PayoutKind, SourceRow, VocabularyRow)

from .settlement_parser import ParsedSettlement

UTC = timezone.utc
# The mapper's own classification (the names of before the unified model), mapped to SDK categories below.
CATEGORIES = ("revenue", "fees", "promotions", "withheld_tax", "refunds", "other", "unclassified")
REVENUE, FEES, PROMOTIONS, WITHHELD, REFUNDS, OTHER, UNCLASSIFIED = range(7)
CAT_INDEX = {c: i for i, c in enumerate(CATEGORIES)}
TO_SDK = {"revenue": Category.REVENUE, "fees": Category.MARKETPLACE_FEE, "promotions": Category.PROMOTION,
          "withheld_tax": Category.WITHHELD_TAX, "refunds": Category.REFUND, "other": Category.OTHER,
          "unclassified": Category.UNCLASSIFIED}
FBA_SHIPMENT_RE = re.compile(r"FBA[0-9A-Z]{5,}")
INT64_MAX = np.iinfo(np.int64).max
NO_DATE = ParsedSettlement.NO_DATE
SOURCE_COLUMNS = ("transaction-type", "amount-type", "amount-description")
INCONSISTENT_HINT = "Amazon leaves lines out at times, e.g. Current Reserve Amount or Loan Repayment"


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


# -- fee subtypes -----------------------------------------------------------------------------------
# amount-description (lower case, no punctuation) -> subtype; tested in tests/amazon. A fee
# description not listed keeps its own normalised name as subtype, with a warning.
FEE_SUBTYPES = {
    "commission": FeeSubtype.COMMISSION,
    "refundcommission": FeeSubtype.REFUND_COMMISSION,
    "fbaperunitfulfillmentfee": FeeSubtype.FULFILMENT,
    "fbaperorderfulfillmentfee": FeeSubtype.FULFILMENT,
    "fbaweightbasedfee": FeeSubtype.FULFILMENT,
    "fbatransportationfee": FeeSubtype.FULFILMENT,
    "fbapickpackfee": FeeSubtype.FULFILMENT,
    "variableclosingfee": FeeSubtype.CLOSING_FEE,
    "fixedclosingfee": FeeSubtype.CLOSING_FEE,
    "digitalservicesfee": FeeSubtype.DIGITAL_SERVICES,
    "digitalservicesfeefba": FeeSubtype.DIGITAL_SERVICES,
    "shippingchargeback": "shipping_chargeback",
    "giftwrapchargeback": "gift_wrap_chargeback",
    "shippinghb": "shipping_hb",
    "salestaxservicefee": "sales_tax_service_fee",
    "highvolumelistingfee": "high_volume_listing_fee",
    "misc fee": "misc_fee",
    "miscfee": "misc_fee",
}


def sdk_category(category: str, amount_description: str) -> str:
    """The unified category of a classified row: a return label bought from Amazon is a
    ``shipping_label`` (the classifier files it under account-level ``other``)."""
    if category == "other" and "shippinglabel" in _k(amount_description):
        return Category.SHIPPING_LABEL.value
    return TO_SDK[category].value


def classify_amount(transaction_type: str, amount_type: str, amount_description: str) -> tuple[str, str | None, bool]:
    """(SDK category, subtype, known) of one amount row: :func:`classify`, mapped onto the
    unified categories, with the fee subtype of a ``marketplace_fee`` (``known`` is False for a
    fee description the subtype table does not list)."""
    old = classify(transaction_type, amount_type, amount_description)
    if old == "unclassified" and not _k(amount_type) and not _k(amount_description):
        return Category.OTHER.value, "quantity_only", True   # V2 quantity-only rows: no type, no money
    category = sdk_category(old, amount_description)
    if category != Category.MARKETPLACE_FEE.value:
        return category, None, True
    subtype, known = fee_subtype(amount_description, transaction_type)
    return category, subtype, known


def fee_subtype(amount_description: str, transaction_type: str = "") -> tuple[str, bool]:
    """(subtype, known) of a fee row."""
    key = _k(amount_description)
    if key in FEE_SUBTYPES:
        return FEE_SUBTYPES[key], True
    if (key.startswith("fba") and "fulfil" in key) or _k(transaction_type) == "fbafees":
        return FeeSubtype.FULFILMENT, True  # FBA fulfilment and inbound fees
    return FeeSubtype.normalise(amount_description or transaction_type), False


# -- money helpers ---------------------------------------------------------------------------------
def units_to_decimal(units: int, scale: int) -> Decimal:
    d = Decimal(int(units)).scaleb(-scale) if scale else Decimal(int(units))
    return d.quantize(Decimal(1).scaleb(-scale)) if scale else d


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


# -- the payout --------------------------------------------------------------------------------------
def _first_nonempty(values: np.ndarray, codes: np.ndarray, n: int) -> list[str]:
    """Per group (code), the first non-empty value in row order."""
    out = [""] * n
    idx = np.flatnonzero(values != "")
    if len(idx):
        first = np.full(n, len(values), dtype=np.int64)
        np.minimum.at(first, codes[idx], idx)
        for g in np.flatnonzero(first < len(values)).tolist():
            out[g] = values[first[g]].strip()
    return out


def _line_groups(combo_parts, utt, uat, uad, warnings: list[str]):
    """Per distinct (transaction-type, amount-type, amount-description): its line group, and per
    group (category, subtype, description). A group is one line per order-id in the payout."""
    groups: dict[tuple, int] = {}
    labels: dict[int, list[str]] = {}
    combo_group = np.zeros(len(combo_parts), dtype=np.int64)
    unknown_fees: dict[str, str] = {}
    for i, (a, b, c) in enumerate(combo_parts):
        tt, at, ad = utt[a], uat[b], uad[c]
        category, subtype, known = classify_amount(tt, at, ad)
        if not known:
            unknown_fees[f"{at}/{ad}".strip("/")] = subtype
        key = (category, subtype)
        g = groups.setdefault(key, len(groups))
        combo_group[i] = g
        labels.setdefault(g, []).append(f"{at}/{ad}".strip("/") if at or ad else tt)
    for name, subtype in sorted(unknown_fees.items()):
        warnings.append(f"fee {name!r} is new to marketd: kept as a marketplace fee of its own subtype ({subtype})")
    meta = [None] * len(groups)
    for (category, subtype), g in groups.items():
        names = sorted(set(labels[g]))
        text = "; ".join(names)
        meta[g] = (category, subtype, text if len(text) <= 160 else text[:157] + "…")
    return combo_group, meta


def to_payout(parsed: ParsedSettlement, *, channels: list[str] | None = None, prefetch=None) -> Payout:
    """The settlement as one payout: lines per (order-id, category, subtype), exact integers.

    ``channels`` restricts matching to those Amazon accounts (the inbox's ``channel``, or the
    account in a fetched file's name). ``prefetch`` (``ParseContext.prefetch``) receives the
    order-ids and the paid (order-id, SKU) pairs as soon as they are known."""
    rows = parsed.rows
    n = len(rows)
    units = rows["units"].to_numpy()
    exact_objects = units.dtype == object
    warnings = list(parsed.warnings)

    # classification, once per distinct (transaction-type, amount-type, amount-description)
    ctt, utt = pd.factorize(rows["transaction-type"].to_numpy(dtype=object))
    cat_, uat = pd.factorize(rows["amount-type"].to_numpy(dtype=object))
    cad, uad = pd.factorize(rows["amount-description"].to_numpy(dtype=object))
    n_at, n_ad = max(len(uat), 1), max(len(uad), 1)
    combo = (ctt.astype(np.int64) * n_at + cat_) * n_ad + cad
    ccombo, ucombo = pd.factorize(combo)
    combo_parts = [(int(c) // n_ad // n_at, (int(c) // n_ad) % n_at, int(c) % n_ad) for c in ucombo]
    combo_cat = np.asarray([CAT_INDEX[classify(utt[a], uat[b], uad[c])] for a, b, c in combo_parts], dtype=np.int64)
    combo_group, group_meta = _line_groups(combo_parts, utt, uat, uad, warnings)
    cat = combo_cat[ccombo] if n else np.zeros(0, dtype=np.int64)
    group = combo_group[ccombo] if n else np.zeros(0, dtype=np.int64)

    # per order-id, sorted (the account-level rows, without order-id, last): the raw texts are
    # factorized once, then only the distinct ones are stripped and sorted
    raw_codes, raw_refs = pd.factorize(rows["order-id"].to_numpy(dtype=object))
    c2, refs_idx = pd.factorize(np.asarray([r.strip() for r in raw_refs], dtype=object), sort=True)
    refs = [str(r) for r in refs_idx]
    R = len(refs)
    if refs and refs[0] == "":
        c2 = np.where(c2 == 0, R - 1, c2 - 1)
        refs = refs[1:] + [""]
    ocode = c2[raw_codes] if n else np.zeros(0, dtype=np.int64)
    kinds = [None if r and not (r.startswith("FBA") and FBA_SHIPMENT_RE.fullmatch(r)) else
             ("fba_shipment" if r else "no_order") for r in refs]
    paid = _paid_lines(rows, ocode, cat, units, refs, kinds)
    if prefetch is not None:
        prefetch(order_refs=[r for r, k in zip(refs, kinds) if k is None], paid_items=paid,
                 channels=tuple(channels) if channels else None)

    # one line per (order-id, group): the combined key, sorted, is already in the plugin's order
    G = max(len(group_meta), 1)
    key = ocode.astype(np.int64) * G + group
    ukeys, inverse = _dense_unique(key, R * G)
    L = len(ukeys)
    sums = np.zeros(L, dtype=object if exact_objects else np.int64)
    if n:
        np.add.at(sums, inverse, units)
    counts = np.bincount(inverse, minlength=L) if n else np.zeros(0, dtype=np.int64)
    posted = rows["posted"].to_numpy()
    first = np.full(L, INT64_MAX, dtype=np.int64)
    last = np.full(L, NO_DATE, dtype=np.int64)
    valid = posted != NO_DATE
    if valid.any():
        np.minimum.at(first, inverse[valid], posted[valid])
        np.maximum.at(last, inverse[valid], posted[valid])
    line_ref = (ukeys // G).astype(np.int64)
    line_group = (ukeys % G).astype(np.int64)
    factor = 10 ** (4 - parsed.scale)
    amount_e4 = sums * factor if not exact_objects else np.asarray([int(v) * factor for v in sums], dtype=object)
    merchant = _first_nonempty(rows["merchant-order-id"].to_numpy(dtype=object), ocode, R) if n else []
    market = _first_nonempty(rows["marketplace-name"].to_numpy(dtype=object), ocode, R) if n else []
    ref_text = np.asarray([r or None for r in refs], dtype=object)
    ref_merchant = np.asarray([m or None for m in merchant], dtype=object)
    ref_market = np.asarray([m or None for m in market], dtype=object)
    ref_kind = np.asarray([k if k != "no_order" else None for k in kinds], dtype=object)
    g_cat = np.asarray([m[0] for m in group_meta], dtype=object)
    g_sub = np.asarray([m[1] for m in group_meta], dtype=object)
    # description: the source's words when one (transaction-type, amount-type, amount-description)
    # made the line, else every one its group has in the file
    NC = max(len(ucombo), 1)
    pairs = _dense_unique(inverse.astype(np.int64) * NC + ccombo, L * NC)[0] if n else np.zeros(0, dtype=np.int64)
    per_line = np.bincount(pairs // NC, minlength=L) if n else np.zeros(0, dtype=np.int64)
    first_combo = np.full(L, NC, dtype=np.int64)
    if n:
        np.minimum.at(first_combo, pairs // NC, pairs % NC)
    combo_label = np.asarray([f"{uat[b]}/{uad[c]}".strip("/") if (uat[b] or uad[c]) else utt[a]
                              for a, b, c in combo_parts] or [""], dtype=object)
    g_desc = np.asarray([m[2] for m in group_meta], dtype=object)
    description = np.where(per_line == 1, combo_label[first_combo], g_desc[line_group]) if L else g_desc[line_group]
    # posted per order-id; a line keeps its own only where it differs (None: as its order-id)
    ref_first = np.full(R, INT64_MAX, dtype=np.int64)
    ref_last = np.full(R, NO_DATE, dtype=np.int64)
    if L:
        np.minimum.at(ref_first, line_ref, first)
        np.maximum.at(ref_last, line_ref, last)
    lines = LineTable(
        L, refs={"order_ref": ref_text, "merchant_ref": ref_merchant, "ref_kind": ref_kind, "marketplace": ref_market,
                 "posted_first": iso_array(ref_first), "posted_last": iso_array(ref_last)},
        ref_of_line=line_ref, category=g_cat[line_group], subtype=g_sub[line_group], description=description,
        currency=parsed.currency, amount_e4=amount_e4, rows=counts,
        posted_first=_own_times(first, ref_first[line_ref]), posted_last=_own_times(last, ref_last[line_ref]))

    # what a person checks: the vocabulary with its totals, unclassified rows, rows without order-id
    vocabulary = []
    combo_counts = np.bincount(ccombo, minlength=len(ucombo)) if n else np.zeros(0, dtype=np.int64)
    combo_sums = np.zeros(len(ucombo), dtype=object if exact_objects else np.int64)
    if n:
        np.add.at(combo_sums, ccombo, units)
    for i, (a, b, c) in enumerate(combo_parts):
        gc, gs, _ = group_meta[combo_group[i]]
        vocabulary.append(VocabularyRow((utt[a], uat[b], uad[c]), gc, gs, int(combo_counts[i]),
                                        units_to_decimal(int(combo_sums[i]), parsed.scale)))
    order = list(Category)
    vocabulary.sort(key=lambda v: (order.index(Category(v.category)), v.fields))
    source_rows = _source_rows(parsed, rows, cat, group, group_meta, ocode, refs)
    sid = parsed.settlement_id
    channels = list(channels or [])
    return Payout(
        channel_type="amazon", payout_id=sid, source=f"amazon-flat-{parsed.layout}", currency=parsed.currency,
        lines=lines, channel=channels[0] if len(channels) == 1 else None,
        match_channels=tuple(channels) or None, kind=PayoutKind.SETTLEMENT, period_start=parsed.start,
        period_end=parsed.end, paid_at=parsed.deposit, stated_total=parsed.total, payout_key=f"amazon:{sid}",
        business_key=f"amazon-settlement:{sid}", scale=parsed.scale, match_merchant_refs=True, paid_items=paid,
        source_rows=source_rows, vocabulary=vocabulary, source_columns=SOURCE_COLUMNS, warnings=warnings,
        meta={"layout": parsed.layout, "columns": len(parsed.columns), "encoding": parsed.encoding,
              "decimal_sep": parsed.decimal_sep, "rows": parsed.transaction_rows, "amount_rows": n,
              "date_formats": parsed.date_formats, "inconsistent_hint": INCONSISTENT_HINT},
        summary_lines=[("Layout", f"{parsed.layout.upper()} ({len(parsed.columns)} columns)"),
                       ("Encoding", parsed.encoding), ("Decimal separator", parsed.decimal_sep),
                       ("Date formats", "; ".join(f"{k}: {v}" for k, v in parsed.date_formats.items())),
                       ("Transaction rows", parsed.transaction_rows), ("Amount rows", n)])


def _iso_distinct(epochs: np.ndarray) -> np.ndarray:
    """:func:`iso_array`, formatting each distinct time once (an order's lines share theirs)."""
    if not len(epochs):
        return np.zeros(0, dtype=object)
    inverse, uniq = pd.factorize(epochs)
    return np.asarray(iso_array(np.asarray(uniq, dtype=np.int64)), dtype=object)[inverse]


def _own_times(epochs: np.ndarray, ref_epochs: np.ndarray):
    """A line's posted time where it differs from its order-id's, else None (one None for all)."""
    differ = epochs != ref_epochs
    if not differ.any():
        return None
    out = np.full(len(epochs), None, dtype=object)
    idx = np.flatnonzero(differ)
    out[idx] = _iso_distinct(epochs[idx])
    return out


def _dense_unique(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct keys, each key's index among them) for non-negative keys below ``size``:
    counting instead of sorting (keys here are order-id × a few groups)."""
    if not len(keys):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if size > 8 * len(keys) + (1 << 20):  # sparse: sorting is cheaper than a huge table
        uniq, inverse = np.unique(keys, return_inverse=True)
        return uniq, inverse
    present = np.bincount(keys, minlength=size) > 0
    uniq = np.flatnonzero(present)
    lookup = np.empty(size, dtype=np.int64)
    lookup[uniq] = np.arange(len(uniq), dtype=np.int64)
    return uniq, lookup[keys]


def _source_rows(parsed, rows, cat, group, group_meta, ocode, refs) -> list[SourceRow]:
    """Unclassified rows (not V2's quantity-only rows) and rows without order-id, with their line."""
    if not len(rows):
        return []
    no_order = len(refs) - 1 if refs and refs[-1] == "" else -1
    quantity_only = np.asarray([group_meta[g][1] == "quantity_only" for g in range(len(group_meta))], dtype=bool)
    sel_unc = np.flatnonzero((cat == UNCLASSIFIED) & ~quantity_only[group])
    sel_none = np.flatnonzero(ocode == no_order) if no_order >= 0 else np.zeros(0, dtype=np.int64)
    out = []
    for reason, sel in (("unclassified", sel_unc), ("no_order", sel_none)):
        if not len(sel):
            continue
        part = rows.iloc[sel]
        for line, tt, at, ad, u, oid, sku, p, g in zip(
                part["line"].tolist(), part["transaction-type"].tolist(), part["amount-type"].tolist(),
                part["amount-description"].tolist(), part["units"].tolist(), part["order-id"].tolist(),
                part["sku"].tolist(), part["posted"].tolist(), group[sel].tolist()):
            out.append(SourceRow(reason, int(line), (tt, at, ad), units_to_decimal(int(u), parsed.scale),
                                 group_meta[g][0], order_ref=oid.strip() or None, sku=sku or None,
                                 posted_at=_dt(p)))
    return out


def _dt(epoch) -> datetime | None:
    text = iso(int(epoch))
    return datetime.fromisoformat(text) if text else None


def _paid_lines(rows: pd.DataFrame, ocode: np.ndarray, cat: np.ndarray, units: np.ndarray, refs: list[str],
                kinds: list) -> list[tuple[str, str]]:
    """The (order-id, SKU) pairs this settlement pays revenue for (a sale, not a refund), in key
    order. Codes are paired and sorted in numpy, by the texts' ranks; strings are touched once."""
    if not len(rows):
        return []
    is_order = np.asarray([k is None for k in kinds], dtype=bool)
    sel = np.flatnonzero((cat == REVENUE) & (units != 0))
    sel = sel[is_order[ocode[sel]]] if len(sel) else sel
    if not len(sel):
        return []
    raw_codes, raw_skus = pd.factorize(rows["sku"].to_numpy(dtype=object)[sel])  # strip the distinct texts only
    c2, sku_values = pd.factorize(np.asarray([s.strip() for s in raw_skus], dtype=object))
    scode = c2[raw_codes]
    skus = list(sku_values)
    ref_order, sku_order = _text_order(refs), _text_order(skus)
    ref_rank, sku_rank = np.empty_like(ref_order), np.empty_like(sku_order)
    ref_rank[ref_order] = np.arange(len(ref_order))
    sku_rank[sku_order] = np.arange(len(sku_order))
    m = len(skus)
    keys = np.unique(ref_rank[ocode[sel]] * m + sku_rank[scode])  # distinct, sorted
    return list(zip(np.asarray(refs, dtype=object)[ref_order[keys // m]].tolist(),
                    np.asarray(skus, dtype=object)[sku_order[keys % m]].tolist()))


def _text_order(texts: list[str]) -> np.ndarray:
    """Indexes that sort ``texts`` by code point (SQLite's BINARY order), sorted in C."""
    return np.argsort(np.asarray(texts, dtype=str), kind="stable").astype(np.int64)
