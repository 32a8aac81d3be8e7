"""MALL's JSON <-> the unified models, on plain dicts (no HTTP: mapper.py), and the MPAPI client
listing orders page by page against the fake (the door a MALL channel will use)."""
from __future__ import annotations

import base64
from datetime import timezone

import httpx
import pytest

from marketd.clock import FakeClock
from marketd.errors import TransientError
from marketd.plugins.mall import mapper
from marketd.plugins.mall.client import MallClient
from marketd.plugins.mall.fake import MallFake
from marketd.sdk import LabelFormat, TrackingStatus
from marketd.sdk.fakes import pdf_labels, zpl_label


def test_times_without_offset_are_pragues_local_time():
    winter = mapper.parse_time("2026-01-10 12:00:00")
    summer = mapper.parse_time("2026-07-10 12:00:00")
    assert winter.astimezone(timezone.utc).hour == 11 and summer.astimezone(timezone.utc).hour == 10
    assert mapper.parse_time("2026-07-10T12:00:00Z").astimezone(timezone.utc).hour == 12
    assert mapper.parse_time("") is None and mapper.parse_time("yesterday") is None


@pytest.mark.parametrize("order, size", [
    ({"items": '[{"package_size": "smallbox"}]'}, "smallbox"),
    ({"items": [{"package_size": "smallbox"}, {"package_size": "BIGBOX"}]}, "bigbox"),  # one big item: bigbox
    ({"items": "[]", "raw": '{"mdp": true}'}, "smallbox"),
    ({"items": [], "raw": {"package_size": "bigbox"}}, "bigbox"),
    ({"items": "not json", "raw": None}, ""),
    (None, ""),
])
def test_package_size_of_a_stored_order(order, size):
    assert mapper.package_size(order) == size


def test_labels_request_and_barcodes():
    body = mapper.labels_request("7001", 3, LabelFormat.ZPL, 1)
    assert body == {"labels_type": "zpl", "first_position": 1, "labels_per_page": 1,
                    "labels": [{"order_id": 7001, "parcel_count": 3}]}
    data = {"orders": [{"order_id": 7000, "barcodes": ["x"]}, {"order_id": 7001, "barcodes": ["a", "b"]}]}
    assert mapper.barcodes_of(data, "7001") == ["a", "b"] and mapper.barcodes_of(None, "7001") == []


def test_split_labels_one_per_parcel_or_a_warning():
    pdf = pdf_labels([["A"], ["B"], ["C"]], per_page=4)
    labels, notes = mapper.split_labels("mall", {"labels_raw": base64.b64encode(pdf).decode()}, LabelFormat.PDF, 4, 3)
    assert len(labels) == 3 and notes == []
    zpl = "\n".join(zpl_label([c], c) for c in "AB")
    labels, notes = mapper.split_labels("mall", {"labels_raw": base64.b64encode(zpl.encode()).decode()},
                                        LabelFormat.ZPL, 1, 3)
    assert labels == [] and notes[0].level == "warning" and "2 ZPL labels for 3 parcels" in notes[0].text
    labels, notes = mapper.split_labels("mall", {"labels_raw": "%%%"}, LabelFormat.PDF, 4, 1)
    assert labels == [] and "unusable" in notes[0].text


def test_tracking_result_from_status_moves_and_consignment_scans():
    order = {"status": "delivered", "tracking_number": "MDP1", "tracking_url": "https://t/MDP1",
             "shipped": "2026-07-01 10:00:00", "delivered": "2026-07-02 09:00:00",
             "delivered_at": "2026-07-02 09:00:00",
             "consignment_status_history": [{"status": "received", "date": "2026-07-01 11:00:00"}, "junk"]}
    result = mapper.tracking_result("mall", "7001", order)
    assert result.status == TrackingStatus.delivered and result.final and result.tracking_number == "MDP1"
    assert [e.code for e in result.events] == ["delivered", "RECEIVED", "shipped"]  # newest first
    assert result.delivered_at.astimezone(timezone.utc).hour == 7
    cancelled = mapper.tracking_result("mall", "7002", {"status": "cancelled"})
    assert cancelled.final and cancelled.status == TrackingStatus.unknown and cancelled.tracking_number == "7002"


def _client(fake, client_id="mall-client-id"):
    return MallClient("mall-cz", "http://mall.test", client_id=lambda: client_id,
                      transport=httpx.WSGITransport(app=fake), clock=fake.clock, requests_per_second=1000)


def test_client_lists_every_order_page_by_page():
    fake = MallFake(FakeClock())
    for oid in range(1, 8):
        fake.add_order(oid, status="open" if oid % 2 else "shipped")
    client = _client(fake)
    assert sorted(o["id"] for o in client.iter_orders(page_size=3)) == list(range(1, 8))
    assert [r.q("page") for r in fake.requests("GET", r"/v1/orders$")] == ["1", "2", "3"]
    assert sorted(o["id"] for o in client.iter_orders(status="open")) == [1, 3, 5, 7]


def test_client_refused_listing_raises_naming_the_account():
    with pytest.raises(TransientError, match="mall-cz.*client_id"):
        list(_client(MallFake(FakeClock()), client_id="wrong").iter_orders())
