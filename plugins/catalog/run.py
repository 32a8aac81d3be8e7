"""A catalog file's pass: validate rows, upsert products, report accepted/changed/rejected per row.

A catalog has no trailer or row count, so a file cut exactly at a row boundary looks complete:
the reader rejects a row cut in the middle, a last row without a line break after it is not
applied (it may have lost the end of its last value), and the docs tell ERPs to use the
``require_rename`` inbox mode (upload as ``.tmp``, rename when done).

Speed: the file is streamed in chunks (bounded memory for millions of rows), each chunk's rows
are checked column-wise (:mod:`.fastcheck`) with only the doubtful rows going through the
per-row rules (:mod:`.validate`), and the store is read and written in bulk (:mod:`.upsert`).
The decimal style is decided from *all* prices before the first row is applied.
"""
from __future__ import annotations

import csv
import heapq
import json
import re
from datetime import datetime, timezone
from itertools import islice, repeat

import numpy as np

from marketd.sdk import DecimalStyle, FileRejected, read_table, safe_cell, votes, write_csv

from .fastcheck import check_columns
from . import seen as seen_mod
from .seen import Seen
from .upsert import FIELDS, ProductStore
from .validate import REQUIRED, check_row

REPORT_HEADER = ["line", "sku", "result", "column", "reason"]
_GUARD = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')
_FORMULA_START = re.compile(r"\x00[=+\-@\t\r]")
_CSV_SPECIAL = re.compile(r'[,"\r\n]')  # what csv.writer would quote in a report cell


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _mapping(columns: list[str], settings: dict) -> dict[str, str]:
    """Map file column -> our field; ERP names come from [inbox.catalog.columns]."""
    custom = {_norm(k): v for k, v in (settings.get("columns") or {}).items()}
    mapping = {}
    for col in columns:
        n = _norm(col)
        if n in custom:
            mapping[col] = custom[n]
        elif n in REQUIRED:
            mapping[col] = n
    return mapping


def process(ctx) -> dict:
    table = read_table(ctx.path, ctx.settings)
    mapping = _mapping(table.columns, ctx.settings)
    defaults = {k: str(v) for k, v in ctx.settings.defaults.items()}
    required = ctx.settings.required_columns or list(REQUIRED)
    missing = [c for c in required if c not in mapping.values() and c not in defaults]
    if missing:
        raise _missing_columns(table, missing, ctx.settings)
    # field -> header position (a field mapped twice takes the later column, as a row dict would)
    positions = {field: i for i, col in enumerate(table.columns) for c, field in mapping.items() if c == col}
    extra = {col: i for i, col in enumerate(table.columns) if col not in mapping}
    extra_cols = [c for c in table.columns if c not in mapping]
    style = _decimal_style(table, positions, defaults, ctx.settings.decimal)
    run = _Run(ctx, table, positions, extra, defaults, style)
    relpath = f"reports/catalog-{ctx.stem}-{ctx.stamp}.csv"
    with ctx.open_output(relpath) as report:
        run.report_file = report
        run.report = csv.writer(report, lineterminator="\r\n")
        write_csv(report, REPORT_HEADER, [])
        for chunk in table.chunks():
            run.apply(chunk)
        run.warn_shared_eans()
        counts = run.counts
        run.report.writerow(["", "", "summary", "", f"{counts['rows']} rows: {counts['new']} new, "
                             f"{counts['changed']} changed, {counts['unchanged']} unchanged, "
                             f"{counts['rejected']} rejected" + (f", {counts['warnings']} warning(s)"
                                                                  if counts["warnings"] else "")])
    if counts["rows"] == 0:
        raise FileRejected("no_rows", "the file has a header but no product rows",
                           fix="check the export; an empty catalog is not applied")
    if counts["rejected"] == counts["rows"]:
        raise FileRejected("all_rows_rejected",
                           f"all {counts['rows']} rows were rejected; e.g. line {run.first_rejected}",
                           where="see the reasons per row in the next try's report or fix the first rows",
                           fix="check the delimiter, the decimal separator and the column mapping")
    counts.update(encoding=table.encoding, delimiter=table.delimiter,
                  decimal=style.sep if style else "undecided", report=relpath, extra_columns=extra_cols)
    return counts


def duplicate_report(ctx, first: dict) -> None:
    with ctx.open_output(f"reports/catalog-{ctx.stem}-{ctx.stamp}.csv") as report:
        write_csv(report, REPORT_HEADER, [["", "", "duplicate", "",
                                           f"not applied: the same file was already applied as {first['name']} "
                                           f"(id {first['id']}) at {first['finished_at']}"]])


def _decimal_style(table, positions: dict, defaults: dict, configured) -> DecimalStyle | None:
    """The file's decimal style from every price it holds (a first pass reading that column only)."""
    if configured not in (None, "", "auto"):
        return DecimalStyle.of(configured)
    counts = votes([defaults["price"]]) if "price" in defaults else {".": 0, ",": 0}
    if "price" in positions:
        for values in table.column_values(positions["price"]):
            for sep, n in votes(values).items():
                counts[sep] += n
    return DecimalStyle.decide(counts)


class _Run:
    """One file's pass: counts, the report writer, the store side, what the file carried so far."""

    def __init__(self, ctx, table, positions: dict, extra: dict, defaults: dict, style):
        self.ctx = ctx
        self.table = table
        self.positions = positions
        self.extra = sorted(extra.items())  # attributes JSON has sorted keys
        self.defaults = defaults
        self.style = style
        self.now = datetime.now(timezone.utc).isoformat()
        self.store = ProductStore(ctx.db)
        # an empty store holds, while this file runs, only rows of this file: those are in `seen`,
        # so neither stored values nor stored EAN owners need looking up
        self.store_was_empty = self.store.empty()
        self.seen = Seen()
        self.store_eans: list[tuple[int, str, str, str]] = []  # (line, sku, ean, stored sku)
        self.counts = {"rows": 0, "new": 0, "changed": 0, "unchanged": 0, "rejected": 0, "warnings": 0}
        self.first_rejected = "?"
        self.report = None
        self.report_file = None
        self.last_field = self._field_at(len(table.columns) - 1)

    def _field_at(self, pos: int) -> str:
        for field, p in self.positions.items():
            if p == pos:
                return field
        return self.table.columns[pos] if pos >= 0 else ""

    def _fields(self, chunk) -> dict[str, list[str]]:
        """Each field's texts (the mapped column's, ``defaults`` where empty or unmapped)."""
        n = len(chunk)
        fields = {}
        for field in REQUIRED:
            values = chunk.column(self.positions[field]) if field in self.positions else [""] * n
            if field in self.defaults:
                default = self.defaults[field]
                values = [v or default for v in values]
            fields[field] = values
        return fields

    def apply(self, chunk) -> None:
        lines = np.asarray(chunk.lines)
        self.counts["rows"] += len(chunk)
        fields = self._fields(chunk)
        ok, products = check_columns(fields, self.style)
        problems: dict[int, list[tuple[str, str]]] = {}
        cut = self.table.unterminated_line
        if cut is not None and int(lines[-1]) == cut:
            ok[-1] = False
        for i in np.flatnonzero(~ok).tolist():  # the rows the column checks could not vouch for
            product, found = check_row({f: values[i] for f, values in fields.items()}, self.style)
            if cut is not None and int(lines[i]) == cut:
                found.append((self.last_field, "the file does not end with a line break: this last row may have "
                              "been cut off in transfer (e.g. stock 15 arriving as 1), so it was not applied; "
                              "upload the complete file (as NAME.tmp, renamed when complete)"))
            if found:
                problems[i] = found
            else:
                ok[i] = True
                for k, v in product.items():
                    products[k][i] = v
        skus = products["sku"]
        accepted, acc_skus, acc_hashes = self._first_occurrences(np.flatnonzero(ok), skus, lines, problems)
        self.counts["rejected"] += len(problems)
        results = self._upsert(chunk, products, accepted, acc_skus, acc_hashes, lines)
        self._write(lines, skus, accepted, acc_skus, results, problems)

    def _first_occurrences(self, accepted: np.ndarray, skus: list[str], lines, problems):
        """A SKU twice in the file: the first accepted row wins (this chunk or an earlier one);
        the later ones become problems. Returns the accepted rows left, their SKUs and hashes."""
        acc = _take(skus, accepted)
        h = seen_mod.hashes(acc)
        earlier = self.seen.earlier(acc, h)
        dup = seen_mod.repeats(acc, h)
        if earlier:
            dup |= np.fromiter((s in earlier for s in acc), dtype=bool, count=len(acc))
        if not dup.any():
            return accepted, acc, h
        first_here: dict[str, int] = {}
        for j in np.flatnonzero(~dup).tolist():
            first_here.setdefault(acc[j], int(lines[accepted[j]]))
        for j in np.flatnonzero(dup).tolist():
            sku = acc[j]
            first = earlier.get(sku, first_here.get(sku))
            problems[int(accepted[j])] = [("sku", f"SKU {sku!r} appears twice in this file (first on line {first}); "
                                                  "the first occurrence was kept")]
        keep = ~dup
        return accepted[keep], [s for s, d in zip(acc, dup.tolist()) if not d], h[keep]

    def _attributes(self, chunk, rows: np.ndarray) -> list[str | None]:
        """The extra columns as ``json.dumps(..., ensure_ascii=False, sort_keys=True)`` writes them,
        built per column (values needing escapes go through json.dumps itself)."""
        if not self.extra:
            return [None] * len(rows)
        columns = []
        for name, pos in self.extra:
            values = _take(chunk.column(pos), rows)
            if _NEEDS_ESCAPE.search("".join(values)):
                values = [json.dumps(v, ensure_ascii=False)[1:-1] if _NEEDS_ESCAPE.search(v) else v for v in values]
            columns.append(values)
        keys = [json.dumps(name, ensure_ascii=False) for name, _ in self.extra]
        if len(keys) == 1:  # one join and one split instead of a concatenation per row (no value holds NUL)
            head = "{" + keys[0] + ': "'
            return (head + ('"}\x00' + head).join(columns[0]) + '"}').split("\x00") if columns[0] else []
        return ["{" + ", ".join(f'{k}: "{v}"' for k, v in zip(keys, vals)) + "}" for vals in zip(*columns)]

    def _upsert(self, chunk, products: dict[str, list], accepted: np.ndarray, sku_list: list[str], hashes,
                lines) -> tuple[list, list] | None:
        """(result, changed-columns) per accepted row, None when all are new; writes new and
        changed products."""
        if not len(accepted):
            return [], []
        new = {f: _take(v, accepted) for f, v in products.items() if f != "sku"}
        new["sku"] = sku_list
        new["attributes"] = self._attributes(chunk, accepted)
        acc_lines = lines[accepted]
        results = None
        if self.store_was_empty:
            self.counts["new"] += len(accepted)
            self.store.upsert(new, self.now, self.ctx.file_id)
        else:
            results = self._compare(new, acc_lines)
            result = results[0]
            for r in ("new", "changed", "unchanged"):
                self.counts[r] += int((result == r).sum())
            write = np.flatnonzero(result != "unchanged")
            if len(write):
                self.store.upsert(new if len(write) == len(accepted) else {f: _take(v, write) for f, v in new.items()},
                                  self.now, self.ctx.file_id)
            results = (result.tolist(), results[1])
        self.seen.add(sku_list, acc_lines, new["ean"], hashes)
        return results

    def _compare(self, new: dict[str, list], acc_lines) -> tuple[np.ndarray, list]:
        """Each accepted row against the store: ``new``/``changed``/``unchanged`` and the changed
        columns; notes the stored products that hold a row's EAN under another SKU."""
        sku_list, ean_list = new["sku"], new["ean"]
        result = np.full(len(sku_list), "new", dtype=object)
        changed_text = [""] * len(sku_list)
        for k, ean, other in self.store.ean_owners(ean_list, sku_list):
            self.store_eans.append((int(acc_lines[k]), sku_list[k], ean, other))
        rows, olds = self.store.existing(sku_list)
        if len(rows):
            code = np.zeros(len(rows), dtype=np.int64)
            for bit, f in enumerate(FIELDS):
                now = _take(new[f], rows)
                now_text = [str(v) for v in now] if f == "stock" else ["None" if v is None else v for v in now]
                differs = olds[f] != np.asarray(now_text, dtype=object)
                code |= differs.astype(np.int64) << bit
            names = {c: ";".join(f for bit, f in enumerate(FIELDS) if c >> bit & 1) for c in np.unique(code).tolist()}
            result[rows] = np.where(code == 0, "unchanged", "changed")
            for r, c in zip(rows.tolist(), code.tolist()):
                changed_text[r] = names[c]
        return result, changed_text

    def _write(self, lines, skus, accepted, acc_skus, results, problems) -> None:
        """The chunk's report rows in line order: one per accepted row, one per problem."""
        acc_lines = lines[accepted].tolist()
        shown = _guarded(acc_skus)
        if not problems and _CSV_SPECIAL.search("".join(shown)) is None:
            # nothing to quote: the rows as text, without a csv.writer call per row
            if results is None:
                self.report_file.write("".join(map("{},{},new,,\r\n".format, acc_lines, shown)))
            else:
                self.report_file.write("".join(map("{},{},{},{},\r\n".format, acc_lines, shown, *results)))
            return
        n = len(acc_lines)
        result, changed = results if results is not None else (repeat("new", n), repeat("", n))
        good = zip(acc_lines, shown, result, changed, repeat("", n))
        if not problems:
            self.report.writerows(good)
            return
        bad = []
        for i in sorted(problems):
            line = int(lines[i])
            for col, reason in problems[i]:
                bad.append([line, safe_cell(skus[i]), "rejected", col, safe_cell(reason)])
            if self.first_rejected == "?":
                self.first_rejected = f"{line}: {problems[i][0][0]}: {problems[i][0][1]}"
        self.report.writerows(heapq.merge(good, bad, key=lambda r: r[0]))

    def warn_shared_eans(self) -> None:
        """Warnings after all rows: an EAN on two SKUs of this file, or on a SKU of this file and
        a stored product this file does not mention."""
        in_file = self.seen.shared_eans()
        others = self.seen.known([o for _, _, _, o in self.store_eans])
        in_store = [(line, sku, ean, other, None) for line, sku, ean, other in self.store_eans if other not in others]
        for line, sku, ean, other, other_line in sorted(in_file + in_store, key=lambda w: (w[0], w[3])):
            where = f"line {other_line} of this file" if other_line is not None else "the store, not in this file"
            self.report.writerow([line, safe_cell(sku), "warning", "ean",
                                  safe_cell(f"EAN {ean} is also the EAN of SKU {other!r} ({where}); one of them is "
                                            "probably wrong")])
            self.counts["warnings"] += 1


def _take(values: list, rows: np.ndarray) -> list:
    """``values`` at ``rows`` (sorted positions); the list itself when that is all of them."""
    if len(rows) == len(values):
        return values
    return [values[i] for i in rows.tolist()]


def _guarded(values: list[str]) -> list[str]:
    """safe_cell on the values that need it (formula-like starts), the rest as they are; one
    search over the joined column tells whether any does."""
    if _FORMULA_START.search("\x00" + "\x00".join(values)) is None:
        return values
    return [safe_cell(v) if v[:1] in _GUARD else v for v in values]


def _missing_columns(table, missing: list[str], settings: dict) -> FileRejected:
    """The missing-column rejection; when the names sit in a row below title rows, say so."""
    wanted = {_norm(k) for k in (settings.get("columns") or {})} | set(REQUIRED)
    for line, cells in islice(table.probe(), 12):
        found = {_norm(c) for c in cells if isinstance(c, str)} & wanted
        if line > 1 and len(found) >= max(2, min(len(wanted), 3)):  # row 1 is the header itself: no title rows
            above = line - 1
            return FileRejected(
                "missing_column", f"required column(s) {', '.join(missing)} not found in the first row: the column "
                f"names are in row {line}, below {above} title row(s)", where=f"row {line}",
                fix=f"delete the {above} row(s) above the column names, so that the first row holds them")
    hint = ", ".join(repr(c) for c in table.columns[:12])
    return FileRejected(
        "missing_column", f"required column(s) {', '.join(missing)} not found in the header",
        where=f"line 1 (header has: {hint})",
        fix="rename the column in the export, or map your ERP's name in the config, e.g. "
            "[inbox.catalog.columns] Artikelnummer = \"sku\"")
