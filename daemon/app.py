"""The application object: config, store, plugins and outbox wired together once.

The daemon, the CLI's one-shot commands and tests all build the same ``App``; nothing reaches
for globals, so a test can run two instances side by side on a fake clock.
"""
from __future__ import annotations

import logging
from pathlib import Path

from . import config as config_mod
from .clock import SYSTEM_CLOCK, Clock
from .credentials import REDACTOR, get_secret
from .errors import ConfigError
from .outbox import Outbox
from .pluginhost import PluginHost
from .store import Store

log = logging.getLogger("marketd")


class App:
    def __init__(self, config: dict, *, clock: Clock | None = None, plugins: PluginHost | None = None,
                 load_entry_points: bool = True, extra_plugins: dict | None = None):
        self.config = config
        self.clock = clock or SYSTEM_CLOCK
        d = config["daemon"]
        self.state_dir = Path(d["state_dir"])
        self.inbox_dir = Path(d["inbox_dir"])
        self.outbox_dir = Path(d["outbox_dir"])
        self.plugins = plugins or PluginHost(disabled=config.get("plugins", {}).get("disabled", []))
        if load_entry_points:
            self.plugins.load_entry_points()
        for name, plugin in (extra_plugins or {}).items():
            self.plugins.register(plugin, name)
        self.store = Store(self.state_dir / "marketd.sqlite")
        self.outbox = Outbox(self.outbox_dir, d.get("output_conflict", "fail"), d.get("output_done_files", []))
        self._channels: dict | None = None
        self._carriers: dict | None = None
        self.migrate()

    @classmethod
    def from_config_path(cls, path: str | Path, **kw) -> "App":
        return cls(config_mod.load(path), **kw)

    @property
    def hook(self):
        return self.plugins.hook

    # -- plugin registries ---------------------------------------------------------------------
    def migrate(self) -> list[str]:
        components: dict[str, list] = {}
        for component, steps in self.plugins.collect("register_migrations"):
            components.setdefault(component, []).extend(steps)
        return self.store.migrate(components)

    def inbox_handlers(self) -> dict:
        handlers = {}
        for handler in self.plugins.collect("register_inbox_handlers"):
            handlers[handler.kind] = handler
        return handlers

    def job_specs(self) -> list:
        return self.plugins.collect("register_jobs")

    def _build(self, table: str, hook_name: str) -> dict:
        factories = dict(self.plugins.collect(hook_name))
        built = {}
        for name, settings in self.config.get(table, {}).items():
            kind = settings["type"]
            if kind not in factories:
                raise ConfigError(
                    f"[{table}.{name}] type = {kind!r} is not provided by any loaded plugin "
                    f"(known: {', '.join(sorted(factories)) or 'none'}; see `marketd plugins`)")
            built[name] = factories[kind](self, name, settings)
        return built

    @property
    def channels(self) -> dict:
        if self._channels is None:
            self._channels = self._build("channels", "register_channels")
        return self._channels

    @property
    def carriers(self) -> dict:
        if self._carriers is None:
            self._carriers = self._build("carriers", "register_carriers")
        return self._carriers

    def channel(self, name: str):
        try:
            return self.channels[name]
        except KeyError:
            raise ConfigError(f"no channel account named {name!r} in [channels] of the config")

    def carrier(self, name: str):
        try:
            return self.carriers[name]
        except KeyError:
            raise ConfigError(f"no carrier account named {name!r} in [carriers] of the config")

    def secret(self, name: str, required: bool = True) -> str | None:
        value = get_secret(name, required=required)
        REDACTOR.add(value)
        return value

    def emit(self, event: str, **kwargs) -> None:
        """Fire an event hook; a listener that raises is logged and never breaks the caller."""
        hook = getattr(self.hook, event)
        for impl in hook.get_hookimpls():
            try:
                impl.function(**{k: v for k, v in {"app": self, **kwargs}.items() if k in impl.argnames})
            except Exception as exc:
                log.error("plugin %s: %s listener raised %s: %s", impl.plugin_name, event, type(exc).__name__, exc)

    def close(self) -> None:
        self.store.close()
