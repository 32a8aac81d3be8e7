"""The shipment manifest tells the packer which parcels hold an item the buyer personalised
(Amazon Custom: its production sheet is in outbox/custom/<order>/), and ``marketd orders show``
marks the item."""
from __future__ import annotations

import csv

from click.testing import CliRunner

from .conftest import add_order, drop, outputs


def test_a_personalised_order_is_marked_in_the_manifest_and_the_order_report(make_app, tmp_path):
    app = make_app()
    add_order(app, "402-1", items=[{"orderItemId": "402-1-1", "sku": "BOARD", "quantity": 1,
                                    "customized_url": "https://s3.example/x.zip?X-Amz-Signature=s"}])
    add_order(app, "402-2")
    rec = drop(app, tmp_path, "p.csv", "order,carrier,weight_kg\n402-1,brt,1\n402-2,brt,1\nNOPE,brt,1\n")
    assert rec["state"] == "done", rec
    m = list(csv.DictReader(outputs(app, "labels/manifest-*.csv")[0].open(encoding="utf-8")))
    assert [(r["order"], r["status"], r["personalised"]) for r in m] == [
        ("402-1", "created", "yes"), ("402-2", "created", ""), ("NOPE", "rejected", "")]
    from marketd.cli import cli

    shown = CliRunner().invoke(cli, ["orders", "show", "402-1"], obj={"app": app}, catch_exceptions=False).output
    assert "1 x BOARD  [personalised]" in shown
    assert "[personalised]" not in CliRunner().invoke(cli, ["orders", "show", "402-2"], obj={"app": app}).output
