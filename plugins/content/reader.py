"""Content files (CSV/TSV/XLSX) → :class:`~.records.Product` per SKU, plus the issues the file itself has.

Two layouts, told apart by the header (one per file):

- **long**: one row per SKU × locale, with a ``locale`` column (``de``, ``de_DE``, ``de-DE``);
  values that hold for every locale (EAN, brand, GPSR, images) may repeat on each row but must
  agree (else ``content.locale_conflict``, the first row's value is used);
- **wide**: one row per SKU, per-locale columns with a locale suffix (``title_de``,
  ``bullet_3_fr_FR``). A suffix is a locale only if it is a configured locale, so ``size_eu`` stays
  an attribute. Text columns without a suffix belong to the first configured locale.

A file with both is refused (``ambiguous_layout``), as is one without a ``sku`` column. Problems
of single rows are issues, never a refusal: a 50,000-SKU export with one bad EAN still gets its
report.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from marketd.sdk import FileRejected

from . import issues as I
from .records import GLOBAL_FIELDS, IMAGE_COLUMNS, KNOWN, TEXT_FIELDS, Product
from .values import canonical_locale, clean, locale_suffixes, norm_column, short, split_list, split_locale_column


@dataclass
class Column:
    position: int
    header: str
    name: str              # our field name (after [inbox.content.columns] and the locale suffix)
    locale: str | None     # wide layout: the suffix's locale


@dataclass
class Parsed:
    products: dict[str, Product]
    issues: list
    layout: str
    columns: list[Column]
    unknown_columns: list[str] = field(default_factory=list)
    rows: int = 0


def plan_columns(headers: list[str], settings, extra_known: set[str] = frozenset()) -> tuple[str, list[Column], list[str]]:
    """(layout, columns, unknown column names) from the header, or FileRejected."""
    custom = {norm_column(k): norm_column(v) for k, v in (settings.get("columns") or {}).items()}
    suffixes = locale_suffixes(list(settings.locales))
    cols, seen, unknown = [], {}, []
    known = KNOWN | set(extra_known)
    for pos, header in enumerate(headers):
        if not header.strip():
            continue
        n = norm_column(header)
        name = custom.get(n, n)
        locale = None
        if name not in known:
            base, loc = split_locale_column(name, suffixes)
            if loc is not None and base not in ("attr.", "attr"):
                name, locale = base, loc
        key = (name, locale)
        if key in seen:
            raise FileRejected("duplicate_column", f"columns {seen[key]!r} and {header!r} both mean "
                               f"{name}{' for ' + locale if locale else ''}", where="line 1 (header)",
                               fix="keep one of them (or map one elsewhere in [inbox.content.columns])")
        seen[key] = header
        cols.append(Column(pos, header, name, locale))
        if name not in known and not name.startswith("attr.") and name not in unknown:
            unknown.append(name)
    names = {c.name for c in cols}
    if "sku" not in names:
        raise FileRejected("missing_column", "the file has no sku column", where="line 1 (header)",
                           fix="name the article number column sku (or map yours: [inbox.content.columns] "
                               "Artikelnummer = \"sku\")")
    suffixed = [c.header for c in cols if c.locale]
    if "locale" in names and suffixed:
        raise FileRejected("ambiguous_layout", f"the file has a locale column and per-locale columns "
                           f"({', '.join(suffixed[:3])}): use one layout", where="line 1 (header)",
                           fix="either one row per SKU and locale with a locale column, or one row per SKU with "
                               "columns such as title_de, title_fr")
    return ("long" if "locale" in names else "wide"), cols, sorted(unknown)


POOL_MAX = 4000  # characters: longer texts (rare, unique) are not looked up


def read_products(table, settings, extra_known: set[str] = frozenset()) -> Parsed:
    layout, cols, unknown = plan_columns(table.columns, settings, extra_known)
    default_locale = settings.locales[0]
    configured = list(settings.locales)
    products: dict[str, Product] = {}
    first_line: dict[tuple, int] = {}
    dup_lines: dict[tuple, list[int]] = {}
    issues: list = []
    flagged: set = set()
    unknown_locales: set[str] = set()
    conflicts: dict[tuple, list[str]] = {}
    sku_col = next(c for c in cols if c.name == "sku")
    locale_col = next((c for c in cols if c.name == "locale"), None)
    rows = 0
    # one object per repeated value (brand, colour, GPSR address, and the description or safety text
    # every variant row of a long-layout export repeats); a unique text costs one table entry
    pool: dict[str, str] = {}
    for chunk in table.chunks():
        frame = chunk.frame
        lines = chunk.lines.tolist()
        for line, values in zip(lines, frame.itertuples(index=False, name=None)):
            rows += 1
            sku = clean(values[sku_col.position])
            if not sku:
                if any(clean(v) for v in values):
                    issues.append(I.make("content.sku.missing", I.ERROR, attribute="sku", value=f"line {line}",
                                         line=line))
                continue
            locale = None
            if locale_col is not None:
                raw = clean(values[locale_col.position])
                locale = canonical_locale(raw, configured) if raw else None
                if locale is None:
                    raise FileRejected("locale", f"locale {short(raw, 40)!r} is not a locale (write de, de_DE or "
                                       "de-DE; a bare language needs exactly one configured locale of it)",
                                       where=f"line {line}, column {locale_col.header}",
                                       fix="fill the locale column on every row, e.g. de_DE")
                if locale not in configured:
                    unknown_locales.add(locale)
            key = (sku, locale)
            if key in first_line:
                dup_lines.setdefault(key, [first_line[key]]).append(line)
                continue
            first_line[key] = line
            product = products.get(sku)
            if product is None:
                product = products[sku] = Product(sku, line)
                if any(ch.isspace() for ch in sku) and sku not in flagged:
                    flagged.add(sku)
                    issues.append(I.make("content.sku.whitespace", I.ERROR, sku=sku, attribute="sku", value=sku))
            bullets: list[tuple[str, list[str]]] = []
            image_list: list[str] | None = None
            numbered: dict[int, str] = {}
            for c in cols:
                if c is sku_col or c is locale_col:
                    continue
                v = clean(values[c.position])
                if not v:
                    continue
                if len(v) <= POOL_MAX:
                    v = pool.setdefault(v, v)
                if "\ufffd" in v and (sku, c.name) not in flagged:
                    flagged.add((sku, c.name))
                    issues.append(I.make("content.text.replacement", I.WARNING, sku=sku, attribute=c.name,
                                         value=short(v, 80)))
                name = c.name
                if name == "bullets":
                    bullets.append((c.locale or locale or default_locale, split_list(v)))
                    continue
                if name == "images":
                    image_list = split_list(v, "|\n\t ")
                    continue
                if name in IMAGE_COLUMNS:
                    numbered[int(name.split("_")[1])] = v
                    continue
                if c.locale is not None:
                    product.local.setdefault(c.locale, {})[name] = v
                elif locale is not None and name not in GLOBAL_FIELDS:
                    product.local.setdefault(locale, {})[name] = v
                elif locale is None and name in TEXT_FIELDS:
                    product.local.setdefault(default_locale, {})[name] = v
                else:
                    old = product.common.get(name)
                    if old is None or old == "":
                        product.common[name] = v
                    elif old != v:
                        conflicts.setdefault((sku, name), [old]).append(v)
            for loc, items in bullets:
                target = product.local.setdefault(loc, {})
                for i, b in enumerate(items[:10], start=1):
                    target.setdefault(f"bullet_{i}", b)
            imgs = image_list if image_list is not None else [numbered[k] for k in sorted(numbered)]
            if imgs:
                if product.images and product.images != imgs:
                    conflicts.setdefault((sku, "images"), [" | ".join(product.images)]).append(" | ".join(imgs))
                elif not product.images:
                    product.images = imgs
            if locale is not None:
                product.local.setdefault(locale, {})
    for (sku, locale), lines in sorted(dup_lines.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        issues.append(I.make("content.sku.duplicate", I.ERROR, sku=sku, locale=locale or "", attribute="sku",
                             value=sku, lines=", ".join(str(x) for x in lines),
                             for_locale=f" for {locale}" if locale else "",
                             for_locale_de=f" für {locale}" if locale else ""))
    for (sku, name), vals in sorted(conflicts.items()):
        distinct = list(dict.fromkeys(vals))
        if len(distinct) > 1:
            issues.append(I.make("content.locale_conflict", I.ERROR, sku=sku, attribute=name,
                                 value=short(distinct[1], 80), expected=short(distinct[0], 80),
                                 values=short(" / ".join(distinct), 120)))
    for loc in sorted(unknown_locales):
        issues.append(I.make("content.locale.unknown", I.INFO, attribute="locale", value=loc, locale=loc))
    for name in unknown:
        issues.append(I.make("content.unknown_column", I.INFO, attribute=name))
    for p in products.values():
        if p.parent:  # a child's own values, before it inherits (the variation theme must be its own)
            p.own = dict(p.common)
            for values in p.local.values():
                for k, v in values.items():
                    p.own.setdefault(k, v)
    return Parsed(products, issues, layout, cols, unknown, rows)
