"""Settlement files that used to crash the handler (a report for a person instead of a reason),
and settlements that pay an order line another settlement paid already."""
from __future__ import annotations

import json
from datetime import timedelta

import openpyxl
import pytest

from marketd.inbox import InboxEngine

from .settlement_samples import (Settlement, join_rows, line_of, make_env, order_lines, other_line, refund_lines,
                                 render_v2, set_cell, split_rows)
from .spapi_fixtures import *  # noqa: F401,F403  (fixtures: fake, make_app, clock …)


@pytest.fixture
def env(app_factory):
    return make_env(app_factory)


def good(*, bom: bool = False, sid: str = "24288684721", orders=("302-1111111-1111111",)) -> bytes:
    lines = [ln for o in orders for ln in order_lines(o, sku="SKU-A")] + [other_line("Storage Fee", "-7.21")]
    return render_v2(Settlement(settlement_id=sid, lines=lines), bom=bom)


def rejected(row) -> dict:
    assert row["state"] == "error", row
    err = json.loads(row["error"])
    assert not err["reason"].startswith("plugin_error"), err
    return err


def workbook_cells(path) -> list[str]:
    wb = openpyxl.load_workbook(path, read_only=True)
    return [c for ws in wb.worksheets for r in ws.iter_rows(values_only=True) for c in r if isinstance(c, str)]


# -- dates -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("line, column, value", [
    (2, "deposit-date", "9999-12-31T23:59:59-01:00"),      # year 10000 once the offset is applied
    (2, "settlement-start-date", "0000-01-01T00:00:00+01:00"),
    (3, "posted-date-time", "9999-12-31T23:59:59-01:00"),
    (4, "posted-date-time", "01.01.1900 00:00:00 UTC"),
])
def test_dates_beyond_any_settlement_are_refused_with_line_and_column(env, line, column, value):
    err = rejected(env.drop("dates.txt", set_cell(good(), line, column, value)))
    assert err["reason"] == "bad_date" and err["where"] == f"line {line}, column {column!r}", err
    assert "outside the years 1990–2199" in err["message"] and value in err["message"]


def test_dates_within_the_accepted_years_still_pass(env):
    data = set_cell(set_cell(good(), 3, "posted-date-time", "2199-12-31T23:59:59+00:00"), 4, "posted-date-time",
                    "1990-01-01T00:00:00+00:00")
    row = env.drop("edges.txt", data)
    assert row["state"] == "done", row["error"]


# -- text a workbook cannot hold -------------------------------------------------------------------
@pytest.mark.parametrize("column", ["sku", "amount-description", "order-id", "marketplace-name", "transaction-type",
                                    "settlement-id"])
def test_control_characters_in_text_columns_do_not_break_the_workbook(env, column):
    rows = split_rows(good())
    col = rows[0].index(column)
    for r in rows[1 if column == "settlement-id" else 2:]:
        r[col] = r[col][:3] + "\x01\x0b\x1f" + r[col][3:]
    row = env.drop("ctl.txt", join_rows(rows))
    assert row["state"] == "done", row["error"]
    cells = workbook_cells(next(env.reports.glob("settlement-*.xlsx")))
    assert any("\ufffd\ufffd\ufffd" in c for c in cells)
    assert not any(ch in c for c in cells for ch in "\x01\x0b\x1f")


def test_a_nul_byte_in_a_text_column_far_into_the_file_ends_with_a_reason(env):
    """NUL bytes in the first 64 KiB mark a binary file; further down they sat in a text column
    and failed the workbook (openpyxl IllegalCharacterError)."""
    orders = [f"302-{i:07d}-1111111" for i in range(400)]
    rows = split_rows(good(orders=orders))
    assert len(join_rows(rows)) > 70_000
    col = rows[0].index("amount-description")
    rows[-2][col] = "Princ\x00ipal"
    row = env.drop("nul.txt", join_rows(rows))
    if row["state"] == "error":
        assert rejected(row)["reason"] == "binary"
    else:
        assert row["state"] == "done", row
        assert not any("\x00" in c for c in workbook_cells(next(env.reports.glob("settlement-*.xlsx"))))


# -- encodings -------------------------------------------------------------------------------------
@pytest.mark.parametrize("column", ["settlement-id", "fulfillment-id", "sku", "amount-description"])
def test_a_bom_file_with_a_bad_byte_names_encoding_line_and_byte(env, column):
    """The BOM says UTF-8; a byte that is not (here 0xff) is reported wherever it is, also in a
    column the parser does not read (pandas skipped those, or raised a bare UnicodeDecodeError)."""
    data = good(bom=True)
    line = line_of(data, "Commission")
    rows = data[3:].split(b"\n")
    cells = rows[line - 1].split(b"\t")
    header = rows[0].decode().split("\t")
    cells[header.index(column)] = b"x\xff" + cells[header.index(column)]
    rows[line - 1] = b"\t".join(cells)
    bad = b"\xef\xbb\xbf" + b"\n".join(rows)
    err = rejected(env.drop("bom.txt", bad))
    offset = bad.index(b"\xff")
    assert err["reason"] == "encoding" and err["where"] == f"line {line}, byte {offset}", err
    assert "0xff" in err["message"] and "utf-8" in err["message"] and "byte-order mark" in err["message"]


# -- overlapping settlements -----------------------------------------------------------------------
def test_an_order_line_paid_by_another_settlement_is_flagged(env):
    """Real settlements never overlap: paying the sale of an order line again (a new settlement
    id) is a double payment or a re-issued copy; the report says which lines and which earlier
    settlement. A refund of the line later, or another SKU of the same order, is not flagged."""
    first = order_lines("302-1111111-1111111", sku="SKU-A") + order_lines("302-2222222-2222222", sku="SKU-B")
    assert env.drop("s1.txt", render_v2(Settlement(settlement_id="111", lines=first)))["state"] == "done"
    second = (order_lines("302-1111111-1111111", sku="SKU-A")            # paid again: flagged
              + order_lines("302-1111111-1111111", sku="SKU-C")          # another item of the order: fine
              + refund_lines("302-2222222-2222222", sku="SKU-B")         # a refund of a paid line: fine
              + order_lines("302-3333333-3333333", sku="SKU-A"))         # a new order: fine
    row = env.drop("s2.txt", render_v2(Settlement(settlement_id="222", lines=second)))
    assert row["state"] == "done", row["error"]
    summary = json.loads(row["summary"])
    assert summary["paid_before"] == 1
    assert any("already paid by payout(s) 111" in w for w in summary["warnings"])
    wb = openpyxl.load_workbook(env.report("settlement-amazon-222.xlsx"), read_only=True)
    sheet = [r for r in wb["Paid before"].iter_rows(values_only=True)]
    assert sheet[0][:3] == ("order_ref", "item", "also paid by payout")
    assert [r[:3] for r in sheet[1:] if len(r) > 2 and r[1]] == [("302-1111111-1111111", "SKU-A", "111")]
    assert any("already paid by payout(s) 111" in (c or "") for r in wb["Summary"].iter_rows(values_only=True)
               for c in r if isinstance(c, str))
    # a third settlement paying nothing twice carries no flag and no sheet
    row = env.drop("s3.txt", render_v2(Settlement(settlement_id="333",
                                                  lines=order_lines("302-4444444-4444444", sku="SKU-A"))))
    assert "paid_before" not in json.loads(row["summary"])
    assert "Paid before" not in openpyxl.load_workbook(env.report("settlement-amazon-333.xlsx"),
                                                       read_only=True).sheetnames


def test_forgetting_a_settlement_forgets_its_paid_lines(env):
    from marketd.plugins.settlements.apply import forget

    data = render_v2(Settlement(settlement_id="111", lines=order_lines("302-1111111-1111111", sku="SKU-A")))
    env.drop("s1.txt", data)
    pid = env.payout("111")["pid"]
    assert env.all("select channel_type, order_ref, item, pid from payout_paid_items") == [
        {"channel_type": "amazon", "order_ref": "302-1111111-1111111", "item": "SKU-A", "pid": pid}]
    with env.app.store.transaction() as db:
        forget(db, pid)
    assert env.all("select * from payout_paid_items") == [] and env.all("select * from payouts") == []


def test_the_sandbox_fake_pays_each_order_once_and_a_repeat_is_flagged(fake, make_app, clock):
    """The SP-API fake (and so `marketd sandbox`) used to put every recent order into each new
    settlement report; now a second report pays only orders not paid before. Amazon paying
    the same orders again in a report is flagged when that report is applied."""
    from marketd.plugins.amazon.reports_fetch import fetch_all_settlements

    fake.populate(20, days=10, status="SHIPPED", fulfilled_by="MERCHANT")
    app = make_app(amz={"orders_sync": True, "settlements_fetch": True})
    app.channel("amz").sync_orders(None)
    import gzip

    def paid_lines(report_id: str) -> set[tuple[str, str]]:
        doc = fake.documents[fake.reports[report_id]["reportDocumentId"]]
        rows = [r.split("\t") for r in (gzip.decompress(doc["data"]) if doc["compressed"] else doc["data"])
                .decode(fake.charset).splitlines()]
        head = rows[0]
        return {(r[head.index("order-id")], r[head.index("sku")]) for r in rows[2:]
                if r[head.index("amount-description")] == "Principal"}

    def settled_orders(report_id: str) -> set[str]:
        return {order for order, _ in paid_lines(report_id)}

    first = fake.add_settlement_report(days=14, end=clock.now() - timedelta(hours=3))
    second = fake.add_settlement_report(days=14, end=clock.now() - timedelta(hours=2))
    paid_first, paid_second = settled_orders(first), settled_orders(second)
    assert len(paid_first) >= 15 and not paid_first & paid_second
    repeat = fake.add_settlement_report(days=14, end=clock.now() - timedelta(hours=2),
                                        orders=[o for o in fake.orders.values()][:3])
    assert fetch_all_settlements(app, None) == {"amz": 3}
    engine = InboxEngine(app)
    engine.ensure_dirs()
    engine.scan()
    clock.advance(60)
    engine.run_once()
    rows = {r["name"]: r for r in app.store.db.query("select * from files")}
    assert all(r["state"] == "done" for r in rows.values()), rows
    flagged = {name: json.loads(r["summary"]).get("paid_before") for name, r in rows.items()}
    assert flagged[f"amazon-amz-settlement-{repeat}.txt"] == len(paid_lines(repeat)) >= 3
    assert flagged[f"amazon-amz-settlement-{first}.txt"] is None
    assert flagged[f"amazon-amz-settlement-{second}.txt"] is None


# -- sizes -----------------------------------------------------------------------------------------
@pytest.mark.timeout(120)
@pytest.mark.parametrize("column, size", [("amount", 1_000_000), ("sku", 20_000), ("amount-description", 17_000)])
def test_an_overlong_value_rejects_the_file_at_its_line(env, column, size, caplog):
    """A 1 MB amount took hours in the log redaction; any line far longer than a settlement row
    is refused at once, naming the line, and nothing long reaches the log or the report."""
    data = good()
    line = line_of(data, "Storage Fee")
    value = "1" * size if column == "amount" else "x" * size
    bad = set_cell(data, line, column, value)
    err = rejected(env.drop("long.txt", bad))
    assert err["reason"] == "line_too_long" and err["where"].startswith(f"line {line}, byte "), err
    assert len(json.dumps(err)) < 2000
    assert all(len(r.getMessage()) < 2000 for r in caplog.records)


def test_rows_of_normal_length_pass_the_size_check(env):
    data = set_cell(good(), 3, "amount-description", "x" * 4000)  # long, but a row still
    assert env.drop("ok.txt", data)["state"] == "done"


@pytest.mark.parametrize("seed", range(20))
def test_the_line_length_check_finds_the_first_long_line_across_steps(seed):
    import random

    from marketd.errors import FileRejected
    from marketd.plugins.amazon.settlement_parser import _check_line_lengths

    rng = random.Random(seed)
    lines = [b"x" * rng.choice([0, 1, 5, 9, 10, 11, 30]) for _ in range(rng.randint(1, 40))]
    data = b"\n".join(lines) + (b"\n" if rng.random() < 0.5 else b"")
    limit, step = 10, rng.choice([1, 2, 3, 7, 16, 64])
    first = next((i for i, ln in enumerate(lines) if len(ln) > limit), None)
    if first is None:
        _check_line_lengths(data, limit, step)
        return
    with pytest.raises(FileRejected) as exc:
        _check_line_lengths(data, limit, step)
    assert exc.value.where.startswith(f"line {first + 1}, byte {sum(len(ln) + 1 for ln in lines[:first])}")
