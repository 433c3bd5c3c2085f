"""`ipt instruments import`: FHIR Questionnaires and REDCap data dictionaries become instrument files (issue 13 part 3).

The LOINC PHQ-9 and GAD-7 Questionnaires of LHC-Forms (tests/data, see tests/data/README.md for their source)
must import as instruments that score like ours: the same total for every complete set of answers
(PHQ-9: sum of items 1-9, Kroenke 2001; GAD-7: sum of items 1-7, Spitzer 2006).
"""

from __future__ import annotations

import random

import pytest

import ipt_measures
from ipt_measures.errors import UsageError
from ipt_measures.exchange.instrument_file import import_instrument
from ipt_measures.scoring import score

from conftest import ROOT

DATA = ROOT / "tests" / "data"


def answer_sets(n_items: int, top: int = 3, count: int = 300):
    rng = random.Random(13)
    yield [0] * n_items
    yield [top] * n_items
    for _ in range(count):
        yield [rng.randint(0, top) for _ in range(n_items)]


@pytest.mark.parametrize("source,ours,panel,total_code", [
    ("lhcforms-phq9-questionnaire.json", "phq9", "44249-1", "44261-6"),
    ("lhcforms-gad7-questionnaire.json", "gad7", "69737-5", "70274-6"),
])
def test_the_lhc_forms_questionnaires_import_as_instruments_that_score_like_ours(source, ours, panel, total_code):
    text, imported = import_instrument(DATA / source)
    builtin = ipt_measures.get_instrument(ours)
    assert (imported.loinc, imported.primary.loinc) == (panel, total_code)
    scored = imported.primary.items
    assert [imported.item(i).loinc for i in scored] == [builtin.item(i).loinc for i in builtin.primary.items]
    assert imported.primary.range == builtin.primary.range
    for values in answer_sets(len(scored)):
        theirs = score(imported, dict(zip(scored, values)))
        mine = ipt_measures.score(ours, dict(zip(builtin.primary.items, values)))
        assert theirs.total.value == mine.total.value, values
    # What the Questionnaire does not say is marked, not invented.
    assert 'citation = "TODO: the original publication"' in text
    assert "# TODO: bands:" in text and "bands =" not in text.replace("`bands = [", "")
    assert "max_missing = 0  # TODO: the published missing-item rule" in text
    assert "[[critical]]" not in text.replace("a [[critical]] table", "")


def test_an_item_without_weights_is_recorded_not_scored():
    text, imported = import_instrument(DATA / "lhcforms-phq9-questionnaire.json")
    difficulty = next(i for i in imported.items if i.loinc == "69722-7")
    assert difficulty.optional and difficulty.id not in imported.primary.items
    assert "recorded, not scored: its answer options carry no weights in the source" in text


def test_gad7_item_2_keeps_the_lhc_forms_answer_code():
    _, imported = import_instrument(DATA / "lhcforms-gad7-questionnaire.json")
    codes = [o.loinc for o in imported.options_for(imported.item("2"))]
    assert codes == ["LA6568-5", "LA6569-3", "LA18938-3", "LA6571-9"]


def test_a_redcap_form_imports_with_its_plain_sum_calc_as_the_total():
    text, imported = import_instrument(DATA / "redcap-wellbeing-dictionary.csv", redcap_form="clinic_wellbeing")
    assert imported.id == "clinic-wellbeing"
    assert imported.primary.items == ["cw_1", "cw_2", "cw_3", "cw_4"]
    assert [o.label for o in imported.options_for(imported.item("cw_4"))] == ["No one", "One person", "Several people"]
    assert imported.item("cw_help").optional  # a yesno outside the calc: recorded, not scored
    assert imported.item("cw_1").text == "I felt calm"  # REDCap's HTML taken out
    assert score(imported, {"cw_1": 3, "cw_2": 1, "cw_3": 2, "cw_4": 2}).total.value == 8
    assert "Not imported: calc field 'cw_mean' (mean([cw_1],[cw_2],[cw_3])): not a plain sum" in text
    assert "Not imported: field 'cw_notes' (type notes)" in text


def test_a_redcap_form_without_a_sum_says_the_total_is_to_check(tmp_path):
    lines = (DATA / "redcap-wellbeing-dictionary.csv").read_text().splitlines()
    path = tmp_path / "dd.csv"
    path.write_text("\n".join(line for line in lines if not line.startswith("cw_total")) + "\n")
    text, imported = import_instrument(path, redcap_form="clinic_wellbeing")
    assert "TODO: the dictionary has no calc field that plainly sum" in text
    assert imported.primary.items == ["cw_1", "cw_2", "cw_3", "cw_4", "cw_help"]


@pytest.mark.parametrize("content,message", [
    ('{"resourceType": "Patient"}', "is not a FHIR Questionnaire"),
    ('{"resourceType": "Questionnaire", "item": [{"linkId": "1", "type": "string"}]}', "nothing to score"),
    ("not json", "is not FHIR JSON"),
])
def test_a_file_that_is_not_a_weighted_questionnaire_is_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "q.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        import_instrument(path)


def test_cli_writes_the_file_and_never_overwrites_it_unasked(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("instruments", "import", DATA / "lhcforms-gad7-questionnaire.json")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Wrote gad-7.toml: gad-7, 7 items, total of 7 scored item(s).")
    assert invoke("instruments", "validate", "gad-7.toml").output.startswith("gad-7.toml: valid (gad-7, 7 items")
    again = invoke("instruments", "import", DATA / "lhcforms-gad7-questionnaire.json")
    assert again.exit_code == 2 and "gad-7.toml exists; give another -o FILE, or --force" in again.output
    redcap = invoke("instruments", "import", "--redcap", DATA / "redcap-wellbeing-dictionary.csv")
    assert redcap.exit_code == 2 and "--redcap and --form NAME go together" in redcap.output
    redcap = invoke("instruments", "import", "--redcap", DATA / "redcap-wellbeing-dictionary.csv", "--form", "x")
    assert "has no form 'x' (forms: enrolment, clinic_wellbeing)" in redcap.output
    result = invoke("instruments", "import", "--redcap", DATA / "redcap-wellbeing-dictionary.csv",
                    "--form", "clinic_wellbeing", "--id", "cw", "-o", "cw.toml")
    assert result.exit_code == 0 and (tmp_path / "cw.toml").read_text().count('id = "cw"') == 1
    assert (tmp_path / "cw.toml").read_text().startswith("# Drafted by `ipt instruments import` from form 'clinic_wellbeing'")
