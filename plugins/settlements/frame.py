"""A payout's lines as sorted columns: one entry per order reference (``refs``) and the lines
grouped under them, with the totals and the payout check — everything the store writes and the
reports print, computed once.

Why columns: an Amazon settlement of a million rows gives ~600,000 lines; per-line Python
objects and per-line Decimal sums would cost seconds. Amounts stay integers of ten-thousandths
(``amount_e4``) until a text is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from marketd.sdk.settlements import (CATEGORIES, NOT_IN_NET, CheckRule, LineTable, Payout, PayoutStatus, e4_text,
                                     to_e4)

CAT_INDEX = {c: i for i, c in enumerate(CATEGORIES)}
NONE_REF = "\x00"  # sorts first; placed last below: the account-level reference (no order) ends the list


@dataclass
class Frame:
    payout: Payout
    # per reference (sorted by order_ref, the account-level one last)
    refs: list                 # order_ref text, None for account-level money
    merchant_refs: list
    alt_refs: list             # tuple per ref
    ref_kinds: list            # None (an order), a non-order kind ("fba_shipment"), or "no_order"
    marketplaces: list
    ref_rows: np.ndarray
    ref_first: list
    ref_last: list
    # per line, in reference order
    ref_no: np.ndarray
    categories: list
    subtypes: list
    descriptions: list
    currencies: list
    amount_e4: np.ndarray
    rows: np.ndarray
    posted_first: list
    posted_last: list
    skus: list
    informational: np.ndarray
    derived: np.ndarray
    cat_code: np.ndarray
    constant: dict = field(default_factory=dict)   # column -> the one value of every line (not stored per line)
    # matching results (filled by matching.match_frame)
    order_keys: list = field(default_factory=list)
    channels: list = field(default_factory=list)
    match: list = field(default_factory=list)
    ambiguous: int = 0
    _ref_amounts: np.ndarray | None = field(default=None, repr=False)
    _totals: dict | None = field(default=None, repr=False)

    # -- money -----------------------------------------------------------------------------------
    @property
    def scale(self) -> int:
        return self.payout.scale

    def text(self, e4: int) -> str:
        return e4_text(int(e4), self.scale)

    def counted(self) -> np.ndarray:
        """Lines in every sum (not informational)."""
        return ~self.informational

    def totals_e4(self) -> dict[str, int]:
        """Per category, the exact sum of the counted lines."""
        if self._totals is None:
            sums = self.ref_amounts().sum(axis=0) if len(self.refs) else np.zeros(len(CATEGORIES), dtype=np.int64)
            self._totals = {c: int(sums[i]) for i, c in enumerate(CATEGORIES)}
        return self._totals

    def net_e4(self) -> int:
        t = self.totals_e4()
        return sum(v for c, v in t.items() if c not in NOT_IN_NET)

    def computed_e4(self) -> int:
        """What the payout check compares with the stated total: every counted line but ``payout``."""
        t = self.totals_e4()
        return sum(v for c, v in t.items() if c != "payout")

    def check(self) -> tuple[str, int | None, int | None]:
        """(status, stated_e4, difference_e4) by the payout's rule."""
        p = self.payout
        stated = None if p.stated_total is None else to_e4(p.stated_total)
        if p.status == PayoutStatus.OPEN:
            return PayoutStatus.OPEN, stated, None
        if p.check_rule == CheckRule.BY_FORMAT:
            if not p.status:
                raise ValueError(f"format {p.source}: check_rule by_format needs Payout.status")
            return p.status, stated, (self.computed_e4() - stated if stated is not None else None)
        if stated is None:
            return PayoutStatus.UNCHECKED, None, None
        diff = self.computed_e4() - stated
        return (PayoutStatus.OK if diff == 0 else PayoutStatus.INCONSISTENT), stated, diff

    def ref_amounts(self) -> np.ndarray:
        """(refs × categories) integer sums of the counted lines."""
        if self._ref_amounts is None:
            big = int(np.abs(self.amount_e4).max()) if len(self.amount_e4) else 0
            exact = np.int64 if big * max(len(self.amount_e4), 1) < 2 ** 62 else object  # never overflow
            out = np.zeros((len(self.refs), len(CATEGORIES)), dtype=exact)
            sel = self.counted()
            if sel.any():
                np.add.at(out, (self.ref_no[sel], self.cat_code[sel]), self.amount_e4[sel].astype(exact))
            self._ref_amounts = out
        return self._ref_amounts

    # -- counts ----------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        kinds = self.ref_kinds
        match = self.match or ["none"] * len(self.refs)
        no_order = [i for i, k in enumerate(kinds) if k == "no_order"]
        unclassified = self.cat_code == CAT_INDEX["unclassified"]
        return {
            "lines": len(self.amount_e4),
            "orders": sum(1 for k in kinds if k is None),
            "matched": sum(1 for i, k in enumerate(kinds) if k is None and match[i] not in ("none",)),
            "unmatched": sum(1 for i, k in enumerate(kinds) if k is None and match[i] == "none"),
            "other_refs": sum(1 for k in kinds if k not in (None, "no_order")),
            "no_order_rows": int(sum(int(self.ref_rows[i]) for i in no_order)),
            "unclassified_rows": int(self.rows[unclassified].sum()) if unclassified.any() else 0,
        }


def _column(table: LineTable, name: str, order: np.ndarray | None) -> list:
    values = table.raw(name)
    if table.is_constant(name):
        return [values] * len(table) if order is None else [values] * len(order)
    arr = values if isinstance(values, np.ndarray) and values.dtype == object else np.asarray(
        values.tolist() if hasattr(values, "tolist") else values, dtype=object)
    if order is not None:
        arr = arr[order]
    return arr.tolist()


def _grouped(keyed: np.ndarray) -> tuple[np.ndarray | None, list]:
    """(codes, references) when the lines come grouped by reference in sorted order, the
    account-level one last (what a large format hands over): no factorizing or sorting again.
    (None, []) otherwise."""
    n = len(keyed)
    if not n:
        return np.zeros(0, dtype=np.int64), []
    change = np.empty(n, dtype=bool)
    change[0] = True
    change[1:] = keyed[1:] != keyed[:-1]
    uniq = keyed[change].tolist()
    body = uniq[:-1] if uniq[-1] == NONE_REF else uniq
    if NONE_REF in body or any(a >= b for a, b in zip(body, body[1:])):
        return None, []
    return np.cumsum(change, dtype=np.int64) - 1, uniq


def build(payout: Payout) -> Frame:
    """The payout's lines grouped under sorted references (exact, no floats)."""
    table = payout.lines if isinstance(payout.lines, LineTable) else LineTable.from_lines(payout.lines)
    n = len(table)
    refs_raw = table.column("order_ref")
    keyed = np.asarray([NONE_REF if r is None or r == "" else r for r in refs_raw], dtype=object)
    codes, uniques = _grouped(keyed)
    order = None
    if codes is None:
        codes, uniques = pd.factorize(keyed, sort=True)
        uniques = list(uniques)
        if uniques and uniques[0] == NONE_REF:  # the account-level reference goes last
            codes = np.where(codes == 0, len(uniques) - 1, codes - 1)
            uniques = uniques[1:] + [NONE_REF]
        if n and not bool(np.all(np.diff(codes) >= 0)):
            order = np.argsort(codes, kind="stable")
            codes = codes[order]
    ref_no = codes.astype(np.int64)

    def col(name):
        return _column(table, name, order)

    amount = np.asarray(table.column("amount_e4"), dtype=np.int64)
    rows = np.asarray(table.column("rows"), dtype=np.int64)
    informational = np.asarray(table.column("informational"), dtype=bool)
    derived = np.asarray(table.column("derived"), dtype=bool)
    if order is not None:
        amount, rows, informational, derived = amount[order], rows[order], informational[order], derived[order]
    categories = col("category")
    unknown = sorted({c for c in set(categories) if c not in CAT_INDEX})
    if unknown:
        raise ValueError(f"format {payout.source}: unknown categor{'y' if len(unknown) == 1 else 'ies'} "
                         f"{', '.join(map(repr, unknown))} (see marketd.sdk.settlements.Category)")
    cat_code = np.fromiter((CAT_INDEX[c] for c in categories), dtype=np.int64, count=len(categories))
    R = len(uniques)
    posted_first, posted_last = col("posted_first"), col("posted_last")
    ref_rows = np.zeros(R, dtype=np.int64)
    if n:
        np.add.at(ref_rows, ref_no, rows)

    def first_per_ref(values: list) -> list:
        out = [None] * R
        if not n:
            return out
        s = pd.Series(values, dtype=object).replace("", None)
        got = s.groupby(ref_no).first()
        for k, v in zip(got.index.tolist(), got.tolist()):
            out[k] = v if v is not None and v == v else None
        return out

    def agg_per_ref(values: list, how: str) -> list:
        """Per reference, the min/max of ISO-8601 UTC texts (their text order is time order),
        by rank in numpy: pandas' groupby on object columns runs Python per group."""
        out = [None] * R
        if not n:
            return out
        codes_, uniq = pd.factorize(np.asarray(values, dtype=object), sort=True)  # None -> -1
        if not len(uniq):
            return out
        ok = codes_ >= 0
        if how == "min":
            acc = np.full(R, len(uniq), dtype=np.int64)
            np.minimum.at(acc, ref_no[ok], codes_[ok])
            hit = acc < len(uniq)
        else:
            acc = np.full(R, -1, dtype=np.int64)
            np.maximum.at(acc, ref_no[ok], codes_[ok])
            hit = acc >= 0
        texts = np.asarray(uniq, dtype=object)
        for k in np.flatnonzero(hit).tolist():
            out[k] = texts[acc[k]]
        return out

    merchant = first_per_ref(col("merchant_ref")) if not table.is_constant("merchant_ref") else \
        [table.raw("merchant_ref") or None] * R
    market = first_per_ref(col("marketplace")) if not table.is_constant("marketplace") else \
        [table.raw("marketplace") or None] * R
    kinds_line = col("ref_kind")
    ref_kind = first_per_ref(kinds_line) if not table.is_constant("ref_kind") else [table.raw("ref_kind")] * R
    alt = [()] * R
    if not table.is_constant("alt_refs"):
        acc: dict[int, list] = {}
        for k, a in zip(ref_no.tolist(), col("alt_refs")):
            if a:
                acc.setdefault(k, []).extend(x for x in a if x)
        alt = [tuple(dict.fromkeys(acc.get(k, ()))) for k in range(R)]
    refs = [None if u == NONE_REF else u for u in uniques]
    ref_kind = ["no_order" if refs[k] is None else ref_kind[k] for k in range(R)]
    constant = {}
    for name in ("currency", "description", "subtype", "sku", "posted_first", "posted_last"):
        if table.is_constant(name):
            constant[name] = table.raw(name)
    return Frame(
        payout=payout, refs=refs, merchant_refs=merchant, alt_refs=alt, ref_kinds=ref_kind, marketplaces=market,
        ref_rows=ref_rows, ref_first=agg_per_ref(posted_first, "min"), ref_last=agg_per_ref(posted_last, "max"),
        ref_no=ref_no, categories=categories, subtypes=col("subtype"), descriptions=col("description"),
        currencies=col("currency"), amount_e4=amount, rows=rows, posted_first=posted_first, posted_last=posted_last,
        skus=col("sku"), informational=informational, derived=derived, cat_code=cat_code, constant=constant)


def fmt_e4(values, scale: int) -> list[str]:
    """Exact texts for many ten-thousandths at once (zeros, common in per-category columns, are
    not formatted one by one)."""
    arr = np.asarray(values, dtype=np.int64)
    zero = "0" if scale == 0 else "0." + "0" * scale
    out = np.full(len(arr), zero, dtype=object)
    nz = np.flatnonzero(arr)
    if len(nz):
        vals = arr[nz]
        fine = vals % (10 ** (4 - scale)) == 0 if scale < 4 else np.ones(len(vals), dtype=bool)
        if fine.all():
            units = vals // (10 ** (4 - scale)) if scale < 4 else vals
            if scale == 0:
                out[nz] = [str(v) for v in units.tolist()]
            else:
                div, f = 10 ** scale, "%d.%0" + str(scale) + "d"
                out[nz] = [("-" + f % divmod(-v, div)) if v < 0 else (f % divmod(v, div)) for v in units.tolist()]
        else:
            out[nz] = [e4_text(v, scale) for v in vals.tolist()]
    return out.tolist()
