"""FatturaPA (FPR12) for an Italian seller's business buyers: written into the SdI
intermediary's folder (0600, SdI's file name), validated with a38's FatturaPA model (the
official XSD is not available offline), amounts that pass SdI's arithmetic checks, TD04 credit
notes linked to their invoice, consumers left out, a 0 % line blocked before it takes a number,
and the same bytes on a re-render after a crash."""
from __future__ import annotations

import io
import json
import re
import stat
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

FPA = {"intermediary": "aruba", "transmitter_id": "01879020517", "province": "MI"}
SELLER_IT = {"name": "Bottega Srl", "address": ["Via Roma 1", "20121 Milano", "IT"], "vat_id": "IT01234567890",
             "country": "IT", "footer": []}


@pytest.fixture
def env(make_env):
    return make_env(seller=SELLER_IT, vat_rate="22", fatturapa=FPA,
                    channels={"amz": {"vat_rate": "22"}})


def _order(env, oid, *, vat_id="", country="IT", items=None, total="61.00"):
    return env.order(oid, total=total, items=items or [
        {"sku": "VASO-1", "title": "Vaso in ceramica", "quantity": 2, "unit_price": "18.30"},
        {"sku": "PIATTO", "title": "Piatto", "quantity": 1, "unit_price": "24.40"}],
        ship_to={"name": "Ferramenta Rossi Srl", "street": "Corso Buenos Aires 3", "postal_code": "20124",
                 "city": "Milano", "country": country, "vat_id": vat_id})


def _xml_files(env) -> list[Path]:
    return sorted((env.app.outbox_dir / "fatturapa" / "aruba").glob("*.xml"))


def _a38_errors(data: bytes) -> list[str]:
    import a38.fattura
    from a38.validation import Validation

    fattura = a38.fattura.auto_from_etree(ET.parse(io.BytesIO(data)).getroot())
    v = Validation()
    fattura.validate(v)
    # a38 reads SdI check 00426 both ways; SdI's own text refuses only a PECDestinatario beside a
    # code other than 0000000. 0000000 without PEC is how an invoice goes to a buyer whose channel
    # the seller does not know (SdI delivers to the buyer's registered channel or reserved area).
    return [str(e) for e in v.errors if not (e.code == "00426" and "has no value" in e.msg)]


def test_business_buyers_get_a_fatturapa_that_a38_validates_and_sdi_arithmetic_holds(env):
    it = _order(env, "IT-1", vat_id="IT09876543210")
    de = _order(env, "DE-1", vat_id="DE123456789", country="DE")
    _order(env, "B2C-1")                                    # a consumer: the PDF only
    env.run()
    docs = {d["order_key"]: d for d in env.docs()}
    assert len(docs) == 3
    files = _xml_files(env)
    assert [f.name for f in files] == [f"IT01879020517_{n:05d}.xml" for n in sorted(
        (docs[it]["id"], docs[de]["id"]))]
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        assert _a38_errors(f.read_bytes()) == []
    by_order = {}
    for f in files:
        root = ET.parse(f).getroot()
        by_order[root.findtext(".//DatiGeneraliDocumento/Numero")] = root
    x = by_order[docs[it]["doc_no"]]
    assert x.get("versione") == "FPR12"
    assert x.findtext(".//CodiceDestinatario") == "0000000"
    assert x.findtext(".//DatiGeneraliDocumento/TipoDocumento") == "TD01"
    assert x.findtext(".//CessionarioCommittente//IdCodice") == "09876543210"
    assert x.findtext(".//CedentePrestatore/Sede/Provincia") == "MI"
    assert x.findtext(".//CedentePrestatore/Sede/CAP") == "20121"
    assert x.findtext(".//ImportoTotaleDocumento") == docs[it]["total_gross"] == "61.00"
    # SdI's checks: unit × quantity = line total (00423), per rate Σ lines = base (00422),
    # tax = base × rate (00421), base + tax + rounding = the document total
    lines = x.findall(".//DettaglioLinee")
    for d in lines:
        assert abs(Decimal(d.findtext("PrezzoUnitario")) * Decimal(d.findtext("Quantita"))
                   - Decimal(d.findtext("PrezzoTotale"))) <= Decimal("0.01")
    (summary,) = x.findall(".//DatiRiepilogo")
    base, tax = Decimal(summary.findtext("ImponibileImporto")), Decimal(summary.findtext("Imposta"))
    assert base == sum(Decimal(d.findtext("PrezzoTotale")) for d in lines)
    assert tax == (base * Decimal("0.22")).quantize(Decimal("0.01"))
    rounding = Decimal(x.findtext(".//Arrotondamento") or "0")
    assert base + tax + rounding == Decimal("61.00")
    assert by_order[docs[de]["doc_no"]].findtext(".//CodiceDestinatario") == "XXXXXXX"
    assert by_order[docs[de]["doc_no"]].findtext(".//CessionarioCommittente/Sede/CAP") == "00000"


def test_a_credit_note_is_td04_linked_to_its_invoice(env):
    key = _order(env, "IT-2", vat_id="IT09876543210")
    env.run()
    env.app.store.upsert_order({"key": key, "channel": "amz", "order_id": "IT-2", "status": "REFUNDED"})
    env.run()
    inv, cn = env.docs("invoice")[0], env.docs("credit_note")[0]
    roots = {ET.parse(f).getroot().findtext(".//TipoDocumento"): ET.parse(f).getroot() for f in _xml_files(env)}
    assert set(roots) == {"TD01", "TD04"}
    linked = roots["TD04"].find(".//DatiFattureCollegate")
    assert (linked.findtext("IdDocumento"), linked.findtext("Data")) == (inv["doc_no"], inv["issue_date"])
    assert roots["TD04"].findtext(".//Numero") == cn["doc_no"]
    assert all(_a38_errors(f.read_bytes()) == [] for f in _xml_files(env))


def test_a_zero_rate_line_is_blocked_before_a_number_is_taken(env):
    _order(env, "IT-3", vat_id="IT09876543210", total="10.00",
           items=[{"sku": "LIBRO", "title": "Libro", "quantity": 1, "unit_price": "10.00", "vat_rate": "0"}])
    env.run()
    assert env.docs() == [] and _xml_files(env) == []
    (b,) = env.db.query("select * from documents_blocked")
    assert b["reason"] == "einvoice_invalid" and "Natura" in b["message"]


def test_a_re_render_after_a_crash_writes_the_same_xml(env):
    _order(env, "IT-4", vat_id="IT09876543210")
    env.run()
    (f,) = _xml_files(env)
    first = f.read_bytes()
    f.unlink()
    with env.app.store.transaction() as db:
        db.execute("update documents set state = 'numbered'")
    env.run()
    assert f.read_bytes() == first
    assert json.loads(env.docs()[0]["snapshot"])["einvoice"] == "fatturapa"


def test_a38_refuses_a_broken_document(env):
    """The validator can fail: a document without its number is an error for a38."""
    _order(env, "IT-5", vat_id="IT09876543210")
    env.run()
    (f,) = _xml_files(env)
    data = f.read_bytes()
    assert _a38_errors(data) == []
    no_number = re.sub(rb"<Numero>[^<]*</Numero>", b"", data)
    assert any("numero: missing value" in e for e in _a38_errors(no_number))
    bad_type = data.replace(b"<TipoDocumento>TD01", b"<TipoDocumento>TD99")
    assert any("TD99" in e for e in _a38_errors(bad_type))
