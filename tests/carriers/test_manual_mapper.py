"""The manual carrier's one translation: the ERP's tracking numbers (mapper.py, no HTTP)."""
from __future__ import annotations

from marketd.plugins.manual import mapper


def test_tracking_numbers_one_or_one_per_parcel():
    assert mapper.tracking_numbers(" 123 | 456 |") == ["123", "456"]
    assert mapper.tracking_numbers(None) == [] and mapper.tracking_numbers(" | ") == []
    assert [p.tracking_number for p in mapper.parcel_results(["A"], 3)] == ["A", "A", "A"]
    assert [p.parcel_number for p in mapper.parcel_results(["A", "B"], 2)] == ["A", "B"]


def test_problems_name_what_to_fix():
    assert mapper.problems("erp", ["A"], 3) == [] and mapper.problems("erp", ["A", "B"], 2) == []
    missing = mapper.problems("erp", [], 1)[0]
    assert missing.code == "tracking_number" and "fill tracking_number" in missing.details["fix"]
    assert mapper.problems("erp", ["A", "B"], 3)[0].text == "2 tracking numbers for 3 parcels"
