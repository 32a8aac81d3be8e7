"""The inbox against the real daemon: start-up with files already in a require_rename inbox,
`marketd status` saying why files wait, SIGHUP applying (or refusing) a new config, the watchdog
stopping when one file hangs the worker, and a read-only database at start-up."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for, write_config
from tests.e2e.test_daemon import python_without_dac_override
from tests.helpers import file_states, install_plugin
from tests.samples import catalog_csv

pytestmark = pytest.mark.e2e


def status_json(cfg: Path) -> dict:
    res = subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "status", "--json"],
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(res.stdout)


def renamed_quickly(folder: Path, name: str, text: str) -> Path:
    """An ERP's write + rename within one timestamp tick leaves ctime == mtime (ext4: 200 of 200)."""
    tmp = folder / f"{name}.tmp"
    tmp.write_text(text)
    os.rename(tmp, folder / name)
    soon = time.time_ns() + 50_000_000
    os.utime(folder / name, ns=(soon, soon))
    assert os.stat(folder / name).st_ctime_ns <= os.stat(folder / name).st_mtime_ns
    time.sleep(0.06)
    return folder / name


def test_require_rename_uploads_made_while_the_daemon_was_down_are_applied(tmp_path, daemon_factory):
    """Issue 9 items 8 and 9: such files went to .error/ as not_renamed; a direct write waits,
    says so once in the log and in `marketd status`, with how to upload instead."""
    root = tmp_path / "i"
    cfg = write_config(root, inbox={"defaults": {"mode": "require_rename", "direct_write_grace_seconds": 600}})
    inbox = root / "inbox" / "catalog"
    inbox.mkdir(parents=True, exist_ok=True)
    for i in range(5):
        renamed_quickly(inbox, f"erp-{i}.csv", catalog_csv(2, start=10 * i))
    d = daemon_factory(cfg)
    wait_for(lambda: sum(s == "done" for s in file_states(root).values()) == 5, 30, what="five uploads applied")
    assert not list((inbox / ".error").iterdir())
    assert d.output().count("was already in the inbox when marketd started") == 5
    (inbox / "direct.csv").write_text(catalog_csv(2, start=100))  # written under its final name
    wait_for(lambda: "direct.csv is waiting for a rename" in d.output(), 30, what="the waiting line")
    st = wait_for(lambda: [w for w in status_json(cfg)["waiting_files"] if w["reason"] == "rename"], 30,
                  what="status showing why direct.csv waits")
    assert st[0]["name"] == "direct.csv" and "direct.csv.tmp" in st[0]["text"] and st[0]["until"] > time.time()
    time.sleep(2)
    assert d.output().count("direct.csv is waiting for a rename") == 1  # once, not per pass
    assert "direct.csv" not in file_states(root)
    assert d.stop() == 0
    stopped = status_json(cfg)
    assert [w["reason"] for w in stopped["waiting_files"]] == ["daemon_stopped"]
    assert all(isinstance(r.get("message", ""), (str, type(None))) for r in stopped["last_processed"])
    assert isinstance(stopped["last_processed"][0], dict) and "outcome" in stopped["last_processed"][0]


def test_sighup_applies_a_changed_setting_and_keeps_the_old_ones_on_a_broken_config(tmp_path, daemon_factory):
    """Issue 16 item 2: removing the code that applies the reloaded settings passed the old test."""
    root = tmp_path / "i"
    cfg = write_config(root, inbox={"catalog": {"mode": "done_file"}})
    d = daemon_factory(cfg)
    inbox = root / "inbox" / "catalog"
    (inbox / "a.csv").write_text(catalog_csv(2))
    wait_for(lambda: any(w["reason"] == "done_file" for w in status_json(cfg)["waiting_files"]), 30,
             what="a.csv waiting for its done file")
    cfg.write_text(cfg.read_text().replace('mode = "done_file"', 'mode = "stable"'))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: file_states(root).get("a.csv") == "done", 30, what="a.csv taken in stable mode after SIGHUP")
    assert "configuration reloaded" in d.output()
    good = cfg.read_text()
    cfg.write_text(good.replace('mode = "stable"', 'mode = "done_file"') + "\n[inbox.catalog.oops\n")  # not TOML
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload failed, keeping the running configuration" in d.output(), 30, what="the reload error")
    assert "not valid TOML" in d.output()
    (inbox / "b.csv").write_text(catalog_csv(2, start=50))  # stable mode still applies: no marker needed
    wait_for(lambda: file_states(root).get("b.csv") == "done", 30, what="b.csv under the running settings")
    assert d.proc.poll() is None
    assert d.stop() == 0


HANGING_PLUGIN = '''
import os, time
from marketd import hookimpl

class Hang:
    kind = "hang"
    completeness = "test"
    def process(self, ctx):
        release = os.environ["HANG_RELEASE"]
        while not os.path.exists(release):   # a handler stuck on one file
            time.sleep(0.05)
        return {"bytes": ctx.size}

@hookimpl
def register_inbox_handlers(register):
    register(Hang())
'''


def pings_during(d, seconds: float) -> int:
    d.poll_messages()
    d.messages.clear()
    time.sleep(seconds)
    d.poll_messages()
    return sum(m == "WATCHDOG=1" for m in d.messages)


def test_a_file_in_hand_past_max_file_seconds_stops_the_watchdog_and_is_rejected_at_the_restart(
        tmp_path, daemon_factory):
    """Issue 9 item 5: a worker stuck on one file kept feeding the systemd watchdog."""
    release = tmp_path / "release"
    env = {**install_plugin(tmp_path / "site", "marketd_hang", HANGING_PLUGIN), "HANG_RELEASE": str(release),
           "WATCHDOG_USEC": "1000000"}  # a ping every 0.5 s
    root = tmp_path / "i"
    cfg = write_config(root, daemon={"max_file_seconds": 2.0})
    d = daemon_factory(cfg, env=env)
    inbox = root / "inbox" / "hang"
    assert pings_during(d, 1.5) >= 1
    (inbox / "slow.txt").write_text("x\n")
    wait_for(lambda: "looks stuck" in d.output(), 30, what="the stuck-file error")
    line = next(ln for ln in d.output().splitlines() if "looks stuck" in ln)
    assert "hang/slow.txt" in line and "max_file_seconds" in line and "ERROR" in line
    assert pings_during(d, 2.0) == 0
    release.write_text("go")  # it finishes after all: pings resume, nothing is held against it
    wait_for(lambda: file_states(root).get("slow.txt") == "done", 30, what="slow.txt done")
    wait_for(lambda: "fed again" in d.output(), 10, what="the resume line")
    assert pings_during(d, 1.5) >= 1
    assert not (root / "var" / "stuck.json").exists()
    release.unlink()
    (inbox / "stuck.txt").write_text("y\n")
    wait_for(lambda: d.output().count("looks stuck") == 2, 30, what="stuck again")
    d.kill()  # what systemd does when the watchdog runs out
    release.write_text("go")  # would not hang now: the rejection must come from the note, not luck
    d2 = daemon_factory(cfg, env={k: v for k, v in env.items() if k != "WATCHDOG_USEC"})
    wait_for(lambda: file_states(root).get("stuck.txt") == "error", 30, what="stuck.txt rejected at the restart")
    (report,) = (inbox / ".error").glob("*__stuck.txt.error.json")
    err = json.loads(report.read_text())
    assert err["reason"] == "too_slow" and "max_file_seconds" in err["message"] and "requeue" in err["fix"]
    assert not (root / "var" / "stuck.json").exists()
    (inbox / "next.txt").write_text("z\n")
    wait_for(lambda: file_states(root).get("next.txt") == "done", 30, what="the next file")
    assert d2.stop() == 0


def test_a_read_only_database_at_start_up_is_one_line(tmp_path, monkeypatch):
    """Issue 9 item 7: a read-only database killed the worker at the first claim (a traceback and
    a restart loop under systemd)."""
    python = python_without_dac_override(tmp_path)
    root = tmp_path / "i"
    cfg = write_config(root)
    subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "status"], check=True,
                   capture_output=True, timeout=120)  # creates and migrates the database
    db = root / "var" / "marketd.sqlite"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{db}{suffix}").exists():
            os.chmod(f"{db}{suffix}", 0o444)
    res = subprocess.run([python, "-m", "marketd", "--config", str(cfg), "run"], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "NOTIFY_SOCKET": ""})
    assert res.returncode == 1, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in res.stderr and len(lines) == 1, res.stderr
    assert "state database" in lines[0] and "marketd.sqlite" in lines[0] and "permission" in lines[0]
