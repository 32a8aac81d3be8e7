"""The plugin manager (named pluginhost because `marketd.plugins` is the package of built-in plugins).

Entry points are loaded one at a time (pluggy's ``load_setuptools_entrypoints`` stops at the
first broken plugin and takes the daemon down with it), so a plugin that fails to import is
recorded and listed as ``failed`` by ``marketd plugins`` while everything else runs.

Every hook is called through pluggy (``host.hook.<name>(...)``), so ordering (``tryfirst``,
``trylast``), wrappers (``@hookimpl(wrapper=True)``), ``firstresult`` and hook-call tracing work
as pluggy documents them. What pluggy does not do is isolate plugins from each other: one
implementation that raises aborts the whole call. So each implementation is registered behind a
guard that logs the failure with the plugin's name and lets the call go on without that plugin's
answer; ``MARKETD_STRICT_PLUGINS=1`` (plugin development, CI) makes it fatal instead. A
``ConfigError`` from a ``register_*`` hook is not a plugin bug but a wrong config table (a plugin
that registers one job per configured account checks its table there): it always propagates.
``MARKETD_TRACE_HOOKS=1`` logs every hook call with its implementations and results.
"""
from __future__ import annotations

import contextvars
import functools
import importlib.metadata as md
import logging
import os
import traceback
import types
from dataclasses import dataclass

import pluggy

from . import hookspecs
from .errors import ConfigError

log = logging.getLogger("marketd.plugins")
GROUP = "marketd"
RENAMED_GROUP = "marketd.renamed"

# The plugin whose hook implementation is running (so ``register`` knows who registers), and the
# plugins whose implementation failed during the current ``collect`` (their items are dropped).
_CURRENT = contextvars.ContextVar("marketd_current_plugin", default="")
_FAILED: contextvars.ContextVar[set | None] = contextvars.ContextVar("marketd_failed_plugins", default=None)


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str
    builtin: bool
    status: str  # loaded | failed | disabled
    error: str = ""


@dataclass
class HookFailure:
    plugin: str
    hook: str
    error: str


def _entry_points():
    return sorted(md.entry_points(group=GROUP), key=lambda ep: ep.name)


def disabled_from_env() -> set[str]:
    return {p.strip() for p in os.environ.get("MARKETD_DISABLE_PLUGINS", "").split(",") if p.strip()}


def renamed_plugins() -> dict[str, str]:
    """Former plugin names -> current ones, as installed packages declare them (entry-point group
    ``marketd.renamed``, ``old = "new"``); read from the metadata, nothing is imported."""
    return {ep.name: ep.value for ep in md.entry_points(group=RENAMED_GROUP)}


def current_names(names: set[str]) -> set[str]:
    """``names`` with former plugin names replaced by the current ones (a logged deprecation
    warning each), so a config written before a rename still disables the plugin it meant."""
    renamed = renamed_plugins()
    out = set()
    for name in names:
        new = renamed.get(name)
        if new and new not in names:
            log.warning("[plugins] disabled: plugin %r is now called %r; the old name still works for now, "
                        "write %r", name, new, new)
        out.add(new or name)
    return out


class PluginHost:
    def __init__(self, disabled: list[str] | None = None, strict: bool | None = None):
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.disabled = current_names(set(disabled or []) | disabled_from_env())
        self.strict = strict if strict is not None else os.environ.get("MARKETD_STRICT_PLUGINS") == "1"
        self.info: list[PluginInfo] = []
        self.failures: list[HookFailure] = []
        self.originals: dict[str, object] = {}  # plugin name -> the module/object the plugin author wrote
        self._entry_points_loaded = False
        if os.environ.get("MARKETD_TRACE_HOOKS") == "1":
            self.pm.add_hookcall_monitoring(_trace_before, _trace_after)

    @property
    def hook(self):
        return self.pm.hook

    # -- loading -------------------------------------------------------------------------------
    def load_entry_points(self) -> None:
        """Load every ``marketd`` entry point not disabled; once per host (the CLI and the App share one)."""
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        # name and version per distribution, read once: each read parses the package's METADATA
        # file again, and the built-in plugins are 18 entry points of one distribution
        about: dict[int, tuple[str, str]] = {}
        for ep in _entry_points():
            if ep.dist is None:
                dist, version = "?", "?"
            else:
                if id(ep.dist) not in about:
                    about[id(ep.dist)] = (ep.dist.name, ep.dist.version)
                dist, version = about[id(ep.dist)]
            builtin = ep.value.startswith("marketd.plugins.")
            if ep.name in self.disabled:
                self.info.append(PluginInfo(ep.name, ep.value, dist, version, builtin, "disabled"))
                continue
            if self.pm.has_plugin(ep.name):
                continue
            try:
                self._register(ep.load(), ep.name)
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
        self._register(plugin, name)
        self.info.append(PluginInfo(name, getattr(plugin, "__name__", type(plugin).__module__), "(in-process)", "",
                                    False, "loaded"))

    def _register(self, plugin, name: str) -> None:
        """Register ``plugin`` behind a proxy whose hook implementations are guarded."""
        proxy = types.SimpleNamespace()
        for attr in dir(plugin):
            opts = self.pm.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                continue
            func = getattr(plugin, attr)
            hook = opts.get("specname") or attr
            if opts.get("hookwrapper"):
                guarded = func  # old-style wrappers see the outcome object; left as pluggy runs them
            elif opts.get("wrapper"):
                guarded = self._guard_wrapper(func, name, hook)
            else:
                guarded = self._guard(func, name, hook)
            if guarded is not func:
                setattr(guarded, f"{GROUP}_impl", dict(opts))
            setattr(proxy, attr, guarded)
        self.pm.register(proxy, name=name)
        self.originals[name] = plugin

    # -- isolation -----------------------------------------------------------------------------
    def _failed(self, plugin: str, hook: str, exc: BaseException) -> None:
        log.error("plugin %s: %s raised %s: %s", plugin, hook, type(exc).__name__, exc)
        log.debug("%s", "".join(traceback.format_exception(exc)))
        self.failures.append(HookFailure(plugin, hook, f"{type(exc).__name__}: {exc}"))
        failed = _FAILED.get()
        if failed is not None:
            failed.add(plugin)
        if self.strict:
            raise exc

    def _guard(self, func, plugin: str, hook: str):
        @functools.wraps(func)
        def guarded(*args, **kwargs):
            token = _CURRENT.set(plugin)
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                if isinstance(exc, ConfigError) and hook.startswith("register_"):
                    raise  # a registration that finds its config table wrong stops the start, as config.load does
                self._failed(plugin, hook, exc)
                return None  # no answer from this plugin; firstresult hooks go on to the next one
            finally:
                _CURRENT.reset(token)
        return guarded

    def _guard_wrapper(self, func, plugin: str, hook: str):
        """A new-style wrapper (a generator) whose own code before and after ``yield`` is guarded;
        an exception from the implementations it wraps still reaches it, as pluggy promises."""
        @functools.wraps(func)
        def guarded(*args, **kwargs):
            token = _CURRENT.set(plugin)
            error = None
            try:
                gen = func(*args, **kwargs)
                next(gen)
            except Exception as exc:
                error = exc
            finally:
                _CURRENT.reset(token)
            if error is not None:
                self._failed(plugin, hook, error)
                return (yield)
            try:
                result = yield
            except BaseException as exc:
                try:
                    gen.throw(exc)
                except StopIteration as stop:
                    return stop.value
                raise RuntimeError(f"plugin {plugin}: wrapper {hook} yielded twice")
            token = _CURRENT.set(plugin)
            try:
                gen.send(result)
            except StopIteration as stop:
                return stop.value
            except Exception as exc:
                self._failed(plugin, hook, exc)
                return result
            finally:
                _CURRENT.reset(token)
            self._failed(plugin, hook, RuntimeError(f"wrapper {hook} yielded twice"))
            return result
        return guarded

    # -- calling -------------------------------------------------------------------------------
    def collect_from(self, hook_name: str, **kwargs) -> list[tuple[str, object]]:
        """Call a ``register_*`` hook; returns ``(plugin name, item)`` for everything registered.

        A plugin whose implementation raises is logged and all it registered in this call is
        dropped (a half-registered plugin is worse than a missing one)."""
        items: list[tuple[str, object]] = []

        def register(*args):
            items.append((_CURRENT.get(), args[0] if len(args) == 1 else args))

        hook = getattr(self.pm.hook, hook_name)
        for arg in (hook.spec.argnames if hook.spec else ()):
            if arg != "register":
                kwargs.setdefault(arg, None)  # e.g. ``app`` when a tool lists jobs without an instance
        failed: set[str] = set()
        token = _FAILED.set(failed)
        try:
            hook(register=register, **kwargs)
        finally:
            _FAILED.reset(token)
        return [(plugin, item) for plugin, item in items if plugin not in failed]

    def collect(self, hook_name: str, **kwargs) -> list:
        """What the plugins registered through ``hook_name``, in hook order."""
        return [item for _plugin, item in self.collect_from(hook_name, **kwargs)]

    # -- names ---------------------------------------------------------------------------------
    def plugin_name_of(self, obj) -> str:
        module = type(obj).__module__ if not isinstance(obj, types.ModuleType) else obj.__name__
        for info in self.info:
            if module == info.module or module.startswith(info.module + "."):
                return info.name
        return module

    def version_of(self, name: str) -> str:
        for info in self.info:
            if info.name == name:
                return info.version
        return ""


def _trace_before(hook_name, hook_impls, kwargs) -> None:
    log.info("hook %s(%s) -> %s", hook_name, ", ".join(kwargs), ", ".join(i.plugin_name for i in hook_impls))


def _trace_after(outcome, hook_name, hook_impls, kwargs) -> None:
    exc = outcome.exception
    log.info("hook %s returned %s", hook_name, f"{type(exc).__name__}: {exc}" if exc else repr(outcome.get_result()))
