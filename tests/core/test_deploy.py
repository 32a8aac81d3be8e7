"""The shipped deployment files: systemd units and the sshd drop-in.

Always: a unit-file level parse (sections, repeated keys kept) checking the settings the daemon
relies on. When available: ``systemd-analyze verify`` on a copy whose ExecStart points at an
existing executable (verify rejects a missing binary, and prints unknown keys as warnings with
exit code 0, so its output is checked too), and ``sshd -t`` on the sshd drop-in.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

DEPLOY = REPO / "deploy"
UNIT = DEPLOY / "marketd.service"
TEMPLATE = DEPLOY / "marketd@.service"
SSHD_DROPIN = DEPLOY / "sshd_config.marketd"


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """systemd unit syntax: [Section], Key=Value, '#'/';' comments, '\\' continuations, repeats kept."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    pending = ""
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        m = re.fullmatch(r"\[([A-Za-z]+)\]", line)
        if m:
            current = sections.setdefault(m.group(1), {})
            continue
        assert current is not None, f"{path.name}:{lineno}: key outside a section"
        assert "=" in line, f"{path.name}:{lineno}: not Key=Value: {line!r}"
        key, value = line.split("=", 1)
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()), f"{path.name}:{lineno}: bad key {key!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    assert not pending, f"{path.name}: dangling line continuation"
    return sections


def seconds(value: str) -> float:
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "ms": 0.001}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total


def one(service: dict, key: str) -> str:
    values = service.get(key)
    assert values, f"[Service] {key}= is missing"
    return values[-1]


@pytest.mark.parametrize("path,instance", [(UNIT, ""), (TEMPLATE, "%i")], ids=["single", "template"])
def test_unit_has_the_settings_marketd_relies_on(path, instance):
    unit = parse_unit(path)
    assert set(unit) == {"Unit", "Service", "Install"}
    svc = unit["Service"]
    assert one(svc, "Type") == "notify"  # READY=1 after recovery + start-up scan
    assert one(svc, "NotifyAccess") == "main"
    assert 0 < seconds(one(svc, "WatchdogSec")) <= 120
    assert one(svc, "Restart") == "on-failure"
    assert seconds(one(svc, "TimeoutStopSec")) >= 60  # the file in hand is finished on SIGTERM
    assert one(svc, "User") == "marketd"
    assert one(svc, "UMask") == "0027"
    assert one(svc, "ProtectSystem") == "strict"
    assert one(svc, "NoNewPrivileges") == "yes"
    assert one(svc, "PrivateTmp") == "yes"
    assert one(svc, "ProtectHome") == "yes"
    sub = f"/{instance}" if instance else ""
    writable = " ".join(svc["ReadWritePaths"]).split()
    assert f"/var/lib/marketd{sub}" in writable
    inbox_root = f"/srv/marketd/{instance}/inbox" if instance else "/srv/marketd/inbox"
    outbox_root = f"/srv/marketd/{instance}/outbox" if instance else "/srv/marketd/outbox"
    assert inbox_root in writable and outbox_root in writable
    assert one(svc, "StateDirectory") == f"marketd{sub}"
    assert one(svc, "WorkingDirectory") == f"/var/lib/marketd{sub}"
    exec_start = one(svc, "ExecStart").split()
    assert exec_start[0].startswith("/"), "systemd needs an absolute ExecStart path"
    assert exec_start[-1] == "run" and "--config" in exec_start
    config = exec_start[exec_start.index("--config") + 1]
    assert config == (f"/etc/marketd/{instance}.toml" if instance else "/etc/marketd/marketd.toml")
    assert one(svc, "SyslogIdentifier") == (f"marketd-{instance}" if instance else "marketd")
    # secrets: documented LoadCredential= examples (commented out) name a credential and a file
    text = path.read_text()
    assert re.search(r"^#LoadCredential=[A-Z0-9_]+:/etc/marketd/credentials/\S+$", text, re.M)
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_units_agree_except_for_the_instance():
    single = parse_unit(UNIT)["Service"]
    template = parse_unit(TEMPLATE)["Service"]
    assert set(single) == set(template), set(single) ^ set(template)
    for key in single:
        if not any("%i" in v for v in template[key]):
            assert single[key] == template[key], key


def _verify_copy(tmp_path: Path, src: Path, name: str) -> Path:
    """A copy with ExecStart pointing at an executable that exists (verify checks it)."""
    exe = shutil.which("marketd") or "/bin/true"
    text = src.read_text().replace("/usr/local/bin/marketd", exe)
    out = tmp_path / name
    out.write_text(text)
    return out


@pytest.mark.parametrize("src,name", [(UNIT, "marketd.service"), (TEMPLATE, "marketd@acme.service")],
                         ids=["single", "template"])
def test_systemd_analyze_verify(tmp_path, src, name):
    tool = shutil.which("systemd-analyze")
    if not tool:
        pytest.skip("systemd-analyze not installed; the unit-level parse above still ran")
    unit = _verify_copy(tmp_path, src, name)
    proc = subprocess.run([tool, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SYSTEMD_LOG_COLOR": "0"})
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 and name not in out:
        pytest.skip(f"systemd-analyze cannot run here (not about our unit): {out.strip()[:300]}")
    assert proc.returncode == 0, out
    about_us = [line for line in out.splitlines() if name in line]
    assert about_us == [], "\n".join(about_us)  # unknown keys / bad values are warnings, rc stays 0


def test_sshd_dropin_is_a_chrooted_sftp_only_match_block(tmp_path):
    text = SSHD_DROPIN.read_text()
    directives = [line.split(None, 1) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert directives[0] == ["Match", "Group sftp-marketd"]  # nothing global: only the Match block
    settings = {k: v for k, v in directives[1:]}
    assert settings["ChrootDirectory"] == "/srv/marketd/sftp/%u"
    assert settings["ForceCommand"].startswith("internal-sftp -u 0007")
    assert settings["AllowTcpForwarding"] == "no" and settings["X11Forwarding"] == "no"
    assert settings["PermitTTY"] == "no"
    sshd = next((p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.access(p, os.X_OK)), None)
    if not sshd:
        pytest.skip("sshd not installed: `sshd -t` syntax check not run")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)
    key = tmp_path / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30)
    proc = subprocess.run([sshd, "-t", "-f", str(SSHD_DROPIN), "-o", f"HostKey={key}"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
