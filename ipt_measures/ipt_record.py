"""Record services for IPT's own terms: the interpersonal inventory, goals for the problem area, the summary.

The library behind ``ipt inventory``, ``ipt goals`` and ``ipt course summary``. Validation against the IPT
vocabulary of :mod:`ipt_measures.domain` happens here; the store only persists. Relationship labels are
pseudonyms the clinician chooses ("partner", "mother", "colleague A"), never names; goal texts, wanted changes,
warning signs and the plan are free text kept in the record and left out of every de-identified export.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from . import domain
from .errors import UsageError

TEXT_MAX = 500  # a goal, a wanted change, a warning sign: a sentence or two, not a case history


def _course(store, client_id: str, course_id: Optional[int] = None) -> dict:
    from .review import find_course

    return find_course(store, client_id, course_id)


def _text(value: Optional[str], what: str, *, required: bool = False, limit: int = TEXT_MAX,
          one_line: bool = True) -> Optional[str]:
    if value is None:
        if required:
            raise UsageError(f"give the {what}")
        return None
    text = " ".join(value.split()) if one_line else value.strip()
    if not text:
        if required:
            raise UsageError(f"the {what} is empty")
        return None
    if len(text) > limit:
        raise UsageError(f"the {what} is {len(text)} characters; keep it to {limit}")
    return text


def _choice(value: Optional[str], allowed: tuple, what: str) -> Optional[str]:
    if value is None:
        return None
    if value not in allowed:
        raise UsageError(f"{what} is one of: {', '.join(allowed)} (got {value!r})")
    return value


def _rating_value(value: Optional[int], what: str) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not domain.RATING_MIN <= value <= domain.RATING_MAX:
        anchors = ", ".join(f"{k} {v}" for k, v in domain.RATING_ANCHORS.items())
        raise UsageError(f"{what} is rated {domain.RATING_MIN}-{domain.RATING_MAX} ({anchors}); got {value!r}")
    return value


def check_label(store, client_id: str, label: str) -> str:
    """A relationship label: short, one line, and not the client's own recorded name (a pseudonym, never a name)."""
    text = _text(label, "relationship label", required=True, limit=domain.LABEL_MAX)
    client = store.get_client(client_id)
    words = set(re.findall(r"[^\W\d_]{3,}", text.lower()))
    if words & set(re.findall(r"[^\W\d_]{3,}", (client.get("display_name") or "").lower())):
        raise UsageError("a relationship label is a pseudonym such as 'partner' or 'colleague A', never a name")
    return text


def _when(store, course: dict, session_number: Optional[int], rated_on: Optional[str]) -> tuple[Optional[int], str]:
    """The session a rating belongs to (default: the latest started) and its date (default: that session's
    date, else today), so a rating entered after the session still sits where it was taken."""
    from datetime import date

    sessions = store.sessions(course["id"])
    if session_number is None:
        session = sessions[-1] if sessions else None
    else:
        session = next((s for s in sessions if s["number"] == session_number), None)
        if session is None:
            raise UsageError(f"session {session_number} has not been started in course {course['id']}")
    if rated_on is None and session is not None:
        return session["number"], session["date"]
    day = domain.parse_date(rated_on or date.today().isoformat(), "rating date").isoformat()
    return (session["number"] if session else None), day


# -- the interpersonal inventory ---------------------------------------------------------------------


def add_relationship(store, client_id: str, label: str, relationship_type: str, *, closeness: str, support: int,
                     conflict: int, contact: str, wanted_change: Optional[str] = None, rated_on: Optional[str] = None,
                     session_number: Optional[int] = None, course_id: Optional[int] = None) -> dict:
    """Add a key relationship to the course's inventory, with its first rating (taken in the initial phase)."""
    course = _course(store, client_id, course_id)
    rating = {
        "closeness": _choice(closeness, domain.CLOSENESS_CIRCLES, "closeness"),
        "support": _rating_value(support, "support"),
        "conflict": _rating_value(conflict, "conflict"),
        "contact": _choice(contact, domain.CONTACT_FREQUENCIES, "contact"),
        "wanted_change": _text(wanted_change, "wanted change"),
    }
    rating["session_number"], rating["rated_on"] = _when(store, course, session_number, rated_on)
    missing = [k for k in ("closeness", "support", "conflict", "contact") if rating[k] is None]
    if missing:
        raise UsageError(f"a new relationship needs its first rating: give {', '.join('--' + m for m in missing)}")
    kind = _choice(relationship_type, domain.RELATIONSHIP_TYPES, "relationship type")
    return store.add_relationship(course["id"], check_label(store, client_id, label), kind, rating)


def rate_relationship(store, client_id: str, label: str, *, closeness: Optional[str] = None,
                      support: Optional[int] = None, conflict: Optional[int] = None, contact: Optional[str] = None,
                      wanted_change: Optional[str] = None, rated_on: Optional[str] = None,
                      session_number: Optional[int] = None, course_id: Optional[int] = None) -> dict:
    """Re-rate a relationship (at the end of the course, or whenever): a new dated rating, the old ones kept.

    A field not given is carried over from the relationship's latest rating, so each rating is complete."""
    course = _course(store, client_id, course_id)
    relationship = store.get_relationship(course["id"], label)
    given = {
        "closeness": _choice(closeness, domain.CLOSENESS_CIRCLES, "closeness"),
        "support": _rating_value(support, "support"),
        "conflict": _rating_value(conflict, "conflict"),
        "contact": _choice(contact, domain.CONTACT_FREQUENCIES, "contact"),
        "wanted_change": _text(wanted_change, "wanted change"),
    }
    if all(v is None for v in given.values()):
        raise UsageError("give at least one of --closeness, --support, --conflict, --contact, --wants")
    latest = relationship["ratings"][-1]
    rating = {k: (latest[k] if v is None else v) for k, v in given.items()}
    rating["session_number"], rating["rated_on"] = _when(store, course, session_number, rated_on)
    return store.rate_relationship(course["id"], relationship["label"], rating)


def inventory(store, client_id: str, course_id: Optional[int] = None) -> dict:
    """The course's interpersonal inventory: each relationship with every rating, and its first and latest."""
    course = _course(store, client_id, course_id)
    relationships = []
    for r in store.relationships(course["id"]):
        ratings = [_public_rating(x) for x in r["ratings"]]
        relationships.append({
            "label": r["label"],
            "relationship_type": r["relationship_type"],
            "ratings": ratings,
            "start": ratings[0] if ratings else None,
            "end": ratings[-1] if len(ratings) > 1 else None,
        })
    return {
        "client_id": client_id,
        "course_id": course["id"],
        "scale": {
            "closeness": list(domain.CLOSENESS_CIRCLES),
            "support": dict(domain.RATING_ANCHORS),
            "conflict": dict(domain.RATING_ANCHORS),
            "contact": list(domain.CONTACT_FREQUENCIES),
        },
        "relationships": relationships,
    }


def _public_rating(row: dict) -> dict:
    return {k: row[k] for k in ("rated_on", "session_number", "closeness", "support", "conflict", "contact",
                                "wanted_change")}


# -- goals ---------------------------------------------------------------------------------------------


def add_goal(store, client_id: str, text: str, problem_area: Optional[str] = None,
             course_id: Optional[int] = None) -> dict:
    """Agree a goal for one of the course's problem areas (up to three per course, numbered 1-3)."""
    course = _course(store, client_id, course_id)
    areas = course["problem_areas"]
    if problem_area is None:
        if len(areas) != 1:
            raise UsageError(f"name the problem area the goal is for (--problem-area {' or '.join(areas)})")
        problem_area = areas[0]
    if problem_area not in areas:
        raise UsageError(f"this course's problem areas are {', '.join(areas)}; a goal is tied to one of them, "
                         f"not {problem_area!r}")
    existing = store.goals(course["id"])
    if len(existing) >= domain.MAX_GOALS:
        raise UsageError(f"a course has at most {domain.MAX_GOALS} goals (Goal-Based Outcomes: up to three)")
    return store.add_goal(course["id"], len(existing) + 1, _text(text, "goal", required=True), problem_area)


def goals(store, client_id: str, course_id: Optional[int] = None) -> list[dict]:
    """The course's goals, in number order, each with its problem area."""
    course = _course(store, client_id, course_id)
    return [{"number": g["number"], "text": g["text"], "problem_area": g["problem_area"]}
            for g in store.goals(course["id"])]


def personalise(store, instrument: Any, course_id: int) -> Any:
    """The instrument as asked of this client: an individualised one ('goals') asks only the course's goals,
    each item showing the goal's own words. Other instruments come back unchanged."""
    if getattr(instrument, "individualised", None) != "goals":
        return instrument
    agreed = {str(g["number"]): g["text"] for g in store.goals(course_id)}
    if not agreed:
        raise UsageError("no goals agreed for this course yet: ipt goals CLIENT add \"...\" --problem-area AREA")
    items = [item.model_copy(update={"text": agreed[item.id]}) for item in instrument.items if item.id in agreed]
    return instrument.model_copy(update={"items": items})


def check_personal_answers(store, instrument: Any, course_id: int, answers: dict) -> None:
    """Refuse answers to an individualised instrument's items that this course has not set up (a rating of
    goal 3 when two goals were agreed)."""
    if getattr(instrument, "individualised", None) != "goals":
        return
    personal = personalise(store, instrument, course_id)
    agreed = {item.id for item in personal.items}
    extra = sorted(k for k, v in answers.items() if v is not None and k not in agreed)
    if extra:
        raise UsageError(f"{instrument.id}: this course has goal(s) {', '.join(sorted(agreed))} only, "
                         f"not {', '.join(extra)}")


def needs_setting_up(store, instrument: Any, course_id: int) -> Optional[str]:
    """Why an individualised instrument cannot be given yet in this course (None when it can)."""
    if getattr(instrument, "individualised", None) == "goals" and not store.goals(course_id):
        return "no goals agreed yet (ipt goals CLIENT add)"
    return None


# -- the end-of-treatment summary ---------------------------------------------------------------------


def set_summary(store, client_id: str, *, warning_signs: Optional[str] = None, plan: Optional[str] = None,
                course_id: Optional[int] = None, actor: Optional[str] = None) -> dict:
    """Record the clinician's warning signs and plan for the end of treatment (changes are audited)."""
    if warning_signs is None and plan is None:
        raise UsageError("give --warning-signs and/or --plan")
    course = _course(store, client_id, course_id)
    return store.set_course_summary(
        course["id"], warning_signs=_text(warning_signs, "warning signs", limit=2000, one_line=False),
        plan=_text(plan, "plan", limit=2000, one_line=False), actor=actor,
    )


# -- the mid-course review ----------------------------------------------------------------------------

MID_COURSE_REVIEW = "mid-course-review"


def mid_course_review(store, course_id: int, registry: Any = None) -> Optional[int]:
    """Raise the course's ``mid-course-review`` alert when it is due; returns its id, or None.

    The review falls on :func:`ipt_measures.domain.mid_review_session` (session 10 of 16, 8 of 12, 5 of a
    brief course; none for maintenance). It is judged once per course, on the first scored administration of
    the course's primary measure (:func:`ipt_measures.review.progress`: depression before anxiety before
    distress) at or after that session: when that score is not a reliable improvement on the course
    baseline (the first scored), by the measure's own reliable-change rule, the alert is raised. A reliable
    deterioration is no improvement either. A measure whose change cannot be judged raises nothing.
    """
    from .change import reliable_change_threshold, reliable_direction
    from .domain import mid_review_session
    from .review import progress

    course = store.get_course(course_id)
    review_at = mid_review_session(course["planned_sessions"], course.get("course_type"))
    if review_at is None:
        return None
    sessions = store.sessions(course_id)
    if not sessions or sessions[-1]["number"] < review_at:
        return None  # not there yet: the common case, answered without reading the scores
    if any(a["kind"] == MID_COURSE_REVIEW
           for a in store.alerts(course["client_id"], include_acknowledged=True, course_id=course_id)):
        return None
    view = progress(store, course["client_id"], course_id, registry)
    primary = view.get(view.primary) if view.primary else None
    if primary is None:
        return None
    scored = [p for p in primary.points if p.value is not None]
    at_review = next((p for p in scored if p.session >= review_at), None)
    if at_review is None or scored[0].session >= review_at:
        return None  # not there yet, or no baseline before the review
    from .plugins import get_registry

    instrument = (registry or get_registry()).instruments.get(primary.instrument_id)
    params = instrument.primary.change if instrument is not None else None
    baseline = scored[0]
    moved = reliable_direction(baseline.value, at_review.value, params) if params is not None else None
    if moved is None or moved == "improved":
        return None
    threshold = reliable_change_threshold(params)
    band = f" ({at_review.band})" if at_review.band else ""
    message = (
        f"Mid-course review (session {at_review.session} of {course['planned_sessions']}): {primary.short_name} "
        f"{at_review.value:g}{band} is no reliable improvement on baseline {baseline.value:g} (session "
        f"{baseline.session}; change {at_review.value - baseline.value:+g}, reliable change {round(threshold.points, 1):g} "
        "points). Re-evaluate the formulation and the problem-area focus with the client, and consider "
        "whether to add or change treatment."
    )
    return store.add_alert(course["client_id"], MID_COURSE_REVIEW, "warning", message, course_id=course_id,
                           administration_id=at_review.administration_id)


def mid_course_reviews(store, client_ids, registry: Any = None) -> list[int]:
    """Judge the mid-course review of each client's active course (after records were stored in bulk, e.g.
    by ``ipt demo``); returns the ids of the alerts raised."""
    raised = []
    for client_id in client_ids:
        course = store.active_course(client_id)
        if course is not None:
            alert_id = mid_course_review(store, course["id"], registry)
            if alert_id is not None:
                raised.append(alert_id)
    return raised
