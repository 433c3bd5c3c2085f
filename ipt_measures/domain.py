"""The IPT vocabulary and rules, once: phases, problem areas, course types with their lengths, the client-id
alphabet, plausible dates, and the interpersonal inventory.

Pure data and pure functions (standard library only, no dataclasses: the command line imports this at start-up),
so every layer can import it: the services validate against it, the stores persist what they are given, the
command line offers its choices.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date as _date
from typing import Iterable, NamedTuple, Optional

from .errors import InvalidValue

# -- phases and problem areas ----------------------------------------------------------------------

# The three phases of an IPT course (Weissman, Markowitz & Klerman, Comprehensive Guide to Interpersonal
# Psychotherapy, Basic Books 2000, ch. 2-7). Which session falls in which phase: protocols.derive_phase.
PHASES = ("initial", "middle", "termination")

# The four interpersonal problem areas an IPT formulation names (ibid., ch. 4-6: grief, interpersonal role
# disputes, role transitions, interpersonal deficits); a course focuses on one or two of them.
PROBLEM_AREAS = ("grief", "role-disputes", "role-transitions", "interpersonal-deficits")


# -- course types -------------------------------------------------------------------------------------


class CourseType(NamedTuple):
    """One kind of IPT course: how many sessions it is planned for, how often, and its phase rules.

    ``initial_sessions`` and ``termination_sessions`` give the default phase of each session (initial = the
    first N, termination = the last M, middle = the sessions between; a session beyond the planned length is
    termination). ``mid_review`` says whether the mid-course review applies (see :func:`mid_review_session`).
    """

    id: str
    name: str
    min_sessions: int
    max_sessions: int
    default_sessions: int
    frequency: str
    initial_sessions: int
    termination_sessions: int
    mid_review: bool
    source: str

    def phase(self, number: int, planned: int) -> str:
        """The default phase of session ``number`` of a course of this type planned for ``planned`` sessions."""
        if number < 1:
            raise ValueError("session numbers start at 1")
        if number <= self.initial_sessions:
            return "initial"
        if number > planned - self.termination_sessions:
            return "termination"
        return "middle"


COURSE_TYPES: dict[str, CourseType] = {
    t.id: t
    for t in (
        CourseType(
            id="standard",
            name="standard IPT",
            min_sessions=12,
            max_sessions=16,
            default_sessions=16,
            frequency="weekly",
            # Weissman, Markowitz & Klerman, Comprehensive Guide to Interpersonal Psychotherapy (Basic Books
            # 2000, ch. 2-3 and 7) and The Guide to Interpersonal Psychotherapy (updated ed., OUP 2018): 12-16
            # weekly sessions; the initial phase "usually 1-3 sessions"; termination discussed "at least two to
            # four sessions" before it occurs, so the last 3 planned sessions (the middle of two to four).
            initial_sessions=3,
            termination_sessions=3,
            mid_review=True,
            source="Weissman, Markowitz & Klerman 2000 (Basic Books) and 2018 (OUP): 12-16 weekly sessions, "
            "initial phase 1-3 sessions, termination discussed two to four sessions before the end.",
        ),
        CourseType(
            id="brief",
            name="brief IPT (IPT-B)",
            min_sessions=8,
            max_sessions=8,
            default_sessions=8,
            frequency="weekly",
            # Swartz HA, Frank E, Shear MK, Thase ME, Fleming MAD, Scott J. A pilot study of brief interpersonal
            # psychotherapy for depression among women. Psychiatr Serv 2004;55(4):448-450 (eight sessions);
            # Swartz HA, Grote NK, Graham P. Brief Interpersonal Psychotherapy (IPT-B): overview and review of
            # evidence. Am J Psychother 2014;68(4):443-462: IPT-B keeps the structure of IPT, its initial phase
            # "limited to 2 (rather than 3) sessions". Termination: the last 2 sessions, the lower end of the
            # standard "two to four" (project choice, scaled to the shorter course).
            initial_sessions=2,
            termination_sessions=2,
            mid_review=True,
            source="Swartz et al. 2004, Psychiatr Serv 55:448-450 (8 sessions); Swartz, Grote & Graham 2014, "
            "Am J Psychother 68:443-462 (initial phase 2 sessions). Termination = last 2: project choice.",
        ),
        CourseType(
            id="maintenance",
            name="maintenance IPT (IPT-M)",
            min_sessions=6,
            max_sessions=36,
            default_sessions=12,
            frequency="monthly",
            # Frank E, Kupfer DJ, Perel JM, et al. Three-year outcomes for maintenance therapies in recurrent
            # depression. Arch Gen Psychiatry 1990;47(12):1093-1099 (monthly IPT-M for up to 3 years = 36
            # sessions, after remission on acute treatment); Frank E, Kupfer DJ, Buysse DJ, et al. Randomized
            # trial of weekly, twice-monthly, and monthly interpersonal psychotherapy as maintenance treatment
            # for women with recurrent depression. Am J Psychiatry 2007;164(5):761-767 (2 years). The course
            # follows acute treatment, so one initial session re-contracts the focus and the last 2 prepare
            # the ending (project choice). No mid-course review: clients start remitted, so "no improvement
            # from baseline" is the aim of maintenance, not a warning; reliable deterioration still alerts.
            initial_sessions=1,
            termination_sessions=2,
            mid_review=False,
            source="Frank et al. 1990, Arch Gen Psychiatry 47:1093-1099 (monthly, up to 3 years); Frank et al. "
            "2007, Am J Psychiatry 164:761-767. Phases (1 initial, last 2 termination): project choice.",
        ),
    )
}
DEFAULT_COURSE_TYPE = "standard"


def course_type(type_id: Optional[str]) -> CourseType:
    """A course type by id (None: the standard course); ValueError naming the types that exist."""
    key = type_id or DEFAULT_COURSE_TYPE
    try:
        return COURSE_TYPES[key]
    except KeyError:
        raise ValueError(f"unknown course type {key!r} (types: {', '.join(COURSE_TYPES)})") from None


def describe_lengths() -> str:
    """The course types and their lengths, for one-line error messages and help texts."""
    parts = []
    for t in COURSE_TYPES.values():
        span = str(t.min_sessions) if t.min_sessions == t.max_sessions else f"{t.min_sessions}-{t.max_sessions}"
        parts.append(f"{t.id} {span} {t.frequency}")
    return ", ".join(parts)


def infer_course_type(planned: Optional[int], type_id: Optional[str] = None) -> tuple[CourseType, int]:
    """The course type and planned length of a new course, checked against the type's range.

    With no type, the standard course is meant unless the length fits only the brief course (8 sessions);
    a maintenance course is always asked for by name, since its range overlaps the standard one.
    """
    if type_id is None and planned is not None:
        fitting = [t for t in COURSE_TYPES.values()
                   if t.id != "maintenance" and t.min_sessions <= planned <= t.max_sessions]
        kind = fitting[0] if fitting else None
        if kind is None:
            raise ValueError(f"no course type is planned for {planned} sessions ({describe_lengths()})")
        return kind, planned
    kind = course_type(type_id)
    planned = kind.default_sessions if planned is None else planned
    if not kind.min_sessions <= planned <= kind.max_sessions:
        span = (str(kind.min_sessions) if kind.min_sessions == kind.max_sessions
                else f"{kind.min_sessions} to {kind.max_sessions}")
        raise ValueError(f"a {kind.name} course is planned for {span} sessions, not {planned}")
    return kind, planned


def mid_review_session(planned: int, type_id: Optional[str] = None) -> Optional[int]:
    """The session of the mid-course review: the first session of the last third of the middle phase.

    16 sessions (middle 4-13): session 10; 12 sessions (middle 4-9): session 8; IPT-B 8 sessions (middle 3-6):
    session 5. None for a course type without one (maintenance) or a course too short to have a middle phase.
    Weissman, Markowitz & Klerman advise re-evaluating a client who has not improved by mid-treatment
    (see the README, IPT in the record); the last third of the middle phase leaves sessions to act on it.
    """
    kind = course_type(type_id)
    if not kind.mid_review:
        return None
    first = kind.initial_sessions + 1
    last = planned - kind.termination_sessions
    if last < first:
        return None
    length = last - first + 1
    return last - math.ceil(length / 3) + 1


# -- client ids and dates ---------------------------------------------------------------------------

# Client ids are pseudonyms that are typed, read aloud, compared by eye and written into spreadsheets and
# file names: ASCII letters and digits, '-', '_' and '.', starting with a letter or digit (so never with
# '=', '+', '-' or '@', which a spreadsheet runs as a formula), at most 64 characters. ASCII alone has no
# look-alike letters from other scripts and no invisible characters; input is NFC-normalised first, so a
# composed and a decomposed accent get the same answer. Names go in the display name, which may hold any
# printable text.
CLIENT_ID_MAX = 64
CLIENT_ID_ALPHABET = "letters A-Z and a-z, digits 0-9, '-', '_' and '.'"
_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

# Dates a record can plausibly hold: nothing before 1900 (no client of a living clinician started a course
# earlier, and older dates are typing errors that break date arithmetic) and nothing after today.
EARLIEST_DATE = _date(1900, 1, 1)


def describe_char(ch: str) -> str:
    """A character named so that an invisible or control character is visible in an error message."""
    if ch.isprintable() and not ch.isspace() and ch.isascii():
        return repr(ch)
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def check_client_id(value: str) -> str:
    """The NFC form of a new client id, or :class:`InvalidValue` naming the first character refused.

    Only new ids are checked: a record written by an older version may hold ids outside this alphabet,
    and those are still read, shown (escaped) and exported.
    """
    text = unicodedata.normalize("NFC", value or "")
    rule = f"a client id is 1-{CLIENT_ID_MAX} of: {CLIENT_ID_ALPHABET}, starting with a letter or digit" \
           " (a pseudonym, not a name: a name goes in --name)"
    if not text:
        raise InvalidValue(f"empty client id: {rule}")
    if len(text) > CLIENT_ID_MAX:
        raise InvalidValue(f"client id is {len(text)} characters long: {rule}")
    if not _CLIENT_ID.fullmatch(text):
        bad = text[0] if not text[0].isascii() or not text[0].isalnum() else next(
            c for c in text if not (c.isascii() and (c.isalnum() or c in "._-")))
        raise InvalidValue(f"client id cannot contain {describe_char(bad)}"
                           + (" at the start" if bad == text[0] else "") + f": {rule}")
    return text


def check_phase(phase: str) -> str:
    if phase not in PHASES:
        raise InvalidValue(f"phase {phase!r} is not one of: {', '.join(PHASES)}")
    return phase


def check_problem_areas(areas: Iterable[str]) -> list[str]:
    """The problem areas in the order given, each once; at least one, all from :data:`PROBLEM_AREAS`."""
    areas = list(dict.fromkeys(areas))
    if not areas:
        raise InvalidValue(f"no problem area (one or more of: {', '.join(PROBLEM_AREAS)})")
    bad = [a for a in areas if a not in PROBLEM_AREAS]
    if bad:
        raise InvalidValue(f"unknown problem area {bad[0]!r} (one or more of: {', '.join(PROBLEM_AREAS)})")
    return areas


def parse_date(value: str, what: str = "date") -> _date:
    """An ISO date (YYYY-MM-DD) between 1900-01-01 and today, or :class:`InvalidValue` saying why not."""
    try:
        day = _date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidValue(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None
    if day < EARLIEST_DATE:
        raise InvalidValue(f"{what} {day.isoformat()} is before {EARLIEST_DATE.isoformat()}: not a plausible date")
    if day > _date.today():
        raise InvalidValue(f"{what} {day.isoformat()} is in the future")
    return day


def check_course_start(value: str) -> str:
    return parse_date(value, "course start").isoformat()


def check_session_date(value: str, course_start: str, what: str = "session date") -> str:
    """A session's date: plausible, and not before the start of its course."""
    day = parse_date(value, what).isoformat()
    if day < course_start:
        raise InvalidValue(f"{what} {day} is before the course start ({course_start})")
    return day


def check_course_end(value: str, course_start: str) -> str:
    day = parse_date(value, "end date").isoformat()
    if day < course_start:
        raise InvalidValue(f"end date {day} is before the course start ({course_start})")
    return day


def plausible_date(value: Optional[str]) -> bool:
    """Whether a stored date is one these rules would accept today (for checks over existing records)."""
    try:
        parse_date(value or "")
    except InvalidValue:
        return False
    return True


# -- the interpersonal inventory --------------------------------------------------------------------

# The closeness circles of Stuart & Robertson's Interpersonal Circle (Stuart S, Robertson M. Interpersonal
# Psychotherapy: A Clinician's Guide, 2nd ed., CRC Press 2012, ch. 6, the Interpersonal Inventory), adapted
# from Kahn & Antonucci's convoy model (Kahn RL, Antonucci TC. Convoys over the life course. In: Baltes PB,
# Brim OG, eds. Life-Span Development and Behavior vol. 3, Academic Press 1980:253-286): three concentric
# circles, the inner holding those closest to the client.
CLOSENESS_CIRCLES = ("inner", "middle", "outer")

RELATIONSHIP_TYPES = ("partner", "parent", "child", "sibling", "other-family", "friend", "colleague", "other")

CONTACT_FREQUENCIES = ("daily", "weekly", "monthly", "less-than-monthly", "none")

# Support and conflict are rated 0-4 with these anchors. The IPT inventory is a clinical review, not a
# standardised instrument (Weissman, Markowitz & Klerman 2018, ch. 3), so no published scale exists: the
# five-point anchors are a project choice, stated here and in the README so ratings are comparable over time.
RATING_MIN, RATING_MAX = 0, 4
RATING_ANCHORS = {0: "none", 1: "a little", 2: "some", 3: "a lot", 4: "a great deal"}

# A relationship label is a pseudonym chosen by the clinician ("partner", "mother", "colleague A"): never a
# name. Short, so it cannot carry a history; the README says so too.
LABEL_MAX = 40

MAX_GOALS = 3  # Law & Jacob 2015 (Goals and Goal Based Outcomes, CAMHS Press): up to three goals.

# -- staff (issue 12: clinicians and roles) -------------------------------------------------------------

# What a member of staff may do with a shared (PostgreSQL) record, enforced by the server: a clinician their
# own caseload; a supervisor reads everyone's (and acknowledges alerts); an admin everything, and adds
# staff; a researcher only de-identified exports.
STAFF_ROLES = ("clinician", "supervisor", "admin", "researcher")
STAFF_NAME_MAX = 63  # PostgreSQL's identifier length (NAMEDATALEN - 1): a staff name is a login role's name.
_STAFF_NAME = re.compile(r"[a-z][a-z0-9_.-]*")


def check_staff_name(value: str) -> str:
    """A staff name: the login role they connect as, so lower-case letters, digits, '_', '.', '-', starting
    with a letter (psql and pg_hba.conf then need no quoting), and never a server's own ``pg_`` names."""
    text = (value or "").strip()
    rule = (f"a staff name is their login: 1-{STAFF_NAME_MAX} lower-case letters a-z, digits, '_', '.' or '-', "
            "starting with a letter")
    if not text or len(text) > STAFF_NAME_MAX or not _STAFF_NAME.fullmatch(text):
        raise InvalidValue(f"{value!r} cannot be a staff name: {rule}")
    if text.startswith("pg_") or text in ("public", "none", "unassigned"):
        raise InvalidValue(f"{text!r} is reserved by the server or the record; choose another staff name")
    return text


def check_staff_role(role: str) -> str:
    if role not in STAFF_ROLES:
        raise InvalidValue(f"role {role!r} is not one of: {', '.join(STAFF_ROLES)}")
    return role
