"""``[remotes.<name>]`` is checked like the core's own tables: file, table, key, did-you-mean."""
from __future__ import annotations

import subprocess
import sys

import asyncssh
import pytest
import tomli_w

from marketd import config as config_mod
from marketd.errors import ConfigError
from marketd.plugins.remotes.hostkeys import parse_pins
from marketd.plugins.remotes.settings import parse
from tests.conftest import write_config

HOST_KEY = asyncssh.generate_private_key("ssh-ed25519")
KEY_LINE = HOST_KEY.export_public_key("openssh").decode().strip()


def load(tmp_path, remote: dict, **more):
    (tmp_path / "id").write_text("not read at load time")
    base = {"host": "erp.example", "user": "m", "key_file": "id", "host_key": KEY_LINE}
    cfg = write_config(tmp_path, remotes={"erp": {**base, **remote}}, **more)
    return config_mod.load(cfg)


def error_of(tmp_path, remote: dict, **more) -> str:
    with pytest.raises(ConfigError) as exc:
        parse(load(tmp_path, remote, **more))
    return str(exc.value)


def test_a_valid_remote_parses_with_defaults_and_resolves_the_key_file(tmp_path):
    remotes = parse(load(tmp_path, {"pull": [{"remote_dir": "/export/", "inbox": "catalog"}],
                                    "push": [{"outbox": "labels", "remote_dir": "in"}]}))
    r = remotes["erp"]
    assert r.name == "erp" and r.port == 22 and r.key_file == str((tmp_path / "id").resolve())
    p = r.pull[0]
    assert (p.remote_dir, p.completeness, p.after, p.archive_path) == ("/export", "stable", "archive", "/export/done")
    assert not p.wants("a.csv.tmp") and not p.wants(".a.csv") and p.wants("a.csv")
    assert r.push[0].temp_for("x.pdf") == "x.pdf.tmp"
    assert r.job_seconds == 15


@pytest.mark.parametrize("remote, expected", [
    ({"pull": [{"remot_dir": "/x", "inbox": "catalog"}]},
     "[[remotes.erp.pull]] #1 unknown key 'remot_dir': did you mean 'remote_dir'?"),
    ({"hots": "x"}, "[remotes.erp] unknown key 'hots': did you mean 'host'?"),
    ({"push": [{"outbox": "labels", "remote_dir": "/in"}, {"outbox": "labels", "remote_dir": "/in", "conflit": "x"}]},
     "[[remotes.erp.push]] #2 unknown key 'conflit': did you mean 'conflict'?"),
    ({"password": "hunter22"}, "holds 'password' in clear: secrets must come from environment variables"),
    ({"port": "twenty-two"}, "[remotes.erp] port = 'twenty-two': Input should be a valid integer"),
    ({"pull": [{"remote_dir": "/x", "inbox": "catalog", "after": "move"}]}, "after = 'move': Input should be"),
    ({"pull": [{"remote_dir": "/x", "inbox": "../etc"}]}, "inbox = '../etc': must be one folder name"),
    ({"push": [{"outbox": "labels", "remote_dir": "/in", "temp_name": "upload.tmp"}]}, "must contain {name}"),
    ({"host_key": "SHA256:short"}, "is not a SHA256 fingerprint"),
    ({"host_key": "ssh-ed25519 bm90IGEga2V5"}, "is neither a public key"),
    ({"password_secret": "my password"}, "must be the name of an environment variable or systemd credential"),
    ({"pull": [{"remote_dir": "/x", "inbox": "catalog"}, {"remote_dir": "/x/", "inbox": "shipments"}]},
     "pulls '/x' twice"),
])
def test_bad_settings_name_file_table_and_key(tmp_path, remote, expected):
    text = error_of(tmp_path, remote)
    assert str(tmp_path / "marketd.toml") in text, text
    assert expected in text, text


def test_a_remote_without_a_key_or_password_is_refused(tmp_path):
    cfg = write_config(tmp_path, remotes={"erp": {"host": "h", "user": "u", "host_key": KEY_LINE}})
    with pytest.raises(ConfigError, match=r"\[remotes.erp\] : needs key_file|\[remotes.erp\].*needs key_file"):
        parse(config_mod.load(cfg))


def test_a_missing_key_file_and_an_inbox_that_would_take_our_temp_names_are_refused(tmp_path):
    cfg = write_config(tmp_path, remotes={"erp": {"host": "h", "user": "u", "key_file": "nope", "host_key": KEY_LINE}})
    with pytest.raises(ConfigError, match=r"key_file = 'nope': no such file"):
        parse(config_mod.load(cfg))
    text = error_of(tmp_path, {"pull": [{"remote_dir": "/x", "inbox": "catalog"}]},
                    inbox={"catalog": {"temp_patterns": ["*.tmp"]}})
    assert "[inbox.catalog] temp_patterns" in text and "\".*\"" in text


def test_host_key_pins_accept_known_hosts_lines_bare_keys_and_fingerprints():
    fp = HOST_KEY.get_fingerprint("sha256")
    other = asyncssh.generate_private_key("ssh-ed25519")
    for value in (KEY_LINE, f"[erp.example]:2222,10.0.0.5 {KEY_LINE} comment", fp, [other.export_public_key().decode(), fp]):
        pins = parse_pins(value)
        assert pins.matches(HOST_KEY), value
        assert not parse_pins(other.export_public_key().decode()).matches(HOST_KEY)
    assert fp in parse_pins(KEY_LINE).describe()


def test_remotes_is_a_known_table_and_a_bad_section_stops_marketd_status(tmp_path):
    (tmp_path / "id").write_text("k")
    cfg = tmp_path / "marketd.toml"
    cfg.write_text(tomli_w.dumps({"remotes": {"erp": {"host": "h", "user": "u", "key_file": "id", "prot": 22}}}))
    done = subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "status"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert f"{cfg}: [remotes.erp] unknown key 'prot': did you mean 'port'?" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    cfg.write_text(tomli_w.dumps({"remote": {}}))
    done = subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "status"], capture_output=True,
                          text=True, timeout=60)
    assert "unknown table [remote]: did you mean 'remotes'?" in done.stderr, done.stderr


def test_one_job_per_enabled_remote_at_its_shortest_interval(app_factory, tmp_path):
    from marketd.scheduler import JobRunner

    key = tmp_path / "k"
    key.write_text("x")
    base = {"host": "h", "user": "u", "key_file": str(key), "host_key": KEY_LINE}
    app = app_factory(remotes={
        "erp": {**base, "push_seconds": 30, "pull": [{"remote_dir": "/a", "inbox": "catalog", "seconds": 7}]},
        "wms": {**base, "enabled": False},
    })
    specs = {s.name: s for s in app.job_specs()}
    assert specs["remote-erp"].seconds == 7 and specs["remote-erp"].enabled
    assert specs["remote-wms"].enabled is False
    assert "remote-erp" in JobRunner(app).specs and "remote-wms" not in JobRunner(app).specs


def test_a_pull_into_an_inbox_no_plugin_handles_stops_the_start(app_factory, tmp_path):
    key = tmp_path / "k"
    key.write_text("x")
    with pytest.raises(ConfigError, match=r"#1 inbox = 'catlog': no loaded plugin handles that inbox; "
                                          r"did you mean 'catalog'\?"):
        app_factory(remotes={"erp": {"host": "h", "user": "u", "key_file": str(key), "host_key": KEY_LINE,
                                     "pull": [{"remote_dir": "/a", "inbox": "catlog"}]}})
