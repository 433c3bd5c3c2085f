"""The plugin manager and the registry of what plugins add.

Plugins are found once, lazily, in the ``ipt_measures`` entry-point group: the built-in ones (shipped in
this distribution, always loaded) and third-party packages (limited by ``$IPT_LOAD_PLUGINS``). A plugin
that fails to import, implements a misspelled hook, raises in a hook, or registers an invalid or duplicate
instrument is recorded with its name and reason, reported by ``ipt plugins`` and on stderr, and skipped:
the command line keeps working.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Optional

import pluggy

from . import hookspecs
from .entrypoints import normalise
from .errors import UnknownInstrument

GROUP = "ipt_measures"
DISTRIBUTION = "ipt-measures"
LOAD_ENV = "IPT_LOAD_PLUGINS"
DEBUG_ENV = "IPT_DEBUG"

# Core behaviour that is itself a plugin, so a plugin can replace it (the generic scorer is trylast).
DEFAULT_PLUGINS = ("ipt_measures.default_plugins", "ipt_measures.exchange")


class PluginInfo:
    """What `ipt plugins` reports about one plugin.

    Plain classes rather than dataclasses here: this module loads for `ipt --help`, and generating
    dataclass methods at import costs more start-up time than these few lines.
    """

    def __init__(self, name: str, source: str, distribution: Optional[str] = None, version: Optional[str] = None):
        self.name = name
        self.source = source  # "built-in", "core", "entry point", "registered"
        self.distribution = distribution
        self.version = version
        self.hooks: list[str] = []
        self.registered: list[str] = []
        self.errors: list[str] = []

    @property
    def loaded(self) -> bool:
        return not any(e.startswith("not loaded") for e in self.errors)


class Exporter:
    """An export format: its writer and the plugin that registered it."""

    def __init__(self, name: str, writer: Callable[..., Any], description: str, suffix: str, plugin: str):
        self.name, self.writer, self.description, self.suffix, self.plugin = name, writer, description, suffix, plugin


class Importer:
    """An import format: its reader, the file suffixes it claims, and the plugin that registered it."""

    def __init__(self, name: str, reader: Callable[..., Any], description: str, suffixes: tuple[str, ...], plugin: str):
        self.name, self.reader, self.description, self.suffixes, self.plugin = name, reader, description, suffixes, plugin


class _Collected:
    """A Registry attribute that collects the plugins' registrations the first time it is read."""

    def __set_name__(self, owner, name):
        self.private = "_" + name

    def __get__(self, registry, owner=None):
        if registry is None:
            return self
        registry.collect()
        return getattr(registry, self.private)


class Registry:
    """Everything the loaded plugins registered, validated, with every problem kept for reporting."""

    def __init__(self, pm: pluggy.PluginManager, infos: dict[str, PluginInfo]):
        self.pm = pm
        self.plugins = infos
        self._instruments: dict[str, Any] = {}
        self._instrument_plugin: dict[str, str] = {}
        self._protocols: dict[str, Any] = {}
        self._protocol_plugin: dict[str, str] = {}
        self._exporters: dict[str, Exporter] = {}
        self._importers: dict[str, Importer] = {}
        self._collected = False

    # What plugins registered is collected on first use, not at load: `ipt --help` needs only the
    # plugin manager (for extra commands), and validating every instrument costs pydantic's import.
    instruments = _Collected()  # id -> Instrument
    instrument_plugin = _Collected()  # instrument id -> plugin name
    protocols = _Collected()  # id -> Protocol
    protocol_plugin = _Collected()  # protocol id -> plugin name
    exporters = _Collected()  # format name -> Exporter
    importers = _Collected()  # format name -> Importer

    # -- building ------------------------------------------------------------------------------

    def _info(self, plugin_name: str) -> PluginInfo:
        if plugin_name not in self.plugins:
            self.plugins[plugin_name] = PluginInfo(name=plugin_name, source="registered")
        return self.plugins[plugin_name]

    def collect(self) -> None:
        if self._collected:
            return
        self._collected = True
        self._call_each("register_instruments", self._instrument_register)
        self._call_each("register_protocols", self._protocol_register)
        self._call_each("register_exporters", self._exporter_register)
        self._call_each("register_importers", self._importer_register)

    def _call_each(self, hook_name: str, make_register: Callable[[str], Callable]) -> None:
        """Call a "register" hook plugin by plugin (in load order), so one failing plugin cannot stop the others."""
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():  # registration order (pluggy calls them in reverse)
            register = make_register(impl.plugin_name)
            try:
                impl.function(**{name: register for name in impl.argnames})
            except Exception as exc:  # a plugin's bug must not take the CLI down
                self._info(impl.plugin_name).errors.append(f"{hook_name} raised {type(exc).__name__}: {exc}")

    def _instrument_register(self, plugin_name: str) -> Callable[[Any], None]:
        from . import compiled, plain
        from .declarative import build_instrument, load_instrument_file
        from .errors import IptError

        info = self._info(plugin_name)

        def register(definition: Any) -> None:
            # Validated by pydantic (a file only when the compiled cache has no entry for its exact bytes), then
            # kept in its plain form: what the scorer and every command read.
            try:
                if isinstance(definition, (str, Path)):
                    instrument = compiled.load(Path(definition), "instrument", load_instrument_file)
                else:
                    if isinstance(definition, plain.Instrument):  # built without validation: validate it now
                        definition = definition.model_dump()
                    instrument = plain.from_model(build_instrument(definition, where=f"instrument from {plugin_name}"))
            except IptError as exc:
                info.errors.append(f"invalid instrument refused: {exc}")
                return
            if instrument.id in self._instruments:
                owner = self._instrument_plugin[instrument.id]
                info.errors.append(
                    f"duplicate instrument id {instrument.id!r} refused: already registered by plugin {owner!r}"
                )
                return
            self._instruments[instrument.id] = instrument
            self._instrument_plugin[instrument.id] = plugin_name
            info.registered.append(f"instrument {instrument.id}")

        return register

    def _protocol_register(self, plugin_name: str) -> Callable[[Any], None]:
        info = self._info(plugin_name)

        def register(definition: Any) -> None:
            from . import compiled, plain
            from .declarative import load_protocol_file, validate_protocol
            from .errors import IptError

            try:
                if isinstance(definition, (str, Path)):  # a data file, read as instrument files are
                    protocol = compiled.load(Path(definition), "protocol", load_protocol_file)
                else:
                    if isinstance(definition, plain.Protocol):
                        definition = definition.model_dump()
                    protocol = plain.from_model(validate_protocol(definition))
            except IptError as exc:
                info.errors.append(f"invalid protocol refused: {exc}")
                return
            if protocol.id in self._protocols:
                owner = self._protocol_plugin[protocol.id]
                info.errors.append(f"duplicate protocol id {protocol.id!r} refused: already registered by {owner!r}")
                return
            self._protocols[protocol.id] = protocol
            self._protocol_plugin[protocol.id] = plugin_name
            info.registered.append(f"protocol {protocol.id}")

        return register

    def _exporter_register(self, plugin_name: str) -> Callable[..., None]:
        info = self._info(plugin_name)

        def register(name: str, writer: Callable[..., Any], description: str = "", suffix: str = "") -> None:
            if not _format_accepted(info, "exporter", "writer", name, writer, self._exporters):
                return
            self._exporters[name] = Exporter(name, writer, description, suffix, plugin_name)
            info.registered.append(f"exporter {name}")

        return register

    def _importer_register(self, plugin_name: str) -> Callable[..., None]:
        info = self._info(plugin_name)

        def register(name: str, reader: Callable[..., Any], description: str = "", suffixes: Any = ()) -> None:
            if not _format_accepted(info, "importer", "reader", name, reader, self._importers):
                return
            suffixes = (suffixes,) if isinstance(suffixes, str) else tuple(suffixes)
            self._importers[name] = Importer(name, reader, description, tuple(s.lower() for s in suffixes), plugin_name)
            info.registered.append(f"importer {name}")

        return register

    # -- using ---------------------------------------------------------------------------------

    def instrument(self, instrument_id: str):
        """The instrument with this id; ids are lowercase by definition (models.ID_PATTERN), so ``PHQ9`` is phq9."""
        try:
            return self.instruments[instrument_id]
        except KeyError:
            if isinstance(instrument_id, str) and instrument_id.lower() in self.instruments:
                return self.instruments[instrument_id.lower()]
            known = ", ".join(sorted(self.instruments)) or "none registered"
            raise UnknownInstrument(f"unknown instrument {instrument_id!r} (known: {known})") from None

    def score(self, instrument_id: str, answers: Any):
        """Check answers, then let the first scorer that answers for the instrument score them."""
        scoring, generic = _SCORING or _scoring()
        instrument = self._instruments.get(instrument_id) if self._collected else None
        if instrument is None:
            instrument = self.instrument(instrument_id)
        caller = self.pm.hook.score_instrument
        impls = caller.get_hookimpls()
        # No plugin overrides scoring: the generic scorer directly, without the hook call and a second check of
        # what was just checked (the hook's own answer, by the same functions).
        generic_only = len(impls) == 1 and impls[0].function is generic
        if generic_only:  # the commonest calls first
            if type(answers) is list:
                return scoring.score_list(instrument, answers)
            if type(answers) is dict:
                return scoring.score_mapping(instrument, answers)
        if isinstance(answers, dict):
            checked = scoring.check_answers(instrument, answers)
        else:
            answers = answers if isinstance(answers, list) else list(answers)
            if generic_only:
                return scoring.score_list(instrument, answers)
            checked = scoring.answers_from_list(instrument, answers)
        if generic_only:
            return scoring.score_checked(instrument, checked)
        return caller(instrument=instrument, answers=checked)

    def programme_outcomes(self, course: dict, scores: dict[str, list[tuple[int, float]]]) -> list[dict]:
        """Every plugin's ``programme_outcome`` for a course, in plugin order; a plugin that raises or returns a
        malformed outcome (or an id another plugin gave) is reported and skipped, never silencing the others."""
        outcomes: list[dict] = []
        for impl in self.pm.hook.programme_outcome.get_hookimpls():
            kwargs = {"course": course, "scores": scores}
            try:
                result = impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
            except Exception as exc:
                self._info(impl.plugin_name).errors.append(f"programme_outcome raised {type(exc).__name__}: {exc}")
                continue
            if result is None:
                continue
            problem = _outcome_problem(result, {o["id"] for o in outcomes})
            if problem:
                self._info(impl.plugin_name).errors.append(f"programme_outcome returned {problem}; skipped")
                continue
            outcomes.append(result)
        return outcomes

    def alerts(self, instrument: Any, score: Any, previous: list[Any]) -> list[dict]:
        """Alerts from every plugin's ``alerts_after_score`` (``assess.assess`` adds the critical items and the
        instrument's own alert rules to these). A plugin that raises, or returns an alert without a kind and a
        message or with an unknown severity, is reported and that alert skipped: it never stops the score
        (and the other plugins' alerts) from being stored."""
        alerts: list[dict] = []
        kwargs = {"instrument": instrument, "score": score, "previous": previous}
        for impl in self.pm.hook.alerts_after_score.get_hookimpls():
            try:
                if impl.argnames == _ALERTS_ARGS:  # all three, in the hook's order: the same call, positionally
                    result = impl.function(instrument, score, previous)
                else:
                    result = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:
                self._info(impl.plugin_name).errors.append(f"alerts_after_score raised {type(exc).__name__}: {exc}")
                continue
            for alert in result or ():
                if (isinstance(alert, dict) and isinstance(alert.get("kind"), str) and alert["kind"].strip()
                        and isinstance(alert.get("message"), str) and alert["message"].strip()
                        and alert.get("severity") in ("critical", "warning", "info")):
                    alerts.append(alert)
                else:
                    self._info(impl.plugin_name).errors.append(
                        f"alerts_after_score returned an invalid alert (needs kind, message and severity "
                        f"critical, warning or info): {str(alert)[:80]}")
        return alerts

    def fully_validated(self) -> "Registry":
        """The same plugins with their registrations collected afresh, every definition file validated by pydantic
        (the compiled cache off): what ``ipt doctor`` reports on."""
        from . import compiled

        infos = {}
        for name, info in self.plugins.items():
            copy = PluginInfo(info.name, info.source, info.distribution, info.version)
            copy.hooks = list(info.hooks)
            copy.errors = [e for e in info.errors if e.startswith("not loaded")]  # load-time problems stay
            infos[name] = copy
        fresh = Registry(self.pm, infos)
        previous = compiled.set_enabled(False)
        try:
            fresh.collect()
        finally:
            compiled.set_enabled(previous)
        return fresh

    @property
    def errors(self) -> list[tuple[str, str]]:
        self.collect()
        return [(info.name, err) for info in self.plugins.values() for err in info.errors]


_registry: Optional[Registry] = None


_SCORING: tuple = ()
_ALERTS_ARGS = ("instrument", "score", "previous")  # alerts_after_score's arguments, as hookspecs.py declares them


def _scoring() -> tuple:
    """The scoring module and the default plugin's hook implementation, imported once (not on every score)."""
    global _SCORING
    from . import scoring
    from .default_plugins import score_instrument

    _SCORING = (scoring, score_instrument)
    return _SCORING


def get_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    return pm


def _allowed_external() -> Optional[set[str]]:
    value = os.environ.get(LOAD_ENV)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def load_plugins(pm: pluggy.PluginManager, extra: tuple[Any, ...] = ()) -> dict[str, PluginInfo]:
    """Register core defaults, then every entry point; return what happened to each."""
    import importlib

    infos: dict[str, PluginInfo] = {}
    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name)
        infos[module_name] = PluginInfo(name=module_name, source="core")

    allowed = _allowed_external()
    for ep in _entry_points():
        dist_name, dist_version = ep.dist_name, ep.dist_version
        builtin = _is_builtin(dist_name)
        info = PluginInfo(
            name=ep.name,
            source="built-in" if builtin else "entry point",
            distribution=dist_name,
            version=dist_version,
        )
        if ep.name in infos:
            info.errors.append(f"not loaded: a plugin named {ep.name!r} is already loaded")
            infos[f"{ep.name} ({dist_name})"] = info
            continue
        infos[ep.name] = info
        if not builtin and allowed is not None and ep.name not in allowed and normalise(dist_name or "") not in {
            normalise(a) for a in allowed
        }:
            info.errors.append(f"not loaded: not listed in ${LOAD_ENV}")
            continue
        _register_entry_point(pm, ep, info)

    for plugin in extra:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        pm.register(plugin, name=name)
        infos[name] = PluginInfo(name=name, source="registered")

    for name, info in infos.items():
        plugin = pm.get_plugin(name)
        if plugin is not None:
            info.hooks = sorted(c.name for c in pm.get_hookcallers(plugin) or [])
    return infos


def _register_entry_point(pm: pluggy.PluginManager, ep: Any, info: PluginInfo) -> None:
    if info.source == "built-in":
        hint = " (a built-in plugin: please report this as a bug in ipt-measures)"
    else:
        hint = f" (to skip it: set {LOAD_ENV} to the plugins you want, or uninstall {info.distribution or ep.name})"
    try:
        module = ep.load()
    except Exception as exc:
        info.errors.append(f"not loaded: import failed: {type(exc).__name__}: {exc}{hint}")
        return
    try:
        pm.register(module, name=ep.name)
        pm.check_pending()  # a misspelled hook name is an error, not a silent no-op
    except Exception as exc:
        if pm.get_plugin(ep.name) is not None:
            pm.unregister(name=ep.name)
        info.errors.append(f"not loaded: {type(exc).__name__}: {exc}{hint}")


def _entry_points() -> list[Any]:
    """Each entry point of the group (``entrypoints.EntryPoint``: with its distribution's name and version),
    built-ins first, so a third-party plugin can never claim a built-in instrument's id."""
    from .entrypoints import entry_points

    return sorted(entry_points(GROUP), key=lambda ep: (not _is_builtin(ep.dist_name), ep.name))


def _is_builtin(dist_name: Optional[str]) -> bool:
    return dist_name is not None and normalise(dist_name) == normalise(DISTRIBUTION)


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _registry
    if _registry is None:
        pm = get_plugin_manager()
        _registry = Registry(pm, load_plugins(pm))
    return _registry


def build_registry(*extra_plugins: Any) -> Registry:
    """A fresh registry with extra plugin objects registered (for tests and embedding applications)."""
    pm = get_plugin_manager()
    return Registry(pm, load_plugins(pm, extra=extra_plugins))


def use_registry(registry: Optional[Registry]) -> None:
    """Make ``registry`` the process-wide one (None: rebuild on next use)."""
    global _registry
    _registry = registry


def _outcome_problem(outcome: Any, taken: set) -> Optional[str]:
    """Why a ``programme_outcome`` result is malformed (None when it is well formed)."""
    if not isinstance(outcome, dict):
        return f"a {type(outcome).__name__}, not a dict"
    for key, kind in (("id", str), ("name", str), ("assessable", bool), ("facts", list), ("source", str)):
        if not isinstance(outcome.get(key), kind):
            return f"no {kind.__name__} {key!r}"
    if outcome["id"] in taken:
        return f"the outcome id {outcome['id']!r} another plugin already gave"
    for fact in outcome["facts"]:
        if not isinstance(fact, dict) or not isinstance(fact.get("label"), str) or "value" not in fact:
            return "a fact without a label and a value"
    return None


def _format_accepted(info: Any, kind: str, role: str, name: Any, func: Any, registered: dict) -> bool:
    """Whether an exporter or importer registration may stand; a refusal is recorded against its plugin."""
    if not isinstance(name, str) or not name or not callable(func):
        info.errors.append(f"invalid {kind} {name!r} refused: needs a name and a callable {role}")
        return False
    if name in registered:
        owner = registered[name].plugin
        info.errors.append(f"duplicate {kind} {name!r} refused: already registered by {owner!r}")
        return False
    return True
