"""The application object: config, store, plugins and outbox wired together once.

The daemon, the CLI's one-shot commands and tests all build the same ``App``; nothing reaches
for globals, so a test can run two instances side by side on a fake clock.
"""
from __future__ import annotations

import logging
from pathlib import Path

from . import config as config_mod
from . import settings as settings_mod
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
        self._factories: dict[str, dict] = {}
        self.check_config(config)
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

    # -- settings ------------------------------------------------------------------------------
    def check_config(self, cfg: dict) -> dict:
        """Validate every table of ``cfg`` against the loaded plugins' settings models (start-up,
        and SIGHUP before a reloaded config replaces the running one); returns ``cfg``."""
        def model(obj, base, what):
            declared = getattr(obj, "settings_model", None) or base
            if not (isinstance(declared, type) and issubclass(declared, base)):
                raise ConfigError(f"{what}: settings_model {declared!r} must be a subclass of "
                                  f"marketd.sdk.{base.__name__} (a plugin bug; see docs/plugins/cookbook.md)")
            return declared

        inboxes = {kind: model(h, settings_mod.InboxSettings, f"inbox handler {kind!r}")
                   for kind, h in self.inbox_handlers().items()}
        channels = {t: model(f, settings_mod.ChannelSettings, f"channel type {t!r}")
                    for t, f in self.factories("register_channels").items()}
        carriers = {t: model(f, settings_mod.CarrierSettings, f"carrier type {t!r}")
                    for t, f in self.factories("register_carriers").items()}
        jobs = {s.name: model(s, settings_mod.JobSettings, f"job {s.name!r}") for s in self.job_specs()}
        settings_mod.check(cfg, inboxes=inboxes, channels=channels, carriers=carriers, jobs=jobs)
        formats = self.settlement_formats()
        if formats and "settlements" not in inboxes:
            # A channel's payout files would pile up unread (or be rejected by nobody): say so at start.
            owners = sorted({p for p, _ in self.plugins.collect_from("register_settlement_formats")})
            raise ConfigError(
                f"plugin(s) {', '.join(owners)} register settlement formats ({', '.join(sorted(formats))}) but no "
                "loaded plugin handles inbox/settlements/: the built-in 'settlements' plugin is disabled or failed "
                "to load (see `marketd plugins`); enable it, or disable those plugins too")
        known = {i.name for i in self.plugins.info}
        for name in cfg["plugins"].disabled:
            if name not in known:
                log.warning("[plugins] disabled names %r, which is no installed plugin %s", name,
                            settings_mod.did_you_mean(name, known))
        return cfg

    # -- plugin registries ---------------------------------------------------------------------
    def _registered(self, hook_name: str, key) -> dict:
        """``key(item) -> item`` of everything plugins registered; a name two plugins register is
        logged (the later plugin in hook order wins, as before)."""
        out, owner = {}, {}
        for plugin, item in self.plugins.collect_from(hook_name):
            k = key(item)
            if k in owner and owner[k] != plugin:
                log.warning("%s %r is registered by plugins %s and %s; %s's is used", hook_name, k, owner[k],
                            plugin, plugin)
            out[k], owner[k] = item, plugin
        return out

    def migrate(self) -> list[str]:
        from . import mail, orderflags

        # Core tables outside the core's own version line: their own component, so their
        # versions never collide with another branch's core migration.
        components: dict[str, list] = {orderflags.COMPONENT: list(orderflags.MIGRATIONS),
                                       mail.COMPONENT: list(mail.MIGRATIONS)}
        for component, steps in self.plugins.collect("register_migrations"):
            components.setdefault(component, []).extend(steps)
        return self.store.migrate(components)

    def inbox_handlers(self) -> dict:
        return self._registered("register_inbox_handlers", lambda h: h.kind)

    def reports(self) -> dict:
        """Report name -> ``build(app, **options)`` (``register_reports``; ``marketd report``)."""
        return {name: build for name, build in self._registered("register_reports", lambda i: i[0]).values()}

    def settlement_formats(self) -> dict:
        """Format name -> payout file format (``register_settlement_formats``; the plugin handling
        ``inbox/settlements/`` dispatches a file to the one whose ``sniff`` recognises it)."""
        return self._registered("register_settlement_formats", lambda f: f.name)

    def job_specs(self) -> list:
        return self.plugins.collect("register_jobs", app=self)

    def factories(self, hook_name: str) -> dict:
        """Channel or carrier type name -> factory (``register_channels`` / ``register_carriers``)."""
        if hook_name not in self._factories:
            self._factories[hook_name] = {t: f for t, f in self._registered(hook_name, lambda i: i[0]).values()}
        return self._factories[hook_name]

    def _build(self, table: str, hook_name: str) -> dict:
        factories = self.factories(hook_name)
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
        """The secret a :class:`marketd.sdk.SecretRef` names; registered with the log redactor."""
        value = get_secret(str(name), required=required)
        REDACTOR.add(value)
        return value

    def emit(self, event: str, **kwargs) -> None:
        """Fire an event hook; a listener that raises is logged and never breaks the caller."""
        getattr(self.hook, event)(app=self, **kwargs)

    def close(self) -> None:
        self.store.close()
