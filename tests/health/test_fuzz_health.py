"""The health inboxes under the fuzz harness (tests/fuzz): mutated returns, feedback, VoC, case
log, performance report, notification and e-mail files must each end done or rejected with a
reason and a place, within the harness's time limit, never as a plugin error."""
from __future__ import annotations

import json
import os
import random

import pytest

from marketd.plugins.amazon.fake_health import RETURNS_COLUMNS, good_account_health
from tests.fuzz import mutate
from tests.fuzz.harness import Format, _bytes_format, run_format

from .notification_examples import examples
from .test_cases import MAIL

pytestmark = pytest.mark.fuzz
BUDGET = int(os.environ.get("MARKETD_FUZZ_BUDGET_HEALTH", "120"))
SEED = int(os.environ.get("MARKETD_FUZZ_SEED", "20261130"))


def _returns(rnd: random.Random, uid: int) -> bytes:
    rows = ["\t".join(RETURNS_COLUMNS)]
    for i in range(rnd.randint(1, 8)):
        r = {c: " " for c in RETURNS_COLUMNS}
        r.update({"Order ID": f"302-{uid}-{i}", "Return request date": rnd.choice(["10-Jul-2025", "07/10/25", "2025-07-10"]),
                  "Merchant SKU": f"SKU-{i}", "ASIN": f"B0{uid % 10**8:08d}", "Return quantity": str(rnd.randint(1, 3)),
                  "Return Reason": "DEFECTIVE", "In policy": rnd.choice("YN"), "Amazon RMA ID": f"D{uid}{i}"})
        rows.append("\t".join(r[c] for c in RETURNS_COLUMNS))
    return ("\n".join(rows) + "\n").encode()


def _feedback(rnd, uid) -> bytes:
    lines = ["Date\tRating\tComments\tYour Response\tOrder ID\tRater Email"]
    for i in range(rnd.randint(1, 6)):
        lines.append(f"10/{rnd.randint(1, 28)}/23\t{rnd.randint(1, 5)}\tbox damaged, late\t \t305-{uid}-{i}\tx{i}@example.com")
    return ("\n".join(lines) + "\n").encode()


def _voc(rnd, uid) -> bytes:
    labels = ["Sehr schlecht", "Schlecht", "Gut", "Very poor", "Excellent"]
    lines = ["ASIN;SKU;Kundenerfahrung;NCX-Rate;Häufigster Rückgabegrund"]
    for i in range(rnd.randint(1, 6)):
        lines.append(f"B0{(uid + i) % 10**8:08d};S-{i};{rnd.choice(labels)};{rnd.randint(0, 20)} %;Zu klein")
    return ("\n".join(lines) + "\n").encode()


def _cases(rnd, uid) -> bytes:
    return (f"Case ID,Subject,Status,Created,Deadline\n{uid % 10**10:010d},Listing removed,Open,2026-11-25,"
            f"2026-12-0{rnd.randint(1, 9)}\n").encode()


def _perf(rnd, uid) -> bytes:
    from datetime import datetime, timezone

    return json.dumps(good_account_health("A1PA6795UKMFR9", datetime(2026, 11, 30, tzinfo=timezone.utc))).encode()


def _notif(rnd, uid) -> bytes:
    docs = examples()
    for d in docs:
        meta = d.get("NotificationMetadata") or d.get("notificationMetadata")
        key = "NotificationId" if "NotificationId" in meta else "notificationId"
        meta[key] = f"{meta[key]}-{uid}"
    return json.dumps(rnd.sample(docs, rnd.randint(1, len(docs)))).encode()


def _eml(rnd, uid) -> bytes:
    return MAIL.replace("1234567890", f"{uid % 10**10:010d}").encode()


FORMATS = [
    Format("health_returns", "health", ".tsv", _bytes_format(_returns)),
    Format("health_feedback", "health", ".txt", _bytes_format(_feedback)),
    Format("health_voc", "health", ".csv", _bytes_format(_voc)),
    Format("health_cases", "health", ".csv", _bytes_format(_cases)),
    Format("health_perf", "health", ".json", _bytes_format(_perf, mutate.mutate_json)),
    Format("health_notifications", "notifications", ".json", _bytes_format(_notif, mutate.mutate_json)),
    Format("health_eml", "health", ".eml", _bytes_format(_eml)),
]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_mutated_health_files_end_done_or_rejected_with_reason(fmt, tmp_path):
    import marketd.plugins.health as health_plugin
    from marketd.sdk.testing import make_app

    app = make_app(tmp_path / "inst", {"health": health_plugin}, channels={})
    try:
        res = run_format(fmt, BUDGET, SEED, tmp_path / "findings", app=app)
    finally:
        app.close()
    assert res.inputs == BUDGET
    assert res.states["done"] > 0, res.states
    assert not res.failures, "\n".join(f"#{f['index']} {f['kind']} {f['mutations']}: "
                                       f"{str(f['detail']).strip().splitlines()[-1][:300]}" for f in res.failures[:10])
