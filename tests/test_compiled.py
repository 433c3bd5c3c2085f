"""The compiled-instrument cache: cached and fresh scoring agree, and anything stale or damaged is revalidated."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ipt_measures
from ipt_measures import compiled, plain
from ipt_measures.assess import assess
from ipt_measures.declarative import load_instrument_file
from ipt_measures.plugins import build_registry, use_registry

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
INSTRUMENT_FILES = sorted(p for p in PLUGINS.glob("*.toml") if p.stem != "ipt_protocol")

SCALE = """
id = "cachetest"
name = "Cache test scale"
citation = "Synthetic, for tests."
licence = "public domain"
respondent = "self-report"
domain = "other"
options = [{ value = 0, label = "No" }, { value = 1, label = "Yes" }]
items = [{ id = "1", label = "first" }, { id = "2", label = "second" }]

[[scales]]
id = "total"
name = "Total"
items = ["1", "2"]
missing = { max_missing = 0, source = "Project choice: test" }
bands_source = "Synthetic"
bands = [{ min = 0, max = 1, label = "LOW" }, { min = 2, max = 2, label = "high" }]
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("IPT_CACHE_DIR", str(folder))
    return folder


def _load(path):
    before = compiled.validations
    instrument = compiled.load(path, "instrument", load_instrument_file)
    return instrument, compiled.validations - before  # 1: pydantic validated the file; 0: the cache answered


def test_a_cached_file_is_not_validated_again_and_gives_the_same_instrument(cache, tmp_path):
    path = tmp_path / "scale.toml"
    path.write_text(SCALE)
    first, validated = _load(path)
    assert validated == 1 and len(list(cache.iterdir())) == 1
    second, validated = _load(path)
    assert validated == 0
    assert second == first and second.model_dump() == load_instrument_file(path).model_dump()
    assert isinstance(second, plain.Instrument)


def test_an_edited_file_is_revalidated(cache, tmp_path):
    path = tmp_path / "scale.toml"
    path.write_text(SCALE)
    _load(path)
    path.write_text(SCALE.replace('label = "LOW"', 'label = "low"'))
    edited, validated = _load(path)
    assert validated == 1 and edited.primary.bands[0].label == "low"
    path.write_text(SCALE.replace('max = 1, label = "LOW"', 'max = 0, label = "LOW"'))  # now a gap: invalid
    with pytest.raises(ipt_measures.errors.InstrumentDefinitionError, match="gap between bands"):
        _load(path)


def test_a_new_package_version_is_revalidated(cache, tmp_path, monkeypatch):
    path = tmp_path / "scale.toml"
    path.write_text(SCALE)
    _load(path)
    monkeypatch.setattr(ipt_measures, "__version__", ipt_measures.__version__ + ".post1")
    assert _load(path)[1] == 1
    assert _load(path)[1] == 0


def test_a_new_pydantic_or_scorer_changes_the_key():
    stamp = compiled.versions_stamp()
    assert "pydantic " in stamp and "scorer generic/1" in stamp and f"ipt-measures {ipt_measures.__version__}" in stamp
    assert compiled.key_for(b"x", "instrument") != compiled.key_for(b"x", "protocol")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "foreign-format", "wrong-key", "not-an-instrument"])
def test_a_corrupt_cache_entry_is_ignored_revalidated_and_rewritten(cache, tmp_path, damage):
    path = tmp_path / "scale.toml"
    path.write_text(SCALE)
    good, _ = _load(path)
    (entry,) = cache.iterdir()
    text = entry.read_text()
    data = json.loads(text)
    if damage == "truncate":
        entry.write_text(text[: len(text) // 2])
    elif damage == "garbage":
        entry.write_bytes(os.urandom(300))
    elif damage == "empty":
        entry.write_text("")
    elif damage == "foreign-format":
        entry.write_text(json.dumps({**data, "format": "0"}))
    elif damage == "wrong-key":
        entry.write_text(json.dumps({**data, "key": "0" * 64}))
    else:
        entry.write_text(json.dumps({**data, "definition": {"id": "cachetest", "items": 3}}))
    again, validated = _load(path)
    assert validated == 1 and again == good
    assert _load(path)[1] == 0  # rewritten: the next load is a hit


def test_a_cache_folder_that_cannot_be_written_is_simply_not_used(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("IPT_CACHE_DIR", str(blocker / "cache"))  # cannot be created, even by root
    path = tmp_path / "scale.toml"
    path.write_text(SCALE)
    assert _load(path)[1] == 1
    assert _load(path)[1] == 1  # validated every time, never a traceback


def test_deleting_the_cache_changes_nothing_but_speed(cache, invoke):
    first = invoke("instruments", "list", "--json").output
    assert any(cache.iterdir())
    for entry in cache.iterdir():
        entry.unlink()
    assert invoke("instruments", "list", "--json").output == first
    assert invoke("instruments", "list", "--json").output == first  # from the rewritten cache


def _forge_valid_entry_for(invalid: Path, cache: Path, valid: Path) -> None:
    """Put a well-formed entry for the invalid file's exact bytes in the cache (as a bug or a hand might)."""
    _load(valid)
    (entry,) = [p for p in cache.iterdir()]
    data = json.loads(entry.read_text())
    key = compiled.key_for(invalid.read_bytes(), "instrument")
    (cache / f"instrument-{key[:40]}.json").write_text(json.dumps({**data, "key": key}))


def test_instruments_validate_and_doctor_always_validate_fully(cache, tmp_path, invoke, isolated_data):
    folder = isolated_data / "instruments"
    folder.mkdir(parents=True)
    valid = tmp_path / "valid.toml"
    valid.write_text(SCALE)
    invalid = folder / "cachetest.toml"
    invalid.write_text(SCALE.replace('max = 1, label = "LOW"', 'max = 0, label = "LOW"'))
    _forge_valid_entry_for(invalid, cache, valid)
    use_registry(None)
    assert "cachetest" in ipt_measures.get_instruments()  # the everyday path trusts its cache...
    result = invoke("instruments", "validate", str(invalid))  # ...the validator never does
    assert result.exit_code == 1 and "gap between bands" in result.output
    before = compiled.validations
    doctor = invoke("doctor", "--json")
    assert compiled.validations - before >= len(INSTRUMENT_FILES) + 1  # every file, the cache ignored
    assert "gap between bands" in doctor.output


# -- cached and fresh scoring are the same, on generated answers -------------------------------------


def _registries():
    previous = compiled.set_enabled(False)
    try:
        fresh = build_registry()
        fresh.collect()
    finally:
        compiled.set_enabled(previous)
    build_registry().collect()  # fills the cache
    before = compiled.validations
    cached = build_registry()
    cached.collect()
    assert compiled.validations == before, "the second registry should be built from the cache"
    return fresh, cached


@st.composite
def answer_sets(draw):
    path = draw(st.sampled_from(INSTRUMENT_FILES))
    definition = load_instrument_file(path)

    def one():
        return {item.id: draw(st.one_of(st.none(), st.sampled_from([o.value for o in definition.options_for(item)])))
                for item in definition.items}

    return definition.id, draw(st.lists(st.builds(one), min_size=1, max_size=3)), one()


def test_cached_and_fresh_scoring_give_identical_scores_alerts_and_change(cache):
    fresh, cached = _registries()
    assert sorted(fresh.instruments) == sorted(cached.instruments)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(answer_sets())
    def check(case):
        instrument_id, earlier, answers = case
        results = []
        for registry in (fresh, cached):
            instrument = registry.instrument(instrument_id)
            previous = [registry.score(instrument_id, a) for a in earlier]
            found = assess(instrument, answers, previous, registry=registry)
            as_list = registry.score(instrument_id, [answers[i.id] for i in instrument.items])
            results.append(json.dumps([found.score.model_dump(mode="json"), found.alerts, found.change,
                                       as_list.model_dump(mode="json")]))
        assert results[0] == results[1]

    check()


@st.composite
def raw_lists(draw):
    """Answer lists as a caller might give them: right and wrong lengths, None, bools, floats, out-of-range values."""
    path = draw(st.sampled_from(INSTRUMENT_FILES))
    definition = load_instrument_file(path)
    values = []
    for item in definition.items:
        allowed = [o.value for o in definition.options_for(item)]
        values.append(draw(st.one_of(st.sampled_from(allowed), st.none(), st.sampled_from([True, False, 1.0, -1, 99]))
                           if draw(st.integers(0, 9)) == 0 else st.sampled_from(allowed)))
    cut = draw(st.integers(0, 2))
    return definition, values[: len(values) - cut] if cut else values


def test_scoring_a_list_by_position_matches_the_checked_mapping_path(cache):
    """Registry.score's list fast path (scoring.score_list) against the long way: answers_from_list then score,
    on the pydantic definition: the same Score JSON, or the same error."""
    from ipt_measures.errors import InvalidAnswers
    from ipt_measures.scoring import answers_from_list, score

    registry = build_registry()

    @settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
    @given(raw_lists())
    def check(case):
        definition, values = case
        try:
            expected = json.dumps(score(definition, answers_from_list(definition, values)).model_dump(mode="json"))
        except InvalidAnswers as exc:
            with pytest.raises(InvalidAnswers) as raised:
                registry.score(definition.id, values)
            assert str(raised.value) == str(exc)
            return
        assert json.dumps(registry.score(definition.id, values).model_dump(mode="json")) == expected
        assert json.dumps(registry.score(definition.id, tuple(values)).model_dump(mode="json")) == expected

    check()

    @settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
    @given(raw_lists(), st.booleans(), st.booleans())
    def check_mapping(case, drop_some, add_unknown):
        """The same for item id -> value (Registry.score's mapping fast path, scoring.score_mapping)."""
        definition, values = case
        answers = {item.id: v for item, v in zip(definition.items, values)}
        if drop_some and answers:
            answers.pop(sorted(answers)[0])
        if add_unknown:
            answers["no-such-item"] = 1
        try:
            expected = json.dumps(score(definition, answers).model_dump(mode="json"))
        except InvalidAnswers as exc:
            with pytest.raises(InvalidAnswers) as raised:
                registry.score(definition.id, answers)
            assert str(raised.value) == str(exc)
            return
        assert json.dumps(registry.score(definition.id, answers).model_dump(mode="json")) == expected

    check()
    check_mapping()
