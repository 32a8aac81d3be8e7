"""The plugin manager (named pluginhost because `marketd.plugins` is the package of built-in plugins).

Entry points are loaded one at a time (pluggy's ``load_setuptools_entrypoints`` stops at the
first broken plugin and takes the daemon down with it), so a plugin that fails to import is
recorded and listed as ``failed`` by ``marketd plugins`` while everything else runs.
"""
from __future__ import annotations

import importlib.metadata as md
import logging
import os
import traceback
from dataclasses import dataclass

import pluggy

from . import hookspecs

log = logging.getLogger("marketd.plugins")
GROUP = "marketd"


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str
    builtin: bool
    status: str  # loaded | failed | disabled
    error: str = ""


def _entry_points():
    return sorted(md.entry_points(group=GROUP), key=lambda ep: ep.name)


class PluginHost:
    def __init__(self, disabled: list[str] | None = None, strict: bool | None = None):
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        env_disabled = [p.strip() for p in os.environ.get("MARKETD_DISABLE_PLUGINS", "").split(",") if p.strip()]
        self.disabled = set(disabled or []) | set(env_disabled)
        self.strict = strict if strict is not None else os.environ.get("MARKETD_STRICT_PLUGINS") == "1"
        self.info: list[PluginInfo] = []

    @property
    def hook(self):
        return self.pm.hook

    def load_entry_points(self) -> None:
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            builtin = ep.value.startswith("marketd.plugins.")
            if ep.name in self.disabled:
                self.info.append(PluginInfo(ep.name, ep.value, dist, version, builtin, "disabled"))
                continue
            if self.pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
            except Exception as exc:  # a broken plugin must not stop the daemon
                log.error("plugin %s (%s %s) failed to load: %s", ep.name, dist, version, exc)
                log.debug("%s", traceback.format_exc())
                self.info.append(PluginInfo(ep.name, ep.value, dist, version, builtin, "failed",
                                            f"{type(exc).__name__}: {exc}"))
                if self.strict:
                    raise
                continue
            self.info.append(PluginInfo(ep.name, ep.value, dist, version, builtin, "loaded"))

    def register(self, plugin, name: str) -> None:
        """Register an in-process plugin object or module (tests, embedding)."""
        self.pm.register(plugin, name=name)
        self.info.append(PluginInfo(name, getattr(plugin, "__name__", repr(plugin)), "(in-process)", "", False, "loaded"))

    def plugin_name_of(self, obj) -> str:
        module = type(obj).__module__ if not isinstance(obj, type(os)) else obj.__name__
        for info in self.info:
            if module == info.module or module.startswith(info.module + "."):
                return info.name
        return module

    def version_of(self, name: str) -> str:
        for info in self.info:
            if info.name == name:
                return info.version
        return ""

    def collect(self, hook_name: str, *args) -> list:
        """Call a ``register_*`` hook and return what the plugins registered, plugin by plugin.

        A plugin whose registration raises is logged and skipped, never fatal.
        """
        out: list = []
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            def register(*items):
                out.append(items[0] if len(items) == 1 else items)
            try:
                impl.function(register)
            except Exception as exc:
                log.error("plugin %s: %s raised %s: %s", impl.plugin_name, hook_name, type(exc).__name__, exc)
                if self.strict:
                    raise
        return out
