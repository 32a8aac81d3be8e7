"""The files of one completeness run: ``issues.csv``, ``matrix.csv``, ``top-gaps.csv``,
``diff.csv`` for machines; ``summary.xlsx`` and a self-contained ``summary.html`` for people.

The CSVs of the same input are byte-identical on every run: no timestamps inside, rows in a
fixed order (:func:`issues.ordered`, matrix grouped by parent then SKU), ``\\n`` line ends, UTF-8
without BOM, every cell through ``safe_cell`` (a title starting with ``=`` stays text). Times, the
source's sha256 and the model stamps go into the XLSX and HTML headers only.
"""
from __future__ import annotations

import csv
import html
import io
from collections import Counter, defaultdict

from marketd.sdk import XLSX_MAX_ROWS, XlsxWorkbook, clean_text, safe_cell

from .completeness import blocking
from .issues import ISSUE_COLUMNS, RANK

HTML_MATRIX_ROWS = 2000
HTML_ISSUE_ROWS = 1000
# XlsxWriter writes ~30,000 cells a second: a sheet of every issue of 50,000 SKUs would take
# minutes for a list no person reads to the end. The CSVs always hold everything.
XLSX_LIST_ROWS = 20_000
DIFF_COLUMNS = ["status", "sku", "platform", "locale", "attribute", "rule", "severity"]
GAP_COLUMNS = ["platform", "attribute", "missing", "of", "share"]
STATUS_ORDER = {"new": 0, "still_open": 1, "fixed": 2}


def csv_bytes(header: list[str], rows) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([safe_cell(h) for h in header])
    for row in rows:
        w.writerow([safe_cell(v) for v in row])
    return buf.getvalue().encode("utf-8")


def matrix_columns(cells) -> list[str]:
    return sorted({f"{c.platform}:{c.locale}" for c in cells})


def matrix_rows(cells, issues) -> tuple[list[str], list[list]]:
    cols = matrix_columns(cells)
    by_sku: dict[str, dict] = defaultdict(dict)
    parents: dict[str, str] = {}
    for c in cells:
        by_sku[c.sku][f"{c.platform}:{c.locale}"] = "n/a" if c.ratio is None else str(c.ratio)
        parents[c.sku] = c.parent
    blocked = blocking(issues)
    order = sorted(by_sku, key=lambda s: (parents[s] or s, 1 if parents[s] else 0, s))
    rows = []
    for sku in order:
        b = blocked.get(sku, set())
        rows.append([sku, parents[sku]] + [by_sku[sku].get(col, "") for col in cols] + [" ".join(sorted(b))])
    return ["sku", "parent_sku"] + cols + ["blocking"], rows


def top_gaps(cells, issues, limit: int = 50) -> list[list]:
    """(platform, attribute, SKUs missing it, SKUs in scope, share): presence gaps only."""
    scope: dict[str, set] = defaultdict(set)
    for c in cells:
        scope[c.platform].add(c.sku)
    everyone = {c.sku for c in cells}
    gaps: dict[tuple, set] = defaultdict(set)
    for i in issues:
        if i.missing and i.sku:
            gaps[(i.platform, i.attribute)].add(i.sku)
    rows = []
    for (plat, attr), skus in gaps.items():
        of = len(scope.get(plat, everyone)) if plat else len(everyone)
        of = max(of, len(skus))
        rows.append([plat, attr, len(skus), of, f"{100 * len(skus) // of}%"])
    rows.sort(key=lambda r: (-r[2], r[0], r[1]))
    return rows[:limit]


def diff_rows(diff: dict) -> list[list]:
    rows = []
    for status, items in diff.items():
        for key, severity in items:
            rows.append([status, *key, severity])
    rows.sort(key=lambda r: (STATUS_ORDER[r[0]], r[1:]))
    return rows


def write_xlsx(fh, meta: dict, header: list[str], mrows: list, issues, gaps: list, drows: list,
               list_rows: int = XLSX_LIST_ROWS) -> None:
    wb = XlsxWorkbook(fh)
    s = wb.sheet("Summary")
    for k, v in meta["header"]:
        s.append([k, safe_cell(v)])
    s.append([])
    s.append(["model", "version stamp"], bold=True)
    for k, v in meta["models"].items():
        s.append([safe_cell(k), safe_cell(v)])
    for title, cols, rows, cap, csv_name in (
            ("Matrix", header, mrows, XLSX_MAX_ROWS - 2, "matrix.csv"),
            ("Issues", ISSUE_COLUMNS, issues, list_rows, "issues.csv"),
            ("Top gaps", GAP_COLUMNS, gaps, XLSX_MAX_ROWS - 2, "top-gaps.csv"),
            ("Diff", DIFF_COLUMNS, drows, list_rows, "diff.csv")):
        sh = wb.sheet(title)
        sh.header(cols)
        for n, row in enumerate(rows):
            if n >= cap:
                sh.append([f"… {len(rows) - n} more rows in {csv_name}"])
                break
            if not isinstance(row, list):
                row = row.row()
            if title == "Matrix":  # ratios as numbers, so a person can sort and filter them
                row = row[:2] + [int(v) if v.isdigit() else v for v in row[2:-1]] + row[-1:]
            sh.append([safe_cell(v) if isinstance(v, str) else v for v in row])
    wb.close()


def _band(value: str) -> str:
    if not value or value == "n/a":
        return "na"
    n = int(value)
    return "full" if n == 100 else "good" if n >= 80 else "mid" if n >= 50 else "low"


_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}th,td{border:1px solid #ccc;padding:3px 6px;
text-align:left;vertical-align:top}th{background:#f0f0f0}td.full{background:#c8e6c9}td.good{background:#e6f4c8}
td.mid{background:#ffe0a3}td.low{background:#ffb4a8}td.na{background:#e0e0e0;color:#666}.ERROR{color:#b00020;
font-weight:600}.WARNING{color:#a05a00}.INFO{color:#555}.note{color:#666;font-size:12px}h1{font-size:20px}
h2{font-size:16px;margin-top:1.5em}"""


def write_html(meta: dict, header: list[str], mrows: list, issues, gaps: list, drows: list) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>Content completeness – {e(meta['title'])}</title><style>{_CSS}</style></head><body>",
           f"<h1>Content completeness – {e(meta['title'])}</h1><table>"]
    out += [f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in meta["header"]]
    out.append("</table><h2>Data models</h2><table><tr><th>platform:model</th><th>version stamp</th></tr>")
    out += [f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in meta["models"].items()]
    if not meta["models"]:
        out.append('<tr><td colspan="2">no model was used</td></tr>')
    out.append("</table>")
    sev = Counter(i.severity for i in issues)
    out.append("<h2>Issues</h2><p>" + ", ".join(f'<span class="{k}">{sev.get(k, 0)} {k}</span>' for k in RANK) + "</p>")
    status = Counter(r[0] for r in drows)
    out.append(f"<h2>Since the previous run</h2><p>{status.get('new', 0)} new, {status.get('still_open', 0)} still "
               f"open, {status.get('fixed', 0)} fixed{e(meta.get('previous', ''))}</p>")
    out.append("<h2>Top gaps</h2><table><tr>" + "".join(f"<th>{e(c)}</th>" for c in GAP_COLUMNS) + "</tr>")
    out += ["<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in r) + "</tr>" for r in gaps]
    out.append("</table><h2>Matrix</h2><table><tr>" + "".join(f"<th>{e(c)}</th>" for c in header) + "</tr>")
    for r in mrows[:HTML_MATRIX_ROWS]:
        cells = [f"<td>{e(r[0])}</td>", f"<td>{e(r[1])}</td>"]
        cells += [f'<td class="{_band(v)}">{e(v)}</td>' for v in r[2:-1]]
        cells.append(f"<td>{e(r[-1])}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    if len(mrows) > HTML_MATRIX_ROWS:
        out.append(f'<p class="note">{len(mrows) - HTML_MATRIX_ROWS} more SKUs in matrix.csv / summary.xlsx</p>')
    out.append("<h2>Issues (most severe first)</h2><table><tr>" + "".join(
        f"<th>{e(c)}</th>" for c in ("sku", "platform", "locale", "attribute", "rule", "severity", "message",
                                     "value found", "expected")) + "</tr>")
    for i in issues[:HTML_ISSUE_ROWS]:
        out.append("<tr>" + "".join(f"<td>{e(clean_text(v))}</td>" for v in (i.sku, i.platform, i.locale, i.attribute,
                                                                             i.rule))
                   + f'<td class="{i.severity}">{i.severity}</td>'
                   + "".join(f"<td>{e(clean_text(v))}</td>" for v in (i.message_en, i.value_found, i.expected))
                   + "</tr>")
    out.append("</table>")
    if len(issues) > HTML_ISSUE_ROWS:
        out.append(f'<p class="note">{len(issues) - HTML_ISSUE_ROWS} more issues in issues.csv / summary.xlsx</p>')
    out.append("</body></html>\n")
    return "\n".join(out)
