"""The carrier-call ledger on its own (plugins/shipments/ledger.py): each test kills a mutant the
mutation run (``make mutate``, docs/dev/mutation.md) left alive through the shipment-file tests."""
from __future__ import annotations

from marketd.plugins.shipments.ledger import CALLING, CREATED, DONE, FAILED, Ledger
from marketd.sdk import Label, LabelFormat, Message, ParcelResult, ShipmentResult


def result(confirmed=True, ok=True) -> ShipmentResult:
    messages = [] if ok else [Message("brt", "refused", "E1", "error")]
    return ShipmentResult("brt", "S-1", [ParcelResult("P1", "T1", Label(b"%PDF-1", LabelFormat.PDF))], messages,
                          "https://track/T1", {"depot": "102"}, confirmed)


def test_an_unconfirmed_answer_comes_back_unconfirmed_with_its_meta(tmp_path):
    """A created-but-unconfirmed shipment (MALL before its confirm call) must not read back as
    confirmed: a re-run would skip the confirmation."""
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.begin("k1", "brt", {"order": "1"}, claim="f1")
    ledger.finish("k1", result(confirmed=False))
    back = ledger.result("k1")
    assert ledger.get("k1")["state"] == CREATED and back.confirmed is False
    assert back.meta == {"depot": "102"} and back.parcels[0].label.data == b"%PDF-1"
    ledger.close()


def test_unresolved_lists_calls_without_a_final_answer_in_call_order(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    for key in ("a", "b", "c", "d"):
        ledger.begin(key, "brt", {})
    ledger.finish("b", result())                   # done
    ledger.finish("c", result(confirmed=False))    # created: may exist at the carrier
    ledger.set_state("d", FAILED, result(ok=False))
    rows = ledger.unresolved()
    assert [(r["key"], r["state"]) for r in rows] == [("a", CALLING), ("c", CREATED)]
    assert all(r["started_at"] for r in rows)
    assert ledger.get("d")["state"] == FAILED and ledger.result("d").messages[0].text == "refused"
    assert ledger.get("b")["state"] == DONE and ledger.get("b")["finished_at"]
    ledger.close()


def test_pruning_labels_says_how_many_went(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.begin("k", "brt", {})
    ledger.finish("k", result())
    assert ledger.prune_labels(30) == 0          # finished now: kept for reprints
    assert ledger.prune_labels(-1) == 1          # older than "in a day": its label bytes go
    assert ledger.result("k").parcels[0].label is None
    ledger.close()


def test_an_answer_recorded_before_confirmed_existed_reads_as_confirmed():
    """Ledgers written before the ``confirmed`` key hold only confirmed shipments."""
    from marketd.plugins.shipments.ledger import result_from_json

    old = '{"carrier": "brt", "shipment_id": "S-1", "parcels": [{"parcel_number": "P1", "tracking_number": "T1"}]}'
    assert result_from_json(old, {}).confirmed is True
