"""Content files through the real engine: layouts, variants, per-file value rules, whole-file
errors, byte-identical re-runs and the diff (research §7 items 3, 8, 19)."""
from __future__ import annotations

import io
import json
import zipfile

import openpyxl

from .conftest import table

WIDE = [
    {"sku": "K1", "brand": "ACME", "category": "Koffer", "ean": "4006381333931", "title_de": "Koffer Blau 55 cm",
     "description_de": "Hartschale", "color": "blau", "manufacturer_id": "M1", "image_1": "k1.jpg"},
    {"sku": "K2", "brand": "ACME", "category": "Koffer", "ean": "4006381333948", "title_de": "Koffer Rot",
     "color": "rot", "manufacturer_id": "M1", "image_1": "k2.jpg"},
]


def rules(issues, sku=None):
    return sorted(i["rule"] for i in issues if sku is None or i["sku"] == sku)


def test_wide_file_gives_every_report(world):
    row = world.drop(table(WIDE))
    assert row["state"] == "done", row["error"]
    d = world.report_dir(row)
    assert sorted(p.name for p in d.iterdir()) == ["diff.csv", "issues.csv", "matrix.csv", "summary.html",
                                                    "summary.xlsx", "top-gaps.csv"]
    matrix = world.read_csv(d / "matrix.csv")
    assert [(m["sku"], m["manomano_de:de_DE"]) for m in matrix] == [("K1", "100"), ("K2", "100")]
    html = (d / "summary.html").read_text()
    assert "<script" not in html and "http" not in html.split("<body>")[0].replace("charset", "")
    assert "manomano_de:manomano/suitcases" in html and "2026-11-01+" in html


def test_long_layout_reads_like_wide_and_flags_conflicts(world):
    rows = [{"sku": "L1", "locale": "de", "brand": "ACME", "category": "Koffer", "ean": "4006381333931",
             "title": "Koffer", "color": "blau"},
            {"sku": "L1", "locale": "fr-FR", "brand": "ACME", "category": "Koffer", "ean": "4006381333948",
             "title": "Valise", "color": "bleu"},
            {"sku": "L1", "locale": "de_DE", "brand": "ACME", "category": "Koffer", "title": "Koffer zwei"}]
    row = world.drop(table(rows))
    assert row["summary"]["layout"] == "long"
    issues = world.issues(row)
    conflict = [i for i in issues if i["rule"] == "content.locale_conflict"]
    assert [(c["attribute"], c["expected"], c["value_found"]) for c in conflict] == [("ean", "4006381333931",
                                                                                       "4006381333948")]
    dup = [i for i in issues if i["rule"] == "content.sku.duplicate"]
    assert [(d["sku"], d["locale"]) for d in dup] == [("L1", "de_DE")]


def test_both_layouts_in_one_header_is_refused(world):
    row = world.drop("sku;locale;title_de\nA;de;x\n")
    assert row["state"] == "error" and row["error"]["reason"] == "ambiguous_layout"
    assert not (world.app.outbox_dir / "reports" / "content").exists()


def test_missing_sku_column_and_bad_locale(world):
    row = world.drop("Artikel;title\nA;x\n")
    assert row["error"]["reason"] == "missing_column"
    row = world.drop("sku;locale;title\nA;;x\n")
    assert row["error"]["reason"] == "locale" and row["error"]["where"].startswith("line 2")


def test_malformed_csv_is_refused_with_no_report(world):
    row = world.drop('sku;title_de\nA;"unclosed quote\nB;ok\n')
    assert row["state"] == "error"
    assert row["error"]["reason"] in ("csv_syntax", "column_count", "truncated", "quote")
    err = world.app.inbox_dir / "content" / ".error"
    assert any(p.name.endswith(".error.txt") for p in err.iterdir())
    assert not (world.app.outbox_dir / "reports" / "content").exists()


def test_every_value_rule_gives_exactly_one_issue(world):
    world.write_model("manomano/checks.toml", """
[model]
version = "1"
[attributes.title]
required = true
per_locale = true
max_length = 10
[attributes.color]
allowed = ["rot", "blau"]
""")
    world.write_model("mapping.toml", '[categories."C"]\nmanomano = "checks"\n')
    base = {"brand": "B", "category": "C", "title_de": "ok", "color": "rot", "ean": "4006381333931"}
    rows = [{**base, "sku": "LEN", "title_de": "much too long"},
            {**base, "sku": "ALLOWED", "color": "grün"},
            {**base, "sku": "EANLEN", "ean": "400638133393"},
            {**base, "sku": "EANSUM", "ean": "4006381333932"},
            {**base, "sku": "SP ACE"},
            {**base, "sku": "DUP"}, {**base, "sku": "DUP"},
            {**base, "sku": "CLEAN"}]
    row = world.drop(table(rows))
    value_rules = {"model.max_length", "model.allowed", "content.ean.length", "content.ean.checksum",
                   "content.sku.whitespace", "content.sku.duplicate"}
    got = {(i["sku"], i["rule"]) for i in world.issues(row) if i["rule"] in value_rules}
    assert sorted(got) == sorted({("LEN", "model.max_length"), ("ALLOWED", "model.allowed"),
                                  ("EANLEN", "content.ean.length"), ("EANSUM", "content.ean.checksum"),
                                  ("SP ACE", "content.sku.whitespace"), ("DUP", "content.sku.duplicate")})
    assert len([i for i in world.issues(row) if i["rule"] in value_rules]) == 6


def test_variants_inherit_and_theme_and_orphans(world):
    rows = [{"sku": "P", "brand": "ACME", "category": "Koffer", "variation_theme": "SIZE/COLOR", "title_de": "Koffer",
             "ean": ""},
            {"sku": "P-S", "parent_sku": "P", "brand": "ACME", "size": "S", "color": "blau", "ean": "4006381333931"},
            {"sku": "P-M", "parent_sku": "P", "brand": "ACME", "size": "M", "ean": "4006381333948"},
            {"sku": "X-1", "parent_sku": "GONE", "brand": "ACME", "category": "Koffer", "title_de": "x", "color": "r"}]
    row = world.drop(table(rows))
    issues = world.issues(row)
    assert [(i["sku"], i["attribute"]) for i in issues if i["rule"] == "content.variant.theme_missing"] == \
        [("P-M", "color")]
    assert [i["sku"] for i in issues if i["rule"] == "content.variant.orphan"] == ["X-1"]
    matrix = {m["sku"]: m for m in world.read_csv(world.report_dir(row) / "matrix.csv")}
    assert matrix["P-S"]["manomano_de:de_DE"] == "100"   # title and category inherited from P
    assert list(matrix) == ["X-1", "P", "P-M", "P-S"]  # grouped by parent ("GONE" < "P") and matrix["P-M"]["parent_sku"] == "P"


def test_unknown_column_is_kept_and_reported_once(world):
    rows = [dict(WIDE[0], Farbcode="#0000ff"), dict(WIDE[1], Farbcode="#ff0000")]
    row = world.drop(table(rows))
    unknown = [i for i in world.issues(row) if i["rule"] == "content.unknown_column"]
    assert [(u["attribute"], u["severity"], u["sku"]) for u in unknown] == [("farbcode", "INFO", "")]
    stored = json.loads(world.app.store.db["content_products"].get("K1")["record"])
    assert stored["common"]["farbcode"] == "#0000ff"


def test_same_input_twice_gives_byte_identical_csvs(world):
    data = table(WIDE + [{"sku": "=2+3", "brand": "ACME", "category": "Koffer", "title_de": "=HYPERLINK(\"x\")"}])
    first = world.drop(data)
    again = world.drop(data)  # the same bytes: a duplicate in the engine's terms, checked again
    a, b = world.report_dir(first), world.run_dirs("ACME")[-1]
    assert a != b
    for name in ("issues.csv", "matrix.csv", "top-gaps.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert b"\r\n" not in (a / "issues.csv").read_bytes()
    assert again["duplicate_of"] == first["id"]
    matrix = (a / "matrix.csv").read_text()
    assert "\n'=2+3," in matrix and "\n=2+3" not in matrix   # spreadsheet-safe: never a formula
    assert world.app.store.db.execute("select count(*) from content_runs").fetchone()[0] == 2


def test_fixing_one_value_moves_exactly_one_issue_to_fixed(world):
    rows = [dict(WIDE[0]), dict(WIDE[1], color="")]
    world.drop(table(rows))
    rows[1]["color"] = "rot"
    row = world.drop(table(rows))
    diff = world.read_csv(world.report_dir(row) / "diff.csv")
    fixed = [d for d in diff if d["status"] == "fixed"]
    assert [(f["sku"], f["attribute"], f["rule"]) for f in fixed] == [("K2", "color", "model.required")]
    assert not [d for d in diff if d["status"] == "new"]
    assert {d["status"] for d in diff} == {"fixed", "still_open"}


def test_several_brands_give_one_run_each(world):
    rows = [dict(WIDE[0]), dict(WIDE[1], brand="OTHER")]
    row = world.drop(table(rows))
    assert [r["brand"] for r in row["summary"]["runs"]] == ["ACME", "OTHER"]
    assert [m["sku"] for m in world.read_csv(world.report_dir(row, "OTHER") / "matrix.csv")] == ["K2"]


def test_xlsx_file(world):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(WIDE[0]))
    for r in WIDE:
        ws.append([r.get(k, "") for k in WIDE[0]])
    buf = io.BytesIO()
    wb.save(buf)
    row = world.drop(buf.getvalue(), "content.xlsx")
    assert row["state"] == "done" and row["summary"]["skus"] == 2


def test_zip_with_table_images_and_parties(world):
    from .imagegen import jpeg, model_figure, packshot

    parties = "party_id;role;name;street;postal_code;city;country;email\nM1;manufacturer;Maker GmbH;Weg 1;10115;Berlin;DE;a@maker.example\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("export/content.csv", table(WIDE))
        z.writestr("export/img/k1.jpg", jpeg(packshot(1200, 1500)))
        z.writestr("export/img/k2.jpg", jpeg(model_figure(1200, 1500)))
        z.writestr("gpsr-parties.csv", parties)
    row = world.drop(buf.getvalue(), "drop.zip")
    assert row["state"] == "done", row["error"]
    issues = world.issues(row)
    assert not [i for i in issues if i["rule"].startswith("gpsr.manufacturer")]
    kinds = {r["sku"]: r["kind"] for r in world.app.store.db.query("select sku, kind from content_images")}
    assert kinds == {"K1": "packshot", "K2": "model"}


def test_zip_with_two_tables_is_refused(world):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.csv", table(WIDE))
        z.writestr("b.csv", table(WIDE))
    row = world.drop(buf.getvalue(), "drop.zip")
    assert row["error"]["reason"] == "zip_layout"
    assert not (world.app.outbox_dir / "reports" / "content").exists()


def test_party_file_alone_and_missing_party(world):
    row = world.drop("party_id,role,name,street,postal_code,city,country,email\n"
                     "M1,manufacturer,Maker,Weg 1,10115,Berlin,DE,a@maker.example\n", "gpsr-parties.csv")
    assert row["summary"] == {"parties": 1, "kind": "gpsr_parties"}
    row = world.drop(table([dict(WIDE[0]), dict(WIDE[1], manufacturer_id="NOPE")]))
    assert [(i["sku"], i["rule"]) for i in world.issues(row) if i["rule"] == "content.gpsr.party"] == \
        [("K2", "content.gpsr.party")]
    bad = world.drop("party_id,role,name,country\nM2,maker,X,DE\n", "gpsr-parties-2.csv")
    assert bad["error"]["reason"] == "party" and "line 2" in bad["error"]["where"]


def test_store_keeps_cells_products_payloads_and_gpsr(world):
    world.drop("party_id,role,name,street,postal_code,city,country,email\n"
               "M1,manufacturer,Maker,Weg 1,10115,Berlin,DE,a@maker.example\n", "gpsr-parties.csv")
    row = world.drop(table(WIDE))
    db = world.app.store.db
    run = row["summary"]["runs"][0]["run"]
    cells = list(db.query("select sku, platform, locale, required, missing, ratio from content_cells where run_id = ?",
                          [run]))
    assert {(c["sku"], c["platform"], c["locale"], c["required"], c["ratio"]) for c in cells} == \
        {("K1", "manomano_de", "de_DE", 2, 100), ("K2", "manomano_de", "de_DE", 2, 100)}
    payload = json.loads(db["content_payloads"].get(("K1", "manomano_de"))["payload"])
    assert payload["locales"]["de_DE"]["title"] == "Koffer Blau 55 cm" and payload["model"] == "manomano/suitcases"
    assert payload["gpsr"]["productSafety"]["name"] == "Maker"
    assert json.loads(db["content_gpsr"].get("K1")["record"])["identifiers"]["ean"] == "4006381333931"
    versions = json.loads(db["content_runs"].get(run)["model_versions"])
    assert list(versions) == ["manomano_de:manomano/suitcases"]


def test_status_section_and_no_platforms(world_factory):
    from marketd.plugins.content import status_sections

    w = world_factory(platforms={})
    assert status_sections(w.app) is None
    row = w.drop(table(WIDE))
    assert row["state"] == "done"
    assert "none configured" in (w.report_dir(row) / "summary.html").read_text()
    (line,) = status_sections(w.app)["content"]
    assert line.startswith("ACME: run 1 (file,") and "2 SKUs" in line


def test_uncertain_first_image_is_info_and_expectations_per_category(world_factory):
    from .imagegen import beige_knit, jpeg, model_figure, packshot

    platforms = {"shop": {"type": "file", "folder": "manomano", "locales": ["de_DE"], "gpsr": False,
                          "first_image": "packshot"}}
    w = world_factory(platforms=platforms, inbox={"images": {"expected": {"shop:Kleider": "model"}}})
    w.write_model("mapping.toml", '[categories."Koffer"]\nmanomano = "suitcases"\n'
                                  '[categories."Kleider"]\nmanomano = "suitcases"\n')
    rows = [{"sku": "KNIT", "brand": "B", "category": "Koffer", "title_de": "t", "color": "c", "image_1": "knit.jpg"},
            {"sku": "DRESS", "brand": "B", "category": "Kleider", "title_de": "t", "color": "c", "image_1": "pack.jpg"},
            {"sku": "MODEL", "brand": "B", "category": "Kleider", "title_de": "t", "color": "c", "image_1": "model.jpg"}]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("c.csv", table(rows))
        z.writestr("knit.jpg", jpeg(beige_knit(800, 1000)))
        z.writestr("pack.jpg", jpeg(packshot(800, 1000)))
        z.writestr("model.jpg", jpeg(model_figure(800, 1000)))
    row = w.drop(buf.getvalue(), "c.zip")
    got = {(i["sku"], i["rule"], i["severity"], i["expected"]) for i in w.issues(row) if i["rule"].startswith("image.")}
    assert got == {("KNIT", "image.first_uncertain", "INFO", "packshot"),
                   ("DRESS", "image.first_kind", "WARNING", "model")}
    matrix = {m["sku"]: m["blocking"] for m in w.read_csv(w.report_dir(row) / "matrix.csv")}
    assert matrix == {"DRESS": "", "KNIT": "", "MODEL": ""}
