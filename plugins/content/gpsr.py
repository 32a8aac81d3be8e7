"""GPSR (Regulation (EU) 2023/988, Art. 19) per product and EU marketplace: the checks and each
platform's shape of the same record. Pure: no I/O, so account health (issue 14) and onboarding
(issue 13) reuse exactly these rules.

``check(record, platform=…, country=…, languages=…)`` returns issues; ``render(record, shape, …)``
returns ``(payload, issues)``: Amazon listing attributes (only those the product type's schema
defines: the old ``eu_responsible_person`` exists in no live schema, and
``manufacturer_contact_information`` only in some), eBay's offer ``regulatory`` container, Otto's
``productSafety``. Limits of the target platform that a record breaks are ``gpsr.render.limit``.
"""
from __future__ import annotations

import re

from . import issues as I
from .settings import EU_EEA
from .values import gtin_valid

# Target languages per marketplace country (design §A5); BE takes French or Dutch.
SAFETY_LANGUAGES = {"DE": ["de"], "AT": ["de"], "FR": ["fr"], "IT": ["it"], "ES": ["es"], "NL": ["nl"],
                    "PL": ["pl"], "SE": ["sv"], "BE": ["fr", "nl"], "IE": ["en"], "PT": ["pt"], "CZ": ["cs"],
                    "SK": ["sk"], "HU": ["hu"], "RO": ["ro"], "DK": ["da"], "FI": ["fi", "sv"], "GR": ["el"],
                    "LU": ["fr", "de"], "GB": ["en"], "XI": ["en"]}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.I)
PO_BOX = re.compile(r"\b(postfach|p\.?\s*o\.?\s*box|casella\s+postale|apartado|bo[iî]te\s+postale|bp\s*\d+)\b", re.I)
POSTAL_PARTS = ("street", "postal_code", "city", "country")


def _electronic(party: dict) -> str:
    email, url = party.get("email", ""), party.get("url", "")
    if email and EMAIL.match(email):
        return email
    if url and URL.match(url):
        return url
    return ""


def _postal_gaps(party: dict) -> list[str]:
    gaps = [p for p in POSTAL_PARTS if not party.get(p)]
    if party.get("country") and not re.fullmatch(r"[A-Z]{2}", party["country"]):
        gaps.append("country (ISO 3166-1 alpha-2)")
    return gaps


def has_safety(record: dict) -> bool:
    s = record.get("safety") or {}
    return bool(s.get("texts") or s.get("docs") or s.get("pictograms") or s.get("statements"))


def safety_languages(record: dict) -> set[str]:
    s = record.get("safety") or {}
    langs = set(s.get("texts") or {}) | set(s.get("statements") or {})
    langs |= {d["language"].split("_")[0] for d in s.get("docs") or [] if d.get("language")}
    return langs


def check(record: dict, *, sku: str = "", platform: str = "", country: str = "", languages: list[str] | None = None,
          eu: list[str] | tuple = tuple(EU_EEA), parent: str = "") -> list:
    """Art. 19 for one product on one EU marketplace (``country``: its ISO code)."""
    out: list = []

    def add(rule, severity, attribute, value="", expected="", **fmt):
        out.append(I.make(rule, severity, sku=sku, platform=platform, attribute=attribute, value=value,
                          expected=expected, parent=parent, missing=severity == I.ERROR and rule in _PRESENCE, **fmt))

    m = record.get("manufacturer") or {}
    if not m.get("name"):
        add("gpsr.manufacturer.name", I.ERROR, "gpsr_manufacturer_name")
    gaps = _postal_gaps(m)
    if gaps:
        add("gpsr.manufacturer.postal", I.ERROR, "gpsr_manufacturer_address", detail=", ".join(gaps))
    if not _electronic(m):
        add("gpsr.manufacturer.electronic", I.ERROR, "gpsr_manufacturer_email",
            value=m.get("email") or m.get("url") or "")
    rps = record.get("responsible_persons") or []
    eu_set = set(eu)
    if m.get("country") and m["country"] not in eu_set:
        rp = rps[0] if rps else {}
        missing = []
        if not rp.get("name"):
            missing.append("name")
        if _postal_gaps(rp):
            missing.append("postal address")
        if not _electronic(rp):
            missing.append("e-mail or web address")
        if missing:
            add("gpsr.rp.required", I.ERROR, "gpsr_rp", value=m["country"],
                detail=("no responsible person" if not rp else "missing: " + ", ".join(missing)))
    for rp in rps:
        if rp.get("country") and rp["country"] not in eu_set:
            add("gpsr.rp.not_eu", I.ERROR, "gpsr_rp_country", value=rp["country"])
            break
    for who, party in [("gpsr_manufacturer_street", m)] + [("gpsr_rp_street", rp) for rp in rps]:
        if party.get("street") and PO_BOX.search(party["street"]):
            add("gpsr.po_box", I.WARNING, who, value=party["street"])
    ids = record.get("identifiers") or {}
    if not (gtin_valid(ids.get("ean", "")) or ids.get("model") or ids.get("batch") or ids.get("serial")):
        add("gpsr.identifier", I.ERROR, "gpsr_identifier", value=ids.get("ean", ""))
    if not record.get("images"):
        add("gpsr.image", I.ERROR, "image_1")
    attested = record.get("attestation") is True
    info = has_safety(record)
    if attested and info:
        add("gpsr.safety.xor_conflict", I.WARNING, "gpsr_attestation", value="true")
    elif not attested and not info:
        add("gpsr.safety.missing", I.ERROR, "gpsr_safety_info")
    elif info and not attested:
        wanted = languages or SAFETY_LANGUAGES.get(country, [])
        have = safety_languages(record)
        if wanted and not have & set(wanted):
            add("gpsr.safety.language", I.ERROR, "gpsr_safety_info", value=", ".join(sorted(have)) or "pictograms only",
                expected=" or ".join(wanted))
    return out


_PRESENCE = {"gpsr.manufacturer.name", "gpsr.manufacturer.postal", "gpsr.manufacturer.electronic", "gpsr.rp.required",
             "gpsr.identifier", "gpsr.image", "gpsr.safety.missing", "gpsr.safety.language"}


# -- rendering -----------------------------------------------------------------------------------
def _address_line(p: dict) -> str:
    parts = [p.get("street", ""), " ".join(x for x in (p.get("postal_code", ""), p.get("city", "")) if x),
             p.get("country", "")]
    return ", ".join(" ".join(x.split()) for x in parts if x)


def render(record: dict, shape: str, *, properties: set[str] | None = None, marketplace_id: str = "",
           language_tag: str = "", languages: list[str] | None = None, sku: str = "", platform: str = "") -> tuple[dict, list]:
    """The record in ``shape`` (``amazon``, ``ebay``, ``otto``); ``properties`` = the attribute
    names the Amazon product type's schema defines (None: render all of Amazon's GPSR attributes)."""
    if shape == "amazon":
        return render_amazon(record, properties, marketplace_id, language_tag, languages), []
    if shape == "ebay":
        return render_ebay(record, sku=sku, platform=platform)
    if shape == "otto":
        return render_otto(record, sku=sku, platform=platform)
    return {}, []


def render_amazon(record: dict, properties: set[str] | None, marketplace_id: str, language_tag: str,
                  languages: list[str] | None = None) -> dict:
    def ok(name):
        return properties is None or name in properties

    def tagged(item: dict) -> dict:
        return {**item, "marketplace_id": marketplace_id} if marketplace_id else item

    out: dict = {}
    m = record.get("manufacturer") or {}
    rps = record.get("responsible_persons") or []
    safety = record.get("safety") or {}
    contact = _electronic(m)
    if contact and ok("gpsr_manufacturer_reference"):
        out["gpsr_manufacturer_reference"] = [tagged({"gpsr_manufacturer_email_address": contact})]
    if rps and _electronic(rps[0]) and ok("dsa_responsible_party_address"):
        out["dsa_responsible_party_address"] = [tagged({"value": _electronic(rps[0])})]
    if record.get("attestation") is not None and ok("gpsr_safety_attestation"):
        out["gpsr_safety_attestation"] = [tagged({"value": bool(record["attestation"])})]
    docs = safety.get("docs") or []
    if docs and ok("compliance_media"):
        out["compliance_media"] = [tagged({"content_type": d["type"],
                                           **({"content_language": d["language"]} if d.get("language") else {}),
                                           "source_location": d["url"]}) for d in docs]
    if m.get("name") and ok("manufacturer"):
        out["manufacturer"] = [tagged({"value": m["name"], **({"language_tag": language_tag} if language_tag else {})})]
    if properties is not None and "manufacturer_contact_information" in properties and m.get("name"):
        text = "; ".join(x for x in (m.get("name", ""), _address_line(m), contact) if x)
        out["manufacturer_contact_information"] = [tagged({"value": text, **({"language_tag": language_tag}
                                                                                if language_tag else {})})]
    if properties is not None and "safety_warning" in properties:
        texts = safety.get("texts") or {}
        lang = (language_tag or "").split("_")[0]
        text = texts.get(lang) or next((texts[x] for x in (languages or []) if x in texts), "")
        if text:
            out["safety_warning"] = [tagged({"value": text, **({"language_tag": language_tag} if language_tag else {})})]
    return out


EBAY_LIMITS = {"companyName": 100, "addressLine1": 180, "addressLine2": 180, "city": 64, "contactUrl": 250,
               "email": 250, "phone": 64, "postalCode": 40, "stateOrProvince": 64}


def _ebay_party(p: dict) -> dict:
    out = {"companyName": p.get("name", ""), "addressLine1": p.get("street", ""), "city": p.get("city", ""),
           "postalCode": p.get("postal_code", ""), "country": p.get("country", ""), "email": p.get("email", ""),
           "phone": p.get("phone", ""), "contactUrl": p.get("url", "")}
    return {k: v for k, v in out.items() if v}


def render_ebay(record: dict, *, sku: str = "", platform: str = "") -> tuple[dict, list]:
    problems: list = []

    def limit(attribute, detail):
        problems.append(I.make("gpsr.render.limit", I.ERROR, sku=sku, platform=platform, attribute=attribute,
                               detail=detail))

    reg: dict = {}
    m = record.get("manufacturer") or {}
    if m:
        reg["manufacturer"] = _ebay_party(m)
    rps = [dict(_ebay_party(rp), types=["EU_RESPONSIBLE_PERSON"]) for rp in record.get("responsible_persons") or []]
    if rps:
        if len(rps) > 5:
            limit("regulatory.responsiblePersons", f"{len(rps)} responsible persons; eBay takes at most 5")
        reg["responsiblePersons"] = rps
    for where, party in [("regulatory.manufacturer", reg.get("manufacturer") or {})] + \
            [(f"regulatory.responsiblePersons[{i}]", p) for i, p in enumerate(rps)]:
        for field, top in EBAY_LIMITS.items():
            if len(party.get(field, "")) > top:
                limit(f"{where}.{field}", f"{len(party[field])} characters; at most {top}")
    safety = record.get("safety") or {}
    pictos = list(safety.get("pictograms") or [])
    statements = [s for lang in sorted(safety.get("statements") or {}) for s in safety["statements"][lang]]
    component = safety.get("component") or ""
    if pictos or statements or component:
        ps: dict = {}
        if pictos:
            ps["pictograms"] = pictos
            if len(pictos) > 2:
                limit("regulatory.productSafety.pictograms", f"{len(pictos)} pictograms; eBay takes at most 2")
        if statements:
            ps["statements"] = statements
        if component:
            ps["component"] = component
            if len(component) > 120:
                limit("regulatory.productSafety.component", f"{len(component)} characters; at most 120")
            if not (pictos or statements):
                limit("regulatory.productSafety.component", "component is only allowed with pictograms or statements")
        reg["productSafety"] = ps
    # documents: eBay takes only ids of documents its Media API accepted (documentStatus ACCEPTED);
    # uploading them is the listings push's job, so they are not rendered from URLs here
    return ({"regulatory": reg} if reg else {}), problems


OTTO_LIMITS = {"name": 100, "address": 200, "email": 100, "url": 200, "phone": 20}


def render_otto(record: dict, *, sku: str = "", platform: str = "", eu: tuple = tuple(EU_EEA)) -> tuple[dict, list]:
    """Otto's ``productSafety``: the manufacturer, or the EU responsible person (as importer) when
    the manufacturer is outside the EU/EEA; e-mail or URL required; address on one line."""
    problems: list = []
    m = record.get("manufacturer") or {}
    rps = record.get("responsible_persons") or []
    party = m
    if m.get("country") and m["country"] not in eu and rps:
        party = rps[0]
    if not party:
        return {}, problems
    out = {"name": party.get("name", ""), "address": _address_line(party), "regionCode": party.get("country", ""),
           "email": party.get("email", ""), "url": party.get("url", ""), "phone": party.get("phone", "")}
    out = {k: v for k, v in out.items() if v}
    for field, top in OTTO_LIMITS.items():
        if len(out.get(field, "")) > top:
            problems.append(I.make("gpsr.render.limit", I.ERROR, sku=sku, platform=platform,
                                   attribute=f"productSafety.{field}", detail=f"{len(out[field])} characters; at most {top}"))
    if not out.get("email") and not out.get("url"):
        problems.append(I.make("gpsr.render.limit", I.ERROR, sku=sku, platform=platform, attribute="productSafety.email",
                               detail="Otto needs an e-mail address or a URL"))
    return {"productSafety": out}, problems
