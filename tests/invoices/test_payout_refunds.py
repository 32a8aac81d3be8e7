"""A refund an Amazon settlement reports becomes a credit note against the order's invoice: the
real settlements and Amazon plugins parse the dropped file, the invoices job reads the money
through the ``order_finance`` hook. Numbering is gap-free in the credit series, nothing is
credited twice (a refund made here and reported later by the payout, a rerun, a kill -9)."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from marketd.sdk import FakeClock
from marketd.sdk.testing import make_app, process_file, run_job
from tests.amazon.settlement_samples import Settlement, order_lines, refund_lines, render_v2

from .conftest import invoice_config, pdf_text

ORDER = "302-1234567-1234567"
OTHER = "302-7654321-7654321"
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _app(root: Path, clock=None):
    import marketd.plugins.amazon as amazon
    import marketd.plugins.invoices as invoices
    import marketd.plugins.settlements as settlements

    clock = clock or FakeClock(datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc))
    return make_app(root, {"invoices": invoices, "settlements": settlements, "amazon": amazon}, clock=clock,
                    jobs={"invoices": invoice_config()})


def _order(app, order_id: str, total: str = "34.89") -> str:
    app.store.upsert_order({"channel": "amz", "channel_type": "amazon", "order_id": order_id, "status": "SHIPPED",
                            "purchased_at": "2026-11-02T10:00:00+00:00", "currency": "EUR", "total": total,
                            "buyer_name": "Jana Nováková", "ship_to": {"name": "Jana Nováková", "city": "Praha",
                                                                        "country": "CZ"},
                            "items": [{"sku": "SKU-A", "title": "Tasse", "quantity": 1, "unit_price": "29.99"}]})
    return f"amz:{order_id}"


def _drop(app, tmp: Path, settlement_id: str, lines, n: int) -> dict:
    path = tmp / "drops" / f"settlement-{settlement_id}.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(render_v2(Settlement(settlement_id=settlement_id, start=T0 + timedelta(days=14 * n),
                                          end=T0 + timedelta(days=14 * (n + 1)),
                                          deposit=T0 + timedelta(days=14 * (n + 1) + 2), lines=lines)))
    app.clock.advance(2)
    row = process_file(app, "settlements", path)
    assert row["state"] == "done", row
    return row


def _credits(app) -> list[dict]:
    return list(app.store.db.query("select * from documents where kind = 'credit_note' order by number"))


@pytest.fixture
def app(tmp_path):
    a = _app(tmp_path / "inst")
    yield a
    a.close()


def test_a_refund_in_a_settlement_gets_a_credit_note_against_the_invoice(app, tmp_path):
    key = _order(app, ORDER)
    _order(app, OTHER, total="24.89")
    assert run_job(app, "invoices") is None
    inv = next(app.store.db.query("select * from documents where order_key = ? and kind = 'invoice'", [key]))
    _drop(app, tmp_path, "111", order_lines(ORDER, principal="29.99", shipping="4.90", sku="SKU-A",
                                            posted=T0 + timedelta(days=3))
          + order_lines(OTHER, principal="19.99", posted=T0 + timedelta(days=3))
          + refund_lines(ORDER, principal="-29.99", commission_back="4.50", refund_commission="-0.90",
                         sku="SKU-A", posted=T0 + timedelta(days=6)), 0)
    assert run_job(app, "invoices") is None
    (cn,) = _credits(app)
    assert (cn["order_key"], cn["refers_to"], cn["total_gross"], cn["doc_no"]) == (key, inv["id"], "29.99",
                                                                                   "CN-amz-2026-000001")
    payout_key = cn["trigger_key"].removeprefix("payout:")
    assert app.store.db.execute("select count(*) from payouts where payout_key = ?", [payout_key]).fetchone()[0] == 1
    text = pdf_text(Path(cn["pdf_path"]))
    assert f"Refers to invoice {inv['doc_no']}" in text and "Total credited: 29.99 EUR" in text
    assert f"refund reported in payout {payout_key}" in text
    snap = json.loads(cn["snapshot"])
    assert sum(Decimal(line["gross"]) for line in snap["lines"]) == Decimal("29.99")
    app.clock.advance(3600 * 25)  # the daily scan sees the same money: nothing new
    assert run_job(app, "invoices") is None
    assert len(_credits(app)) == 1

    # The shipping refunded in the next settlement: a second credit note, the next number.
    _drop(app, tmp_path, "222", refund_lines(ORDER, principal="-4.90", commission_back="0", refund_commission="0",
                                             sku="SKU-A", adjustment_id="amzn1:crow:second",
                                             posted=T0 + timedelta(days=16)), 1)
    assert run_job(app, "invoices") is None
    assert [(c["doc_no"], c["total_gross"]) for c in _credits(app)] == [("CN-amz-2026-000001", "29.99"),
                                                                        ("CN-amz-2026-000002", "4.90")]
    from marketd.plugins.invoices.numbering import check

    assert check(app.store.db) == []
    # The other order had no refund: no credit note, nothing blocked.
    assert not list(app.store.db.query("select * from documents_blocked where kind = 'credit_note'"))


def test_a_refund_already_credited_here_is_not_credited_again_when_the_payout_reports_it(app, tmp_path):
    from marketd.plugins.invoices.issuer import issue_credit
    from marketd.plugins.invoices.settings import invoice_settings

    key = _order(app, ORDER)
    assert run_job(app, "invoices") is None
    # `orders act refund` made a partial refund of 10.00 and its credit note
    issue_credit(app, invoice_settings(app), app.store.get_order(key), None, trigger_key="action:1",
                 amount=Decimal("10.00"))
    _drop(app, tmp_path, "333", order_lines(ORDER, principal="29.99", shipping="4.90", sku="SKU-A")
          + refund_lines(ORDER, principal="-10.00", commission_back="1.50", refund_commission="-0.30", sku="SKU-A"), 0)
    assert run_job(app, "invoices") is None
    assert [c["total_gross"] for c in _credits(app)] == ["10.00"]
    # a later payout refunds 5.00 more: only that is credited
    _drop(app, tmp_path, "444", refund_lines(ORDER, principal="-5.00", commission_back="0", refund_commission="0",
                                             sku="SKU-A", adjustment_id="amzn1:crow:more"), 1)
    assert run_job(app, "invoices") is None
    assert [c["total_gross"] for c in _credits(app)] == ["10.00", "5.00"]


def test_an_order_flagged_manual_gets_no_credit_note_from_a_payout(app, tmp_path):
    from marketd.sdk import mark_manual

    key = _order(app, ORDER)
    assert run_job(app, "invoices") is None
    mark_manual(app.store, key, by="anna", reason="credited in the accounting system", source="cli",
                at=app.clock.now().isoformat())
    _drop(app, tmp_path, "555", order_lines(ORDER, principal="29.99", shipping="4.90", sku="SKU-A")
          + refund_lines(ORDER, principal="-29.99", sku="SKU-A"), 0)
    assert run_job(app, "invoices") is None
    assert _credits(app) == []
    (b,) = app.store.db.query("select * from documents_blocked where order_key = ? and kind = 'credit_note'", [key])
    assert b["reason"] == "manual"


CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from tests.invoices.test_payout_refunds import _app
from marketd.sdk.testing import run_job
app = _app(Path({root!r}))
run_job(app, "invoices")
print("survived")
"""


@pytest.mark.parametrize("point", ["invoices_before_commit", "invoices_after_commit"])
def test_a_kill_9_while_the_credit_note_is_numbered_leaves_no_gap_and_no_double(tmp_path, point):
    """The child process runs the job and SIGKILLs itself inside (or right after) the credit
    note's numbering transaction; the job run again numbers it once, with no gap."""
    from marketd.sdk.testing import crashpoint_env

    root = tmp_path / "inst"
    app = _app(root)
    keys = [_order(app, f"302-000000{n}-1234567") for n in range(3)]
    assert run_job(app, "invoices") is None
    lines = []
    for n in range(3):
        oid = f"302-000000{n}-1234567"
        lines += order_lines(oid, principal="29.99", shipping="4.90", sku="SKU-A", item_code=f"5218301645{n}")
        lines += refund_lines(oid, principal=f"-{n + 1}.00", commission_back="0", refund_commission="0",
                              sku="SKU-A", adjustment_id=f"amzn1:crow:{n}", item_code=f"5218301645{n}")
    _drop(app, tmp_path, "666", lines, 0)
    app.close()
    repo = str(Path(__file__).resolve().parents[2])
    import os

    env = {**os.environ, **crashpoint_env(point, 2)}
    p = subprocess.run([sys.executable, "-c", CHILD.format(repo=repo, root=str(root))], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == -9 and "survived" not in p.stdout, (p.returncode, p.stderr[-2000:])
    app = _app(root)
    try:
        done_before = len(_credits(app))
        assert done_before == (1 if point == "invoices_before_commit" else 2)
        assert run_job(app, "invoices") is None
        assert run_job(app, "invoices") is None
        credits = _credits(app)
        assert [c["number"] for c in credits] == [1, 2, 3]
        assert sorted((c["order_key"], c["total_gross"]) for c in credits) == sorted(
            (k, f"{n + 1}.00") for n, k in enumerate(keys))
        assert all(c["state"] == "published" for c in credits)
        from marketd.plugins.invoices.numbering import check

        assert check(app.store.db) == []
    finally:
        app.close()
