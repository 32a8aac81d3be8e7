"""An external invoicing provider: due orders exported once in the neutral shape (0600), the
provider's PDFs taken back from inbox/provider-invoices/ (matched by name, total checked in the
PDF's text), recorded and filed like our own invoices, then uploaded or listed the same way."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from marketd.sdk.testing import process_file


def provider_env(make_env):
    return make_env(channels={"ext": {"issuer": "provider", "provider": "bitztobe", "upload": "manual"}})


def pdf(tmp_path: Path, name: str, lines: list[str]) -> Path:
    from fpdf import FPDF

    doc = FPDF()
    doc.add_page()
    doc.set_font("Helvetica", size=11)
    for line in lines:
        doc.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / name
    path.write_bytes(bytes(doc.output()))
    return path


def test_due_orders_are_exported_once_for_the_provider(make_env):
    env = provider_env(make_env)
    env.order("O-1", channel="ext")
    env.order("O-2", channel="ext", status="UNSHIPPED")
    env.run()
    env.run()
    folder = env.app.outbox_dir / "invoicing" / "bitztobe"
    (path,) = folder.iterdir()
    assert path.name == "ext_O-1.json" and stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == "marketd-invoicing-order/1"
    assert doc["order"]["order_id"] == "O-1" and doc["totals"]["gross"] == "23.80"
    assert doc["buyer"]["name"] == "Jana Nováková" and [l["sku"] for l in doc["lines"]] == ["MUG-1", "CUP-2"]
    assert env.docs() == []  # marketd itself issues nothing for this account


def test_the_providers_pdf_is_matched_checked_filed_and_listed_for_upload(make_env, tmp_path):
    import csv

    env = provider_env(make_env)
    env.order("O-1", channel="ext")
    env.run()
    rec = process_file(env.app, "provider-invoices",
                       pdf(tmp_path, "O-1__RE-2026-0042.pdf", ["Rechnung RE-2026-0042", "Gesamtbetrag 23,80 EUR"]))
    assert rec["state"] == "done", rec["error"]
    (doc,) = env.docs()
    assert (doc["series"], doc["doc_no"], doc["state"], doc["total_gross"]) == ("provider:bitztobe", "RE-2026-0042",
                                                                                "published", "23.80")
    path = Path(doc["pdf_path"])
    assert path == env.app.outbox_dir / "invoices" / "ext" / "2026" / "RE-2026-0042.pdf"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    env.run()
    pending = env.app.outbox_dir / "reports" / "invoices-pending-upload-ext.csv"
    assert [r["doc_no"] for r in csv.DictReader(pending.open(encoding="utf-8"))] == ["RE-2026-0042"]
    from marketd.plugins.invoices.numbering import check

    assert check(env.db) == []  # the provider's series is not one of our gap-free counters


@pytest.mark.parametrize("name, lines, reason", [
    ("O-1__RE-1.pdf", ["Gesamtbetrag 99,00 EUR"], "total_mismatch"),
    ("O-1.pdf", ["Gesamtbetrag 23,80 EUR"], "bad_name"),
    ("NOPE__RE-1.pdf", ["Gesamtbetrag 23,80 EUR"], "unknown_order"),
])
def test_a_provider_pdf_that_does_not_fit_is_refused(make_env, tmp_path, name, lines, reason):
    env = provider_env(make_env)
    env.order("O-1", channel="ext")
    rec = process_file(env.app, "provider-invoices", pdf(tmp_path, name, lines))
    assert rec["state"] == "error" and rec["error"]["reason"] == reason, rec["error"]
    assert env.docs() == []


def test_a_file_that_is_not_a_pdf_is_refused(make_env, tmp_path):
    env = provider_env(make_env)
    env.order("O-1", channel="ext")
    bad = tmp_path / "O-1__RE-1.pdf"
    bad.write_bytes(b"<html>session expired</html>")
    rec = process_file(env.app, "provider-invoices", bad)
    assert rec["error"]["reason"] == "not_a_pdf"
