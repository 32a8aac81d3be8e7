"""Catalog rows through the real engine: the issue 9 reproducers (misread numbers, crashes,
duplicate EANs, cut-off last row, newcomer hints) and the streaming/bulk path's semantics."""
import io
import random

import openpyxl
import pytest
from hypothesis import given, settings, strategies as st

from marketd import tabular
from marketd.numbers import COMMA, DOT
from marketd.plugins.catalog.fastcheck import check_columns
from marketd.plugins.catalog.validate import REQUIRED, check_row
from tests.samples import catalog_csv, ean13

HEADER = "sku,ean,title,brand,price,currency,stock\n"


def row(sku, price="12.50", stock="3", ean=None, n=1, sep=","):
    cells = [sku, ean or ean13(n), "Pen", "Acme", price, "EUR", stock]
    return sep.join(f'"{c}"' if sep in c else c for c in cells) + "\n"


def rejected(report):
    return {(r[0], r[3]): r[4] for r in report if len(r) > 2 and r[2] == "rejected"}


# -- issue 9 item 1: prices and stock no longer misread --------------------------------------------
def test_dot_decimal_file_refuses_comma_grouped_price_and_stock(catalog):
    text = HEADER + row("A", "19.99", n=1) + row("B", "12,50", n=2) + row("C", "5.00", stock="1,5", n=3)
    assert catalog.drop(text)["state"] == "done"
    bad = rejected(catalog.report())
    assert "'12,50'" in bad[("3", "price")] and "decimal point" in bad[("3", "price")]
    assert "'1,5'" in bad[("4", "stock")]
    assert catalog.product("A")["price"] == "19.99" and catalog.product("B") is None and catalog.product("C") is None


def test_comma_decimal_file_reads_thousands_and_refuses_dot_decimals(catalog):
    text = HEADER.replace(",", ";") + "".join([
        row("A", "1.234,56", n=1, sep=";"), row("B", "12,50", n=2, sep=";"), row("C", "12.50", n=3, sep=";"),
        row("D", "12.50.00", n=4, sep=";"), row("E", "7", stock="1.500", n=5, sep=";")])
    res = catalog.drop(text)
    assert res["state"] == "done" and res["summary"]["decimal"] == ","
    assert catalog.product("A")["price"] == "1234.56" and catalog.product("B")["price"] == "12.50"
    assert catalog.product("E")["stock"] == 1500
    bad = rejected(catalog.report())
    assert "'12.50'" in bad[("4", "price")] and "'12.50.00'" in bad[("5", "price")]


def test_the_decimal_style_comes_from_all_prices_not_the_first_thousand(catalog):
    rows = [row(f"A{i}", "1,299", n=i) for i in range(1500)] + [row("LAST", "4.50", n=9999)]
    res = catalog.drop(HEADER + "".join(rows))
    assert res["summary"]["decimal"] == "." and catalog.product("A0")["price"] == "1299.00"


def test_ambiguous_prices_in_an_undecided_file_are_refused_not_guessed(catalog):
    res = catalog.drop(HEADER + row("A", "1,299", n=1) + row("B", "15", n=2))
    assert res["summary"]["decimal"] == "undecided"
    assert "ambiguous" in rejected(catalog.report())[("2", "price")]
    assert catalog.product("B")["price"] == "15.00"


# -- issue 9 item 4: catalog crashes become row rejections with their column ---------------------
@pytest.mark.parametrize("field, value", [
    ("price", "1234567890123456789012345678"),     # InvalidOperation
    ("stock", str(2 ** 63)),                       # OverflowError in sqlite
    ("ean", "400638133393²"),                      # int('²')
    ("price", "1e-999"), ("price", "NaN"), ("stock", "1_000"), ("price", "١٢"),
])
def test_values_that_crashed_are_rejected_rows(catalog, field, value):
    fields = {"price": "12.50", "stock": "3", "ean": ean13(7)}
    fields[field] = value
    text = HEADER + row("OK", n=1) + row("BAD", fields["price"], fields["stock"], fields["ean"])
    res = catalog.drop(text)
    assert res["state"] == "done", res["error"]
    assert repr(value) in rejected(catalog.report())[("3", field)]


def test_a_corrupt_xlsx_is_a_clean_rejection(catalog):
    import re
    import zipfile
    wb = openpyxl.Workbook()
    wb.active.append(["sku"])
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for n in src.namelist():
            d = src.read(n)
            dst.writestr(n, re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", d) if n == "xl/workbook.xml" else d)
    res = catalog.drop(out.getvalue(), "c.xlsx")
    assert res["state"] == "error" and res["error"]["reason"] == "xlsx"


# -- issue 9 item 2: a row cut in its last field ---------------------------------------------------
def test_a_last_row_without_line_break_is_not_applied(catalog):
    text = HEADER + row("A", n=1) + row("B", stock="15", n=2).rstrip("\n")[:-1]  # "15" cut to "1"
    res = catalog.drop(text)
    assert res["state"] == "done"
    reason = rejected(catalog.report())[("3", "stock")]
    assert "does not end with a line break" in reason
    assert catalog.product("B") is None and catalog.product("A") is not None


# -- issue 9 item 3: duplicate EANs across SKUs ----------------------------------------------------
def test_an_ean_on_two_skus_is_a_warning_naming_both(catalog):
    catalog.drop(HEADER + row("STORED", n=50), "first.csv")
    text = HEADER + row("A", n=1) + row("B", n=1) + row("C", n=50) + row("D", n=3)
    res = catalog.drop(text)
    assert res["state"] == "done" and res["summary"]["warnings"] == 2
    warnings = [r for r in catalog.report() if len(r) > 2 and r[2] == "warning"]
    assert [w[:4] for w in warnings] == [["3", "B", "warning", "ean"], ["4", "C", "warning", "ean"]]
    assert "'A' (line 2 of this file)" in warnings[0][4] and "'STORED' (the store" in warnings[1][4]
    assert all(catalog.product(s) for s in "ABCD")  # warnings, not rejections


def test_a_stored_sku_this_file_moves_to_another_ean_is_no_conflict(catalog):
    catalog.drop(HEADER + row("OLD", n=60), "first.csv")
    res = catalog.drop(HEADER + row("NEW", n=60) + row("OLD", n=61))
    assert res["summary"]["warnings"] == 0


# -- issue 16: newcomer hints ----------------------------------------------------------------------
def test_an_eleven_digit_ean_gets_the_leading_zeros_hint(catalog):
    body = "0012345678905"  # a valid EAN-13 with two leading zeros
    catalog.drop(HEADER + row("A", ean=body[2:]) + row("B", n=2))
    reason = rejected(catalog.report())[("2", "ean")]
    assert "2 leading zeros were probably lost" in reason and body in reason


def test_an_xlsx_with_title_rows_is_told_to_remove_them(catalog):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Product list November 2026"])
    ws.append([])
    ws.append(["sku", "ean", "title", "brand", "price", "currency", "stock"])
    ws.append(["A", ean13(1), "Pen", "Acme", 12.5, "EUR", 3])
    buf = io.BytesIO()
    wb.save(buf)
    res = catalog.drop(buf.getvalue(), "c.xlsx")
    assert res["error"]["reason"] == "missing_column"
    assert "row 3" in res["error"]["message"] and "delete the 2 row(s) above" in res["error"]["fix"]
    assert "rename" not in res["error"]["fix"]


def test_a_header_missing_columns_in_row_one_names_them_and_suggests_a_mapping(catalog):
    """The column names are in row 1 but some are missing: no "0 title row(s)" advice (a new user
    got "delete the 0 row(s) above the column names")."""
    res = catalog.drop(b"sku,ean,title\n", "partial.csv")
    assert res["error"]["reason"] == "missing_column"
    assert "title row" not in res["error"]["message"] and "0 row(s)" not in res["error"]["fix"]
    assert "brand" in res["error"]["message"] and "[inbox.catalog.columns]" in res["error"]["fix"]


def test_no_empty_row_before_the_summary(catalog):
    catalog.drop(catalog_csv(3))
    report = catalog.report()
    assert report[-1][2] == "summary" and all(any(c for c in r) for r in report)


# -- streaming: the same answers across chunk borders ----------------------------------------------
def test_duplicate_skus_across_chunks_keep_the_first(catalog, monkeypatch):
    monkeypatch.setattr(tabular, "CHUNK_ROWS", 7)
    rows = [row(f"S{i}", n=i) for i in range(20)]
    rows.insert(15, row("S2", price="99.00", n=2))
    res = catalog.drop(HEADER + "".join(rows))
    assert res["summary"]["rejected"] == 1 and res["summary"]["new"] == 20
    assert "first on line 4" in rejected(catalog.report())[("17", "sku")]
    assert catalog.product("S2")["price"] == "12.50"


def _random_catalog(seed: int) -> str:
    rnd = random.Random(seed)
    lines = [HEADER.rstrip("\n") + ",color"]
    for i in range(600):
        price = rnd.choice(["12.50", "3", "0.5", "1,234.00", "3", " 7.25 ", "12,5", "abc"])
        stock = rnd.choice(["1", "0", "2.0", "1,000", "x"])
        ean = rnd.choice([ean13(i), ean13(i), ean13(i % 37), "123"])
        sku = rnd.choice([f"S{i}", f"S{i}", f"S{i % 50}", "", "=cmd"])
        lines.append(",".join([sku, ean, rnd.choice(["Pen", "Pen", ""]), "Acme", f'"{price}"', rnd.choice(["EUR", "eur", "E"]),
                               f'"{stock}"', rnd.choice(["rot", 'say "hi"', "tab\there"]).replace('"', '""').join('""')]))
    return "\n".join(lines) + "\n"


def test_report_and_store_do_not_depend_on_the_chunk_size(app_factory, tmp_path, monkeypatch):
    """A fresh store (the empty-store shortcut) and then a second file on the same store (stored
    values compared, stored EAN owners looked up), each with chunks of 50,000, 13 and 1 rows."""
    from tests.catalog.conftest import CatalogRun
    outcomes = []
    for size in (50_000, 13, 1):
        monkeypatch.setattr(tabular, "CHUNK_ROWS", size)
        (tmp_path / f"s{size}").mkdir()
        run = CatalogRun(app_factory(inbox={"defaults": {"watch": "poll"}}), tmp_path / f"s{size}")
        seen = []
        first = _random_catalog(5)
        lines = first.splitlines()
        # the second file: some prices changed, every fifth row left out (stored, not in this file)
        second = "\n".join([lines[0]] + [ln for i, ln in enumerate(lines[1:]) if i % 5]).replace('"3"', '"4"') + "\n"
        for text, name in ((first, "a.csv"), (second, "b.csv")):
            res = run.drop(text, name)
            store = list(run.app.store.db.query("select sku, ean, title, brand, price, currency, stock, attributes "
                                                "from products order by sku"))
            summary = {k: v for k, v in res["summary"].items() if k != "report"}  # names the claim time
            seen.append((summary, run.report(name), store))
        outcomes.append(seen)
    assert outcomes[0] == outcomes[1] == outcomes[2]
    first, second = outcomes[0][0][0], outcomes[0][1][0]
    assert first["rejected"] > 0 and first["warnings"] > 0 and second["changed"] > 0 and second["unchanged"] > 0
    assert any("the store, not in this file" in r[4] for r in outcomes[0][1][1] if len(r) > 4)


# -- the column checks never say more than the row rules -------------------------------------------
values = {
    "sku": st.sampled_from(["A", " B ", "", "=x", "Ä"]),
    "ean": st.sampled_from([ean13(1), ean13(2)[:-1] + "0", "", "400638133393²", " " + ean13(3), ean13(4)[1:]]),
    "title": st.sampled_from(["Pen", "", " "]), "brand": st.sampled_from(["Acme", ""]),
    "price": st.one_of(st.sampled_from(["12.50", "12,50", "0", "012.5", "1,234.5", "7.", "-1", "1e3", " 3.1 "]),
                       st.text(alphabet="0123456789.,", max_size=8)),
    "currency": st.sampled_from(["EUR", "eur", "EURO", ""]),
    "stock": st.one_of(st.sampled_from(["3", "03", "1,5", "1.000", "-1", "9999999999", "١"]),
                       st.text(alphabet="0123456789.,", max_size=6)),
}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.fixed_dictionaries(values), min_size=1, max_size=20), st.sampled_from([DOT, COMMA, None]))
def test_column_checks_agree_with_the_row_rules(rows, style):
    fields = {f: [r[f] for r in rows] for f in REQUIRED}
    ok, products = check_columns(fields, style)
    for i, r in enumerate(rows):
        product, problems = check_row(r, style)
        if ok[i]:
            assert problems == [] and product == {k: products[k][i] for k in product}
