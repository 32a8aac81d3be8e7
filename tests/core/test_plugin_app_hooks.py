"""Hooks that receive the app: per-account jobs, plugin config errors, ``marketd status`` sections."""
from __future__ import annotations

import pytest

from marketd.cli import plugin_status_sections
from marketd.errors import ConfigError
from marketd.hookspecs import hookimpl
from marketd.models import JobSpec


class PerAccount:
    @hookimpl
    def register_jobs(self, register, app):
        # one job per configured account; here the "accounts" are read from a core key
        for name in app.config["daemon"]["timezone"].split("/"):
            register(JobSpec(f"sync-{name.lower()}", lambda app, since: None, seconds=60))


class Legacy:
    @hookimpl
    def register_jobs(self, register):  # no app: still called, as before
        register(JobSpec("legacy", lambda app, since: None, seconds=60))


def test_register_jobs_gets_the_app_when_it_asks_for_it(app_factory):
    app = app_factory(extra_plugins={"per": PerAccount(), "legacy": Legacy()},
                      daemon={"timezone": "Europe/Rome"})
    names = {s.name for s in app.job_specs()}
    assert {"sync-europe", "sync-rome", "legacy"} <= names


def test_a_plugin_config_error_stops_instead_of_being_skipped(app_factory):
    class Picky:
        @hookimpl
        def register_jobs(self, register, app):
            raise ConfigError("[picky] bad key")

    class Buggy:
        @hookimpl
        def register_jobs(self, register):
            raise RuntimeError("a bug")

    app = app_factory(extra_plugins={"buggy": Buggy(), "legacy": Legacy()})
    assert "legacy" in {s.name for s in app.job_specs()}  # a bug is logged and skipped
    with pytest.raises(ConfigError, match=r"\[picky\] bad key"):
        app_factory(extra_plugins={"picky": Picky()})  # the start (App's config check) stops


def test_status_sections_isolate_a_broken_plugin(app_factory):
    class Good:
        @hookimpl
        def status_sections(self, app):
            return {"widgets": ["3 ok"], "gadgets": "one line"}

    class Broken:
        @hookimpl
        def status_sections(self, app):
            raise KeyError("boom")

    app = app_factory(extra_plugins={"good": Good(), "broken": Broken()})
    sections = plugin_status_sections(app)
    assert sections["widgets"] == ["3 ok"] and sections["gadgets"] == ["one line"]
    assert sections["broken"] == ["(status unavailable: KeyError: 'boom'; see the log)"]


def test_jobs_listed_without_an_instance_give_app_none():
    from marketd.pluginhost import PluginHost

    seen = []

    class Probe:
        @hookimpl
        def register_jobs(self, register, app):
            seen.append(app)

    host = PluginHost()
    host.register(Probe(), "probe")
    host.register(Legacy(), "legacy")
    assert [s.name for s in host.collect("register_jobs")] == ["legacy"] and seen == [None]
