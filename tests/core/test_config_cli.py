"""Operator-facing behaviour of the config loader and the core CLI commands."""
import os
import re

import pytest
from click.testing import CliRunner

from marketd import config as config_mod
from marketd.cli import cli
from marketd.errors import ConfigError
from tests.conftest import write_config
from tests.samples import catalog_csv


def run(*args, cwd=None, env=None):
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(old)


def test_explicit_config_that_does_not_exist_never_falls_back(tmp_path):
    # ./config/marketd.toml exists (the repository layout), but the operator named another file.
    write_config(tmp_path / "config")
    res = run("--config", str(tmp_path / "typo.toml"), "status", cwd=tmp_path)
    assert res.exit_code == 1
    assert "config file not found" in res.output and "typo.toml" in res.output and "marketd init" in res.output
    res = run("status", cwd=tmp_path, env={"MARKETD_CONFIG": str(tmp_path / "nope.toml")})
    assert res.exit_code == 1 and "$MARKETD_CONFIG" in res.output
    res = run("--config", str(tmp_path / "config"), "status", cwd=tmp_path)
    assert res.exit_code == 1 and "is a folder" in res.output and "config/marketd.toml" in res.output


@pytest.mark.parametrize("text, expected", [
    ('[deamon]\nstate_dir = "x"\n', "unknown table [deamon]: did you mean 'daemon'"),
    ('[daemon]\nstatedir = "x"\n', "unknown key 'statedir': did you mean 'state_dir'"),
    ('daemon = 3\n', "must be a table"),
    ('[daemon]\nrescan_seconds = "30"\n', "rescan_seconds = '30': must be a number"),
    ('[daemon]\nstate_dir = 3\n', "state_dir = 3: must be a folder path"),
    ('[daemon]\nlog_level = "LOUD"\n', "log_level = 'LOUD': use one of DEBUG"),
    ('[inbox.defaults]\nmode = "sometimes"\n', "[inbox.defaults] mode = 'sometimes'"),
    ('[inbox.catalog]\nstability_seconds = "2"\n', "[inbox.catalog] stability_seconds = '2': must be a number"),
    ('[inbox.catalog]\nencoding = "latin-99"\n', "not a known encoding"),
    ('[inbox.catalog]\ndelimiter = ";;"\n', "delimiter = ';;'"),
    ('[inbox.catalog]\ndecimal = "x"\n', "decimal = 'x'"),
    ('[inbox.catalog]\nmax_attempts = 0\n', "max_attempts = 0: must be >= 1"),
    ('[jobs.retention]\nseconds = "x"\n', "[jobs.retention] seconds = 'x'"),
    ('[jobs.retention]\ncron = "30 3 * * *"\n', "cron = { hour = 6, minute = 0 }"),
    ('[jobs.retention]\ncron = { hour = 25 }\n', "[jobs.retention] cron"),
    ('[jobs.retention]\nenabled = "no"\n', "use true or false"),
    ('[plugins]\ndisabled = "amazon"\n', "must be a list of plugin names"),
])
def test_config_errors_name_the_file_the_key_and_the_fix(tmp_path, text, expected):
    p = tmp_path / "m.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        config_mod.load(p)
    assert str(err.value).startswith(f"{p}: ") and expected in str(err.value)
    res = run("--config", str(p), "status")  # one line, no traceback
    assert res.exit_code == 1 and expected in res.output and "Traceback" not in res.output


def test_valid_settings_still_load(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text('[daemon]\nlog_level = "debug"\nstop_timeout_seconds = 60\n'
                 '[inbox.catalog]\nencoding = "cp1252"\ndelimiter = "tab"\ndecimal = ","\nstability_seconds = 1\n'
                 '[jobs.retention]\nenabled = false\n[jobs.catalog-summary]\ncron = { hour = 7, minute = 15 }\n'
                 '[jobs.tracking-sync]\nseconds = 600\nfirst_check = 60\n')
    cfg = config_mod.load(p)
    assert cfg["inbox"]["catalog"]["delimiter"] == "tab"
    assert cfg["inbox"]["catalog"]["direct_write_grace_seconds"] == 600


def test_starter_shows_every_daemon_and_inbox_default(tmp_path):
    text = config_mod.render_starter()
    for key in list(config_mod.DEFAULTS["daemon"]) + [k for k in config_mod.INBOX_DEFAULTS if k != "columns"]:
        assert f"\n{key} = " in text, key
    assert "\n\n\n" not in text
    p = tmp_path / "marketd.toml"
    p.write_text(text)
    assert config_mod.load(p)["inbox"]["defaults"] == config_mod.INBOX_DEFAULTS


def test_log_level_option_is_checked():
    res = run("--log-level", "LOUD", "status")
    assert res.exit_code == 2 and "'LOUD' is not one of" in res.output


def test_requeue_unknown_id_and_rejected_again(tmp_path):
    cfg = write_config(tmp_path / "i")
    res = run("--config", str(cfg), "requeue", "20260101T000000-deadbeef")
    assert res.exit_code == 1
    assert "no file with id 20260101T000000-deadbeef (" in res.output and "marketd status" in res.output
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    res = run("--config", str(cfg), "process", "--kind", "catalog", str(empty))
    assert res.exit_code == 1 and "[empty_file]" in res.output
    file_id = re.search(r"error: catalog/empty.csv \((\S+)\)", res.output).group(1)
    res = run("--config", str(cfg), "requeue", file_id)
    assert res.exit_code == 1  # rejected again: said so, like `process`
    assert "error: catalog/empty.csv" in res.output and "[empty_file]" in res.output and ".error.txt" in res.output
    res = run("--config", str(cfg), "requeue", file_id)
    assert res.exit_code == 1 and "requeued already" in res.output


def test_process_a_file_in_its_inbox_takes_it_out(tmp_path):
    cfg = write_config(tmp_path / "i")
    run("--config", str(cfg), "status")
    dropped = tmp_path / "i" / "inbox" / "catalog" / "feed.csv"
    dropped.parent.mkdir(parents=True, exist_ok=True)
    dropped.write_text(catalog_csv(2))
    res = run("--config", str(cfg), "process", str(dropped))
    assert res.exit_code == 0 and "done: catalog/feed.csv" in res.output
    assert not dropped.exists()  # the next daemon start must not take it again
    res = run("--config", str(cfg), "status")
    assert "catalog=0" in res.output
    elsewhere = tmp_path / "copy.csv"
    elsewhere.write_text(catalog_csv(2, start=50))
    assert run("--config", str(cfg), "process", "--kind", "catalog", str(elsewhere)).exit_code == 0
    assert elsewhere.exists()  # a file from elsewhere is copied, never taken away


def test_jobs_run_names_a_disabled_job(tmp_path):
    cfg = write_config(tmp_path / "i", jobs={"retention": {"enabled": False}})
    res = run("--config", str(cfg), "jobs", "run", "retention")
    assert res.exit_code == 1 and "disabled" in res.output and "[jobs.retention] enabled = false" in res.output
