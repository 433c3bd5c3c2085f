"""Clinical review: a course's scores per instrument with change from baseline, caseload rows, sparklines.

The library behind ``ipt progress``, ``ipt caseload`` and ``ipt report``. It reads the record store,
applies the change rules of :mod:`ipt_measures.change` (it makes none of its own) and returns plain
data that a terminal table, JSON or the HTML report formats. Nothing here imports Click or matplotlib.

Decisions, each also stated in the README (Following a course):

- The course reviewed is the client's active course, else the most recent one (``course_id`` picks another).
- Only completed administrations count. Baseline, latest and the category come from
  :func:`ipt_measures.change.baseline_change` (baseline = first scored administration of the course; also
  what :func:`ipt_measures.change.summarise` uses).
- The *primary* measure of a course (the one the caseload shows) is the first instrument, in
  ``DOMAIN_ORDER``, that has change parameters: depression before anxiety before distress, and within a
  domain the one given most often, then the one given first.
- Caseload flags: an open critical alert (a critical item, or a risk item left unanswered, not yet
  acknowledged: however many forms followed it); a reliable deterioration
  from baseline on any instrument; no measurement for two sessions or more (current session number minus
  the last measured session number is 2 or more, or nothing measured after two sessions).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from .errors import NotFound, UsageError

# Symptom measures first: they are what an IPT course is judged on, then the interpersonal targets.
DOMAIN_ORDER = (
    "depression",
    "anxiety",
    "distress",
    "trauma",
    "grief",
    "mania",
    "interpersonal-functioning",
    "social-support",
    "loneliness",
    "well-being",
    "other",
)
SYMPTOM_DOMAINS = ("depression", "anxiety", "distress")

# Most concerning first: used to sort the caseload by category.
CATEGORY_ORDER = ("reliably deteriorated", "no reliable change", "not assessable", "reliably improved", "recovered")

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_ASCII = "_.-~=+*#"


# -- data ----------------------------------------------------------------------------------------------


@dataclass
class Point:
    """One completed administration of an instrument, with its change from the course baseline."""

    session: int
    date: str
    phase: str
    administration_id: int
    value: Optional[float]
    band: Optional[str]
    band_severity: Optional[int]
    prorated: bool = False
    missing: int = 0
    flags: list[dict] = field(default_factory=list)
    is_baseline: bool = False
    change_from_baseline: Optional[float] = None
    reliable: Optional[str] = None  # "improved", "deteriorated", "no reliable change", or None
    decimals: int = 0  # what the scale is reported to; `value` is exact (display rounds)


@dataclass
class Series:
    """One instrument's total across a course: its points, how to read them, and the change summary."""

    instrument_id: str
    name: str
    short_name: str
    domain: str
    registered: bool
    scale_name: Optional[str]
    range: Optional[tuple[float, float]]
    higher_is_worse: Optional[bool]
    bands: list[dict]
    bands_source: Optional[str]
    clinical_cutoff: Optional[float]
    remission: Optional[float]
    threshold: Optional[dict]
    change_source: Optional[str]
    points: list[Point]
    summary: dict

    @property
    def values(self) -> list[Optional[float]]:
        return [p.value for p in self.points]


@dataclass
class Progress:
    """A client's course: its facts, every instrument's series, the critical-item history, the outcome."""

    client_id: str
    course: dict
    sessions: list[dict]
    series: list[Series]
    critical_items: list[dict]
    primary: Optional[str]
    outcomes: list[dict]  # programme outcomes (the programme_outcome hook), e.g. NHS Talking Therapies
    in_progress: list[dict] = field(default_factory=list)  # interrupted administrations, not yet scored
    open_alerts: list[dict] = field(default_factory=list)  # the client's open alerts (store.alerts), most serious first

    def to_dict(self) -> dict:
        return asdict(self)

    def get(self, instrument_id: str) -> Optional[Series]:
        return next((s for s in self.series if s.instrument_id == instrument_id), None)


@dataclass
class Report:
    """What ``ipt report`` shows of one course: its progress, its alerts (open and acknowledged), its IPT record."""

    progress: Progress
    alerts: list[dict] = field(default_factory=list)
    ipt: Optional[dict] = None  # goals, inventory, warning signs and plan (ipt_summary), when recorded


# -- one course ----------------------------------------------------------------------------------------


def find_course(store: Any, client_id: str, course_id: Optional[int] = None) -> dict:
    """The course to review: ``course_id`` if given (it must be the client's), else active, else latest."""
    if course_id is not None:
        course = store.get_course(course_id)
        if course["client_id"] != client_id:
            raise UsageError(f"course {course_id} is not a course of client {client_id!r}")
        return course
    course = store.active_course(client_id)  # raises NotFound for an unknown client
    if course is None:
        courses = store.courses(client_id)
        if not courses:
            raise NotFound(f"client {client_id!r} has no course of treatment yet (start one: ipt course start)")
        course = courses[-1]
    return course


def progress(store: Any, client_id: str, course_id: Optional[int] = None, registry: Any = None) -> Progress:
    """Everything the progress view and the report show for one client's course.

    A handful of queries, each on an indexed column (the client's course, its sessions, its administrations
    with their current scores), so it stays fast on a large record.
    """
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    course = find_course(store, client_id, course_id)
    sessions = store.sessions(course["id"])
    rows = store.administrations(course["id"])

    by_instrument: dict[str, list[dict]] = {}
    in_progress = []
    for row in rows:
        if row["status"] == "complete":
            by_instrument.setdefault(row["instrument_id"], []).append(row)
        elif row["status"] == "in-progress":
            in_progress.append({"administration_id": row["id"], "session": row["session_number"],
                                "instrument": row["instrument_id"]})
    series = [_series(registry, instrument_id, rows_) for instrument_id, rows_ in by_instrument.items()]
    series.sort(key=_series_order(series))

    critical = [
        {
            "session": p.session,
            "date": p.date,
            "instrument": s.instrument_id,
            "instrument_name": s.short_name,
            "administration_id": p.administration_id,
            **flag,
        }
        for s in series
        for p in s.points
        for flag in p.flags
    ]
    critical.sort(key=lambda c: (c["session"], c["administration_id"]))

    facts = dict(course)
    facts["sessions_attended"] = len(sessions)
    facts["current_session"] = sessions[-1]["number"] if sessions else None
    facts["current_phase"] = sessions[-1]["phase"] if sessions else None
    facts["last_session_date"] = sessions[-1]["date"] if sessions else None
    facts["active"] = not course.get("end_date")

    primary = _primary(series)
    return Progress(
        client_id=client_id,
        course=facts,
        sessions=[{"number": s["number"], "date": s["date"], "phase": s["phase"]} for s in sessions],
        series=series,
        critical_items=critical,
        primary=primary.instrument_id if primary else None,
        outcomes=registry.programme_outcomes(_outcome_course(facts), session_scores(series)),
        in_progress=in_progress,
        open_alerts=store.alerts(client_id),
    )


def report(store: Any, client_id: str, course_id: Optional[int] = None, registry: Any = None) -> Report:
    """Everything ``ipt report`` shows for one client's course, in one call: its progress, every alert of the
    course (open and acknowledged, most serious first), and its IPT record."""
    course = progress(store, client_id, course_id, registry)
    number = course.course["id"]
    return Report(progress=course, alerts=store.alerts(client_id, include_acknowledged=True, course_id=number),
                  ipt=ipt_summary(store, client_id, number, registry))


def _series(registry: Any, instrument_id: str, rows: list[dict]) -> Series:
    from .change import reliable_direction, summarise

    instrument = registry.instruments.get(instrument_id)
    scale = instrument.primary if instrument is not None else None
    params = scale.change if scale is not None else None
    lo_hi = _range(instrument, scale)

    points = []
    for row in rows:
        data = json.loads(row["score_data"]) if row.get("score_data") else {}
        total = data.get("total") or {}
        points.append(
            Point(
                session=row["session_number"],
                date=row["session_date"],
                phase=row["phase"],
                administration_id=row["id"],
                value=row["total"],
                band=row["band"],
                band_severity=row["band_severity"],
                prorated=bool(total.get("prorated")),
                missing=int(total.get("missing") or 0),
                flags=list(data.get("flags") or []),
                decimals=int(total.get("decimals") or 0),
            )
        )
    floor = lo_hi[0] if lo_hi else 0.0
    summary = summarise([(p.session, p.value) for p in points], params, floor=floor)
    baseline = summary.baseline
    if baseline is not None:
        # The baseline is the first scored administration (change.summarise); mark it and measure from it.
        first = next(p for p in points if p.value is not None)
        first.is_baseline = True
        for p in points:
            if p.value is None or p is first:
                continue
            p.change_from_baseline = p.value - baseline
            p.reliable = reliable_direction(baseline, p.value, params) if params is not None else None

    threshold = summary.threshold
    return Series(
        instrument_id=instrument_id,
        name=instrument.name if instrument else instrument_id,
        short_name=(instrument.short_name or instrument.name) if instrument else instrument_id,
        domain=instrument.domain if instrument else "other",
        registered=instrument is not None,
        scale_name=scale.name if scale else None,
        range=lo_hi,
        higher_is_worse=params.higher_is_worse if params else None,
        bands=[b.model_dump() for b in sorted(scale.bands, key=lambda b: b.min)] if scale else [],
        bands_source=scale.bands_source if scale else None,
        clinical_cutoff=params.clinical_cutoff if params else None,
        remission=params.remission if params else None,
        threshold=threshold.model_dump() if threshold else None,
        change_source=params.source if params else None,
        points=points,
        summary=summary.model_dump(mode="json"),
    )


def _range(instrument: Any, scale: Any) -> Optional[tuple[float, float]]:
    if scale is None:
        return None
    from .plain import scale_range

    try:
        return tuple(scale_range(instrument, scale))  # type: ignore[return-value]
    except Exception:  # a definition the models accepted always has a range; be safe for old records
        return None


def _domain_rank(domain: str) -> int:
    return DOMAIN_ORDER.index(domain) if domain in DOMAIN_ORDER else len(DOMAIN_ORDER)


def _series_order(series: list[Series]):
    first_seen = {s.instrument_id: n for n, s in enumerate(series)}
    return lambda s: (_domain_rank(s.domain), first_seen[s.instrument_id])


def _primary(series: list[Series]) -> Optional[Series]:
    """The course's headline measure: see the module docstring."""
    chosen = choose_primary(
        [(s.instrument_id, s.domain, s.higher_is_worse is not None, len(s.points), n) for n, s in enumerate(series)]
    )
    return next((s for s in series if s.instrument_id == chosen), None)


def choose_primary(candidates: list[tuple[str, str, bool, int, int]]) -> Optional[str]:
    """Pick the headline instrument from (id, domain, has change params, times given, first-seen order)."""
    if not candidates:
        return None

    def key(c):
        instrument_id, domain, has_params, count, order = c
        return (not has_params, _domain_rank(domain), -count, order)

    return min(candidates, key=key)[0]


def _outcome_course(facts: dict) -> dict:
    keys = ("id", "client_id", "course_type", "planned_sessions", "problem_areas", "start_date", "end_date")
    return {k: facts.get(k) for k in keys}


def outcome_line(outcome: dict) -> str:
    """A programme outcome (the ``programme_outcome`` hook) on one line: its name, its facts, its note."""

    def shown(value: Any) -> str:
        return ("yes" if value else "no") if isinstance(value, bool) else str(value)

    parts = [] if not outcome["assessable"] else [
        f"{f['label']} {shown(f['value'])}" for f in outcome["facts"] if f["value"] is not None
    ]
    if outcome.get("note"):
        parts.append(outcome["note"])
    return f"{outcome['name']}: " + ", ".join(parts)


def session_scores(series: list[Series]) -> dict[str, list[tuple[int, float]]]:
    """Instrument id -> [(session, total), ...] in session order: each session's scored total, the later
    administration when a measure was given twice in one session (what ``programme_outcome`` receives)."""
    out = {}
    for s in series:
        by_session = {p.session: p.value for p in s.points if p.value is not None}
        out[s.instrument_id] = sorted(by_session.items())
    return out


# -- caseload ------------------------------------------------------------------------------------------


@dataclass
class CaseRow:
    """One active course on the caseload."""

    client_id: str
    course_id: int
    start_date: str
    planned_sessions: int
    problem_areas: list[str]
    current_session: Optional[int]
    phase: Optional[str]
    last_session_date: Optional[str]
    last_measured_session: Optional[int]
    measure: Optional[str]
    measure_name: Optional[str]
    latest_score: Optional[float]
    latest_band: Optional[str]
    latest_session: Optional[int]
    baseline_score: Optional[float]
    change_from_baseline: Optional[float]
    category: str
    open_critical: list[str]  # the client's open critical alerts, until acknowledged (ipt alerts ack)
    deteriorated: list[str]
    sessions_unmeasured: int
    flags: list[str]
    clinician: Optional[str] = None  # the course's assigned clinician

    def to_dict(self) -> dict:
        return asdict(self)


CASELOAD_SORTS = ("concern", "client", "session", "score", "change", "category")


def caseload(store: Any, registry: Any = None, sort: str = "concern", reverse: bool = False,
             clinician: Optional[str] = None) -> list[CaseRow]:
    """Every active course with its current session, latest primary score, category and flags (only those
    assigned to ``clinician``, when given; on PostgreSQL the server has already left out what the connecting
    role may not see).

    Three set-based queries whatever the size of the caseload: active courses, their sessions, and their
    completed administrations with the current score's total, band and flag count (no score JSON).
    """
    if sort not in CASELOAD_SORTS:
        raise UsageError(f"sort by one of: {', '.join(CASELOAD_SORTS)}")
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    from .change import baseline_change

    courses: dict[int, dict] = {}
    newest_for_client: dict[str, int] = {}
    for course in store.active_courses():
        if clinician is not None and course.get("clinician") != clinician:
            continue
        courses[course["id"]] = course
        # One active course per client is the rule (store.start_course); show the newest if ever more.
        if course["id"] > newest_for_client.get(course["client_id"], 0):
            newest_for_client[course["client_id"]] = course["id"]
    keep = set(newest_for_client.values())

    last_session: dict[int, tuple[int, str, str]] = {}
    for course_id, number, date, phase in store.active_sessions():
        if course_id not in last_session or number > last_session[course_id][0]:
            last_session[course_id] = (number, date, phase)

    # (course_id, number, instrument_id, total, band, flag_count) rows, grouped by course then instrument as
    # they come: the query orders them by course, session and administration, so each instrument's rows are
    # in session order and a course's last row is its last measured session.
    admins: dict[int, dict[str, list]] = {}
    current_course, per_course = None, {}
    for row in store.active_scores():
        if row[0] != current_course:
            current_course = row[0]
            per_course = admins[current_course] = {}
        rows_of = per_course.get(row[2])
        if rows_of is None:
            per_course[row[2]] = [row]
        else:
            rows_of.append(row)

    instruments = registry.instruments
    # What the caseload needs of each instrument, looked up once: its label, change params and domain.
    known: dict[str, tuple[str, Any, str]] = {}
    for instrument_id in {i for per in admins.values() for i in per}:
        inst = instruments.get(instrument_id)
        known[instrument_id] = (
            ((inst.short_name or inst.name), inst.primary.change, inst.domain) if inst
            else (instrument_id, None, "other")
        )
    # Open critical alerts are stored facts (store.alerts): one query over the open ones, whatever course or
    # administration raised them, so an item 9 at session 4 stays flagged after a GAD-7 at session 5.
    critical_by_client: dict[str, list[str]] = {}
    for alert in store.alerts():
        if alert["severity"] == "critical":
            critical_by_client.setdefault(alert["client_id"], []).append(alert_label(alert, instruments))
    rows = []
    for course_id in keep:
        course = courses[course_id]
        current = last_session.get(course_id)
        per_instrument = admins.get(course_id, {})
        deteriorated = []
        judged, candidates = {}, []
        last_measured = None
        for n, (instrument_id, points) in enumerate(per_instrument.items()):
            label, params, domain = known[instrument_id]
            baseline, pair = judged[instrument_id] = baseline_change([p[3] for p in points], params)
            if pair is not None and pair.reliable_direction == "deteriorated":
                deteriorated.append(label)
            candidates.append((instrument_id, domain, params is not None, len(points), n))
            if last_measured is None or points[-1][1] > last_measured:
                last_measured = points[-1][1]
        measure = choose_primary(candidates)
        current_number = current[0] if current else None
        if current_number is None:
            unmeasured = 0
        elif last_measured is None:
            unmeasured = current_number
        else:
            unmeasured = max(0, current_number - last_measured)

        flags = []
        open_critical = critical_by_client.get(course["client_id"], [])
        if open_critical:
            flags.append("open critical alert: " + ", ".join(open_critical))
        if deteriorated:
            flags.append("reliable deterioration: " + ", ".join(deteriorated))
        if unmeasured >= 2:
            flags.append(f"no measurement for {unmeasured} sessions")

        latest = latest_band = latest_session = baseline = delta = None
        category = "not assessable"
        measure_name = None
        if measure is not None:
            measure_name = known[measure][0]
            for point in reversed(per_instrument[measure]):  # the latest scored administration
                if point[3] is not None:
                    latest_session, latest, latest_band = point[1], point[3], point[4]
                    break
            baseline, pair = judged[measure]
            if type(baseline) is int:  # as the change summary gave it: a score is a float
                baseline = float(baseline)
            if pair is not None:
                delta, category = pair.change, pair.category
        rows.append(
            CaseRow(
                client_id=course["client_id"],
                course_id=course_id,
                start_date=course["start_date"],
                planned_sessions=course["planned_sessions"],
                problem_areas=course["problem_areas"],
                current_session=current_number,
                phase=current[2] if current else None,
                last_session_date=current[1] if current else None,
                last_measured_session=last_measured,
                measure=measure,
                measure_name=measure_name,
                latest_score=latest,
                latest_band=latest_band,
                latest_session=latest_session,
                baseline_score=baseline,
                change_from_baseline=delta,
                category=category,
                open_critical=open_critical,
                deteriorated=deteriorated,
                sessions_unmeasured=unmeasured,
                flags=flags,
                clinician=course.get("clinician"),
            )
        )
    rows.sort(key=_caseload_key(sort), reverse=reverse)
    return rows


def critical_outside_caseload(store: Any, clinician: Optional[str] = None) -> list[dict]:
    """Open critical alerts of clients with no active course (it ended, or none was started), which no caseload
    row can carry. They stay in front of the clinician until acknowledged, as every critical alert does; only
    the clients assigned to ``clinician``, when given (on PostgreSQL the server already keeps to what the
    connecting role may see)."""
    active = {course["client_id"] for course in store.active_courses()}
    found = [a for a in store.alerts() if a["severity"] == "critical" and a["client_id"] not in active]
    if clinician is not None:
        assigned = {c: store.get_client(c).get("clinician") for c in {a["client_id"] for a in found}}
        found = [a for a in found if assigned[a["client_id"]] == clinician]
    return found


def alert_label(alert: dict, instruments: Any = None) -> str:
    """An alert in a few words: "PHQ-9 item 9 (session 4, alert 7)", or its message when no item raised it."""
    inst = (instruments or {}).get(alert.get("instrument_id")) if alert.get("instrument_id") else None
    name = (inst.short_name or inst.name) if inst else alert.get("instrument_id")
    where = ", ".join(x for x in (f"session {alert['session_number']}" if alert.get("session_number") else "",
                                   f"alert {alert['id']}") if x)
    if name and alert.get("item_id"):
        what = f"{name} item {alert['item_id']}"
        if alert.get("kind") == "risk-item-unanswered":
            what += " not answered"
        return f"{what} ({where})"
    return f"{alert['message']} ({where})"


def concern(row: CaseRow) -> tuple:
    """Higher is more urgent: a critical item, then deterioration, then a measurement gap."""
    return (bool(row.open_critical), bool(row.deteriorated), row.sessions_unmeasured >= 2)


def _caseload_key(sort: str):
    def missing_last(value):
        return (value is None, value if value is not None else 0)

    def category_rank(row: CaseRow) -> int:
        return CATEGORY_ORDER.index(row.category) if row.category in CATEGORY_ORDER else len(CATEGORY_ORDER)

    if sort == "concern":
        # Most urgent first: negate the booleans so an ascending sort puts them on top.
        return lambda r: (tuple(not c for c in concern(r)), category_rank(r), r.client_id)
    if sort == "client":
        return lambda r: r.client_id
    if sort == "session":
        return lambda r: (missing_last(r.current_session), r.client_id)
    if sort == "score":
        return lambda r: (missing_last(r.latest_score), r.client_id)
    if sort == "change":
        return lambda r: (missing_last(r.change_from_baseline), r.client_id)
    return lambda r: (category_rank(r), r.client_id)


# -- sparkline -----------------------------------------------------------------------------------------


def sparkline(
    values: list[Optional[float]], low: Optional[float] = None, high: Optional[float] = None, ascii: bool = False
) -> str:
    """One character per value, scaled to ``low``-``high`` (the instrument's full range, so that a flat line
    near the top of the scale looks high); a value that could not be scored is shown as a space."""
    blocks = SPARK_ASCII if ascii else SPARK_BLOCKS
    present = [v for v in values if v is not None]
    if not present:
        return " " * len(values)
    lo = min(present) if low is None else low
    hi = max(present) if high is None else high
    span = hi - lo
    out = []
    for value in values:
        if value is None:
            out.append(" ")
            continue
        if span <= 0:
            out.append(blocks[len(blocks) // 2])
            continue
        fraction = min(max((value - lo) / span, 0.0), 1.0)
        out.append(blocks[min(int(fraction * len(blocks)), len(blocks) - 1)])
    return "".join(out)


# -- IPT's own terms: the end-of-treatment summary -------------------------------------------------------


def ipt_summary(store: Any, client_id: str, course_id: Optional[int] = None, registry: Any = None) -> dict:
    """What an IPT termination summary shows beside the symptom outcome: one call for the report.

    Returns a dict with ``client_id``, ``course_id``, ``course_type`` (id, name, frequency, source),
    ``planned_sessions``, ``sessions_attended``, ``start_date``, ``end_date``, ``end_reason``, ``active``,
    ``problem_areas``, ``mid_course_review`` (the session it falls on, or None), ``inventory`` (each relationship
    with its ``start`` and ``end`` ratings and every rating, dated), ``goals`` (each with its text, problem area
    and ``ratings``: ``[{"session", "date", "value"}]`` per session rated, plus ``first``, ``latest`` and
    ``change``), ``goal_instrument`` (the individualised instrument they are rated on), ``warning_signs`` and
    ``plan`` (the clinician's free text; None until set). Goal texts, labels and the free text are record-only:
    exports never carry them.
    """
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    from .domain import course_type, mid_review_session
    from .ipt_record import inventory

    course = find_course(store, client_id, course_id)
    kind = course_type(course.get("course_type"))
    sessions = store.sessions(course["id"])
    individual = {iid for iid, inst in registry.instruments.items() if getattr(inst, "individualised", None) == "goals"}
    ratings: dict[int, list[dict]] = {}
    goal_instrument = None
    for a in store.administrations(course["id"], status="complete"):
        if a["instrument_id"] not in individual:
            continue
        goal_instrument = a["instrument_id"]
        for item_id, response in store.responses(a["id"]).items():
            if response["value"] is None or not item_id.isdigit():
                continue
            ratings.setdefault(int(item_id), []).append(
                {"session": a["session_number"], "date": a["session_date"], "value": response["value"]}
            )
    goals = []
    for g in store.goals(course["id"]):
        points = ratings.get(g["number"], [])
        first = points[0]["value"] if points else None
        latest = points[-1]["value"] if points else None
        goals.append({
            "number": g["number"], "text": g["text"], "problem_area": g["problem_area"], "ratings": points,
            "first": first, "latest": latest,
            "change": None if first is None or len(points) < 2 else latest - first,
        })
    summary = store.course_summary(course["id"])
    return {
        "client_id": client_id,
        "course_id": course["id"],
        "course_type": {"id": kind.id, "name": kind.name, "frequency": kind.frequency, "source": kind.source},
        "planned_sessions": course["planned_sessions"],
        "sessions_attended": len(sessions),
        "start_date": course["start_date"],
        "end_date": course["end_date"],
        "end_reason": course["end_reason"],
        "active": not course["end_date"],
        "problem_areas": list(course["problem_areas"]),
        "mid_course_review": mid_review_session(course["planned_sessions"], kind.id),
        "inventory": inventory(store, client_id, course["id"])["relationships"],
        "goals": goals,
        "goal_instrument": goal_instrument or (sorted(individual)[0] if individual else None),
        "warning_signs": summary["warning_signs"],
        "plan": summary["plan"],
    }
