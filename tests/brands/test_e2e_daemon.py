"""The main flow through a real ``marketd run`` subprocess: onboarding and activation files dropped
into the inboxes, the Go Live Monitoring made by the daemon's job and delivered to a real SMTP
server, the data links served over HTTP with a token issued by the CLI; after kill -9 and a
restart nothing is mailed twice."""
from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest

from tests.conftest import wait_for, write_config
from tests.helpers import db_rows

from .conftest import SmtpServer, free_port

pytestmark = pytest.mark.e2e

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _config(tmp_path, smtp_port, web_port):
    return write_config(
        tmp_path / "inst",
        brands={"acme": {"name": "Acme GmbH", "sku_prefixes": ["ACM-"], "country": "DE", "subdivision": "NW",
                         "platforms": ["amazon-de"], "monitoring_weekdays": ALL_DAYS, "monitoring_time": "00:00"}},
        mail={"host": "127.0.0.1", "port": smtp_port, "security": "none"},
        jobs={"brands-golive": {"seconds": 2}, "brands-mail": {"seconds": 2},
              "brands-links": {"port": web_port, "refresh_time": "00:00", "seconds": 2},
              "brands-weekly": {"enabled": False}})


def _drop(root):
    (root / "inbox/onboarding").mkdir(parents=True, exist_ok=True)
    (root / "inbox/golive").mkdir(parents=True, exist_ok=True)
    (root / "inbox/onboarding/contacts.csv").write_text("brand,role,name,email\nacme,golive,Carla,carla@acme.example\n")
    wait_for(lambda: db_rows(root, "select count(*) from brand_contacts")[0][0] == 1, what="contacts stored")
    (root / "inbox/golive/act.csv").write_text("sku,platform,activated_at\nACM-1,amazon-de,2024-12-18\n"
                                               "ACM-2,amazon-de,2099-01-01\n")


def test_daemon_onboarding_golive_mail_and_links(tmp_path, daemon_factory):
    smtp = SmtpServer().start()
    web_port = free_port()
    try:
        cfg = _config(tmp_path, smtp.port, web_port)
        root = cfg.parent
        d = daemon_factory(cfg)
        _drop(root)
        wait_for(lambda: len(smtp.messages) == 1, what="the monitoring mail")
        msg = smtp.messages[0]
        assert msg["To"] == "carla@acme.example" and msg["Subject"].startswith("Go Live Monitoring Acme GmbH")
        assert "amazon-de: 0 live, 1 pending, 1 overdue of 2 activated" in msg.get_body(("plain",)).get_content()
        # a token from the CLI while the daemon runs; the daemon's endpoint serves the morning's files
        out = subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "brands", "rotate-token", "acme"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        url = re.search(r"(http://\S+/sales-daily\.csv)", out.stdout).group(1)
        assert f":{web_port}/" in url
        r = wait_for(lambda: _get(url), what="the data link")
        assert r.content.startswith(b"\xef\xbb\xbfdate,platform,sku")
        assert _get(url.replace("/l/", "/l/x")) is None
        assert httpx.get(f"http://127.0.0.1:{web_port}/healthz").status_code == 200
        # kill -9, restart: the day's report exists, nothing is mailed again
        d.kill()
        runs = db_rows(root, "select runs from job_runs where job='brands-golive'")[0][0]
        d2 = daemon_factory(cfg)
        wait_for(lambda: db_rows(root, "select runs from job_runs where job='brands-golive'")[0][0] >= runs + 2,
                 what="two passes of the monitoring job after the restart")
        assert len(smtp.messages) == 1
        assert db_rows(root, "select state, count(*) from mail_queue group by state") == [("sent", 1)]
        log = d2.output() + d.log_path.read_text(errors="replace")
        assert "carla@acme.example" not in log
        d2.stop()
    finally:
        smtp.stop()


def _get(url):
    try:
        r = httpx.get(url, timeout=10)
    except httpx.HTTPError:
        return None
    return r if r.status_code == 200 else None


def test_kill_after_the_server_took_the_mail_holds_it_as_uncertain(tmp_path, daemon_factory):
    """kill -9 between the server's 250 for DATA and the commit: the restarted daemon cannot know
    whether the mail arrived, so it holds it (uncertain) and never sends it a second time."""
    from marketd.sdk.testing import crashpoint_env

    smtp = SmtpServer().start()
    try:
        cfg = _config(tmp_path, smtp.port, free_port())
        root = cfg.parent
        d = daemon_factory(cfg, env=crashpoint_env("mail.after_data"))
        _drop(root)
        wait_for(lambda: d.proc.poll() is not None, what="the daemon killing itself after DATA")
        assert len(smtp.messages) == 1
        assert db_rows(root, "select state from mail_queue") == [("sending",)]
        d2 = daemon_factory(cfg)
        wait_for(lambda: db_rows(root, "select state from mail_queue") == [("uncertain",)], what="held as uncertain")
        runs = db_rows(root, "select runs from job_runs where job='brands-mail'")[0][0]
        wait_for(lambda: db_rows(root, "select runs from job_runs where job='brands-mail'")[0][0] >= runs + 2,
                 what="two more passes of the mail job")
        assert len(smtp.messages) == 1
        out = subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "status"], capture_output=True,
                             text=True, timeout=120)
        assert "mail uncertain: 1" in out.stdout and "carla" not in out.stdout
        d2.stop()
    finally:
        smtp.stop()
