"""Pure functions between the content plugin's listing payloads and MPAPI's article shapes
(``ProductRequest``/``VariantRequest`` of MALL's PHP client, snake_case on the wire).

A MALL platform's data model is a file model (docs/plugins/content.md "File models") whose
attribute names are MPAPI's: ``title``, ``shortdesc``, ``longdesc``, ``category_id``, ``vat``,
``barcode``, ``brand_id``, ``package_size`` (``smallbox``/``bigbox``), ``priority``,
``partner_title``, ``delivery_delay``, ``free_delivery``, ``mallbox_allowed``; ``image_1``,
``image_2`` … (or ``media``, ``|``-separated) become ``media`` with the first one ``main``; every
other attribute is a MALL **parameter** (``{name: [values]}``, values split on ``|``).

- The partner's SKU is the article's ``id``; ``category_id`` falls back to the model's name.
- The offer (catalog price and stock) rides along: ``price`` (a ``Decimal``, written as a JSON
  number without passing through a float) and ``availability {status: "A", in_stock}``.
- A parent with variants is one product: the shared texts, category and VAT on the product,
  each variant with its own id, title, media, parameters, price and stock;
  ``variable_parameters`` lists the parameters whose values differ between the variants.
- A remote listing comes from the ``filter=basic`` rows of the product and variant listings:
  MALL shows title, category, price and stock there (no image: the audit skips it); live means
  status ``A`` and the product's stage ``live`` (after MALL's review).
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

TEXT = ("title", "shortdesc", "longdesc", "category_id", "barcode", "brand_id", "package_size", "partner_title")
NUMBERS = {"vat": Decimal, "priority": int, "delivery_delay": int}
FLAGS = ("free_delivery", "mallbox_allowed")
IMAGE = re.compile(r"^(image_\d+|media)$")


def locale_payload(payload: dict) -> dict:
    """MALL serves one language per storefront (``client_id``): the platform's first locale."""
    locales = (payload or {}).get("locales") or {}
    return locales[sorted(locales)[0]] if locales else {}


def _values(value) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split("|") if v.strip()]


def _image_key(key: str) -> tuple[int, int]:
    return (0, 0) if key == "media" else (1, int(key.split("_")[1]))


def _number(kind, value):
    try:
        return kind(Decimal(str(value))) if kind is int else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def article(sku: str, payload: dict, offer: dict | None, *, ref: str = "", variant: bool = False,
            vat: Decimal | None = None) -> dict:
    """A product (or, with ``variant``, a variant) body; ``vat``: the account's rate for content
    that names none."""
    doc = locale_payload(payload)
    body: dict = {"id": sku}
    params: dict[str, list[str]] = {}
    images: list[tuple[tuple[int, int], list[str]]] = []
    for key, value in sorted(doc.items()):
        if value in (None, "", []):
            continue
        if key in TEXT:
            body[key] = str(value)
        elif key in NUMBERS:
            n = _number(NUMBERS[key], value)
            if n is not None:
                body[key] = n
        elif key in FLAGS:
            body[key] = str(value).strip().lower() in ("1", "true", "yes", "ja", "ano")
        elif IMAGE.match(key):
            images.append((_image_key(key), _values(value)))
        else:
            params[key] = _values(value)
    urls = [u for _, vs in sorted(images) for u in vs]
    body["media"] = [{"url": u, "main": i == 0} for i, u in enumerate(urls)]
    body["parameters"] = params
    body.setdefault("priority", 1)
    if variant:
        for key in ("category_id", "vat", "brand_id", "partner_title"):
            body.pop(key, None)
    else:
        body.setdefault("category_id", ref)
        if vat is not None:
            body.setdefault("vat", Decimal(str(vat)))
    if offer:
        body.update(offer_fields(offer))
    return body


def offer_fields(offer: dict) -> dict:
    out: dict = {}
    if offer.get("price") not in (None, ""):
        out["price"] = Decimal(str(offer["price"]))
    if offer.get("stock") is not None:
        out["availability"] = availability(offer)
    return out


def availability(offer: dict) -> dict:
    return {"status": "A", "in_stock": max(0, int(offer.get("stock") or 0))}


def variable_parameters(variants: list[dict]) -> list[str]:
    """The parameters whose values differ between the variant bodies (MALL's ``variable_parameters``)."""
    names = sorted({n for v in variants for n in v.get("parameters") or {}})
    return [n for n in names if len({tuple(v.get("parameters", {}).get(n) or ()) for v in variants}) > 1]


def product_with_variants(sku: str, payload: dict, variants: dict[str, dict], offers: dict[str, dict | None],
                          *, ref: str = "", vat: Decimal | None = None) -> dict:
    """A parent and its variants (sku -> payload) as one product."""
    body = article(sku, payload, None, ref=ref, vat=vat)
    if not body.get("media"):
        body.pop("media", None)          # the variants carry the images
    vs = [article(v, variants[v], offers.get(v), variant=True) for v in sorted(variants)]
    varying = variable_parameters(vs)
    shared = {k: val for k, val in (body.get("parameters") or {}).items() if k not in varying}
    body["parameters"] = shared
    body["variants"] = vs
    body["variable_parameters"] = varying
    return body


def pricing(offer: dict) -> dict:
    return {"price": Decimal(str(offer["price"]))}


def availability_row(sku: str, offer: dict) -> dict:
    return {"id": sku, **availability(offer)}


def issues_of(messages) -> list[dict]:
    """The platform's issues from MALL's refusal: one per ``errorCodes`` entry, else its message."""
    out = []
    for msg in messages or []:
        codes = ((getattr(msg, "details", None) or {}).get("errorCodes")) or []
        for c in codes:
            if isinstance(c, dict):
                out.append({"code": str(c.get("code") or ""), "severity": "ERROR",
                            "attribute": str(c.get("attribute") or ""), "message": str(c.get("msg") or c.get("message") or "")})
        if not codes:
            out.append({"code": str(getattr(msg, "code", "") or ""), "severity": "ERROR", "attribute": "",
                        "message": str(getattr(msg, "text", msg))})
    return out


def _money(value) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def remote_listing(row: dict, *, currency: str, parent: dict | None = None, domain: str = "mall.cz") -> dict:
    """One ``filter=basic`` row (a product, or a variant with its ``parent`` product's row)."""
    product = parent or row
    qty = row.get("in_stock")
    stage = str(product.get("stage") or "")
    status = str(row.get("status") or "")
    article_id = row.get("variant_id") or row.get("product_id")
    return {"sku": str(row.get("id") or ""), "remote_id": str(article_id or ""),
            "status": [s for s in (status, stage) if s], "live": status == "A" and stage == "live",
            "title": str(row.get("title") or ""), "category": str(product.get("category_id") or ""),
            "price": _money(row.get("price")), "currency": currency,
            "quantity": int(qty) if qty is not None else None, "main_image_url": "", "issues": [],
            "url": f"https://www.{domain}/id/{product.get('product_id')}" if product.get("product_id") else "",
            "shows": ["title", "category", "price", "quantity"]}
