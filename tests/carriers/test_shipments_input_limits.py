"""Shipment files that used to crash the handler or hang the log: each ends as a clean rejection
(the file, or the line) that says where, and nothing of a buyer's row reaches the log."""
from __future__ import annotations

import csv
import json
import logging

import pytest

from marketd.plugins.shipments.lines import MAX_JSON_DEPTH, MAX_TEXT

from .conftest import add_order, drop, outputs


def read_csv(path):
    return list(csv.DictReader(path.open(encoding="utf-8")))


def error_of(rec) -> dict:
    assert rec["state"] == "error", rec
    err = json.loads(rec["error"])
    assert not err["reason"].startswith("plugin_error"), err
    return err


@pytest.mark.parametrize("name, text, reason, where", [
    ("deep.json", "[" * 100_000 + "]" * 100_000, "json_too_deep", "line 1, column 33"),
    ("deepish.json", '{"shipments": ' + "[" * (MAX_JSON_DEPTH + 5) + "]" * (MAX_JSON_DEPTH + 5) + "}",
     "json_too_deep", "field $.shipments" + "[1]" * 13 + "… (level 33)"),
    ("surrogate.json", '{"shipments": [{"order": "402-1", "carrier": "brt", "weight_kg": 1, '
                       '"recipient": {"name": "Ann\\ud800"}}]}', "encoding", "field $.shipments[1].recipient.name"),
    ("surrogate-key.json", '{"shipments": [{"\\udc00": 1}]}', "encoding", "field $.shipments[1] (a key)"),
    ("latin1.json", '{"shipments": [{"order": "402-1", "notes": "caf\xe9"}]}', "encoding", "line 1, byte 47"),
])
def test_broken_json_files_are_rejected_with_the_place(make_app, tmp_path, name, text, reason, where):
    app = make_app()
    src = tmp_path / "drops" / name
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(text.encode("latin-1") if name == "latin1.json" else text.encode("utf-8", "surrogatepass"))
    from marketd.inbox import InboxEngine

    rec = InboxEngine(app).adopt("shipments", src)
    err = error_of(rec)
    assert err["reason"] == reason, err
    assert err["where"] == where and err["fix"], err


def test_odd_json_values_reject_their_line_naming_the_field(make_app, brt_fake, tmp_path):
    """``"orders": [1]`` used to crash joining order numbers; a 5,000-digit integer raised
    ValueError from Python's int limit; objects, lists and booleans where text belongs, NaN."""
    app = make_app(inbox={"concurrency": 1})
    for i in range(1, 4):
        add_order(app, f"40{i}")
    big = "9" * 5000
    entries = [
        {"orders": [401], "carrier": "brt", "weight_kg": 1},                       # a JSON number: fine
        {"orders": [{"id": 1}], "carrier": "brt", "weight_kg": 1},
        {"order": "402", "carrier": "brt", "weight_kg": "BIG"},
        {"order": "403", "carrier": ["brt"], "weight_kg": 1},
        {"order": "403", "carrier": "brt", "weight_kg": 1, "recipient": "Mario Rossi"},
        {"order": "403", "carrier": "brt", "weight_kg": 1, "parcel_count": "BIG"},
        {"order": "403", "carrier": "brt", "parcels": [{"weight_kg": True}]},
        {"order": "403", "carrier": "brt", "weight_kg": 1, "notes": "x" * (MAX_TEXT + 1)},
        {"order": "403", "carrier": "brt", "weight_kg": 1, "recipient": {"name": {"first": "Mario"}}},
        {"order": "403", "carrier": "brt", "weight_kg": 1, "cod": {"amount": "NAN", "currency": "EUR"}},
        7,
    ]
    text = json.dumps({"shipments": entries}).replace('"BIG"', big).replace('"NAN"', "NaN")
    rec = drop(app, tmp_path, "odd.json", text)
    assert rec["state"] == "done", rec
    rejects = {r["line"]: r for r in read_csv(outputs(app, "labels/rejects-*.csv")[0])}
    assert sorted(rejects, key=int) == [str(i) for i in range(2, 12)]
    columns = {line: r["column"] for line, r in rejects.items()}
    assert columns == {"2": "orders[1]", "3": "weight_kg", "4": "carrier", "5": "recipient", "6": "parcel_count",
                       "7": "parcels[1].weight_kg", "8": "notes", "9": "recipient.name", "10": "cod.amount",
                       "11": "shipments[11]"}
    assert all(r["reason"] == "invalid_line" and r["fix"] for r in rejects.values())
    assert "at most 1000" in rejects["8"]["message"] and "5000 characters long" in rejects["3"]["message"]
    assert brt_fake.creates == 1


def test_overlong_csv_cells_reject_the_line_without_quoting_them_whole(make_app, brt_fake, tmp_path, caplog):
    app = make_app(inbox={"concurrency": 1})
    add_order(app, "402-1")
    add_order(app, "402-2")
    weight = "1" + "5" * 130_000
    text = ("order;carrier;weight_kg;notes\n"
            f"402-1;brt;{weight};\n"
            f"402-2;brt;1;{'n' * 5000}\n")
    with caplog.at_level(logging.INFO):
        rec = drop(app, tmp_path, "long.csv", text)
    assert rec["state"] == "done", rec
    rejects = read_csv(outputs(app, "labels/rejects-*.csv")[0])
    assert [(r["line"], r["column"]) for r in rejects] == [("2", "weight_kg"), ("3", "notes")]
    assert all(len(r["message"]) < 300 for r in rejects)  # the value is quoted as an excerpt
    assert "130001 characters" in rejects[0]["message"]
    assert max(len(r.getMessage()) for r in caplog.records) < 2000


def test_a_file_without_a_header_line_does_not_log_its_first_row(make_app, tmp_path, caplog):
    """The first data row (name, street, phone) was quoted as the "header" in `missing_column`."""
    app = make_app()
    text = ("402-1;brt;1;Mario Rossi;Via Roma 1;00184;Roma;+39061234567\n"
            "402-2;brt;1;Anna Bianchi;Via Verdi 3;20121;Milano;+39021234567\n")
    with caplog.at_level(logging.DEBUG):
        rec = drop(app, tmp_path, "noheader.csv", text)
    err = error_of(rec)
    assert err["reason"] == "missing_column" and "header line missing" in err["where"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "rejected shipments/noheader.csv" in logged
    for personal in ("Mario", "Rossi", "Via Roma", "39061234567", "Anna", "Bianchi"):
        assert personal not in logged and personal not in json.dumps(err)


def test_a_buyer_name_in_the_recipient_column_is_not_logged(make_app, tmp_path, caplog):
    """An ERP that writes the buyer's name into ``recipient`` (meant for 'order') had it logged
    unmasked in the ``invalid_line`` warning; it stays in the private rejects file only."""
    app = make_app()
    add_order(app, "402-1")
    text = "order,carrier,weight_kg,recipient\n402-1,brt,1,Mario Rossi\n"
    with caplog.at_level(logging.DEBUG):
        drop(app, tmp_path, "name.csv", text)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "name.csv line 2 rejected: invalid_line" in logged
    assert "Mario" not in logged and "Rossi" not in logged
    rejects = read_csv(outputs(app, "labels/rejects-*.csv")[0])
    assert rejects[0]["column"] == "recipient" and "Mario Rossi" in rejects[0]["message"]


def test_values_of_bad_columns_stay_out_of_the_log(make_app, tmp_path, caplog):
    """A shifted row puts a street or a phone number into a number column: the log names the
    column and the line, never the value."""
    app = make_app()
    add_order(app, "402-1")
    add_order(app, "402-2")
    text = "order,carrier,weight_kg,parcel_count\n402-1,brt,Via Roma 1,1\n402-2,brt,1,+39061234567\n"
    with caplog.at_level(logging.DEBUG):
        drop(app, tmp_path, "shifted.csv", text)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "line 2 rejected" in logged and "weight_kg is not a number" in logged
    assert "line 3 rejected" in logged and "parcel_count is not a whole number" in logged
    assert "Roma" not in logged and "39061234567" not in logged


@pytest.mark.timeout(60)
def test_masking_a_two_megabyte_message_is_linear():
    """``_mask`` ran one regex per word of every personal value plus a quadratic e-mail pattern."""
    from marketd.plugins.shipments.handler import _mask

    many_words = " ".join(f"w{i:06d}" for i in range(200_000))  # a 1.6 MB "name"
    text = "a" * (2 * 1024 * 1024) + " Mario Rossi, Via Roma 1, mario.rossi@example.it, w000007"
    out = _mask(text, ["Mario Rossi", "Via Roma 1", many_words, "RM"])
    assert out.endswith(" ***, ***, ***@***, ***")
    assert _mask("Roma e RM; Romano", ["Via Roma 1", "RM"]) == "*** e RM; Romano"
