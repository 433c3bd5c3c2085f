"""Change rules: deltas, reliable change, clinically significant change, response, remission.

Pure functions over scores (floats, or None when a scale could not be scored) and a scale's
:class:`~ipt_measures.models.ChangeParams`. No I/O, no database, no Click. Every result is a small
plain model (``plain.py``) so the CLI can print it with ``model_dump(mode="json")`` and a report can plot it.

Sources (each rule below cites the one it follows):

- Jacobson NS, Truax P. Clinical significance: a statistical approach to defining meaningful change in
  psychotherapy research. J Consult Clin Psychol. 1991;59(1):12-19. (RCI, clinical significance, the
  recovered / improved / unchanged / deteriorated categories.) The sqrt(2) in Sdiff is Christensen &
  Mendoza's correction (Behav Ther 1986;17:305-308), which Jacobson & Truax adopt.
- NHS England. The NHS Talking Therapies Manual (v6, 2023): published reliable-change thresholds win over
  the RCI (PHQ-9 6, GAD-7 4 points). The programme's paired outcome (recovery, reliable improvement...) is
  a plugin's (``plugins/talking_therapies.py``, through the ``programme_outcome`` hook): no measure is
  named here.
- Frank E et al. Conceptualization and rationale for consensus definitions of terms in major depressive
  disorder: remission, recovery, relapse, and recurrence. Arch Gen Psychiatry. 1991;48(9):851-855
  (response as a proportional reduction in symptom severity; remission as a score below a threshold).
- Kroenke K et al. 2010, Gen Hosp Psychiatry 32:345-359 (PHQ-9 response = >= 50% reduction; remission < 5).
- Leucht S et al. Definitions of response and remission in schizophrenia. Acta Psychiatr Scand.
  2009;119(Suppl 438):7-14 (percentage reduction must be taken from the scale's floor, not from zero,
  when the lowest possible score is not 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, Optional

from .plain import FrozenModel

if TYPE_CHECKING:
    from .plain import ChangeParams

# Jacobson & Truax 1991, p. 14: change is reliable when |RCI| > 1.96 (p < .05, two-tailed).
RCI_CRITICAL = 1.96

# Scores are floats (mean scales, prorated totals), so 0.7 - 0.4 is 0.29999999999999993. A tie with a
# threshold is decided as if the arithmetic were exact: differences within EPS count as equal.
EPS = 1e-9

Category = Literal["recovered", "reliably improved", "no reliable change", "reliably deteriorated", "not assessable"]
Direction = Literal["improved", "deteriorated", "unchanged"]
ReliableDirection = Literal["improved", "deteriorated", "no reliable change"]


_FLOAT_JUDGEMENTS = frozenset({"percent_change", "improvement", "rci"})


class ReliableChangeThreshold(FrozenModel):
    """How many scale points a change must reach to be reliable, and how the number was obtained.

    ``method`` is "published" (a threshold from the literature, e.g. PHQ-9 6 points; a change of at
    least ``points`` is reliable, so ``inclusive`` is True) or "jacobson-truax" (1.96 x Sdiff; the
    change must exceed ``points``, so ``inclusive`` is False). The report draws the band +/- ``points``
    around the baseline.
    """

    __slots__ = _fields = ("points", "method", "inclusive", "se", "sdiff")
    _defaults = {"se": None, "sdiff": None}
    _floats = frozenset({"points", "se", "sdiff"})


class Judgement(FrozenModel):
    """The judgements made of one change from a baseline score: shared by a pair and a course summary.

    Declared once so the two cannot drift apart; :func:`compare` fills them and :func:`summarise` takes
    them from its (baseline, latest) pair. Plain classes (``plain.py``), not pydantic models: ``ipt progress``
    and the caseload build thousands of these, and start-up should not pay for pydantic.
    """

    _judgements = ("percent_change", "improvement", "direction", "rci", "reliable", "reliable_direction",
                   "baseline_clinical", "clinically_significant", "category", "responded", "in_remission",
                   "threshold")
    __slots__ = _fields = _judgements
    _defaults = {**dict.fromkeys(_judgements), "category": "not assessable"}
    _nested = {"threshold": ReliableChangeThreshold}
    _floats = _FLOAT_JUDGEMENTS

    def judgements(self) -> dict:
        """The shared fields only, as model values (the threshold stays a model, not a dict)."""
        return {name: getattr(self, name) for name in Judgement._judgements}


class PairChange(Judgement):
    """Change from one score (baseline) to a later one (current), with every rule applied."""

    _own = ("baseline", "current", "change", "current_clinical")
    __slots__ = _own
    _fields = (*Judgement._judgements, *_own)
    _defaults = {**Judgement._defaults, "change": None, "current_clinical": None}
    _floats = _FLOAT_JUDGEMENTS | {"baseline", "current", "change"}


class ChangeSummary(Judgement):
    """A scale's course over a series of administrations: what a progress view or report shows."""

    _own = ("higher_is_worse", "administrations", "scored", "missing_sessions", "last_administration_unscored",
            "baseline", "baseline_session", "latest", "latest_session", "previous", "previous_session",
            "change_from_baseline", "change_from_previous", "latest_clinical")
    __slots__ = _own
    _fields = (*Judgement._judgements, *_own)
    _defaults = {**Judgement._defaults, **dict.fromkeys(_own[5:])}
    _floats = _FLOAT_JUDGEMENTS | {"baseline", "latest", "previous", "change_from_baseline", "change_from_previous"}


# -- deltas ----------------------------------------------------------------------------------------


def change(baseline: Optional[float], current: Optional[float]) -> Optional[float]:
    """Raw change, current - baseline (negative = the score went down); None when either is missing."""
    if baseline is None or current is None:
        return None
    return current - baseline


def percent_change(baseline: Optional[float], current: Optional[float]) -> Optional[float]:
    """(current - baseline) / baseline x 100; None when either is missing or the baseline is 0.

    A change from 0 has no percentage. The sign is that of the raw change (-50.0 = halved).
    """
    if baseline is None or current is None or baseline == 0:
        return None
    return (current - baseline) / abs(baseline) * 100


def improvement(baseline: Optional[float], current: Optional[float], params: ChangeParams) -> Optional[float]:
    """Change in the better direction: positive = better, negative = worse, whatever the scale's direction.

    On a symptom scale (higher_is_worse) improvement is a decrease; on a support or well-being scale
    (e.g. MSPSS) it is an increase.
    """
    delta = change(baseline, current)
    if delta is None:
        return None
    return -delta if params.higher_is_worse else delta


def direction(baseline: Optional[float], current: Optional[float], params: ChangeParams) -> Optional[Direction]:
    """Which way the score moved, in clinical terms, reliable or not."""
    better = improvement(baseline, current, params)
    if better is None:
        return None
    if abs(better) <= EPS:
        return "unchanged"
    return "improved" if better > 0 else "deteriorated"


# -- reliable change (Jacobson & Truax 1991) -------------------------------------------------------


def standard_error(sd: float, reliability: float) -> float:
    """Standard error of measurement, SE = SD x sqrt(1 - r) (Jacobson & Truax 1991, p. 14)."""
    return sd * math.sqrt(1 - reliability)


def sdiff(sd: float, reliability: float) -> float:
    """Standard error of the difference of two scores, Sdiff = sqrt(2 x SE^2) (Jacobson & Truax 1991, p. 14)."""
    return math.sqrt(2 * standard_error(sd, reliability) ** 2)


def rci(baseline: Optional[float], current: Optional[float], params: ChangeParams) -> Optional[float]:
    """Reliable Change Index, (current - baseline) / Sdiff (Jacobson & Truax 1991, p. 14).

    Signed like the raw change. None when a score is missing or the params give no SD and reliability
    (a published threshold alone does not define an RCI).
    """
    delta = change(baseline, current)
    if delta is None or params.sd is None or params.reliability is None:
        return None
    return delta / sdiff(params.sd, params.reliability)


# Every judgement of a pair needs the threshold, and the caseload judges every instrument of every active
# course: work it out once per scale. ChangeParams and the result are frozen, so equal params share one.
@lru_cache(maxsize=256)
def reliable_change_threshold(params: ChangeParams) -> Optional[ReliableChangeThreshold]:
    """The smallest reliable change in scale points, for the report's band.

    A published threshold wins over the RCI (e.g. the NHS Talking Therapies Manual's 6 points for
    PHQ-9 and 4 for GAD-7): those were set for the measure in routine care and are what services
    report against. Otherwise 1.96 x Sdiff (Jacobson & Truax 1991). None when neither is available.
    """
    se = sd_diff = None
    if params.sd is not None and params.reliability is not None:
        se = standard_error(params.sd, params.reliability)
        sd_diff = sdiff(params.sd, params.reliability)
    if params.reliable_change is not None:
        return ReliableChangeThreshold(
            points=params.reliable_change, method="published", inclusive=True, se=se, sdiff=sd_diff
        )
    if sd_diff is None:
        return None
    return ReliableChangeThreshold(
        points=RCI_CRITICAL * sd_diff, method="jacobson-truax", inclusive=False, se=se, sdiff=sd_diff
    )


def _reaches(amount: float, threshold: ReliableChangeThreshold) -> bool:
    if threshold.inclusive:  # published: "a change of N points or more"
        return amount >= threshold.points - EPS
    return amount > threshold.points + EPS  # Jacobson & Truax: |RCI| > 1.96, i.e. |change| > 1.96 x Sdiff


def is_reliable(baseline: Optional[float], current: Optional[float], params: ChangeParams) -> Optional[bool]:
    """Whether |current - baseline| is a reliable change (either direction); None if it cannot be judged."""
    delta = change(baseline, current)
    threshold = reliable_change_threshold(params)
    if delta is None or threshold is None:
        return None
    return _reaches(abs(delta), threshold)


def reliable_direction(
    baseline: Optional[float], current: Optional[float], params: ChangeParams
) -> Optional[ReliableDirection]:
    """"improved" or "deteriorated" when the change is reliable, "no reliable change" otherwise."""
    reliable = is_reliable(baseline, current, params)
    if reliable is None:
        return None
    if not reliable:
        return "no reliable change"
    return "improved" if improvement(baseline, current, params) > 0 else "deteriorated"


# -- clinical range, clinically significant change, category ---------------------------------------


def in_clinical_range(score: Optional[float], params: ChangeParams) -> Optional[bool]:
    """Caseness: at or beyond the cut-off in the worse direction (ChangeParams.clinical_cutoff).

    Higher-is-worse: score >= cutoff (PHQ-9 >= 10 is a case). Higher-is-better: score <= cutoff.
    None when the score is missing or the scale has no published cut-off.
    """
    if score is None or params.clinical_cutoff is None:
        return None
    if params.higher_is_worse:
        return score >= params.clinical_cutoff - EPS
    return score <= params.clinical_cutoff + EPS


def clinically_significant(
    baseline: Optional[float], current: Optional[float], params: ChangeParams
) -> Optional[bool]:
    """Clinically significant change (Jacobson & Truax 1991, p. 14-15): reliable improvement that also
    moves the score from the clinical range to the non-clinical range.

    None when it cannot be judged: a score missing, no cut-off, no reliable-change threshold, or a
    baseline that was not in the clinical range (Jacobson & Truax define the criterion for people who
    start in the dysfunctional population; for anyone else "returning to normal" is undefined).
    """
    start, end = in_clinical_range(baseline, params), in_clinical_range(current, params)
    return _significant(reliable_direction(baseline, current, params), start, end)


def _significant(moved: Optional[ReliableDirection], start: Optional[bool], end: Optional[bool]) -> Optional[bool]:
    if moved is None or start is None or end is None or not start:
        return None
    return moved == "improved" and not end


def categorise(baseline: Optional[float], current: Optional[float], params: Optional[ChangeParams]) -> Category:
    """Jacobson & Truax's (1991, p. 16) categories: recovered, improved, unchanged, deteriorated.

    - "recovered": reliable improvement and from the clinical to the non-clinical range.
    - "reliably improved": reliable improvement without that crossing, which includes a baseline that
      was not in the clinical range, or a scale without a cut-off: recovery is undefined there
      (Jacobson & Truax 1991; Jacobson, Roberts, Berns & McGlinchey 1999, J Consult Clin Psychol
      67:300-307), so the honest answer is the reliable-change one.
    - "no reliable change": including a crossing of the cut-off that is not a reliable change.
    - "reliably deteriorated": a reliable change in the worse direction, wherever it ends.
    - "not assessable": a score missing, no params, or no way to judge reliable change.
    """
    if params is None:
        return "not assessable"
    moved = reliable_direction(baseline, current, params)
    start, end = in_clinical_range(baseline, params), in_clinical_range(current, params)
    return _category(moved, _significant(moved, start, end))


def _category(moved: Optional[ReliableDirection], significant: Optional[bool]) -> Category:
    if moved is None:
        return "not assessable"
    if moved == "deteriorated":
        return "reliably deteriorated"
    if moved == "no reliable change":
        return "no reliable change"
    return "recovered" if significant else "reliably improved"


# -- response and remission ------------------------------------------------------------------------


def responded(
    baseline: Optional[float], current: Optional[float], params: ChangeParams, floor: float = 0.0
) -> Optional[bool]:
    """Response: an improvement of at least ``response_fraction`` of the baseline (default 50%).

    improvement >= fraction x (baseline - floor). Kroenke et al. 2010 and Frank et al. 1991 define
    response as a proportional reduction in symptom severity (PHQ-9: >= 50%). ``floor`` is the scale's
    lowest possible score; give it when that is not 0, since a percentage taken from zero is then wrong
    (Leucht et al. 2009).

    None when a score is missing, when the baseline is at the floor (nothing to reduce), and for
    higher-is-better scales: no published response criterion is a percentage of a support or
    well-being score, and "50% more social support" depends on where the scale happens to start,
    so we do not invent one.
    """
    if not params.higher_is_worse or baseline is None or current is None:
        return None
    room = baseline - floor
    if room <= EPS:
        return None
    return baseline - current >= params.response_fraction * room - EPS


def in_remission(current: Optional[float], params: ChangeParams) -> Optional[bool]:
    """Remission: the score is strictly better than ``params.remission`` (PHQ-9: < 5, Kroenke et al. 2010).

    Higher-is-worse: score < threshold; higher-is-better: score > threshold. None when the score is
    missing or no remission threshold is published for the scale.
    """
    if current is None or params.remission is None:
        return None
    if params.higher_is_worse:
        return current < params.remission - EPS
    return current > params.remission + EPS


# -- one pair, and a series ------------------------------------------------------------------------


# Pure, and its result is frozen: the import, the caseload and every score of a course compare the same few pairs
# of whole-number totals again and again. typed: 17 and 17.0 are separate entries (their results are equal anyway).
@lru_cache(maxsize=4096, typed=True)
def compare(
    baseline: Optional[float], current: Optional[float], params: Optional[ChangeParams], floor: float = 0.0
) -> PairChange:
    """Every rule above applied to one baseline and one current score (``floor`` as for :func:`responded`)."""
    delta = change(baseline, current)
    if params is None:
        return PairChange(baseline=baseline, current=current, change=delta, percent_change=percent_change(baseline, current))
    # Each judgement once: the category builds on the reliable direction and the clinical range, and those on
    # the threshold and the improvement (what is_reliable, reliable_direction and direction each work out).
    threshold = reliable_change_threshold(params)
    better = improvement(baseline, current, params)
    reliable = None if delta is None or threshold is None else _reaches(abs(delta), threshold)
    if reliable is None:
        moved = None
    elif not reliable:
        moved = "no reliable change"
    else:
        moved = "improved" if better > 0 else "deteriorated"
    if better is None:
        way = None
    elif abs(better) <= EPS:
        way = "unchanged"
    else:
        way = "improved" if better > 0 else "deteriorated"
    start, end = in_clinical_range(baseline, params), in_clinical_range(current, params)
    significant = _significant(moved, start, end)
    return PairChange(
        baseline=baseline,
        current=current,
        change=delta,
        percent_change=percent_change(baseline, current),
        improvement=better,
        direction=way,
        rci=rci(baseline, current, params),
        reliable=reliable,
        reliable_direction=moved,
        baseline_clinical=start,
        current_clinical=end,
        clinically_significant=significant,
        category=_category(moved, significant),
        responded=responded(baseline, current, params, floor),
        in_remission=in_remission(current, params),
        threshold=threshold,
    )


def baseline_change(
    scores: Iterable[Optional[float]], params: Optional[ChangeParams], floor: float = 0.0
) -> tuple[Optional[float], Optional[PairChange]]:
    """A course's change from baseline: ``scores`` in session order, None where one could not be scored.

    Returns (baseline, pair): the baseline is the first scored administration, and the pair is
    :func:`compare` of it with the last scored one; the pair is None with fewer than two scored (no change
    to assess). :func:`summarise` and the caseload both judge a course by this, so they cannot disagree.
    """
    baseline = latest = None
    scored = 0
    for score in scores:
        if score is not None:
            if baseline is None:
                baseline = score
            latest = score
            scored += 1
    if scored < 2:
        return baseline, None
    return baseline, compare(baseline, latest, params, floor)


def summarise(
    series: Iterable[tuple[int, Optional[float]]], params: Optional[ChangeParams], floor: float = 0.0
) -> ChangeSummary:
    """Summarise a scale over a course: ``series`` is (session number, score or None) pairs.

    Decisions (documented in the README, How change is judged):

    - The series is ordered by session number (stable, so repeated numbers keep their given order).
    - Baseline is the first *scored* administration, whatever its session number; ``baseline_session``
      says which. NHS Talking Therapies likewise pairs the first and last scores available, which is
      why it monitors every session. An unscorable first administration does not block all change.
    - Latest is the last scored administration after the baseline; previous is the scored one before
      it. With a single scored administration there is no change to assess ("not assessable").
    - When the final administration could not be scored, ``last_administration_unscored`` is True and
      the figures describe the last scored one, so a view can say so rather than hide the gap.
    """
    ordered = sorted(series, key=lambda pair: pair[0])
    scored = [(session, score) for session, score in ordered if score is not None]
    missing = [session for session, score in ordered if score is None]
    common = dict(
        higher_is_worse=params.higher_is_worse if params is not None else None,
        administrations=len(ordered),
        scored=len(scored),
        missing_sessions=missing,
        last_administration_unscored=bool(ordered) and ordered[-1][1] is None,
    )
    if len(scored) < 2:
        baseline_session, baseline = scored[0] if scored else (None, None)
        return ChangeSummary(
            **common,
            baseline=baseline,
            baseline_session=baseline_session,
            baseline_clinical=in_clinical_range(baseline, params) if params is not None else None,
            threshold=reliable_change_threshold(params) if params is not None else None,
        )
    baseline_session, baseline = scored[0]
    previous_session, previous = scored[-2]
    latest_session, latest = scored[-1]
    pair = baseline_change([score for _, score in scored], params, floor)[1]
    return ChangeSummary(
        **common,
        **pair.judgements(),
        baseline=baseline,
        baseline_session=baseline_session,
        latest=latest,
        latest_session=latest_session,
        previous=previous,
        previous_session=previous_session,
        change_from_baseline=pair.change,
        change_from_previous=change(previous, latest),
        latest_clinical=pair.current_clinical,
    )
