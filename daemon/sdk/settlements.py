"""``marketd.sdk.settlements``: what a marketplace's payout file turns into, for every channel.

A channel plugin that reads payout files (Amazon settlements, the eBay transaction report,
ManoMano's accounting CSVs, MALL invoices) registers a :class:`SettlementFormat` through the
``register_settlement_formats`` hook and only *parses*: it hands back :class:`Payout` objects
whose :class:`PayoutLine` s say, per order reference, how much money of which
:class:`Category` the payout moved. The built-in ``settlements`` plugin owns everything after
that — the one ``inbox/settlements/`` handler (it asks each format's ``sniff`` which one a
file is), the store tables, matching to orders, the payout check, duplicates, the reports and
the commands — so every marketplace lands in the same tables and the same report shape.

Why one model: ``marketd orders show`` and the monthly fees report must answer "what did the
marketplace keep from this order" the same way for every channel, and no plugin may import
another (issue 10), so the shapes live here, behind the SDK.

Money is ``Decimal``; in the store every amount is kept twice, as exact text and as an integer
of ten-thousandths (``*_e4``, :func:`to_e4`), and every SQL sum runs over the integers (SQLite
sums text as floats). No marketplace amount seen has more than 4 decimals; :func:`to_e4`
refuses one that has.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

UTC = timezone.utc
E4 = 10_000


class Category(str, enum.Enum):
    """Where an amount goes. Signs are the marketplace's: money to the seller is positive."""

    REVENUE = "revenue"                  # what the buyer paid the seller (price, shipping charged, tax collected)
    MARKETPLACE_FEE = "marketplace_fee"  # what the marketplace kept (credits back are positive)
    SHIPPING_LABEL = "shipping_label"    # labels bought through the marketplace
    REFUND = "refund"                    # money returned to the buyer (the fee credit is a marketplace_fee)
    WITHHELD_TAX = "withheld_tax"        # tax the marketplace collects and remits (not a fee)
    PROMOTION = "promotion"              # seller-funded discounts
    OTHER = "other"                      # account-level money and classified odds (reserve, storage, holds …)
    PAYOUT = "payout"                    # the transfer to the bank, as a line (minus the payout)
    TRANSFER = "transfer"                # seller → marketplace money not taken from the balance
    UNCLASSIFIED = "unclassified"        # a known row with unknown vocabulary: kept, summed, listed for a person

    def __str__(self) -> str:
        return self.value


CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
# An order's (and a payout's) ``net`` is the sum of every category but these two: they move money
# between the seller's marketplace balance and the bank, they are not what an order earned.
NOT_IN_NET: frozenset[str] = frozenset({Category.PAYOUT.value, Category.TRANSFER.value})


class FeeSubtype:
    """Fee subtypes (an open set, lower_snake): what kind of ``marketplace_fee`` a line is. A
    format maps its own vocabulary onto these with a tested table; an unknown fee becomes its
    own :func:`normalise`-d name, with a warning — never dropped."""

    COMMISSION = "commission"
    REFUND_COMMISSION = "refund_commission"
    FULFILMENT = "fulfilment"                  # FBA and other fulfilment-by-marketplace fees
    CLOSING_FEE = "closing_fee"
    DIGITAL_SERVICES = "digital_services"
    FINAL_VALUE_FEE_FIXED = "final_value_fee_fixed"
    FINAL_VALUE_FEE_VARIABLE = "final_value_fee_variable"
    REGULATORY_OPERATING = "regulatory_operating"
    INAD_VERY_HIGH = "inad_very_high"          # eBay: Very high "item not as described" fee
    BELOW_STANDARD = "below_standard"
    INTERNATIONAL = "international"
    DEPOSIT_PROCESSING = "deposit_processing"
    PROMOTED_LISTINGS = "promoted_listings"
    AD_FEE = "ad_fee"
    SUBSCRIPTION = "subscription"
    REFUND_PENALTY = "refund_penalty"
    MARGIN = "margin"                          # MALL: the margin netted inside a self-billing invoice
    OTHER = "other"

    @staticmethod
    def normalise(name: str) -> str:
        """A source's fee name as a subtype: ``FBAPerUnitFulfillmentFee`` → ``fba_per_unit_fulfillment_fee``,
        ``Final Value Fee - fixed`` → ``final_value_fee_fixed``."""
        text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", str(name or "").strip())
        text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
        return text or FeeSubtype.OTHER


class PayoutKind:
    SETTLEMENT = "settlement"
    PAYOUT = "payout"
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    OFFSET = "offset"
    OPEN = "open"                  # money not yet paid out (eBay rows without a Payout ID): shown, not a payout


class PayoutStatus:
    OK = "ok"                      # the lines add up to what the source says was paid: final
    INCONSISTENT = "inconsistent"  # they do not (the payout is applied all the same; a later complete copy replaces it)
    UNCHECKED = "unchecked"        # the source states no total (ManoMano): nothing to check against
    OPEN = "open"                  # not a payout yet (money waiting on the marketplace balance)


class CheckRule:
    """How a payout is checked (docs/plugins/settlements.md, "Payout checks").

    ``sum_equals_stated``: the exact sum of every non-informational line except ``payout`` lines
    must equal ``stated_total`` (``ok``/``inconsistent``; ``unchecked`` without a stated total).
    ``by_format``: the format checked it itself (rules over document fields, such as MALL's
    offsets) and set :attr:`Payout.status` and :attr:`Payout.check_detail`."""

    SUM_EQUALS_STATED = "sum_equals_stated"
    BY_FORMAT = "by_format"


# -- money ------------------------------------------------------------------------------------------
def to_e4(amount: Decimal) -> int:
    """``amount`` in ten-thousandths, exactly; ``ValueError`` for more than 4 decimals (a format
    refuses such a value as a ``FileRejected`` with its place before it gets here)."""
    scaled = Decimal(amount).scaleb(4)
    whole = scaled.to_integral_value()
    if scaled != whole:
        raise ValueError(f"{amount} has more than 4 decimals")
    return int(whole)


def from_e4(value: int, scale: int | None = None) -> Decimal:
    """The Decimal of ``value`` ten-thousandths; with ``scale``, shown with that many decimals
    (more when the value needs them: exactness first)."""
    d = Decimal(int(value)).scaleb(-4)
    need = _decimals_needed(int(value)) if scale is None else max(scale, _decimals_needed(int(value)))
    return d.quantize(Decimal(1).scaleb(-need))


def _decimals_needed(value: int) -> int:
    for k in range(4):
        if value % (10 ** (4 - k)) == 0:
            return k
    return 4


def e4_text(value: int, scale: int = 2) -> str:
    """Exact point-decimal text of ``value`` ten-thousandths with ``scale`` decimals (or more
    when needed): ``123400`` → ``"12.34"``."""
    return format(from_e4(value, scale), "f")


# -- the models -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PayoutLine:
    """Money of one category for one order reference in one payout (aggregated: ``rows`` source
    rows added together; raw rows stay in the archived file).

    ``order_ref`` is the order as the marketplace writes it (``None``: account-level money);
    ``merchant_ref`` the seller's own reference when the source gives one; ``alt_refs`` other
    ids of the same order (eBay's legacy id) tried when matching. ``ref_kind`` says a reference
    that is *not* an order (Amazon's ``fba_shipment`` ids): such lines are never matched.
    ``informational`` lines (a foreign-currency fee detail) are kept and shown but excluded from
    every sum; ``derived`` lines were produced by splitting a net-of-fees line (§1.5)."""

    category: str
    amount: Decimal
    currency: str
    order_ref: str | None = None
    merchant_ref: str | None = None
    alt_refs: tuple[str, ...] = ()
    subtype: str | None = None
    description: str | None = None
    posted_first: datetime | None = None
    posted_last: datetime | None = None
    sku: str | None = None
    quantity: Decimal | None = None
    rows: int = 1
    informational: bool = False
    derived: bool = False
    ref_kind: str | None = None
    marketplace: str | None = None


class LineTable:
    """Payout lines as columns, for a format with hundreds of thousands of them (Amazon's numpy
    path): handed over without one Python object per line, and written to the store by columns.
    Iterating gives :class:`PayoutLine` s, so a table and a list are interchangeable.

    Each column is a sequence of ``n`` values or one value for every line (``currency="EUR"``).
    ``amount_e4`` holds ten-thousandths (ints); ``posted_first``/``posted_last`` ISO-8601 UTC
    text or ``None``; ``alt_refs`` a tuple per line.

    Grouped form (``refs=…, ref_of_line=…``): the lines come grouped by order reference, the
    references sorted with the account-level one (``order_ref`` None) last; ``refs`` holds the
    per-reference columns (:data:`REF_COLUMNS`, each a sequence of R values) and
    ``ref_of_line`` (non-decreasing ints) says each line's reference. The plugin then takes the
    references as they are instead of grouping a million texts again. A line's ``posted_first``/
    ``posted_last`` None means its reference's."""

    COLUMNS = ("order_ref", "merchant_ref", "alt_refs", "ref_kind", "category", "subtype", "description", "currency",
               "amount_e4", "rows", "posted_first", "posted_last", "sku", "informational", "derived", "marketplace")
    DEFAULTS = {"order_ref": None, "merchant_ref": None, "alt_refs": (), "ref_kind": None, "subtype": None,
                "description": None, "rows": 1, "posted_first": None, "posted_last": None, "sku": None,
                "informational": False, "derived": False, "marketplace": None}
    REF_COLUMNS = ("order_ref", "merchant_ref", "alt_refs", "ref_kind", "marketplace", "posted_first", "posted_last")

    def __init__(self, n: int, *, refs: dict | None = None, ref_of_line=None, **columns):
        unknown = set(columns) - set(self.COLUMNS)
        if unknown:
            raise TypeError(f"LineTable: unknown column(s) {', '.join(sorted(unknown))}")
        for required in ("category", "currency", "amount_e4"):
            if required not in columns:
                raise TypeError(f"LineTable: column {required} is required")
        self.n = int(n)
        self.refs: dict[str, list] | None = None
        self.ref_of_line = None
        if refs is not None:
            bad = set(refs) - set(self.REF_COLUMNS)
            both = set(refs) & set(columns) - {"posted_first", "posted_last"}
            if bad or both or "order_ref" not in refs or ref_of_line is None or len(ref_of_line) != self.n:
                raise TypeError("LineTable: grouped form needs refs with order_ref (and only reference columns, "
                                "not given per line too) and ref_of_line for every line")
            size = len(refs["order_ref"])
            self.refs = {k: list(v.tolist() if hasattr(v, "tolist") else v) for k, v in refs.items()}
            if any(len(v) != size for v in self.refs.values()):
                raise ValueError("LineTable: every reference column needs one value per reference")
            self.ref_of_line = ref_of_line
        self._cols: dict[str, Any] = {}
        for name in self.COLUMNS:
            value = columns.get(name, self.DEFAULTS.get(name))
            if _is_column(value):
                if len(value) != self.n:
                    raise ValueError(f"LineTable: column {name} has {len(value)} values for {self.n} lines")
            self._cols[name] = value

    def __len__(self) -> int:
        return self.n

    def is_constant(self, name: str) -> bool:
        if self.refs is not None and name in self.refs and name not in ("posted_first", "posted_last"):
            return False
        return not _is_column(self._cols[name])

    def column(self, name: str) -> list:
        """The column as a list of ``n`` values (a constant is repeated; in the grouped form a
        reference's value is repeated on its lines)."""
        if self.refs is not None and name in self.refs:
            per_ref = self.refs[name]
            index = self.ref_of_line.tolist() if hasattr(self.ref_of_line, "tolist") else list(self.ref_of_line)
            if name in ("posted_first", "posted_last") and _is_column(self._cols[name]):
                own = self._cols[name]
                own = own.tolist() if hasattr(own, "tolist") else list(own)
                return [v if v is not None else per_ref[k] for v, k in zip(own, index)]
            return [per_ref[k] for k in index]
        value = self._cols[name]
        if _is_column(value):
            return value.tolist() if hasattr(value, "tolist") else list(value)
        return [value] * self.n

    def raw(self, name: str):
        """The column as given: a sequence, or the one value of every line."""
        return self._cols[name]

    def __iter__(self) -> Iterator[PayoutLine]:
        cols = {name: self.column(name) for name in self.COLUMNS}
        for i in range(self.n):
            pf, pl = cols["posted_first"][i], cols["posted_last"][i]
            yield PayoutLine(
                category=str(cols["category"][i]), amount=from_e4(int(cols["amount_e4"][i])),
                currency=cols["currency"][i], order_ref=cols["order_ref"][i], merchant_ref=cols["merchant_ref"][i],
                alt_refs=tuple(cols["alt_refs"][i] or ()), subtype=cols["subtype"][i],
                description=cols["description"][i], posted_first=_dt(pf), posted_last=_dt(pl), sku=cols["sku"][i],
                rows=int(cols["rows"][i]), informational=bool(cols["informational"][i]),
                derived=bool(cols["derived"][i]), ref_kind=cols["ref_kind"][i], marketplace=cols["marketplace"][i])

    @classmethod
    def from_lines(cls, lines: Sequence[PayoutLine]) -> "LineTable":
        lines = list(lines)
        cols: dict[str, list] = {name: [] for name in cls.COLUMNS}
        for ln in lines:
            for name in cls.COLUMNS:
                if name == "amount_e4":
                    cols[name].append(to_e4(ln.amount))
                elif name in ("posted_first", "posted_last"):
                    value = getattr(ln, name)
                    cols[name].append(_iso(value))
                else:
                    cols[name].append(getattr(ln, name))
        cols["category"] = [str(c.value if isinstance(c, Category) else c) for c in cols["category"]]
        return cls(len(lines), **cols)


def _is_column(value) -> bool:
    """A list or array is a column; a scalar (or a tuple: ``alt_refs``' one value) is every line's."""
    return hasattr(value, "shape") or (isinstance(value, Sequence) and not isinstance(value, (str, bytes, tuple)))


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: settlement times must be timezone-aware")
    return value.astimezone(UTC).isoformat()


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class SourceRow:
    """One source row a person should look at (``reason``: ``unclassified`` — vocabulary the
    format does not know — or ``no_order``: account-level money), with its line in the file
    and the values of the payout's :attr:`Payout.source_columns`."""

    reason: str
    line: int | None
    fields: tuple[str, ...]
    amount: Decimal
    category: str
    order_ref: str | None = None
    sku: str | None = None
    posted_at: datetime | None = None


@dataclass(frozen=True)
class VocabularyRow:
    """How one value of the source's vocabulary (its :attr:`Payout.source_columns`) was
    classified, with the rows and money it carried in this payout (the report's breakdown)."""

    fields: tuple[str, ...]
    category: str
    subtype: str | None
    rows: int
    amount: Decimal


@dataclass
class Payout:
    """One payout (settlement, eBay payout, invoice, offset …) as its source describes it.

    Identity: ``payout_key`` (the store's key; default ``<channel_type>:<channel>:<kind>:<id>``)
    and ``business_key`` (the inbox's duplicate key; default ``<channel_type>-<kind>:<channel>:<id>``).
    ``match_channels`` are the accounts whose orders the references are matched against
    (``None``: every account of ``channel_type``); ``match_merchant_refs`` also matches a
    reference's ``merchant_ref`` against the orders of *any* channel (Amazon MCF: Amazon
    fulfilled the seller's own shop order). ``scale`` is how many decimals the source writes
    (the stored text shows that many). ``paid_items`` are the (order reference, item) sales it
    pays revenue for: a later payout paying one again is flagged as a double payment.
    ``source_rows``, ``vocabulary``, ``source_columns`` and ``summary_lines`` are for the
    reports (what a person checks)."""

    channel_type: str
    payout_id: str
    source: str
    currency: str
    lines: Sequence[PayoutLine] | LineTable = ()
    channel: str | None = None
    match_channels: tuple[str, ...] | None = None
    kind: str = PayoutKind.PAYOUT
    period_start: datetime | None = None
    period_end: datetime | None = None
    paid_at: datetime | None = None
    stated_total: Decimal | None = None
    check_rule: str = CheckRule.SUM_EQUALS_STATED
    status: str | None = None
    check_detail: str | None = None
    meta: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    payout_key: str | None = None
    business_key: str | None = None
    scale: int = 2
    match_merchant_refs: bool = False
    paid_items: Sequence[tuple[str, str]] = ()
    source_rows: Sequence[SourceRow] = ()
    vocabulary: Sequence[VocabularyRow] = ()
    source_columns: tuple[str, ...] = ("description",)
    summary_lines: list[tuple[str, Any]] = field(default_factory=list)

    def key(self) -> str:
        if self.payout_key:
            return self.payout_key
        return ":".join(p for p in (self.channel_type, self.channel, self.kind, self.payout_id) if p)

    def bkey(self) -> str:
        if self.business_key:
            return self.business_key
        return f"{self.channel_type}-{self.kind}:" + ":".join(p for p in (self.channel, self.payout_id) if p)


@dataclass(frozen=True)
class Breakdown:
    """Gross, fee and net of one order (or refund) from a source that is not a payout (ManoMano's
    sales/commission file): used to split a payout's ``revenue/net_of_fees`` line into
    ``revenue = gross`` and ``marketplace_fee = net - gross`` when the pieces add up exactly.
    ``kind`` is ``ORDER`` or ``REFUND``; ``source_key`` tells rows of one order apart (a date)."""

    channel_type: str
    order_ref: str
    gross: Decimal
    fee: Decimal
    net: Decimal
    currency: str
    channel: str | None = None
    kind: str = "ORDER"
    fee_subtype: str | None = FeeSubtype.COMMISSION
    tax: Decimal | None = None
    source_key: str = ""


@dataclass
class ParsedSettlement:
    """What a format's ``parse`` returns: the payouts of the file (an eBay report holds many),
    breakdowns, and warnings about the file as a whole."""

    payouts: list[Payout] = field(default_factory=list)
    breakdowns: list[Breakdown] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ParseContext:
    """What a format's ``parse``/``peek_keys`` see: the claimed file, the inbox's settings, the
    app (for *reading* the store and the config; the settlements plugin writes) and
    ``prefetch``: call it as soon as the file's order references are known
    (``prefetch(order_refs=[...], paid_items=[...], channels=(...) or None)``, ``channels``
    being the payout's ``match_channels``) so the plugin looks them up in the store while the
    format is still adding up amounts. Optional; only the first call counts."""

    app: Any
    path: Path
    name: str
    sha256: str
    settings: Any
    log: Any
    prefetch: Callable[..., None] = lambda **kw: None

    def head(self, size: int = 1 << 16) -> bytes:
        with open(self.path, "rb") as fh:
            return fh.read(size)

    def accounts(self, channel_type: str) -> list[str]:
        """The configured accounts (``[channels.<name>]``) of ``channel_type``."""
        channels = (getattr(self.app, "config", None) or {}).get("channels") or {}
        return [name for name, section in channels.items() if (section or {}).get("type") == channel_type]

    def configured_channels(self, channel_type: str) -> list[str] | None:
        """``[inbox.settlements] channel`` (one account or a list) when it names accounts of
        ``channel_type``: the accounts a file of that type is matched against. None otherwise."""
        value = self.settings.get("channel") if self.settings is not None else None
        if not value:
            return None
        names = [value] if isinstance(value, str) else list(value)
        channels = (getattr(self.app, "config", None) or {}).get("channels") or {}
        mine = [n for n in names if (channels.get(n) or {}).get("type") in (channel_type, None)]
        return mine or None


@runtime_checkable
class SettlementFormat(Protocol):
    """A payout file format, registered with ``register_settlement_formats(register)``.

    ``name`` (e.g. ``"amazon-flat-v2"``; shown in errors and reports), ``channel_type``,
    ``describe`` (one line for the list of known formats in an ``unknown_settlement_format``
    error), ``sniff(head, name)`` (the first 64 KiB and the file's name: is this file mine?
    cheap, no exceptions) and ``parse(ctx)`` (raises ``FileRejected`` with where/fix for bad
    content). Optional ``peek_keys(ctx) -> list[str] | None``: the payouts' business keys from
    the head alone, so a duplicate is recognised before the file is parsed."""

    name: str
    channel_type: str
    describe: str

    def sniff(self, head: bytes, name: str) -> bool: ...

    def parse(self, ctx: ParseContext) -> ParsedSettlement: ...


__all__ = ["Category", "CATEGORIES", "NOT_IN_NET", "FeeSubtype", "PayoutKind", "PayoutStatus", "CheckRule",
           "PayoutLine", "LineTable", "SourceRow", "VocabularyRow", "Payout", "Breakdown", "ParsedSettlement",
           "ParseContext", "SettlementFormat", "to_e4", "from_e4", "e4_text", "E4"]
