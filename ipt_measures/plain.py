"""The runtime form of instruments, protocols, scores and flags: plain slotted classes, no pydantic.

Pydantic (``models.py``) validates a definition once and generates ``schemas/``; everything after that (the
registry, the scorer, every command) reads these. Each class has the same attribute names, field order and
defaults as its model (``tests/test_plain.py`` checks the two stay in step), and the ``model_dump`` /
``model_dump_json`` / ``model_copy`` / ``model_validate`` its callers use, giving the same output, so a stored
score, a JSON answer and an export are byte for byte what the pydantic models gave. Importing this module
costs well under a millisecond; importing pydantic and building the models costs about a hundred.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Optional


_UNSET: Any = object()


class PlainModel:
    """Fields in declared order (``_fields``), defaults (``_defaults``; a list default is copied), nested classes
    (``_nested``: a field holding one of them or a list of them), float fields (``_floats``: an int given is made
    a float, as pydantic's validation does) and tuple fields (``_tuples``)."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _defaults: dict[str, Any] = {}
    _nested: dict[str, type] = {}
    _floats: frozenset = frozenset()
    _tuples: frozenset = frozenset()
    _frozen = False

    def __init__(self, **values: Any):
        setter = object.__setattr__
        defaults, floats = self._defaults, self._floats
        for name in self._fields:
            value = values.pop(name, _UNSET)
            if value is _UNSET:
                if name not in defaults:
                    raise TypeError(f"{type(self).__name__}: {name} is required")
                # A default is not validated, in pydantic either (a scale's multiplier 1 stays an int).
                value = defaults[name]
                if type(value) is list:
                    value = list(value)
            elif type(value) is int and name in floats:  # pydantic validates a given int as a float
                value = float(value)
            setter(self, name, value)
        if values:
            raise TypeError(f"{type(self).__name__}: unexpected field {next(iter(values))!r}")

    def __eq__(self, other: Any) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._fields)

    __hash__ = None  # as a pydantic model that is not frozen

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self._fields)})"

    def __copy__(self):
        return self.model_copy()

    def __reduce__(self):
        return (_rebuild, (type(self), {n: getattr(self, n) for n in self._fields}))

    def model_dump(self, *, mode: str = "python", exclude_none: bool = False) -> dict[str, Any]:
        """The fields as a dict, nested objects as dicts. ``mode="json"`` gives what pydantic's JSON mode gives:
        tuples as lists, and an int in a float field as a float (a whole-number total 12 is stored as 12.0)."""
        out = {}
        floats = self._floats if mode == "json" else ()
        for name in self._fields:
            value = getattr(self, name)
            kind = value.__class__
            if value is None:
                if not exclude_none:
                    out[name] = None
            elif kind is int:
                out[name] = float(value) if name in floats else value
            elif kind in _ATOMS:
                out[name] = value
            elif kind is tuple and name in floats:
                out[name] = [float(v) if type(v) is int else v for v in value]
            else:
                out[name] = _dump(value, mode, exclude_none)
        return out

    def model_dump_json(self, *, exclude_none: bool = False) -> str:
        import json

        return json.dumps(self.model_dump(mode="json", exclude_none=exclude_none), separators=(",", ":"),
                          ensure_ascii=False)

    def model_copy(self, *, update: Optional[dict[str, Any]] = None):
        """A shallow copy with ``update`` applied, not validated (as pydantic's ``model_copy``)."""
        values = {n: getattr(self, n) for n in self._fields}
        values.update(update or {})
        return _rebuild(type(self), values)

    @classmethod
    def model_validate(cls, data: Any):
        """Build from a dict as ``model_dump`` gives it, as pydantic would: nested dicts become objects, an int in a
        float field a float, a list in a tuple field a tuple. The data is trusted (it was validated by the pydantic
        model when it was first made): types are not checked."""
        return cls._build(data, True)

    @classmethod
    def from_dump(cls, data: Any):
        """Rebuild exactly what ``model_dump()`` (python mode, through JSON) gave: values untouched, so an int
        default stays an int. The compiled cache stores definitions this way."""
        return cls._build(data, False)

    @classmethod
    def _build(cls, data: Any, coerce: bool):
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise TypeError(f"{cls.__name__}: expected a dict, got {type(data).__name__}")
        values = dict(data)
        for name, kind in cls._nested.items():
            value = values.get(name)
            if isinstance(value, dict):
                values[name] = kind._build(value, coerce)
            elif isinstance(value, list):
                values[name] = [kind._build(v, coerce) for v in value]
        for name in cls._tuples:
            value = values.get(name)
            if isinstance(value, list):
                values[name] = tuple(float(v) if coerce and type(v) is int else v for v in value)
        if coerce:
            return cls(**values)
        missing = [n for n in cls._fields if n not in values and n not in cls._defaults]
        if missing or len(values) != len(cls._fields):
            raise TypeError(f"{cls.__name__}: not a complete dump")
        return _rebuild(cls, values)


def _rebuild(cls: type, values: dict[str, Any]):
    obj = cls.__new__(cls)
    for name in cls._fields:
        object.__setattr__(obj, name, values[name])
    return obj


_ATOMS = frozenset({str, float, bool})


def _dump(value: Any, mode: str, exclude_none: bool) -> Any:
    if isinstance(value, (str, int, float)):
        return value
    if isinstance(value, list):
        return [_dump(v, mode, exclude_none) for v in value]
    if isinstance(value, tuple):
        items = [_dump(v, mode, exclude_none) for v in value]
        return items if mode == "json" else tuple(items)
    if hasattr(value, "model_dump"):  # one of ours, or a pydantic model a plugin put in
        return value.model_dump(mode=mode, exclude_none=exclude_none)
    if isinstance(value, dict):
        return {k: _dump(v, mode, exclude_none) for k, v in value.items()}
    return value


class FrozenModel(PlainModel):
    """A definition part: read-only once built, and hashable by value (as a frozen pydantic model)."""

    __slots__ = ("_hash",)
    _frozen = True

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"{type(self).__name__} is frozen: use model_copy(update=...)")

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:  # worked out once: the change engine's cache looks parameters up on every judgement
            value = hash((type(self), *(getattr(self, n) for n in self._fields)))
            object.__setattr__(self, "_hash", value)
            return value


# -- the instrument definition ------------------------------------------------------------------------


class ResponseOption(FrozenModel):
    __slots__ = _fields = ("value", "label", "loinc")
    _defaults = {"loinc": None}


class Item(FrozenModel):
    __slots__ = _fields = ("id", "text", "label", "options", "optional", "loinc")
    _defaults = {"text": None, "label": None, "options": None, "optional": False, "loinc": None}
    _nested = {"options": ResponseOption}

    def display(self) -> str:
        return self.text or self.label or f"Item {self.id}"


class ItemGroup(FrozenModel):
    __slots__ = _fields = ("id", "items", "method", "answered_when")
    _defaults = {"method": "max", "answered_when": None}


class MissingRule(FrozenModel):
    __slots__ = _fields = ("max_missing", "prorate", "source")
    _defaults = {"max_missing": 0, "prorate": False}


class Band(FrozenModel):
    __slots__ = _fields = ("min", "max", "label", "severity")
    _defaults = {"severity": 0}
    _floats = frozenset({"min", "max"})


class ChangeParams(FrozenModel):
    __slots__ = _fields = ("higher_is_worse", "reliability", "sd", "reliable_change", "clinical_cutoff", "remission",
                           "response_fraction", "source")
    _defaults = {"reliability": None, "sd": None, "reliable_change": None, "clinical_cutoff": None, "remission": None,
                 "response_fraction": 0.5}
    _floats = frozenset({"reliability", "sd", "reliable_change", "clinical_cutoff", "remission", "response_fraction"})


class Scale(FrozenModel):
    __slots__ = _fields = ("id", "name", "items", "groups", "method", "reversed", "multiplier", "decimals", "missing",
                           "bands", "bands_source", "change", "loinc", "range")
    _defaults = {"groups": [], "method": "sum", "reversed": [], "multiplier": 1, "decimals": 0, "bands": [],
                 "bands_source": None, "change": None, "loinc": None, "range": None}
    _nested = {"groups": ItemGroup, "missing": MissingRule, "bands": Band, "change": ChangeParams}
    _floats = frozenset({"multiplier", "range"})
    _tuples = frozenset({"range"})


class CriticalRuleTest:
    """When a critical-item rule fires, for both forms of the rule (this plain one, ``models.CriticalRule``)."""

    __slots__ = ()

    def raised_by(self, value: Optional[int]) -> bool:
        if value is None:
            return False
        if self.at_least is not None:
            return value >= self.at_least
        return value in (self.any_of or [])


class AlertRuleTest:
    """When a score alert rule fires, for both forms of the rule (this plain one, ``models.AlertRule``)."""

    __slots__ = ()

    def raised_by(self, value: Optional[float]) -> bool:
        if value is None:
            return False
        if self.at_least is not None:
            return value >= self.at_least
        return value <= self.at_most


class CriticalRule(CriticalRuleTest, FrozenModel):
    __slots__ = _fields = ("item", "at_least", "any_of", "message", "kind", "source")
    _defaults = {"at_least": None, "any_of": None, "kind": "suicidality"}


class AlertRule(AlertRuleTest, FrozenModel):
    __slots__ = _fields = ("id", "scale", "at_least", "at_most", "severity", "message", "source")
    _defaults = {"scale": None, "at_least": None, "at_most": None, "severity": "warning"}
    _floats = frozenset({"at_least", "at_most"})


class InstrumentHelpers:
    """What the scorer, the CLI and the contract checks ask of an instrument, for both of its forms: this plain
    one and the pydantic model that validates a definition (``models.Instrument``)."""

    __slots__ = ()

    def item(self, item_id: str) -> "Item":
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def options_for(self, item: "Item") -> "list[ResponseOption]":
        return item.options if item.options is not None else (self.options or [])

    @property
    def primary(self) -> "Scale":
        return self.scales[0]

    @property
    def required_items(self) -> "list[Item]":
        return [i for i in self.items if not i.optional]

    @property
    def allows_skipping(self) -> bool:
        return any(s.missing.max_missing > 0 for s in self.scales)


class Instrument(InstrumentHelpers, FrozenModel):
    _fields = ("id", "name", "short_name", "version", "citation", "scoring_source", "licence", "licence_note",
               "respondent", "domain", "populations", "recall_period", "instructions", "options", "items", "scales",
               "critical", "alerts", "loinc", "notes", "individualised")
    __slots__ = ("__weakref__", *_fields)  # the scorer keeps its plan per instrument by weak reference
    _defaults = {"short_name": None, "version": "1", "scoring_source": None, "licence_note": None, "populations": [],
                 "recall_period": None, "instructions": None, "options": None, "critical": [], "alerts": [],
                 "loinc": None, "notes": None, "individualised": None}
    _nested = {"options": ResponseOption, "items": Item, "scales": Scale, "critical": CriticalRule,
               "alerts": AlertRule}



class ProtocolRule(FrozenModel):
    __slots__ = _fields = ("instruments", "when", "problem_areas", "why")
    _defaults = {"problem_areas": [], "why": ""}


class Protocol(FrozenModel):
    __slots__ = _fields = ("id", "name", "description", "rules")
    _defaults = {"description": ""}
    _nested = {"rules": ProtocolRule}


_REQUIRED: Any = object()

# -- scores ---------------------------------------------------------------------------------------------


class ScaleScore(PlainModel):
    """One scale's result. `value` is None when too many answers are missing to score it."""

    __slots__ = _fields = ("id", "name", "value", "band", "band_severity", "answered", "missing", "prorated", "note",
                           "decimals")
    _floats = frozenset({"value"})

    # In field order, and positional too: the scorer builds millions of these, and keyword arguments cost three
    # times as much to pass (answered and missing are required all the same).
    def __init__(self, id: str, name: str, value: Optional[float] = None, band: Optional[str] = None,
                 band_severity: Optional[int] = None, answered: int = _REQUIRED, missing: int = _REQUIRED,
                 prorated: bool = False, note: Optional[str] = None, decimals: Optional[int] = None):
        if answered is _REQUIRED or missing is _REQUIRED:
            raise TypeError("ScaleScore: answered and missing are required")
        self.id = id
        self.name = name
        self.value = float(value) if type(value) is int else value  # validated, as the model's constructor does
        self.band = band
        self.band_severity = band_severity
        self.answered = answered
        self.missing = missing
        self.prorated = prorated
        self.note = note
        self.decimals = decimals

    def display(self) -> str:
        """The value as the clinician reads it: rounded half-up to the scale's decimals."""
        return format_score(self.value, self.decimals or 0)

    def model_dump(self, *, mode: str = "python", exclude_none: bool = False) -> dict[str, Any]:
        # Spelled out: every score stored or exported is dumped, and this is four times the generic loop's speed.
        if exclude_none:
            return PlainModel.model_dump(self, mode=mode, exclude_none=True)
        value = self.value
        if type(value) is int and mode == "json":
            value = float(value)
        return {"id": self.id, "name": self.name, "value": value, "band": self.band,
                "band_severity": self.band_severity, "answered": self.answered, "missing": self.missing,
                "prorated": self.prorated, "note": self.note, "decimals": self.decimals}


class Flag(PlainModel):
    """A critical answer the clinician must see at once."""

    __slots__ = _fields = ("item", "value", "answer", "kind", "message")

    def __init__(self, item: str, value: int, answer: str, kind: str, message: str):
        self.item = item
        self.value = value
        self.answer = answer
        self.kind = kind
        self.message = message

    def model_dump(self, *, mode: str = "python", exclude_none: bool = False) -> dict[str, Any]:
        if exclude_none:
            return PlainModel.model_dump(self, mode=mode, exclude_none=True)
        return {"item": self.item, "value": self.value, "answer": self.answer, "kind": self.kind,
                "message": self.message}


class Score(PlainModel):
    """The scored result of one administration."""

    __slots__ = _fields = ("instrument", "instrument_version", "scorer", "total", "subscales", "flags")
    _nested = {"total": ScaleScore, "subscales": ScaleScore, "flags": Flag}

    def __init__(self, instrument: str, instrument_version: str, scorer: str, total: ScaleScore,
                 subscales: Optional[list] = None, flags: Optional[list] = None):
        self.instrument = instrument
        self.instrument_version = instrument_version
        self.scorer = scorer
        self.total = total
        self.subscales = [] if subscales is None else subscales
        self.flags = [] if flags is None else flags

    @property
    def scales(self) -> list[ScaleScore]:
        return [self.total, *self.subscales]

    def model_dump(self, *, mode: str = "python", exclude_none: bool = False) -> dict[str, Any]:
        if exclude_none:
            return PlainModel.model_dump(self, mode=mode, exclude_none=True)
        subscales, flags = self.subscales, self.flags
        return {"instrument": self.instrument, "instrument_version": self.instrument_version, "scorer": self.scorer,
                "total": self.total.model_dump(mode=mode),
                "subscales": [s.model_dump(mode=mode) for s in subscales] if subscales else [],
                "flags": [f.model_dump(mode=mode) for f in flags] if flags else []}


# The scorer's own constructors: the same objects as ScaleScore(...), Flag(...) and Score(...) give, every field
# assigned as given (no int -> float for a value: a whole sum stays an int, as the scorer has always left it).
# Calling a class runs its __init__ through the interpreter's slow path for classes; these run at the speed of
# a plain function call, about half the cost, which is a tenth of scoring a PHQ-9.
_new = object.__new__


def new_scale_score(id: str, name: str, value: Optional[float], band: Optional[str], band_severity: Optional[int],
                    answered: int, missing: int, prorated: bool, note: Optional[str],
                    decimals: Optional[int]) -> ScaleScore:
    result = _new(ScaleScore)
    result.id = id
    result.name = name
    result.value = value
    result.band = band
    result.band_severity = band_severity
    result.answered = answered
    result.missing = missing
    result.prorated = prorated
    result.note = note
    result.decimals = decimals
    return result


def new_flag(item: str, value: int, answer: str, kind: str, message: str) -> Flag:
    flag = _new(Flag)
    flag.item = item
    flag.value = value
    flag.answer = answer
    flag.kind = kind
    flag.message = message
    return flag


def new_score(instrument: str, instrument_version: str, scorer: str, total: ScaleScore, subscales: list,
              flags: list) -> Score:
    result = _new(Score)
    result.instrument = instrument
    result.instrument_version = instrument_version
    result.scorer = scorer
    result.total = total
    result.subscales = subscales
    result.flags = flags
    return result


# -- converting a validated definition ------------------------------------------------------------------

# The pydantic model named X in models.py becomes the class X here.
PLAIN = {cls.__name__: cls for cls in (ResponseOption, Item, ItemGroup, MissingRule, Band, ChangeParams, Scale,
                                       CriticalRule, AlertRule, Instrument, ProtocolRule, Protocol, ScaleScore,
                                       Flag, Score)}


def from_model(model: Any) -> Any:
    """The plain form of a validated pydantic model (and of the lists and tuples in it), values untouched."""
    if isinstance(model, PlainModel):
        return model
    if isinstance(model, list):
        return [from_model(v) for v in model]
    if isinstance(model, tuple):
        return tuple(from_model(v) for v in model)
    cls = next((PLAIN[k.__name__] for k in type(model).__mro__ if k.__name__ in PLAIN
                and k.__module__ == "ipt_measures.models"), None)
    if cls is None:
        return model
    return _rebuild(cls, {name: from_model(getattr(model, name)) for name in cls._fields})


# -- numbers: the one rounding rule and the ranges the options give --------------------------------------


def round_half_up(value: float, decimals: int) -> float:
    """Round the way score sheets do (2.5 -> 3), not banker's rounding."""
    if type(value) is float and value.is_integer():
        # A whole number (most totals: sums times a float multiplier of 1) has nothing to round; the Decimal
        # arithmetic below would give the same result about twenty times more slowly.
        return int(value) if decimals == 0 else value
    quant = Decimal(1).scaleb(-decimals)
    try:
        rounded = Decimal(repr(value)).quantize(quant, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        # Past Decimal's 28 digits (or infinite): a float that large has no decimals left to round. Only a
        # definition's mistaken band bound gets here; validation then names it.
        return value if decimals or not math.isfinite(value) else int(value)
    return int(rounded) if decimals == 0 else float(rounded)


def format_score(value: Optional[float], decimals: int = 0) -> str:
    """One way to show a score: rounded half-up to the instrument's decimals, no trailing zeros."""
    if value is None:
        return "not scored"
    return f"{round_half_up(value, decimals):g}"


def item_range(instrument: Any, item_id: str) -> tuple[int, int]:
    values = [o.value for o in instrument.options_for(instrument.item(item_id))]
    return min(values), max(values)


def scale_range(instrument: Any, scale: Any) -> tuple[float, float]:
    """The lowest and highest score the scale can produce from complete answers."""
    groups = {g.id: g for g in scale.groups}
    lows: list[float] = []
    highs: list[float] = []
    for ref in scale.items:
        if ref in groups:
            group = groups[ref]
            ranges = [item_range(instrument, m) for m in group.items]
            if group.method == "max":
                lows.append(max(r[0] for r in ranges))
                highs.append(max(r[1] for r in ranges))
            elif group.method == "sum":
                lows.append(sum(r[0] for r in ranges))
                highs.append(sum(r[1] for r in ranges))
            else:
                lows.append(sum(r[0] for r in ranges) / len(ranges))
                highs.append(sum(r[1] for r in ranges) / len(ranges))
        else:
            lo, hi = item_range(instrument, ref)
            lows.append(lo)
            highs.append(hi)
    if scale.method == "mean":
        low, high = sum(lows) / len(lows), sum(highs) / len(highs)
    else:
        low, high = sum(lows), sum(highs)
    return (
        round_half_up(low * scale.multiplier, scale.decimals),
        round_half_up(high * scale.multiplier, scale.decimals),
    )
