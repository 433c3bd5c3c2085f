"""A stored score's JSON text (store.sql._score_json) is json.dumps's, byte for byte, whatever the dict holds."""

import copy
import json
import random

import pytest

import ipt_measures
from ipt_measures.errors import IptError
from ipt_measures.store.sql import _score_json


def dumps(value):
    return json.dumps(value, separators=(",", ":"))


@pytest.fixture(scope="module")
def scores():
    r = random.Random(15)
    out = []
    for instrument_id, instrument in sorted(ipt_measures.get_instruments().items()):
        for _ in range(20):
            answers = [r.choice([o.value for o in instrument.options_for(item)] + [None]) for item in instrument.items]
            try:
                out.append(ipt_measures.score(instrument_id, answers).model_dump(mode="json"))
            except IptError:  # too many missing for an instrument that allows none: not a score
                continue
    return out


def test_scores_as_the_scorer_makes_them_are_written_as_json_dumps_writes_them(scores):
    for score in scores + scores:  # the second time from the remembered scale texts
        assert _score_json(score) == dumps(score)


# Values equal as keys but not as JSON, and values the layout does not expect.
ODD = [0.0, -0.0, 0, 1, 1.0, True, False, None, 'a,b"\u00e9\n', float("nan"), float("inf"), -float("inf"), [1],
       {"x": 1}, 2**70, 1e16, 12.5]


def test_any_value_in_any_place_is_written_as_json_dumps_writes_it(scores):
    r = random.Random(3)
    for _ in range(2000):
        score = copy.deepcopy(r.choice(scores))
        total = score["total"]
        total[r.choice(list(total))] = r.choice(ODD)
        if r.random() < 0.2:
            score["subscales"] = [copy.deepcopy(total), total]
        if r.random() < 0.1:
            score["flags"] = [{"item": "9", "value": r.choice(ODD)}]
        if r.random() < 0.05:
            score = dict(reversed(list(score.items())))
        if r.random() < 0.05:
            score["instrument"] = r.choice(ODD)
        if r.random() < 0.05:
            score["total"] = dict(reversed(list(total.items())))
        assert _score_json(score) == dumps(score)
        assert _score_json(score) == dumps(score)


def test_zero_and_negative_zero_are_never_confused():
    base = {"id": "total", "name": "T", "value": 0.0, "band": None, "band_severity": None, "answered": 1,
            "missing": 0, "prorated": False, "note": None, "decimals": None}
    for value in (0.0, -0.0, 0.0, -0.0, 0, False, 0.0):
        score = {"instrument": "x", "instrument_version": "1", "scorer": "generic/1",
                 "total": {**base, "value": value}, "subscales": [], "flags": []}
        assert _score_json(score) == dumps(score)
