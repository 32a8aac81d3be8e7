"""Inputs the fuzz harness found (tests/health/test_fuzz_health.py), each now a named test: a
rejection with a reason and a place, never a plugin error, never minutes of work."""
from __future__ import annotations

import json
import time

import pytest

from .test_cases import MAIL


@pytest.mark.parametrize("name,data,reason", [
    ("latin1.json", '{"accountStatuses": [{"status": "ÄT_RISK"}]}'.encode("latin-1"), "encoding"),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "json"),
    ("surrogate.json", b'{"accountStatuses": [{"marketplaceId": "\\ud800", "status": "NORMAL"}]}', "json"),
])
def test_performance_json_that_cannot_be_read(world, name, data, reason):
    w = world()
    row = w.drop(name, data)
    assert row["state"] == "error" and row["error"]["reason"] == reason and row["error"]["where"]


def test_a_notification_file_nested_too_deep_or_not_utf8(world):
    w = world()
    assert w.drop("deep.json", b"{\"a\":" * 50_000 + b"1" + b"}" * 50_000, kind="notifications")["error"]["reason"] == "json"
    bad = w.drop("bom2.json", b"\xef\xbb\xbf\xef\xbb\xbf" + b"\xff{}", kind="notifications")
    assert bad["error"]["reason"] == "encoding" and bad["error"]["where"].startswith("byte")


def test_a_mail_with_a_huge_from_header_is_refused_quickly(world):
    w = world()
    huge = MAIL.replace("From: Amazon Seller Performance <seller-performance@amazon.de>",
                        "From: Amazon <seller-performance@amazon.de>, " + ", ".join(f"c{i}" for i in range(100_000)))
    t0 = time.perf_counter()
    row = w.drop("huge.eml", huge)
    assert time.perf_counter() - t0 < 10
    assert row["error"]["reason"] == "eml" and row["error"]["where"] == "header From"
