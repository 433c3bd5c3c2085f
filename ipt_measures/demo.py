"""A synthetic IPT caseload, deterministic by seed: for demos, tests and benchmarks. No real person in it.

Every client is made up ("demo-0001", ...). Each has one course of 12-16 weekly sessions whose symptom
severity follows a trajectory: most improve, some stay flat, a few deteriorate. Answers are drawn item by
item around that severity, then scored by the registered instruments' own scorers (``ipt_measures.score``),
so every stored score is a real score of its answers. Occasional answers are missing (mostly within the
instrument's missing-item rule, sometimes beyond it, so the score is withheld), and critical items
(PHQ-9 item 9 and the like) are occasionally endorsed, more often when severity is high.

The generator yields records in the shape ``SQLiteStore.bulk_import`` takes; ``populate`` stores them.
Client ``i`` depends only on the seed and ``i``: generating 10 clients gives the first 10 of 100. Every
record carries an import key, so running it again adds nothing twice.

The proportions below are illustrative, chosen to look like a clinic's caseload; they are not estimates
from any study and nothing clinical should be inferred from the demo data.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Iterator, Optional, Sequence

# Phases and the mid-course session are the protocols module's rule, so the demo and the record agree.
from .assess import assess
from .domain import COURSE_TYPES, DEFAULT_COURSE_TYPE, PROBLEM_AREAS
from .protocols import derive_phase, mid_session

# Illustrative mix of trajectories (not from a study): most clients improve in a course of IPT,
# some do not change, a few get worse.
TRAJECTORIES = (("improve", 0.65), ("flat", 0.25), ("deteriorate", 0.10))

# Share of clinic-shaped courses still running on the day the caseload is seen from (illustrative): enough
# that `ipt caseload` shows a clinician's working list, not three courses out of twenty-five.
ACTIVE_SHARE = 0.3

# The first clients of a clinic-shaped demo (any seed) are the situations a caseload exists to surface, so
# its first screen shows each of them: an open critical item at the latest session, a reliable
# deterioration, a measurement gap (sessions held, nothing measured), and a course past its midpoint with
# no reliable change (off track). Their answers are still drawn around a severity and scored for real.
SHOWCASE = {1: "critical", 2: "deterioration", 3: "gap", 4: "off-track"}
GAP_SESSIONS = 3  # the gap client's last sessions held without a measure

# Instruments given at every session when registered; the others at the first, middle and last session.
EVERY_SESSION = ("phq9", "gad7")
# Further instruments by IPT's three fronts (support, functioning) and grief, when registered.
COURSE_MARKERS = ("mspss", "wsas", "who5", "ucla3")
GRIEF_MARKERS = ("icg",)
DEFAULT_PREFERRED = EVERY_SESSION + COURSE_MARKERS

DEFAULT_AS_OF = date(2026, 11, 2)  # a fixed anchor, so the library's output depends on the seed alone
MAX_CLIENTS = 100_000

# Made-up first names, used only when display names are asked for.
_NAMES = ("Alex", "Sam", "Robin", "Jo", "Kim", "Lee", "Noor", "Ari", "Remy", "Sasha", "Toni", "Yan",
          "Mika", "Dana", "Eli", "Jude", "Kai", "Luca", "Nico", "Ren", "Sky", "Tam", "Val", "Wren")


@dataclass
class Plan:
    """What one synthetic client looks like; kept so tests and the CLI can describe the caseload."""

    client_id: str
    trajectory: str
    start: date
    planned_sessions: int
    sessions_done: int
    problem_areas: list[str]
    end_reason: Optional[str]
    severity: list[float] = field(default_factory=list)  # 0 = no symptoms, 1 = worst, per session
    role: Optional[str] = None  # a SHOWCASE situation, or None
    unmeasured: int = 0  # the last sessions held without any measure (a gap)


def client_id(index: int, width: int = 4) -> str:
    return f"demo-{index:0{width}d}"


def _rng(seed: int, index: int, salt: str = "") -> random.Random:
    # String seeds are hashed with SHA-512 by random.Random: stable across runs and Python versions.
    return random.Random(f"ipt-demo/{seed}/{index}/{salt}")


def plan_client(index: int, seed: int, *, as_of: date = DEFAULT_AS_OF, span_days: int = 3 * 365,
                sessions: Optional[int] = None, width: int = 4) -> Plan:
    """The course and severity trajectory of client ``index`` (1-based)."""
    rng = _rng(seed, index, "plan")
    roll, trajectory = rng.random(), TRAJECTORIES[-1][0]
    acc = 0.0
    for name, share in TRAJECTORIES:
        acc += share
        if roll < acc:
            trajectory = name
            break
    standard = COURSE_TYPES[DEFAULT_COURSE_TYPE]
    planned = sessions if sessions else rng.randint(standard.min_sessions, standard.max_sessions)
    role = None if sessions else SHOWCASE.get(index)
    if role is not None:
        trajectory = {"critical": "flat", "deterioration": "deteriorate", "gap": "improve", "off-track": "flat"}[role]
    # With a fixed number of sessions every course is over by ``as_of``: all its sessions were held.
    earliest = (planned - 1) * 7 if sessions else 0
    start = as_of - timedelta(days=rng.randint(earliest, max(earliest, span_days)))
    if not sessions and (role is not None or rng.random() < ACTIVE_SHARE):
        # A course still running: its latest session this week, past the midpoint for the showcase.
        held = rng.randint(mid_session(planned) + 1, planned - 1) if role else rng.randint(1, planned - 1)
        start = as_of - timedelta(weeks=held - 1)
    start -= timedelta(days=start.weekday())  # courses start on a Monday
    weeks_elapsed = (as_of - start).days // 7 + 1
    done = max(1, min(planned, weeks_elapsed))
    end_reason = "completed" if done == planned else None
    if end_reason and not sessions and rng.random() < 0.06:  # an occasional early ending
        done = rng.randint(3, planned - 2)
        end_reason = "ended early"
    areas = [rng.choice(PROBLEM_AREAS)]
    if rng.random() < 0.15:
        second = rng.choice(PROBLEM_AREAS)
        if second not in areas:
            areas.append(second)
    plan = Plan(client_id(index, width), trajectory, start, planned, done, areas, end_reason, role=role,
                unmeasured=GAP_SESSIONS if role == "gap" else 0)

    base = rng.uniform(0.40, 0.80)  # starting severity as a fraction of each scale's range
    n = planned - 1
    if trajectory == "improve":
        final = base * rng.uniform(0.15, 0.60)
        rate = rng.uniform(2.0, 4.0)
        curve = [base + (final - base) * (1 - math.exp(-rate * t / n)) / (1 - math.exp(-rate)) for t in range(planned)]
    elif trajectory == "flat":
        drift = rng.uniform(-0.06, 0.06)
        curve = [base + drift * t / n for t in range(planned)]
    else:
        rise = rng.uniform(0.12, 0.30)
        curve = [base + rise * t / n for t in range(planned)]
    if role == "deterioration":  # worse by a third of the range so far: past any reliable-change threshold
        curve = [0.35 + 0.35 * t / max(1, done - 1) for t in range(planned)]
    elif role in ("critical", "off-track"):  # moderately severe and unchanged
        curve = [0.60] * planned
    plan.severity = [min(1.0, max(0.0, s + rng.gauss(0, 0.04))) for s in curve[:done]]
    return plan


def _higher_is_worse(instrument) -> bool:
    change = instrument.primary.change
    return True if change is None else change.higher_is_worse


def answers_for(instrument, severity: float, rng: random.Random, *, missing: str = "none",
                critical: bool = False) -> dict[str, Optional[int]]:
    """Item answers around ``severity`` (0-1, 1 = worst), respecting each item's options and reversal.

    ``missing``: "none", "within" (one scored item left out) or "beyond" (enough left out to break the rule).
    ``critical``: endorse the instrument's critical items (the showcase's latest session).
    """
    endorse = critical
    worse_high = _higher_is_worse(instrument)
    reversed_items = set(instrument.primary.reversed)
    critical = {rule.item: rule for rule in instrument.critical}
    answers: dict[str, Optional[int]] = {}
    for item in instrument.items:
        values = sorted(o.value for o in instrument.options_for(item))
        if item.id in critical:
            rule = critical[item.id]
            # Endorsed now and then, more often when severity is high (illustrative rate, not an estimate).
            if rng.random() < 0.01 + 0.10 * severity ** 2 or endorse:
                raising = [v for v in values if rule.raised_by(v)]
                answers[item.id] = raising[0] if rng.random() < 0.7 or len(raising) == 1 else rng.choice(raising)
            else:
                calm = [v for v in values if not rule.raised_by(v)]
                answers[item.id] = calm[0] if calm else values[0]
            continue
        if item.optional and rng.random() < 0.3:
            answers[item.id] = None
            continue
        target = severity if worse_high else 1 - severity
        if item.id in reversed_items:
            target = 1 - target
        position = min(1.0, max(0.0, target + rng.gauss(0, 0.18)))
        want = values[0] + position * (values[-1] - values[0])
        answers[item.id] = min(values, key=lambda v: (abs(v - want), v))
    if missing != "none":
        scored = [i.id for i in instrument.items if not i.optional and i.id not in critical]
        rule = instrument.primary.missing
        count = 1 if missing == "within" else min(len(scored), rule.max_missing + 1 + rng.randint(0, 1))
        for item_id in rng.sample(scored, min(count, len(scored))):
            answers[item_id] = None
    return answers


def schedule(plan: Plan, number: int, available: Sequence[str], every: Optional[Sequence[str]]) -> list[str]:
    """Which instruments are given at session ``number``."""
    if every is not None:
        return [i for i in every if i in available]
    chosen = [i for i in EVERY_SESSION if i in available]
    marker = number in (1, mid_session(plan.planned_sessions), plan.planned_sessions)
    if marker:
        chosen += [i for i in COURSE_MARKERS if i in available]
        if "grief" in plan.problem_areas:
            chosen += [i for i in GRIEF_MARKERS if i in available]
    return chosen


def generate(clients: int, seed: int = 1, *, first: int = 1, as_of: date = DEFAULT_AS_OF,
             instruments: Optional[Sequence[str]] = None, every_session: bool = False,
             sessions: Optional[int] = None, names: bool = False, scored: bool = True,
             registry=None) -> Iterator[dict]:
    """Yield one ``bulk_import`` record per administration for clients ``first`` .. ``first + clients - 1``.

    ``instruments``: the ids to use (default: PHQ-9 and GAD-7 at every session, and MSPSS, WSAS, WHO-5,
    UCLA-3 and, for grief, ICG at the first, middle and last session, each where registered).
    ``every_session``: give every chosen instrument at every session. ``sessions``: every course has this
    many sessions, all held before ``as_of`` (for benchmarks: clients x sessions x instruments exactly). ``scored=False`` leaves the score out and puts the answers
    under ``"answers"`` (to time scoring separately).
    """
    if not 0 <= clients <= MAX_CLIENTS:
        from .errors import UsageError

        raise UsageError(f"the demo makes 0 to {MAX_CLIENTS:,} clients")
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    wanted = list(instruments) if instruments else list(DEFAULT_PREFERRED + GRIEF_MARKERS)
    unknown = [i for i in wanted if i not in registry.instruments]
    if instruments and unknown:
        registry.instrument(unknown[0])  # raises UnknownInstrument with the ids that exist
    available = [i for i in wanted if i in registry.instruments]
    if not available:
        from .errors import UsageError

        raise UsageError("the demo needs PHQ-9 or GAD-7 registered (see: ipt plugins)")
    protocol = next(iter(sorted(registry.protocols)), None)
    width = max(4, len(str(first + clients - 1)))
    every = available if (every_session or instruments) else None
    for index in range(first, first + clients):
        plan = plan_client(index, seed, as_of=as_of, sessions=sessions, width=width)
        rng = _rng(seed, index, "answers")
        offsets = {i: rng.uniform(-0.12, 0.08) for i in available}  # each scale sits a little apart
        course = {"start_date": plan.start.isoformat(), "planned_sessions": plan.planned_sessions,
                  "problem_areas": plan.problem_areas, "protocol": protocol}
        if plan.end_reason:
            course["end_date"] = (plan.start + timedelta(weeks=plan.sessions_done - 1)).isoformat()
            course["end_reason"] = plan.end_reason
        display = f"{rng.choice(_NAMES)} {chr(65 + rng.randrange(26))}." if names else None
        for number in range(1, plan.sessions_done - plan.unmeasured + 1):  # a gap's sessions: see populate
            day = (plan.start + timedelta(weeks=number - 1)).isoformat()
            session = {"number": number, "date": day, "phase": derive_phase(number, plan.planned_sessions)}
            for minute, instrument_id in enumerate(schedule(plan, number, available, every)):
                instrument = registry.instruments[instrument_id]
                roll = rng.random()
                missing = "beyond" if roll < 0.006 else "within" if roll < 0.04 else "none"
                severity = min(1.0, max(0.0, plan.severity[number - 1] + offsets[instrument_id]))
                latest = plan.role == "critical" and number == plan.sessions_done
                answers = answers_for(instrument, severity, rng, missing="none" if latest else missing,
                                      critical=latest)
                stamp = f"{day}T10:{minute * 3:02d}:00+00:00"
                record = {
                    "client_id": plan.client_id,
                    "display_name": display,
                    "birth_year": None,
                    "course": course,
                    "session": session,
                    "administration": {
                        "instrument_id": instrument_id, "instrument_version": instrument.version,
                        "respondent": instrument.respondent, "source": "demo", "started_at": stamp,
                        "finished_at": stamp,
                        "import_key": f"demo/{seed}/{plan.client_id}/{plan.start.isoformat()}/{number}/{instrument_id}",
                    },
                    "responses": [(k, v, "answered" if v is not None else "skipped") for k, v in answers.items()
                                  if v is not None or not instrument.item(k).optional],
                }
                if scored:
                    assessment = assess(instrument, answers, registry=registry)
                    record["score"] = assessment.score.model_dump(mode="json")
                    record["alerts"] = assessment.alerts
                else:
                    record["answers"] = answers
                yield record


def score_records(records, registry=None) -> Iterator[dict]:
    """Score records made with ``scored=False`` (the import path the benchmarks time)."""
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    for record in records:
        answers = record.pop("answers")
        instrument = registry.instrument(record["administration"]["instrument_id"])
        assessment = assess(instrument, answers, registry=registry)
        record["score"] = assessment.score.model_dump(mode="json")
        record["alerts"] = assessment.alerts
        yield record


def _hold_unmeasured_sessions(store, plan: Plan) -> None:
    """The gap: the last ``plan.unmeasured`` sessions were held but nothing was measured (bulk records carry
    administrations, so these sessions are added on their own; a re-run finds them there)."""
    course = store.active_course(plan.client_id)
    if course is None:
        return
    held = {s["number"] for s in store.sessions(course["id"])}
    for number in range(plan.sessions_done - plan.unmeasured + 1, plan.sessions_done + 1):
        if number not in held:
            day = (plan.start + timedelta(weeks=number - 1)).isoformat()
            store.add_session(course["id"], number, day, derive_phase(number, plan.planned_sessions))


DEMO_ACTION = "risk assessed at the session (synthetic demo record)"


def _acknowledge_earlier_alerts(store) -> None:
    """In a clinic's record the critical items of earlier sessions were dealt with at the time: the demo
    acknowledges every open alert raised before its course's latest session (audited, kept, as any
    acknowledgement), and leaves open the ones at the latest session, which the caseload puts on top."""
    latest: dict[int, int] = {}
    for alert in store.alerts():
        course_id, session = alert.get("course_id"), alert.get("session_number")
        if course_id is None or session is None or not str(alert["client_id"]).startswith("demo-"):
            continue
        if course_id not in latest:
            held = store.sessions(course_id)
            latest[course_id] = held[-1]["number"] if held else session
        if session < latest[course_id]:
            store.acknowledge_alert(alert["id"], DEMO_ACTION, actor="ipt demo")


def populate(store, clients: int, seed: int = 1, *, first: int = 1, batch_size: int = 2000, progress: Any = None,
             **options: Any) -> dict:
    """Store a synthetic caseload through ``store.bulk_import``; returns its counts plus a summary.

    ``progress(stage, total)`` (see :mod:`ipt_measures.progress`) is told of each client as it is made.

    Refuses a database holding any client that is not a demo client: synthetic records must never be
    mixed into a real clinical record.
    """
    from .errors import UsageError

    real = store.a_client_outside("demo-")
    if real is not None:
        raise UsageError(
            f"{store.path} holds real clients (e.g. {real!r}); the demo writes only to a database of its own"
            " (use --db demo.db)"
        )
    summary = {"critical": 0, "not_scored": 0, "administrations": 0}

    def counted(records, shown):
        last = None
        for record in records:
            if record["client_id"] != last:
                if last is not None:
                    shown.update(1)
                last = record["client_id"]
            summary["administrations"] += 1
            score = record["score"]
            summary["critical"] += bool(score["flags"])
            summary["not_scored"] += score["total"]["value"] is None
            yield record
        if last is not None:
            shown.update(1)

    from .progress import bar

    with bar(progress, "Making demo clients", clients) as shown:
        counts = store.bulk_import(counted(generate(clients, seed, first=first, **options), shown),
                                   batch_size=batch_size)
    trajectories: dict[str, int] = {}
    for index in range(first, first + clients):
        plan = plan_client(index, seed, as_of=options.get("as_of", DEFAULT_AS_OF), sessions=options.get("sessions"),
                           width=max(4, len(str(first + clients - 1))))
        trajectories[plan.trajectory] = trajectories.get(plan.trajectory, 0) + 1
        if plan.unmeasured:
            _hold_unmeasured_sessions(store, plan)
    _acknowledge_earlier_alerts(store)
    width = max(4, len(str(first + clients - 1)))
    from .ipt_record import mid_course_reviews

    # Judged after the earlier alerts are acknowledged, so a review a course needs stays open, as in a clinic.
    summary["mid_course_reviews"] = len(mid_course_reviews(
        store, [client_id(index, width) for index in range(first, first + clients)], options.get("registry")))
    return {**counts, **summary, "trajectories": trajectories,
            "first": client_id(first, width) if clients else None,
            "last": client_id(first + clients - 1, width) if clients else None}
