"""The canonical GPSR record of a product (design §A5, research §2.6), built from its row and the
parties known from GPSR party files.

Seller Central keeps manufacturer and responsible-person records apart from the listings, and so
do brands' PIMs: a row may name a party (``manufacturer_id``, ``rp_id``) or carry it inline
(``gpsr_manufacturer_street`` …); inline values win over the party record field by field.
"""
from __future__ import annotations

import re

from . import issues as I
from .records import GPSR_PARTY_FIELDS, Product
from .values import split_list, truthy


def _party(product: Product, prefix: str, ref: str | None, parties: dict, problems: list) -> dict:
    base: dict = {}
    if ref:
        known = parties.get(ref)
        if known is None:
            problems.append(I.make("content.gpsr.party", I.ERROR, sku=product.sku, attribute=prefix + "_id",
                                   value=ref))
        else:
            base = {k: known.get(k, "") for k in GPSR_PARTY_FIELDS if known.get(k)}
    for f in GPSR_PARTY_FIELDS:
        v = product.get(f"gpsr_{prefix}_{f}")
        if v:
            base[f] = v
    if base.get("country"):
        base["country"] = base["country"].strip().upper()
    return base


_DOC = re.compile(r"^(?P<type>[^:]+?)\s*:\s*(?:(?P<lang>[A-Za-z]{2,3}(?:[_-][A-Za-z]{2})?)\s*:\s*)?(?P<url>https?://\S+)$")


def _docs(product: Product, problems: list) -> list[dict]:
    """``gpsr_safety_docs``: ``type:language:url`` entries (language optional), ``|``/newline apart."""
    out = []
    for entry in split_list(product.get("gpsr_safety_docs")):
        m = _DOC.match(entry)
        if not m:
            problems.append(I.make("content.gpsr.doc", I.WARNING, sku=product.sku, attribute="gpsr_safety_docs",
                                   value=entry[:120], expected="type:language:url"))
            continue
        lang = (m.group("lang") or "").replace("-", "_")
        out.append({"type": m.group("type").strip(), "language": lang, "url": m.group("url")})
    return out


def build(product: Product, parties: dict) -> tuple[dict, list]:
    """(record, problems): the record is plain JSON, so it is stored and compared as is."""
    problems: list = []
    manufacturer = _party(product, "manufacturer", product.get("manufacturer_id"), parties, problems)
    if not manufacturer.get("name") and product.get("manufacturer"):
        manufacturer["name"] = product.get("manufacturer")
    rps = []
    rp_ids = split_list(product.get("rp_id"), "|,\n") or [None]
    for i, ref in enumerate(rp_ids):
        rp = _party(product, "rp", ref, parties, problems) if i == 0 else _party_only(ref, parties, product, problems)
        if rp:
            rps.append(rp)
    texts, statements = {}, {}
    for loc in sorted(product.local):
        lang = loc.split("_")[0]
        t = product.local[loc].get("gpsr_safety_info")
        if t:
            texts.setdefault(lang, t)
        s = product.local[loc].get("gpsr_statements")
        if s:
            statements.setdefault(lang, split_list(s))
    record = {
        "manufacturer": manufacturer,
        "responsible_persons": rps,
        "identifiers": {k: product.get(k) for k in ("ean", "model", "batch", "serial", "mpn") if product.get(k)},
        "images": list(product.images),
        "safety": {"texts": texts, "docs": _docs(product, problems),
                   "pictograms": split_list(product.get("gpsr_pictograms"), "|,\n"),
                   "statements": statements, "component": product.get("gpsr_component")},
        "attestation": truthy(product.get("gpsr_attestation")) if product.get("gpsr_attestation") else None,
    }
    return record, problems


def _party_only(ref, parties: dict, product: Product, problems: list) -> dict:
    known = parties.get(ref) if ref else None
    if known is None:
        if ref:
            problems.append(I.make("content.gpsr.party", I.ERROR, sku=product.sku, attribute="rp_id", value=ref))
        return {}
    out = {k: known.get(k, "") for k in GPSR_PARTY_FIELDS if known.get(k)}
    if out.get("country"):
        out["country"] = out["country"].upper()
    return out


def has_gpsr_data(product: Product) -> bool:
    """Whether the file says anything about GPSR for this product (else the checks still run:
    an EU marketplace needs the data whether the file mentions it or not)."""
    return any(k.startswith(("gpsr_", "manufacturer_id", "rp_id")) for k in product.common)
