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
# an order reference without its order: none stored yet, or several and the payout's account cannot
# tell which (docs/plugins/settlements.md, "Matching")
UNMATCHED = ("none", "ambiguous")
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
    ambiguous: dict = field(default_factory=dict)  # ref index -> the stored order keys it could be
    _ref_amounts: np.ndarray | None = field(default=None, repr=False)
    _totals: dict | None = field(default=None, repr=False)
    _amount_texts: list | None = field(default=None, repr=False)
    _counts: dict | None = field(default=None, repr=False)

    # -- money -----------------------------------------------------------------------------------
    @property
    def scale(self) -> int:
        return self.payout.scale

    def text(self, e4: int) -> str:
        return e4_text(int(e4), self.scale)

    def amount_texts(self) -> list[str]:
        """Every line's amount as exact text (computed once: the store and the lines CSV share it)."""
        if self._amount_texts is None:
            self._amount_texts = fmt_e4(self.amount_e4, self.scale)
        return self._amount_texts

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
        if self._counts is None:
            self._counts = self._count()
        return dict(self._counts)

    def _count(self) -> dict[str, int]:
        kinds = self.ref_kinds
        match = self.match or ["none"] * len(self.refs)
        no_order = [i for i, k in enumerate(kinds) if k == "no_order"]
        unclassified = self.cat_code == CAT_INDEX["unclassified"]
        return {
            "lines": len(self.amount_e4),
            "orders": sum(1 for k in kinds if k is None),
            "matched": sum(1 for i, k in enumerate(kinds) if k is None and match[i] not in UNMATCHED),
            "unmatched": sum(1 for i, k in enumerate(kinds) if k is None and match[i] in UNMATCHED),
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
    """The payout's lines grouped under sorted references (exact, no floats). A line's own
    posted times are kept only where they differ from its reference's (None: as the reference)."""
    table = payout.lines if isinstance(payout.lines, LineTable) else LineTable.from_lines(payout.lines)
    if table.refs is not None:
        return _build_grouped(payout, table)
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
    R = len(uniques)

    def col(name):
        return _column(table, name, order)

    def first_per_ref(values: list) -> list:
        out = [None] * R
        if not n:
            return out
        s = pd.Series(values, dtype=object).replace("", None)
        got = s.groupby(ref_no).first()
        for k, v in zip(got.index.tolist(), got.tolist()):
            out[k] = v if v is not None and v == v else None
        return out

    merchant = first_per_ref(col("merchant_ref")) if not table.is_constant("merchant_ref") else \
        [table.raw("merchant_ref") or None] * R
    market = first_per_ref(col("marketplace")) if not table.is_constant("marketplace") else \
        [table.raw("marketplace") or None] * R
    ref_kind = first_per_ref(col("ref_kind")) if not table.is_constant("ref_kind") else [table.raw("ref_kind")] * R
    alt = [()] * R
    if not table.is_constant("alt_refs"):
        acc: dict[int, list] = {}
        for k, a in zip(ref_no.tolist(), col("alt_refs")):
            if a:
                acc.setdefault(k, []).extend(x for x in a if x)
        alt = [tuple(dict.fromkeys(acc.get(k, ()))) for k in range(R)]
    refs = [None if u == NONE_REF else u for u in uniques]
    lines = _lines(payout, table, order, ref_no, R)
    posted_first, posted_last = col("posted_first"), col("posted_last")
    ref_first, ref_last = _agg_per_ref(posted_first, ref_no, R, "min"), _agg_per_ref(posted_last, ref_no, R, "max")
    return Frame(
        payout=payout, refs=refs, merchant_refs=merchant, alt_refs=alt,
        ref_kinds=["no_order" if refs[k] is None else ref_kind[k] for k in range(R)], marketplaces=market,
        ref_first=ref_first, ref_last=ref_last, ref_no=ref_no,
        posted_first=_own(posted_first, ref_first, ref_no), posted_last=_own(posted_last, ref_last, ref_no), **lines)


def _build_grouped(payout: Payout, table: LineTable) -> Frame:
    """The grouped form of :class:`LineTable`: the format hands over its references."""
    refs_cols = table.refs
    refs = [r if r not in ("",) else None for r in refs_cols["order_ref"]]
    R = len(refs)
    ref_no = np.asarray(table.ref_of_line, dtype=np.int64)
    body = refs[:-1] if refs and refs[-1] is None else refs
    if (len(ref_no) and (ref_no.min() < 0 or ref_no.max() >= R or not bool(np.all(np.diff(ref_no) >= 0)))) or \
            None in body or any(a >= b for a, b in zip(body, body[1:])):
        raise ValueError(f"format {payout.source}: LineTable references must be sorted (account-level last) and "
                         "the lines grouped by them")

    def per_ref(name, default=None):
        values = refs_cols.get(name)
        return [v or default for v in values] if values is not None else [default] * R

    kinds = per_ref("ref_kind")
    lines = _lines(payout, table, None, ref_no, R)
    own_first = table.raw("posted_first") if not table.is_constant("posted_first") else None
    own_last = table.raw("posted_last") if not table.is_constant("posted_last") else None
    ref_first, ref_last = refs_cols.get("posted_first"), refs_cols.get("posted_last")
    if ref_first is None:
        ref_first = _agg_per_ref(_list(own_first, len(ref_no)), ref_no, R, "min")
        own_first = _own(_list(own_first, len(ref_no)), ref_first, ref_no)
    if ref_last is None:
        ref_last = _agg_per_ref(_list(own_last, len(ref_no)), ref_no, R, "max")
        own_last = _own(_list(own_last, len(ref_no)), ref_last, ref_no)
    return Frame(
        payout=payout, refs=refs, merchant_refs=per_ref("merchant_ref"),
        alt_refs=[tuple(a or ()) for a in refs_cols.get("alt_refs", [()] * R)],
        ref_kinds=["no_order" if refs[k] is None else kinds[k] for k in range(R)], marketplaces=per_ref("marketplace"),
        ref_first=list(ref_first), ref_last=list(ref_last), ref_no=ref_no,
        posted_first=_list(own_first, len(ref_no)), posted_last=_list(own_last, len(ref_no)), **lines)


def _list(values, n: int) -> list:
    if values is None:
        return [None] * n
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _lines(payout: Payout, table: LineTable, order, ref_no: np.ndarray, R: int) -> dict:
    """The per-line columns (in reference order), category codes and rows per reference."""
    n = len(table)

    def col(name):
        return _column(table, name, order)

    def arr(name, dtype):
        a = np.asarray(table.column(name), dtype=dtype) if not table.is_constant(name) else \
            np.full(n, table.raw(name), dtype=dtype)
        return a[order] if order is not None else a

    amount, rows = arr("amount_e4", np.int64), arr("rows", np.int64)
    informational, derived = arr("informational", bool), arr("derived", bool)
    categories = col("category")
    codes, uniq = pd.factorize(np.asarray(categories, dtype=object))
    unknown = sorted(str(c) for c in uniq if str(c) not in CAT_INDEX)
    if unknown:
        raise ValueError(f"format {payout.source}: unknown categor{'y' if len(unknown) == 1 else 'ies'} "
                         f"{', '.join(map(repr, unknown))} (see marketd.sdk.settlements.Category)")
    cat_code = np.asarray([CAT_INDEX[str(c)] for c in uniq] or [0], dtype=np.int64)[codes] if n else \
        np.zeros(0, dtype=np.int64)
    categories = [str(c) for c in categories] if n and not isinstance(categories[0], str) else categories
    ref_rows = np.zeros(R, dtype=np.int64)
    if n:
        np.add.at(ref_rows, ref_no, rows)
    constant = {name: table.raw(name) for name in ("currency", "description", "subtype", "sku")
                if table.is_constant(name)}
    return {"categories": categories, "subtypes": col("subtype"), "descriptions": col("description"),
            "currencies": col("currency"), "skus": col("sku"), "amount_e4": amount, "rows": rows,
            "informational": informational, "derived": derived, "cat_code": cat_code, "ref_rows": ref_rows,
            "constant": constant}


def _agg_per_ref(values: list, ref_no: np.ndarray, R: int, how: str) -> list:
    """Per reference, the min/max of ISO-8601 UTC texts (their text order is time order), by
    rank in numpy: pandas' groupby on object columns runs Python per group."""
    out = [None] * R
    if not len(values):
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


def _own(values: list, per_ref: list, ref_no: np.ndarray) -> list:
    """A line's own posted time, None where it is its reference's."""
    if not len(values):
        return []
    vals = np.asarray(values, dtype=object)
    ref_vals = np.asarray(per_ref, dtype=object)[ref_no]
    return np.where(vals == ref_vals, None, vals).tolist()


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
