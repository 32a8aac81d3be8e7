"""A content file of 50,000 SKUs × 4 locales (200,000 rows, long layout) goes through the real
engine in one piece: every SKU in the matrix, every cell stored, a re-run byte-identical. Timing
is the bench's business (bench/bench_content.py); this only proves the size works."""
from __future__ import annotations

import pytest

from .conftest import ContentWorld

LOCALES = ["de_DE", "fr_FR", "it_IT", "es_ES"]


@pytest.mark.slow
def test_fifty_thousand_skus_in_four_locales(tmp_path):
    platforms = {"manomano": {"type": "file", "locales": LOCALES, "gpsr": False}}
    w = ContentWorld(tmp_path, platforms=platforms, inbox={"xlsx": False})
    w.write_model("mapping.toml", '[categories."Koffer"]\nmanomano = "suitcases"\n')
    lines = ["sku;locale;brand;category;title;color"]
    for n in range(50_000):
        for loc in LOCALES:
            lines.append(f"S{n:05d};{loc};ACME;Koffer;{'' if n % 1000 == 0 else 'Titel ' + str(n)};rot")
    data = "\n".join(lines) + "\n"
    try:
        row = w.drop(data, "big.csv")
        assert row["state"] == "done", row["error"]
        run = row["summary"]["runs"][0]
        assert row["summary"]["skus"] == 50_000 and run["errors"] == 200   # 50 SKUs without a title × 4 locales
        d = w.report_dir(row)
        matrix = (d / "matrix.csv").read_text().splitlines()
        assert len(matrix) == 50_001 and matrix[0] == "sku,parent_sku," + ",".join(
            f"manomano:{loc}" for loc in sorted(LOCALES)) + ",blocking"
        cells = w.app.store.db.execute("select count(*) from content_cells where run_id = ?", [run["run"]]).fetchone()
        assert cells[0] == 200_000
        again = w.drop(data, "big.csv")
        d2 = w.run_dirs("ACME")[-1]
        assert again["duplicate_of"] and (d2 / "issues.csv").read_bytes() == (d / "issues.csv").read_bytes()
    finally:
        w.close()
