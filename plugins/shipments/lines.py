"""Reading shipment request files (CSV/TSV/XLSX through ``marketd.tabular``, or JSON) into lines.

Each line asks for one carrier shipment. A line that cannot be understood is kept with the
reason it was rejected, so the rest of the file still ships. Problems with the file as a whole
(not JSON, no ``order`` column) reject the file.

CSV columns (``[inbox.shipments.columns]`` maps an ERP's own names to these):

==================  ========================================================================
order               order number(s): channel order id, merchant order id or
                    ``<channel>:<order_id>``; several orders in one parcel: ``A|B``
channel             optional: the channel account, when an order number is ambiguous
carrier             carrier account name from ``[carriers.<name>]`` (or inbox ``carrier``)
service             optional carrier service code
parcel_count        optional, default 1 (or the number of ``|``-separated weights)
weight_kg           weight per parcel; ``2.5`` for all parcels or ``2.5|1.2`` per parcel
length_cm …         ``length_cm``, ``width_cm``, ``height_cm``: optional, single or ``|`` lists
label_format        optional PDF or ZPL (default: inbox ``label_format``, then the carrier's)
package_size        optional smallbox | bigbox (MALL)
recipient           ``order`` (default when recipient_name is empty): the stored order's address
recipient_*         name, company, street, street2, zip, city, province, country, phone, email
sender_*            optional override of the configured sender address
cod_amount          optional cash on delivery amount (with cod_currency)
notes, reference    optional free text for the carrier
tracking_number     manual carriers only: the ERP's own tracking number
carrier_code        manual carriers only: the ERP's carrier (e.g. DHL)
reship              ``yes``: a further shipment for an order that was shipped before (else refused)
==================  ========================================================================
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal

from marketd.sdk import (AMOUNT, MEASURE, Address, DecimalStyle, FileRejected, NumberKind, Parcel, quote_input,
                         read_table, to_decimal)

ADDRESS_FIELDS = {
    "name": "name", "company": "company", "street": "street", "street2": "street2", "zip": "postal_code",
    "postal_code": "postal_code", "postcode": "postal_code", "city": "city", "province": "province",
    "state": "province", "country": "country", "phone": "phone", "email": "email",
}
ORDER_COLUMNS = ("order", "orders", "order_id", "order_ref")


@dataclass
class Line:
    line: int
    orders: list[str] = field(default_factory=list)
    channel: str = ""
    carrier: str = ""
    service: str = ""
    parcels: list[Parcel] = field(default_factory=list)
    label_format: str = ""
    recipient: Address | None = None      # None: take it from the stored order
    sender: dict = field(default_factory=dict)
    package_size: str = ""
    cod_amount: Decimal | None = None
    cod_currency: str = ""
    notes: str = ""
    reference: str = ""
    tracking_number: str = ""
    carrier_code: str = ""
    reship: bool = False                  # a further shipment for orders that were shipped before
    error: tuple[str, str, str] | None = None  # (reason, message, fix)
    column: str = ""                      # the column (JSON: field path) the error is about
    detail: str = ""                      # the offending value, quoted: for the private rejects file only

    def reject(self, reason: str, message: str, fix: str = "", column: str = "", detail: str = "") -> "Line":
        if self.error is None:
            self.error = (reason, message, fix)
            self.column = column
            self.detail = detail
        return self

    @property
    def order_label(self) -> str:
        return "|".join(self.orders)


# Sanity limits: a value beyond them is a typo or an export bug (grams in the kilogram column,
# ``1e30``), never a parcel a carrier takes; refusing it here keeps it out of carrier payloads.
MAX_WEIGHT_KG = Decimal(1000)
MAX_DIMENSION_CM = Decimal(1000)
MAX_COD = Decimal(1_000_000)
# The longest value any column of a shipment line may hold: carriers take 35–70 characters per
# address field and a few hundred for notes; anything longer is a broken export (a whole row in
# one cell, a binary blob), refused for that line before it reaches a carrier, the store or a log.
MAX_TEXT = 1000
MAX_NUMBER_TEXT = 40      # characters of a weight, dimension, count or amount
TRUE_WORDS = ("1", "true", "yes", "y", "x", "si", "ja", "ano", "oui")


class ColumnError(ValueError):
    """A bad value in one column (JSON: one field) of a line. The message never quotes the value
    (it is logged, and a shifted column puts a buyer's name anywhere); ``value`` goes to the
    private rejects file only."""

    def __init__(self, column: str, message: str, value=None):
        super().__init__(message)
        self.column = column
        self.detail = "" if value is None else f"found {quote_input(value)}"


def _text(value, column: str, limit: int = MAX_TEXT) -> str:
    """A scalar (text or JSON number) as stripped text; a JSON object/list/boolean or an overlong
    value is refused naming the column."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ColumnError(column, f"{column} must be text or a number, not a JSON {_json_type(value)}")
    text = value.strip() if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise ColumnError(column, f"{column} is {len(text)} characters long (at most {limit})", text)
    return text


def _json_type(value) -> str:
    return {dict: "object", list: "list", bool: "boolean"}.get(type(value), type(value).__name__)


def _number(value, column: str, limit: Decimal, style: DecimalStyle | None = None,
            kind: NumberKind = MEASURE) -> Decimal | None:
    """``Decimal`` in the file's decimal ``style`` within ``0 < value <= limit``; ``None`` when empty."""
    if isinstance(value, str):
        value = _text(value, column, MAX_NUMBER_TEXT)
    elif value is not None and (isinstance(value, bool) or not isinstance(value, (int, Decimal))):
        raise ColumnError(column, f"{column} must be a number, not a JSON {_json_type(value)}")
    try:
        d = to_decimal(value, column, style, kind)
    except ValueError as exc:  # the reason without the value, which goes to the rejects file only
        raise ColumnError(column, f"{column} {getattr(exc, 'why', 'is not a number')}", value)
    if d is None:
        return None
    if d <= 0:
        raise ColumnError(column, f"{column} must be positive", value)
    if d > limit:
        raise ColumnError(column, f"{column} is larger than {limit} (a unit mix-up, e.g. grams for "
                                  "kilograms, or millimetres for centimetres?)", value)
    return d


def _count(value, column: str) -> int | None:
    text = _text(value, column, MAX_NUMBER_TEXT)
    if not text:
        return None
    if not re.fullmatch(r"[0-9]+", text):
        raise ColumnError(column, f"{column} is not a whole number of parcels", value)
    n = int(text)
    if n < 1 or n > 99:
        raise ColumnError(column, f"{column} {n} is out of range 1..99")
    return n


def _parcel(column_prefix: str, weight, length=None, width=None, height=None, reference: str = "",
            style: DecimalStyle | None = None) -> Parcel:
    w = _number(weight, f"{column_prefix}weight_kg", MAX_WEIGHT_KG, style)
    if w is None:
        raise ColumnError(f"{column_prefix}weight_kg", "weight_kg is empty: every parcel needs a weight in kilograms")
    dims = {name: _number(v, f"{column_prefix}{name}", MAX_DIMENSION_CM, style)
            for name, v in (("length_cm", length), ("width_cm", width), ("height_cm", height))}
    return Parcel(weight_kg=w, reference=reference, **dims)


def _split(value, column: str) -> list[str]:
    """``A|B`` (CSV) or a JSON list of scalars, as texts; other JSON values are refused."""
    if isinstance(value, (list, tuple)):
        out = [_text(v, f"{column}[{i}]") for i, v in enumerate(value, 1)]
        return [v for v in out if v]
    return [p.strip() for p in _text(value, column).split("|") if p.strip()]


def _parcels_from_columns(row: dict, style: DecimalStyle | None = None) -> list[Parcel]:
    weights = _split(row.get("weight_kg") or row.get("weight"), "weight_kg")
    if not weights:
        raise ColumnError("weight_kg", "weight_kg is empty: every parcel needs a weight in kilograms")
    count_col = "parcel_count" if _text(row.get("parcel_count"), "parcel_count") else "parcels"
    count = _count(row.get(count_col), "parcel_count")
    if count is None:
        count = len(weights)
        if count > 99:
            raise ColumnError("weight_kg", f"{count} weights: at most 99 parcels per line")
    if len(weights) not in (1, count):
        raise ColumnError("weight_kg", f"{len(weights)} weights for {count} parcels: give one weight or one per "
                                       "parcel")
    dims = {}
    for name in ("length_cm", "width_cm", "height_cm"):
        vals = _split(row.get(name), name)
        if len(vals) not in (0, 1, count):
            raise ColumnError(name, f"{len(vals)} values in {name} for {count} parcels")
        dims[name] = vals
    parcels = []
    for i in range(count):
        kw = {n: (v[i] if len(v) == count else v[0]) if v else None for n, v in dims.items()}
        parcels.append(_parcel("", weights[i] if len(weights) == count else weights[0],
                               kw["length_cm"], kw["width_cm"], kw["height_cm"], style=style))
    return parcels


def _address(row: dict, prefix: str) -> dict:
    out = {}
    for col, value in row.items():
        if col.startswith(prefix) and value not in (None, ""):
            key = ADDRESS_FIELDS.get(col[len(prefix):])
            if key:
                out[key] = _text(value, col)
    return out


def _address_object(value, column: str) -> dict:
    """A JSON address object (``recipient``/``sender``) with our field names, every value text."""
    if not isinstance(value, dict):
        raise ColumnError(column, f"{column} must be a JSON object with name, street, zip, city, country …")
    out = {}
    for k, v in value.items():
        key = ADDRESS_FIELDS.get(k, k)
        if key in Address.__dataclass_fields__:
            out[key] = _text(v, f"{column}.{k}")
    return out


def line_from_mapping(n: int, row: dict, defaults: dict, style: DecimalStyle | None = None) -> Line:
    """Build a :class:`Line` from one CSV row or JSON object (JSON uses nested objects); ``style``
    is the file's decimal style (:func:`number_style`)."""
    line = Line(n)
    try:
        orders = None
        if isinstance(row.get("orders"), list):
            orders = _split(row["orders"], "orders")
        else:
            for col in ORDER_COLUMNS:
                if row.get(col) not in (None, ""):
                    orders = _split(row[col], col)
                    break
        line.orders = orders or []
        line.channel = _text(row.get("channel"), "channel")
        line.carrier = _text(row.get("carrier") or defaults.get("carrier"), "carrier")
        line.service = _text(row.get("service") or defaults.get("service"), "service")
        line.label_format = _text(row.get("label_format") or defaults.get("label_format"), "label_format").upper()
        line.package_size = _text(row.get("package_size"), "package_size").lower()
        line.notes = _text(row.get("notes"), "notes")
        line.reference = _text(row.get("reference"), "reference")
        line.tracking_number = _text(row.get("tracking_number"), "tracking_number")
        line.carrier_code = _text(row.get("carrier_code"), "carrier_code")
        reship = row.get("reship")
        line.reship = reship is True or (not isinstance(reship, bool) and
                                         _text(reship, "reship").lower() in TRUE_WORDS)
        cod = row.get("cod")
        if isinstance(cod, dict):
            line.cod_amount = _number(cod.get("amount"), "cod.amount", MAX_COD, style, AMOUNT)
            line.cod_currency = _text(cod.get("currency"), "cod.currency")
            cod_col = "cod.currency"
        else:
            line.cod_amount = _number(row.get("cod_amount"), "cod_amount", MAX_COD, style, AMOUNT)
            line.cod_currency = _text(row.get("cod_currency"), "cod_currency")
            cod_col = "cod_currency"
        if line.cod_amount is not None and not line.cod_currency:
            raise ColumnError(cod_col, "cod_amount needs cod_currency")
        # parcels
        if isinstance(row.get("parcels"), list):
            if not row["parcels"]:
                raise ColumnError("parcels", "parcels is empty: a line needs at least one parcel")
            if len(row["parcels"]) > 99:
                raise ColumnError("parcels", f"{len(row['parcels'])} parcels: at most 99 per line")
            line.parcels = []
            for i, p in enumerate(row["parcels"], 1):
                if not isinstance(p, dict) or p.get("weight_kg") in (None, ""):
                    raise ColumnError(f"parcels[{i}].weight_kg", f"parcel {i} has no weight_kg")
                line.parcels.append(_parcel(f"parcels[{i}].", p.get("weight_kg"), p.get("length_cm"),
                                            p.get("width_cm"), p.get("height_cm"),
                                            _text(p.get("reference"), f"parcels[{i}].reference"), style))
        else:
            line.parcels = _parcels_from_columns({k: v for k, v in row.items()
                                                  if k in ("weight_kg", "weight", "parcel_count", "parcels",
                                                           "length_cm", "width_cm", "height_cm")}, style)
        # addresses
        rec = row.get("recipient")
        if isinstance(rec, dict):
            line.recipient = Address.from_dict(_address_object(rec, "recipient"))
        else:
            cols = _address(row, "recipient_")
            mode = _text(rec, "recipient").lower()
            if mode not in ("", "order"):
                raise ColumnError("recipient", "recipient must be 'order' or empty; an address goes into the "
                                               "recipient_* columns (JSON: a recipient object)", rec)
            line.recipient = Address.from_dict(cols) if cols and mode != "order" else None
        snd = row.get("sender")
        line.sender = _address_object(snd, "sender") if snd not in (None, "") else _address(row, "sender_")
    except (ValueError, TypeError) as exc:
        return line.reject("invalid_line", str(exc), "correct the value on this line and send the line again "
                                                     "in a new file", getattr(exc, "column", ""),
                           getattr(exc, "detail", ""))
    if not line.orders:
        return line.reject("missing_order", "no order number on this line",
                           "fill the `order` column (channel order id, merchant order id or <channel>:<order_id>)",
                           "order")
    if not line.carrier:
        return line.reject("missing_carrier", "no carrier on this line",
                           "fill the `carrier` column with a [carriers.<name>] account, or set "
                           "[inbox.shipments] carrier = \"<name>\"", "carrier")
    return line


KNOWN_COLUMNS = frozenset({
    *ORDER_COLUMNS, "channel", "carrier", "service", "parcel_count", "parcels", "weight_kg", "weight", "length_cm",
    "width_cm", "height_cm", "label_format", "package_size", "recipient", "cod_amount", "cod_currency", "notes",
    "reference", "tracking_number", "carrier_code", "reship",
    *(f"{p}_{f}" for p in ("recipient", "sender") for f in ADDRESS_FIELDS)})


def header_where(columns: list[str], known: frozenset | set = KNOWN_COLUMNS) -> str:
    """Where a header lacking a required column is, for the report and the log: the column names
    marketd knows, never the other cells (a file without a header line has a buyer's name,
    street and phone in line 1)."""
    names = [c for c in columns if c.strip().lower() in known]
    if not names:
        return (f"line 1 ({len(columns)} column(s), none of them a known column name: is the header line "
                "missing, or are the columns named differently?)")
    return f"line 1 (header; known columns: {', '.join(names)})"


def read_lines(ctx) -> tuple[str, list[Line]]:
    """Parse the claimed file; returns ``(format, lines)``."""
    settings = ctx.settings or {}
    defaults = {k: settings.get(k) for k in ("carrier", "service", "label_format")}
    head = ctx.path.read_bytes()[:64].lstrip(b"\xef\xbb\xbf").lstrip()
    if ctx.name.lower().endswith(".json") or head[:1] in (b"{", b"["):
        return "json", _read_json(ctx, defaults)
    table = read_table(ctx.path, settings)
    mapping = {k: v for k, v in (settings.get("columns") or {}).items()}
    columns = [mapping.get(c, c).strip().lower() for c in table.columns]
    known = KNOWN_COLUMNS | {c.strip().lower() for c in mapping}
    if not any(c in columns for c in ORDER_COLUMNS):
        raise FileRejected("missing_column", "the file has no `order` column",
                           where=header_where(table.columns, known),
                           fix="add an `order` column (see config/examples/shipments.csv), or map your column name "
                               "with [inbox.shipments.columns]")
    if not any(c in columns for c in ("weight_kg", "weight")):
        raise FileRejected("missing_column", "the file has no `weight_kg` column",
                           where=header_where(table.columns, known),
                           fix="add `weight_kg` (kilograms per parcel; see config/examples/shipments.csv)")
    rows = [(n, {mapping.get(k, k).strip().lower(): (v or "").strip() for k, v in row.items() if k is not None})
            for n, row in table.rows()]
    style = number_style(row for _, row in rows)
    return "csv", [line_from_mapping(n, row, defaults, style) for n, row in rows]


NUMBER_FIELDS = ("weight_kg", "weight", "length_cm", "width_cm", "height_cm", "cod_amount")


def number_style(rows) -> DecimalStyle | None:
    """The file's decimal style from all its weights, dimensions and COD amounts (CSV columns,
    JSON fields and parcel objects; ``2.5|1,2``-lists split)."""
    texts = []
    for row in rows:
        parts = [row.get(f) for f in NUMBER_FIELDS]
        cod = row.get("cod")
        if isinstance(cod, dict):
            parts.append(cod.get("amount"))
        if isinstance(row.get("parcels"), list):
            parts += [p.get(f) for p in row["parcels"] if isinstance(p, dict) for f in NUMBER_FIELDS]
        for v in parts:
            if isinstance(v, str):
                texts += v.split("|")
            elif isinstance(v, list):
                texts += [x for x in v if isinstance(x, str)]
    return DecimalStyle.detect(texts)


# Real shipment files nest four levels ({"shipments": [{"parcels": [{…}]}]}); the cap leaves room
# for ERP extras and refuses pathological nesting before anything walks it.
MAX_JSON_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")
JSON_FIX = "send the complete file again as UTF-8 JSON; see config/examples/shipments.json"


def _json_number(text: str):
    """JSON numbers as exact ``Decimal`` (weights and COD amounts are money-like; a 5,000-digit
    integer is just a number that is too large, not an ``int`` conversion error)."""
    return Decimal(text)


def _read_json(ctx, defaults: dict) -> list[Line]:
    raw = ctx.path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise FileRejected("encoding", f"JSON must be UTF-8: byte 0x{raw[exc.start]:02x} is not ({exc.reason})",
                           where=f"line {line}, byte {exc.start}", fix="save the file as UTF-8")
    try:
        # NaN/Infinity stay text, so the field they are in is refused as "not a number"
        data = json.loads(text, parse_float=_json_number, parse_int=_json_number, parse_constant=str)
    except json.JSONDecodeError as exc:
        raise FileRejected("json_syntax", f"not valid JSON: {exc.msg} (a file cut off in transfer?)",
                           where=f"line {exc.lineno}, column {exc.colno}", fix=JSON_FIX)
    except RecursionError:
        raise FileRejected("json_too_deep", f"the JSON is nested far deeper than a shipment file (more than "
                           f"{MAX_JSON_DEPTH} levels of lists and objects)", where=_too_deep_at(text), fix=JSON_FIX)
    _check_json(data)
    entries = data.get("shipments") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise FileRejected("json_shape", "expected a list of shipments or {\"shipments\": [...]}",
                           where="field $.shipments" if isinstance(data, dict) else "the top level ($)",
                           fix="see config/examples/shipments.json")
    lines = []
    style = number_style(e for e in entries if isinstance(e, dict))
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            lines.append(Line(i).reject("invalid_line", f"shipment {i} is not a JSON object", "use an object per "
                                        "shipment", f"shipments[{i}]"))
            continue
        lines.append(line_from_mapping(i, entry, defaults, style))
    return lines


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _too_deep_at(text: str) -> str:
    """Where the nesting first passes :data:`MAX_JSON_DEPTH` (for a document too deep for the
    parser itself to say): one pass over the brackets, strings skipped."""
    depth = 0
    for m in _JSON_TOKEN.finditer(text):
        token = m.group()
        if token in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                at = m.start()
                return f"line {text.count(chr(10), 0, at) + 1}, column {at - text.rfind(chr(10), 0, at)}"
        elif token in "]}":
            depth -= 1
    return "the whole document"


def _check_json(data) -> None:
    """Depth and text of the whole document, iteratively: nesting beyond :data:`MAX_JSON_DEPTH`
    and strings SQLite and the outputs cannot store (a lone UTF-16 surrogate such as ``\\ud800``,
    valid JSON escape syntax but no character) reject the file, naming the field."""
    stack = [(data, "$", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            bad = _SURROGATE.search(value)
            if bad:
                raise FileRejected(
                    "encoding", f"a JSON string holds \\u{ord(bad.group()):04x}, half of a UTF-16 surrogate pair, "
                    "which is no character (a broken export)", where=f"field {path}", fix=JSON_FIX)
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise FileRejected("json_too_deep", f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep",
                               where=f"field {path if len(path) < 60 else path[:50] + '…'} (level {depth + 1})",
                               fix=JSON_FIX)
        if isinstance(value, dict):
            for k, v in value.items():
                key = k if not _SURROGATE.search(k) else k.encode("utf-8", "backslashreplace").decode()
                stack.append((k, f"{path} (a key)", depth + 1))
                stack.append((v, f"{path}.{key[:40]}", depth + 1))
        else:
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value, 1))
