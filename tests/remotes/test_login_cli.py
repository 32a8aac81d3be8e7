"""Logging in with a password or an encrypted key read from the environment, and the
``marketd remotes`` commands as an operator runs them."""
from __future__ import annotations

import logging
import subprocess
import sys

import asyncssh
import pytest

from marketd.plugins.remotes.runner import run
from tests.conftest import write_config
from tests.remotes.erp import remote_section

pytestmark = [pytest.mark.sftp]


def cli(cfg, *args, env=None):
    import os

    return subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def test_password_from_the_environment_logs_in_and_never_reaches_the_log(async_erp, remote_app, monkeypatch, caplog):
    erp = async_erp
    erp.password = "correct horse battery"
    erp.local("export/a.csv").write_bytes(b"a")
    monkeypatch.setenv("ERP_SFTP_PASSWORD", "correct horse battery")
    app = remote_app(erp, key_file=None, password_secret="ERP_SFTP_PASSWORD",
                     pull=[{"remote_dir": "/export", "inbox": "catalog", "completeness": "final_name"}])
    caplog.set_level(logging.DEBUG)
    assert run(app, "erp", force=True).pulled == 1
    monkeypatch.setenv("ERP_SFTP_PASSWORD", "wrong horse")
    report = run(app, "erp", force=True)
    assert "refused the login" in report.error
    assert "correct horse battery" not in caplog.text and "wrong horse" not in caplog.text


def test_a_missing_password_secret_says_where_to_put_it(async_erp, remote_app, monkeypatch):
    monkeypatch.delenv("ERP_SFTP_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    app = remote_app(async_erp, key_file=None, password_secret="ERP_SFTP_PASSWORD",
                     push=[{"outbox": "labels", "remote_dir": "/import", "existing": "push"}])
    app.outbox.write("labels/a.pdf", b"x")
    report = run(app, "erp", force=True)
    assert "ERP_SFTP_PASSWORD is not set" in report.error and "LoadCredential" in report.error


def test_an_encrypted_key_with_its_passphrase_from_a_credentials_file(async_erp, remote_app, tmp_path, monkeypatch):
    erp = async_erp
    key = asyncssh.read_private_key(str(erp.client_key))
    encrypted = tmp_path / "id_encrypted"
    encrypted.write_bytes(key.export_private_key("openssh", passphrase="s3cret-phrase"))
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "ERP_KEY_PASSPHRASE").write_text("s3cret-phrase\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    erp.local("export/a.csv").write_bytes(b"a")
    pull = [{"remote_dir": "/export", "inbox": "catalog", "completeness": "final_name"}]
    app = remote_app(erp, key_file=str(encrypted), pull=pull)
    report = run(app, "erp", force=True)
    assert "cannot use key_file" in report.error and "key_passphrase_secret" in report.error
    app = remote_app(erp, key_file=str(encrypted), key_passphrase_secret="ERP_KEY_PASSPHRASE", pull=pull)
    assert run(app, "erp", force=True).pulled == 1


def test_the_remotes_commands(erp_sshd, tmp_path):
    erp = erp_sshd
    erp.local("export/a.csv").write_bytes(b"a")
    section = remote_section(erp, pull=[{"remote_dir": erp.remote("export"), "inbox": "catalog",
                                         "completeness": "final_name"}],
                             push=[{"outbox": "labels", "remote_dir": erp.remote("import"), "existing": "push"}])
    cfg = write_config(tmp_path / "inst", remotes={"erp": section})
    done = cli(cfg, "remotes", "pull", "erp")
    assert done.returncode == 0 and "remote erp: pulled 1, pushed 0" in done.stdout, done.stdout + done.stderr
    (tmp_path / "inst" / "outbox" / "labels").mkdir(parents=True)
    (tmp_path / "inst" / "outbox" / "labels" / "l.pdf").write_bytes(b"%PDF")
    done = cli(cfg, "remotes", "push", "erp")
    assert done.returncode == 0 and "pushed 1" in done.stdout, done.stdout + done.stderr
    assert erp.local("import/l.pdf").read_bytes() == b"%PDF"
    listing = cli(cfg, "remotes")
    assert "1 delivered" in listing.stdout and "1 pulled" in listing.stdout, listing.stdout
    assert '"pushed": 1' in cli(cfg, "remotes", "--json").stdout
    fp = asyncssh.read_public_key(f"{erp.host_key}.pub").get_fingerprint("sha256")
    shown = cli(cfg, "remotes", "hostkey", "erp")
    assert shown.returncode == 0 and f"{fp}  ssh-ed25519 (pinned)" in shown.stdout, shown.stdout + shown.stderr
    missing = cli(cfg, "remotes", "pull", "nope")
    assert missing.returncode == 1 and "no remote named 'nope'" in missing.stderr and "configured: erp" in missing.stderr
