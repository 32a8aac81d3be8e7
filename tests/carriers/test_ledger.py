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


def test_a_second_answer_replaces_the_first_ones_labels(tmp_path):
    """A ``created`` call finished again (its confirmation, or a recovered answer) keeps only the
    labels of the last answer: a reprint must never print the first answer's label."""
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.begin("k", "brt", {})
    ledger.finish("k", ShipmentResult("brt", "S-1", [ParcelResult("P1", "T1", Label(b"%PDF-old", LabelFormat.PDF)),
                                                     ParcelResult("P2", "T2", Label(b"%PDF-two", LabelFormat.PDF))],
                                      [], "", {}, False))
    ledger.finish("k", ShipmentResult("brt", "S-1", [ParcelResult("P1", "T1", Label(b"ZPL-new", LabelFormat.ZPL))],
                                      [], "", {}, True))
    back = ledger.result("k")
    assert [(p.parcel_number, p.label.data, p.label.format) for p in back.parcels] == [
        ("P1", b"ZPL-new", LabelFormat.ZPL)]
    assert ledger.conn.execute("select count(*) from call_labels where key = 'k'").fetchone()[0] == 1
    ledger.close()


def test_a_ledger_written_before_the_claim_column_gets_it(tmp_path):
    """Ledgers of earlier versions have no ``claim``: opening one adds the column, so a requeued
    file's new attempt can be told from the failed one of an earlier claim."""
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.execute("create table calls (seq integer primary key autoincrement, key text unique not null, "
                    "carrier text not null, state text not null, request text, result text, "
                    "attempts integer not null default 0, started_at text, finished_at text)")
        old.execute("insert into calls (key, carrier, state, attempts) values ('k0', 'brt', 'failed', 1)")
    old.close()
    ledger = Ledger(path)
    assert ledger.get("k0")["claim"] is None
    ledger.begin("k1", "brt", {}, claim="file-7")
    assert ledger.get("k1")["claim"] == "file-7"
    ledger.close()


def test_a_closed_ledger_refuses_writes(tmp_path):
    """At shutdown the ledger is closed: a worker thread still running must not write into it
    (the commit-before-call order would break unseen)."""
    import sqlite3

    import pytest

    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.begin("k", "brt", {})
    ledger.close()
    with pytest.raises(sqlite3.ProgrammingError, match="is closed"):
        ledger.begin("k2", "brt", {})


def test_an_answer_that_cannot_be_stored_leaves_the_call_as_it_was(tmp_path):
    """``finish`` is one transaction: when a label cannot be written the answer is not half
    recorded (the call stays ``calling``, so the in-flight policy decides at the re-run) and the
    ledger takes the next call."""
    import pytest

    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.begin("k", "brt", {})
    broken = ShipmentResult("brt", "S-1", [ParcelResult("P1", "T1", Label([1, 2], LabelFormat.PDF))], [], "", {}, True)
    with pytest.raises(Exception):
        ledger.finish("k", broken)
    row = ledger.get("k")
    assert (row["state"], row["result"], row["finished_at"]) == (CALLING, None, None)
    ledger.begin("k2", "brt", {})
    ledger.finish("k2", result())
    assert ledger.get("k2")["state"] == DONE
    ledger.close()


def test_forget_drops_only_an_intent_still_calling(tmp_path):
    """``forget`` is for an intent that provably never reached the carrier: it goes, so the next
    attempt starts afresh; an answered call is never forgotten."""
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.begin("never-sent", "brt", {})
    ledger.begin("answered", "brt", {})
    ledger.finish("answered", result())
    ledger.forget("never-sent")
    ledger.forget("answered")
    assert ledger.get("never-sent") is None and ledger.get("answered")["state"] == DONE
    ledger.close()


def test_a_state_set_without_an_answer_is_recorded(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.begin("k", "brt", {})
    ledger.set_state("k", FAILED)
    row = ledger.get("k")
    assert row["state"] == FAILED and row["finished_at"] and row["result"] is None
    ledger.close()


def test_an_intent_that_cannot_be_written_leaves_the_ledger_usable(tmp_path):
    """``begin`` is one transaction: a refused insert rolls back, and the next call commits."""
    import sqlite3

    import pytest

    ledger = Ledger(tmp_path / "l.sqlite")
    with pytest.raises(sqlite3.IntegrityError):
        ledger.begin(None, "brt", {})
    assert ledger.begin("k", "brt", {})["state"] == CALLING
    ledger.close()
