"""The manual-operation flag stops the automatic tracking push: the push waits with the reason
visible, an explicit ``shipments push`` still acts, and clearing the flag lets the sync push."""
from __future__ import annotations

from marketd.orderflags import mark_manual, unmark_manual
from marketd.plugins.shipments.tracking import tracking_sync

from .conftest import RecordingChannel
from .test_tracking_sync import pushes, ship_with_erp


def test_a_flagged_order_is_not_confirmed_until_the_flag_is_cleared(make_app, tmp_path, clock):
    app = make_app()
    RecordingChannel.calls.clear()
    ship_with_erp(app, tmp_path, ("402-1", "402-2"))
    mark_manual(app.store, "amazon-it:402-1", by="anna", reason="confirmed in Seller Central", source="cli",
                at=clock.now().isoformat())
    for _ in range(3):
        tracking_sync(app)
        clock.advance(3600)
    assert [c[1] for c in RecordingChannel.calls] == ["402-2"]
    held = {p["order_key"]: p for p in pushes(app)}["amazon-it:402-1"]
    assert held["state"] == "waiting" and held["attempts"] in (0, None)
    assert "flagged as handled by hand" in held["error"] and "anna" in held["error"]
    assert "confirmed in Seller Central" in held["error"]
    unmark_manual(app.store, "amazon-it:402-1", by="anna", reason="mistake", at=clock.now().isoformat())
    clock.advance(3601)
    tracking_sync(app)
    assert sorted(c[1] for c in RecordingChannel.calls) == ["402-1", "402-2"]
    assert {p["state"] for p in pushes(app)} == {"pushed"}
