"""The plain runtime form (plain.py) is the pydantic models' twin: same fields, defaults and output, byte for byte."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ipt_measures import models, plain
from ipt_measures.declarative import load_instrument_file, load_protocol_file
from ipt_measures.plugins import get_registry
from ipt_measures.scoring import score as generic_score

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
INSTRUMENT_FILES = sorted(p for p in PLUGINS.glob("*.toml") if p.stem != "ipt_protocol")


@pytest.mark.parametrize("name", sorted(plain.PLAIN))
def test_plain_class_has_the_models_fields_in_order_and_their_defaults(name):
    model, cls = getattr(models, name), plain.PLAIN[name]
    assert cls._fields == tuple(model.model_fields)
    for field, info in model.model_fields.items():
        if info.is_required():
            assert field not in getattr(cls, "_defaults", {}) or name in ("ScaleScore", "Flag", "Score")
        elif name not in ("ScaleScore", "Flag", "Score"):  # those three have explicit keyword defaults
            assert cls._defaults[field] == info.get_default(call_default_factory=True), field
        # A float field dumps an int as a float in JSON mode (pydantic does): the plain class must know which.
        assert ("float" in str(info.annotation)) == (field in cls._floats), field


def _dumps(obj, **kwargs) -> str:
    return json.dumps(obj.model_dump(**kwargs), ensure_ascii=False)


@pytest.mark.parametrize("path", INSTRUMENT_FILES, ids=lambda p: p.stem)
def test_every_builtin_instrument_dumps_byte_identical_in_plain_form(path):
    validated = load_instrument_file(path)  # pydantic, as today
    compiled = plain.from_model(validated)
    registered = get_registry().instrument(validated.id)
    for kwargs in ({"mode": "json"}, {"mode": "json", "exclude_none": True}):
        assert _dumps(compiled, **kwargs) == _dumps(validated, **kwargs)
        assert _dumps(registered, **kwargs) == _dumps(validated, **kwargs)
    assert repr(compiled.model_dump()) == repr(validated.model_dump())  # python mode: tuples, ints and floats too
    assert compiled.model_dump_json() == validated.model_dump_json()
    # Rebuilt from its dump (how the compiled cache stores it): the same again.
    assert plain.Instrument.model_validate(json.loads(json.dumps(compiled.model_dump()))) == compiled


def test_the_protocol_dumps_byte_identical_in_plain_form():
    validated = load_protocol_file(PLUGINS / "ipt_protocol.toml")
    assert _dumps(plain.from_model(validated), mode="json") == _dumps(validated, mode="json")
    assert _dumps(get_registry().protocols[validated.id], mode="json") == _dumps(validated, mode="json")


def _as_pydantic_score(score: plain.Score) -> models.Score:
    """The score built the way the pydantic scorer built it: fields validated, each value assigned unvalidated."""
    def scale(s):
        fields = {k: v for k, v in s.model_dump().items() if k != "value" and v is not None and v is not False}
        result = models.ScaleScore(**fields)
        result.value = s.value
        return result

    return models.Score(instrument=score.instrument, instrument_version=score.instrument_version, scorer=score.scorer,
                        total=scale(score.total), subscales=[scale(s) for s in score.subscales],
                        flags=[models.Flag(**f.model_dump()) for f in score.flags])


@pytest.mark.parametrize("path", INSTRUMENT_FILES, ids=lambda p: p.stem)
def test_scores_are_byte_identical_to_the_pydantic_scores_for_every_builtin_instrument(path):
    """Stored score JSON, --json output and exports are Score.model_dump(mode="json"): the same bytes as before,
    for complete, partial and unscorable answers, and when read back from the store."""
    validated = load_instrument_file(path)
    instrument = get_registry().instrument(validated.id)
    rng = random.Random(path.stem)
    for _ in range(60):
        answers = {}
        for item in validated.items:
            values = [o.value for o in validated.options_for(item)]
            answers[item.id] = None if rng.random() < 0.15 else rng.choice(values)
        fresh = generic_score(validated, answers)  # the pydantic definition, scored
        cached = generic_score(instrument, answers)  # the plain definition, scored
        assert isinstance(cached, plain.Score)
        old = _as_pydantic_score(fresh)
        assert json.dumps(cached.model_dump(mode="json")) == json.dumps(old.model_dump(mode="json"))
        assert repr(cached.model_dump()) == repr(old.model_dump())  # python mode: a whole total stays an int
        assert (json.dumps(cached.model_dump(mode="json", exclude_none=True))
                == json.dumps(old.model_dump(mode="json", exclude_none=True)))
        stored = json.loads(json.dumps(cached.model_dump(mode="json")))
        assert (json.dumps(plain.Score.model_validate(stored).model_dump(mode="json"))
                == json.dumps(models.Score.model_validate(stored).model_dump(mode="json")))


def test_definition_parts_are_frozen_and_hash_by_value_as_the_models_are():
    params = plain.ChangeParams(higher_is_worse=True, reliable_change=6, source="x")
    assert params.reliable_change == 6.0 and type(params.reliable_change) is float  # as pydantic validates it
    assert hash(params) == hash(plain.ChangeParams(higher_is_worse=True, reliable_change=6.0, source="x"))
    with pytest.raises(TypeError):
        params.sd = 1.0
    assert params.model_copy(update={"sd": 2.0}).sd == 2.0 and params.sd is None
    with pytest.raises(TypeError):
        plain.ChangeParams(higher_is_worse=True, source="x", typo=1)
