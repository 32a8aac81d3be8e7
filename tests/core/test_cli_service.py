import logging
import os
import signal
import subprocess
import sys

import openpyxl

from marketd.logs import JournalFormatter, RedactingFilter, redact
from marketd.credentials import REDACTOR
from tests.conftest import wait_for, write_config
from tests.samples import catalog_csv, catalog_rows


def marketd(*args, cwd=None, env=None, check=True):
    return subprocess.run([sys.executable, "-m", "marketd", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=120, check=check)


def test_init_writes_config_and_tree(tmp_path):
    out = marketd("init", str(tmp_path / "shop")).stdout
    root = tmp_path / "shop"
    assert (root / "marketd.toml").is_file() and "wrote" in out
    for sub in (".processing", ".done", ".error", ".duplicate"):
        assert (root / "inbox" / "catalog" / sub).is_dir()
    assert (root / "outbox" / "reports").is_dir()
    again = marketd("init", str(root), check=False)
    assert again.returncode != 0 and "--force" in again.stderr
    # `marketd status` inside the instance finds its config without --config
    st = marketd("status", cwd=root).stdout
    assert "not running" in st and "catalog-summary" in st


def test_process_one_shot_xlsx_and_error_exit(tmp_path):
    cfg = write_config(tmp_path / "i")
    wb = openpyxl.Workbook()
    ws = wb.active
    rows = list(catalog_rows(5))
    ws.append(list(rows[0]))
    for r in rows:
        ws.append([int(r["ean"]) if k == "ean" else r[k] for k in r])  # EAN as a number, as Excel does
    xlsx = tmp_path / "cat.xlsx"
    wb.save(xlsx)
    res = marketd("--config", str(cfg), "process", "--kind", "catalog", str(xlsx))
    assert res.stdout.startswith("done:") and "catalog-cat-" in res.stdout
    assert xlsx.exists()  # one-shot copies, never takes the operator's file away
    bad = tmp_path / "bad.csv"
    bad.write_text("foo\n1\n")
    res = marketd("--config", str(cfg), "process", "--kind", "catalog", str(bad), check=False)
    assert res.returncode == 1 and "missing_column" in res.stdout and ".error.txt" in res.stdout
    err_id = res.stdout.split("(")[1].split(")")[0]
    bad_fixed = tmp_path / "i" / "inbox" / "catalog" / ".error" / f"{err_id}__bad.csv"
    bad_fixed.write_text(catalog_csv(2, start=900))
    res = marketd("--config", str(cfg), "requeue", err_id)
    assert res.stdout.startswith("done:")
    jobs = marketd("--config", str(cfg), "jobs", "run", "catalog-summary").stdout
    assert "ok" in jobs
    summary = next((tmp_path / "i" / "outbox" / "reports").glob("catalog-summary-*.csv")).read_text()
    assert "total,,7," in summary


def test_watchdog_pings_and_poll_mode_and_reload(tmp_path, daemon_factory):
    root = tmp_path / "i"
    cfg = write_config(root, inbox={"defaults": {"watch": "poll", "poll_seconds": 1}},
                       daemon={"rescan_seconds": 3600.0})
    d = daemon_factory(cfg, env={"WATCHDOG_USEC": "1000000"})
    (root / "inbox" / "catalog" / "p.csv").write_text(catalog_csv(3))
    wait_for(lambda: any((root / "outbox" / "reports").glob("catalog-p-*.csv")) if (root / "outbox" / "reports").exists() else False,
             20, what="polling observer picks the file up")
    wait_for(lambda: (d.poll_messages(), sum(m == "WATCHDOG=1" for m in d.messages) >= 2)[1], 20,
             what="two watchdog pings")
    assert any(m.startswith("STATUS=") for m in d.messages)
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in d.output(), 10, what="SIGHUP reload")
    d.poll_messages()
    assert "RELOADING=1" in d.messages
    assert d.stop() == 0


def test_journald_format_and_redaction(monkeypatch):
    REDACTOR.add("s3cr3t-value-123")
    rec = logging.LogRecord("marketd.x", logging.WARNING, __file__, 1,
                            "token %s for buyer jane.doe@example.com Bearer abc.def Atzr|IwEBIA-xyz", ("s3cr3t-value-123",), None)
    RedactingFilter().filter(rec)
    text = JournalFormatter("%(name)s: %(message)s").format(rec)
    assert text.startswith("<4>marketd.x: ")
    assert "s3cr3t" not in text and "jane.doe" not in text and "abc.def" not in text and "IwEBIA" not in text
    assert redact("mail max@shop.it") == "mail <email>"
