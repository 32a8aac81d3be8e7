"""Case log and compliance requests: saved Amazon e-mails and CSV exports tracked with their
deadline until closed with a note; overdue escalates high, then critical."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

def goto(clock, when: datetime) -> None:
    clock.advance((when - clock.now()).total_seconds())


MAIL = """From: Amazon Seller Performance <seller-performance@amazon.de>
To: shop@example.com
Subject: Anfrage zur Produkt-Compliance: Dokumente erforderlich
Date: Mon, 30 Nov 2026 09:00:00 +0000
Message-ID: <abc123@amazon.de>
Content-Type: text/plain; charset=utf-8

Guten Tag,

für das ASIN B0EEEEEEE1 benötigen wir Sicherheitsinformationen (GPSR).
Fall-ID: 1234567890
Bitte laden Sie die Dokumente bis zum 12. Dezember 2026 hoch.
"""


def test_an_amazon_mail_becomes_a_compliance_request_with_its_deadline_once(world):
    w = world()
    row = w.drop("mail.eml", MAIL)
    assert row["state"] == "done", row["error"]
    s = row["summary"]
    assert (s["kind"], s["case"], s["deadline"], s["deadline_assumed"]) == ("compliance_request", "1234567890",
                                                                            "2026-12-12", False)
    again = w.drop("mail-followup.eml", MAIL.replace("Guten Tag,", "Guten Tag, Erinnerung:"))
    assert again["summary"]["result"] == "updated"
    assert w.app.store.db.execute("select count(*) from health_cases").fetchone()[0] == 1
    (a,) = w.alerts()
    assert a["severity"] == "medium" and a["asin"] == "B0EEEEEEE1"
    log_text = "".join(p.read_text() for p in w.root.rglob("*.log")) if list(w.root.rglob("*.log")) else ""
    assert "Sicherheitsinformationen" not in log_text


def test_overdue_escalates_high_then_critical_and_close_needs_a_note(world):
    from marketd.plugins.health.cases import escalate

    w = world()
    goto(w.clock, datetime(2026, 12, 1, 9, tzinfo=timezone.utc))
    w.drop("mail.eml", MAIL)
    assert escalate(w.app) == {"high": 0, "critical": 0}
    goto(w.clock, datetime(2026, 12, 13, 0, 30, tzinfo=timezone.utc))      # past 12 Dec 23:59:59
    assert escalate(w.app) == {"high": 1, "critical": 0}
    assert escalate(w.app) == {"high": 0, "critical": 0}                  # once per level
    goto(w.clock, datetime(2026, 12, 16, 1, tzinfo=timezone.utc))           # + 3 days
    assert escalate(w.app) == {"high": 0, "critical": 1}
    (a,) = w.alerts()
    assert a["severity"] == "critical" and a["title"].startswith("OVERDUE")

    from marketd.cli import cli as main
    import tomli_w

    cfg = w.root / "marketd.toml"
    cfg.write_text(tomli_w.dumps({"daemon": {"state_dir": str(w.app.state_dir), "inbox_dir": str(w.app.inbox_dir),
                                             "outbox_dir": str(w.app.outbox_dir)}}))
    runner = CliRunner()
    res = runner.invoke(main, ["--config", str(cfg), "health", "close", "1234567890"])
    assert res.exit_code != 0 and "--note" in res.output
    res = runner.invoke(main, ["--config", str(cfg), "health", "close", "1234567890", "--note", "uploaded SDB"])
    assert res.exit_code == 0, res.output
    case = next(w.app.store.db.query("select * from health_cases"))
    assert case["status"] == "closed" and case["note"] == "uploaded SDB"
    assert w.alerts() == []
    # a late copy of the mail does not reopen it
    w.drop("late.eml", MAIL.replace("Guten Tag,", "Hallo,"))
    assert next(w.app.store.db.query("select status from health_cases"))["status"] == "closed"


def test_a_mail_without_deadline_gets_the_default_flagged_assumed(world):
    w = world()
    mail = MAIL.replace("Bitte laden Sie die Dokumente bis zum 12. Dezember 2026 hoch.", "Bitte antworten Sie.")
    s = w.drop("m.eml", mail)["summary"]
    assert s["deadline"] == "2026-12-07" and s["deadline_assumed"] is True


def test_a_case_log_export_with_german_columns(world):
    w = world()
    csv = ("Fall-ID;Betreff;Status;Erstellt;Frist;ASIN\n"
           "9876543210;Listing entfernt;Offen;25.11.2026;02.12.2026;B0FFFFFFF1\n"
           "9876543211;Frage zur Rechnung;Geschlossen;20.11.2026; ;\n")
    row = w.drop("fallprotokoll.csv", csv)
    assert row["state"] == "done", row["error"]
    assert row["summary"]["cases"] == {"new": 1, "closed": 1}
    c = next(w.app.store.db.query("select * from health_cases where id = '9876543210'"))
    assert c["deadline"].startswith("2026-12-02") and c["kind"] == "case"


def test_a_broken_eml_is_refused(world):
    w = world()
    row = w.drop("x.eml", b"\x00\x01 not a mail")
    assert row["state"] == "error" and row["error"]["reason"] in ("eml", "binary")
