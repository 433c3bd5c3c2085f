"""NHS Talking Therapies paired outcome (PHQ-9 + GAD-7): recovery, reliable improvement, reliable recovery and
reliable deterioration of a course, through the ``programme_outcome`` hook.

The core knows no instrument by name: this plugin knows PHQ-9 and GAD-7 and the programme's rules. Sources:
NHS England, The NHS Talking Therapies Manual (v6, 2023), and NHS Digital's NHS Talking Therapies (formerly
IAPT) statistics definitions: caseness PHQ-9 >= 10 or GAD-7 >= 8; reliable change 6 points on PHQ-9 and 4 on
GAD-7; the outcome compares the first and the last *paired* scores (a PHQ-9 and a GAD-7 from the same session).
Services use the anxiety disorder-specific measure matched to the problem descriptor where one exists; this
plugin is the GAD-7 default.
"""

from __future__ import annotations

from typing import Optional

from ipt_measures import hookimpl

OUTCOME_ID = "nhs-talking-therapies"
PHQ9, GAD7 = "phq9", "gad7"
PHQ9_CASENESS = 10  # NHS Talking Therapies Manual v6 (2023): PHQ-9 >= 10 is a case
GAD7_CASENESS = 8  # ibid.: GAD-7 >= 8 is a case
PHQ9_RELIABLE_CHANGE = 6  # ibid.: a change of 6 points or more on PHQ-9 is reliable
GAD7_RELIABLE_CHANGE = 4  # ibid.: 4 points or more on GAD-7
SOURCE = ("NHS England, The NHS Talking Therapies Manual (v6, 2023): caseness PHQ-9 >= 10 or GAD-7 >= 8; "
          "reliable change 6 (PHQ-9) and 4 (GAD-7) points; first and last paired scores (same session); "
          "recovery counted only for those who were a case at the start.")

_FACTS = (("recovery", "recovery"), ("reliable_improvement", "reliable improvement"),
          ("reliable_recovery", "reliable recovery"), ("reliable_deterioration", "reliable deterioration"),
          ("case_at_start", "caseness at start"), ("case_at_end", "caseness at end"))


def _params():
    from ipt_measures.plain import ChangeParams  # the runtime form: no pydantic on the `ipt progress` path

    phq = ChangeParams(higher_is_worse=True, reliable_change=PHQ9_RELIABLE_CHANGE, clinical_cutoff=PHQ9_CASENESS,
                       source="NHS Talking Therapies Manual (v6, 2023): PHQ-9 caseness >= 10, reliable change 6 points.")
    gad = ChangeParams(higher_is_worse=True, reliable_change=GAD7_RELIABLE_CHANGE, clinical_cutoff=GAD7_CASENESS,
                       source="NHS Talking Therapies Manual (v6, 2023): GAD-7 caseness >= 8, reliable change 4 points.")
    return phq, gad


def talking_therapies_outcome(phq9_first: Optional[float], phq9_last: Optional[float], gad7_first: Optional[float],
                              gad7_last: Optional[float]) -> dict:
    """Recovery, reliable improvement, reliable recovery and reliable deterioration as the programme defines them:

    - case: PHQ-9 >= 10 or GAD-7 >= 8 (caseness on either measure);
    - recovery: a case at the start and not a case at the end (below caseness on both);
    - reliable improvement: a reliable decrease (PHQ-9 >= 6, GAD-7 >= 4 points) on at least one measure and a
      reliable increase on neither;
    - reliable recovery: recovery and reliable improvement together;
    - reliable deterioration: a reliable increase on at least one measure.

    Every outcome is None when ``assessable`` is False (a score missing: the programme needs both measures at
    both ends). ``recovery`` and ``reliable_recovery`` are None for someone who was not a case at the start.
    """
    from ipt_measures.change import change, in_clinical_range, reliable_direction

    empty = {key: None for key, _ in _FACTS}
    empty.update(phq9_change=None, gad7_change=None, phq9_reliable=None, gad7_reliable=None)
    if None in (phq9_first, phq9_last, gad7_first, gad7_last):
        return {"assessable": False, **empty}
    phq_params, gad_params = _params()
    phq = reliable_direction(phq9_first, phq9_last, phq_params)
    gad = reliable_direction(gad7_first, gad7_last, gad_params)
    case_start = bool(in_clinical_range(phq9_first, phq_params) or in_clinical_range(gad7_first, gad_params))
    case_end = bool(in_clinical_range(phq9_last, phq_params) or in_clinical_range(gad7_last, gad_params))
    deteriorated = "deteriorated" in (phq, gad)
    improved = "improved" in (phq, gad) and not deteriorated
    recovery = (not case_end) if case_start else None
    return {
        "assessable": True,
        "phq9_change": change(phq9_first, phq9_last),
        "gad7_change": change(gad7_first, gad7_last),
        "phq9_reliable": phq,
        "gad7_reliable": gad,
        "case_at_start": case_start,
        "case_at_end": case_end,
        "recovery": recovery,
        "reliable_improvement": improved,
        "reliable_deterioration": deteriorated,
        "reliable_recovery": (recovery and improved) if case_start else None,
    }


def paired_sessions(phq9: dict[int, float], gad7: dict[int, float]) -> list[tuple[int, float, float]]:
    """(session, PHQ-9, GAD-7) for each session where both were scored, in session order: the one place
    where the two measures are paired (a measure given alone in a session is never paired with the other
    measure from another session)."""
    return [(n, phq9[n], gad7[n]) for n in sorted(phq9.keys() & gad7.keys())]


@hookimpl
def programme_outcome(course, scores):
    """The paired outcome of a course that gave both PHQ-9 and GAD-7; None for any other course."""
    if PHQ9 not in scores or GAD7 not in scores:
        return None
    pairs = paired_sessions(dict(scores[PHQ9]), dict(scores[GAD7]))
    first, last = (pairs[0], pairs[-1]) if len(pairs) >= 2 else ((None,) * 3, (None,) * 3)
    data = talking_therapies_outcome(first[1], last[1], first[2], last[2])
    data["first_session"], data["last_session"] = first[0], last[0]
    if not data["assessable"]:
        note = "not assessable: needs a PHQ-9 and a GAD-7 scored in the same session, at two sessions or more"
    elif not data["case_at_start"]:
        note = "not a case at the start, so recovery does not apply"
    else:
        note = None
    return {
        "id": OUTCOME_ID,
        "name": "NHS Talking Therapies (PHQ-9 + GAD-7, first and last)",
        "assessable": data["assessable"],
        "sessions": [first[0], last[0]] if data["assessable"] else [],
        "facts": [{"key": key, "label": label, "value": data[key]} for key, label in _FACTS],
        "note": note,
        "source": SOURCE,
        "data": data,
    }
