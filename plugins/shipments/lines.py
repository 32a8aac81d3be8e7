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
from dataclasses import dataclass, field
from decimal import Decimal

from marketd.sdk import Address, FileRejected, Parcel, read_table, to_decimal

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

    def reject(self, reason: str, message: str, fix: str = "", column: str = "") -> "Line":
        if self.error is None:
            self.error = (reason, message, fix)
            self.column = column
        return self

    @property
    def order_label(self) -> str:
        return "|".join(self.orders)


# Sanity limits: a value beyond them is a typo or an export bug (grams in the kilogram column,
# ``1e30``), never a parcel a carrier takes; refusing it here keeps it out of carrier payloads.
MAX_WEIGHT_KG = Decimal(1000)
MAX_DIMENSION_CM = Decimal(1000)
MAX_COD = Decimal(1_000_000)
TRUE_WORDS = ("1", "true", "yes", "y", "x", "si", "ja", "ano", "oui")


class ColumnError(ValueError):
    """A bad value in one column (JSON: one field) of a line."""

    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column


def _number(value, column: str, limit: Decimal) -> Decimal | None:
    """``Decimal`` (decimal comma accepted) within ``0 < value <= limit``; ``None`` when empty."""
    try:
        d = to_decimal(value, column)
    except ValueError:
        raise ColumnError(column, f"{column} {value!r} is not a number")
    if d is None:
        return None
    if d <= 0:
        raise ColumnError(column, f"{column} {value!r} must be positive")
    if d > limit:
        raise ColumnError(column, f"{column} {value!r} is larger than {limit} (a unit mix-up, e.g. grams for "
                                  "kilograms, or millimetres for centimetres?)")
    return d


def _count(value, column: str) -> int | None:
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    try:
        n = int(text)
    except ValueError:
        raise ColumnError(column, f"{column} {value!r} is not a whole number of parcels")
    if n < 1 or n > 99:
        raise ColumnError(column, f"{column} {n} is out of range 1..99")
    return n


def _parcel(column_prefix: str, weight, length=None, width=None, height=None, reference: str = "") -> Parcel:
    w = _number(weight, f"{column_prefix}weight_kg", MAX_WEIGHT_KG)
    if w is None:
        raise ColumnError(f"{column_prefix}weight_kg", "weight_kg is empty: every parcel needs a weight in kilograms")
    dims = {name: _number(v, f"{column_prefix}{name}", MAX_DIMENSION_CM)
            for name, v in (("length_cm", length), ("width_cm", width), ("height_cm", height))}
    return Parcel(weight_kg=w, reference=reference, **dims)


def _split(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [p.strip() for p in str(value or "").split("|") if p.strip()]


def _parcels_from_columns(row: dict) -> list[Parcel]:
    weights = _split(row.get("weight_kg") or row.get("weight"))
    if not weights:
        raise ColumnError("weight_kg", "weight_kg is empty: every parcel needs a weight in kilograms")
    count_col = "parcel_count" if (row.get("parcel_count") or "").strip() else "parcels"
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
        vals = _split(row.get(name))
        if len(vals) not in (0, 1, count):
            raise ColumnError(name, f"{len(vals)} values in {name} for {count} parcels")
        dims[name] = vals
    parcels = []
    for i in range(count):
        kw = {n: (v[i] if len(v) == count else v[0]) if v else None for n, v in dims.items()}
        parcels.append(_parcel("", weights[i] if len(weights) == count else weights[0],
                               kw["length_cm"], kw["width_cm"], kw["height_cm"]))
    return parcels


def _address(row: dict, prefix: str) -> dict:
    out = {}
    for col, value in row.items():
        if col.startswith(prefix) and value not in (None, ""):
            key = ADDRESS_FIELDS.get(col[len(prefix):])
            if key:
                out[key] = str(value).strip()
    return out


def line_from_mapping(n: int, row: dict, defaults: dict) -> Line:
    """Build a :class:`Line` from one CSV row or JSON object (JSON uses nested objects)."""
    line = Line(n)
    try:
        orders = row.get("orders") if isinstance(row.get("orders"), list) else None
        if orders is None:
            for col in ORDER_COLUMNS:
                if row.get(col) not in (None, ""):
                    orders = _split(row[col])
                    break
        line.orders = orders or []
        line.channel = str(row.get("channel") or "").strip()
        line.carrier = str(row.get("carrier") or defaults.get("carrier") or "").strip()
        line.service = str(row.get("service") or defaults.get("service") or "").strip()
        line.label_format = str(row.get("label_format") or defaults.get("label_format") or "").strip().upper()
        line.package_size = str(row.get("package_size") or "").strip().lower()
        line.notes = str(row.get("notes") or "").strip()
        line.reference = str(row.get("reference") or "").strip()
        line.tracking_number = str(row.get("tracking_number") or "").strip()
        line.carrier_code = str(row.get("carrier_code") or "").strip()
        reship = row.get("reship")
        line.reship = reship is True or str(reship or "").strip().lower() in TRUE_WORDS
        cod = row.get("cod")
        if isinstance(cod, dict):
            line.cod_amount = _number(cod.get("amount"), "cod.amount", MAX_COD)
            line.cod_currency = str(cod.get("currency") or "").strip()
            cod_col = "cod.currency"
        else:
            line.cod_amount = _number(row.get("cod_amount"), "cod_amount", MAX_COD)
            line.cod_currency = str(row.get("cod_currency") or "").strip()
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
                                            p.get("width_cm"), p.get("height_cm"), str(p.get("reference") or "")))
        else:
            line.parcels = _parcels_from_columns({k: ("" if v is None else str(v)) for k, v in row.items()})
        # addresses
        rec = row.get("recipient")
        if isinstance(rec, dict):
            line.recipient = Address.from_dict({ADDRESS_FIELDS.get(k, k): v for k, v in rec.items()
                                                if ADDRESS_FIELDS.get(k, k) in Address.__dataclass_fields__})
        else:
            cols = _address(row, "recipient_")
            mode = str(rec or "").strip().lower()
            if mode not in ("", "order"):
                raise ColumnError("recipient", f"recipient {rec!r}: use 'order' or fill the recipient_* columns")
            line.recipient = Address.from_dict(cols) if cols and mode != "order" else None
        snd = row.get("sender")
        line.sender = ({ADDRESS_FIELDS.get(k, k): str(v) for k, v in snd.items()} if isinstance(snd, dict)
                       else _address(row, "sender_"))
    except (ValueError, TypeError) as exc:
        return line.reject("invalid_line", str(exc), "correct the value on this line and send the line again "
                                                     "in a new file (the other lines were shipped)",
                           getattr(exc, "column", ""))
    if not line.orders:
        return line.reject("missing_order", "no order number on this line",
                           "fill the `order` column (channel order id, merchant order id or <channel>:<order_id>)",
                           "order")
    if not line.carrier:
        return line.reject("missing_carrier", "no carrier on this line",
                           "fill the `carrier` column with a [carriers.<name>] account, or set "
                           "[inbox.shipments] carrier = \"<name>\"", "carrier")
    return line


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
    if not any(c in columns for c in ORDER_COLUMNS):
        raise FileRejected("missing_column", "the file has no `order` column",
                           where=f"header: {', '.join(table.columns)}",
                           fix="add an `order` column (see config/examples/shipments.csv), or map your column name "
                               "with [inbox.shipments.columns]")
    if not any(c in columns for c in ("weight_kg", "weight")):
        raise FileRejected("missing_column", "the file has no `weight_kg` column",
                           where=f"header: {', '.join(table.columns)}",
                           fix="add `weight_kg` (kilograms per parcel; see config/examples/shipments.csv)")
    lines = []
    for n, row in table.rows():
        norm = {mapping.get(k, k).strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        lines.append(line_from_mapping(n, norm, defaults))
    return "csv", lines


def _read_json(ctx, defaults: dict) -> list[Line]:
    try:
        data = json.loads(ctx.path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise FileRejected("encoding", f"JSON must be UTF-8 ({exc.reason})", where=f"byte {exc.start}",
                           fix="save the file as UTF-8")
    except json.JSONDecodeError as exc:
        raise FileRejected("json_syntax", f"not valid JSON: {exc.msg} (a file cut off in transfer?)",
                           where=f"line {exc.lineno}, column {exc.colno}",
                           fix="send the complete file again; see config/examples/shipments.json")
    entries = data.get("shipments") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise FileRejected("json_shape", "expected a list of shipments or {\"shipments\": [...]}",
                           fix="see config/examples/shipments.json")
    lines = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            lines.append(Line(i).reject("invalid_line", f"shipment {i} is not a JSON object", "use an object per shipment"))
            continue
        lines.append(line_from_mapping(i, entry, defaults))
    return lines
