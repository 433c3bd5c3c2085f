"""Measurement protocols: IPT phases, and what is due or overdue at a session of a course (pure functions).

Two rules are fixed here and documented in the README (Measurement protocols):

- Phase of a session, from its number, the course's planned length and its type: each course type in
  :mod:`ipt_measures.domain` states its initial and termination phases with their sources. A standard course
  (Weissman, Markowitz & Klerman 2000 and 2018) is initial = sessions 1-3 and termination = the last 3 planned
  sessions: 16 sessions are 1-3 / 4-13 / 14-16, 12 sessions 1-3 / 4-9 / 10-12; brief IPT (8 sessions) is
  1-2 / 3-6 / 7-8. Any session beyond the planned length is termination. The phase stored with a session can
  be corrected (``ipt session amend``); this is only the default.
- The "mid" session of a protocol is ceil(planned / 2): session 8 of 16, 6 of 12, 4 of 8, 7 of 13.

No I/O here: the services pass in the course, the session number and what has been given.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping, Optional


def derive_phase(number: int, planned: int, course_type: Optional[str] = None) -> str:
    """The default IPT phase of session ``number`` in a course planned for ``planned`` sessions."""
    from .domain import course_type as kind

    return kind(course_type).phase(number, planned)


def mid_session(planned: int) -> int:
    """The protocol's "mid" session: ceil(planned / 2)."""
    return math.ceil(planned / 2)


def scheduled_sessions(when: Iterable, planned: int) -> tuple[bool, list[int]]:
    """(every session?, the specific session numbers) of a rule's ``when`` list."""
    every = False
    numbers: set[int] = set()
    for w in when:
        if w == "every":
            every = True
        elif w == "first":
            numbers.add(1)
        elif w == "mid":
            numbers.add(mid_session(planned))
        elif w == "last":
            numbers.add(planned)
        else:
            numbers.add(int(w))
    return every, sorted(numbers)


def describe_session(number: int, planned: int) -> str:
    labels = []
    if number == 1:
        labels.append("first session")
    if number == mid_session(planned):
        labels.append("mid-course")
    if number == planned:
        labels.append("last session")
    return f"session {number}" + (f", {', '.join(labels)}" if labels else "")


@dataclass
class DueItem:
    """One instrument the protocol asks for at this session."""

    instrument: str
    kind: str  # "due" (scheduled for this session) or "overdue" (scheduled earlier, never given since)
    scheduled: int  # the session it was scheduled for
    why: str
    # "to do", "in progress", "done" (this session), "unavailable" (not registered), "not set up" (an
    # individualised measure with nothing to ask yet, e.g. no goals agreed for the course)
    state: str = "to do"
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class DueReport:
    protocol: Optional[str]
    session: int
    planned: int
    phase: str
    started: bool  # has this session been started (``ipt session start``)?
    items: list[DueItem] = field(default_factory=list)

    @property
    def to_give(self) -> list[str]:
        """The battery ``ipt administer --due`` gives: due and overdue, not yet done, available, in order."""
        return [i.instrument for i in self.items if i.state in ("to do", "in progress")]

    @property
    def unavailable(self) -> list[str]:
        return [i.instrument for i in self.items if i.state == "unavailable"]

    def as_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "session": self.session,
            "planned": self.planned,
            "phase": self.phase,
            "started": self.started,
            "items": [i.as_dict() for i in self.items],
            "to_give": self.to_give,
            "unavailable": self.unavailable,
        }


def due_at(
    protocol,
    *,
    planned: int,
    problem_areas: Iterable[str],
    session: int,
    given: Mapping[str, Iterable[int]],
    in_progress: Iterable[str] = (),
    available: Optional[Iterable[str]] = None,
    started: bool = True,
    course_type: Optional[str] = None,
) -> DueReport:
    """What ``protocol`` asks for at ``session`` of a course.

    :param given: instrument id -> session numbers at which it was completed in this course.
    :param in_progress: instruments with an unfinished administration in this session.
    :param available: registered instrument ids (None: assume all are); the others are "unavailable".

    Due: every instrument whose rule schedules it at this session (rules limited to problem areas apply
    only when the course has one of them). Overdue: an instrument scheduled at an earlier specific session
    (first, mid, last or a number, never "every": a missed weekly measure is replaced by this week's) and not
    completed at or after that session. An instrument both due and overdue is listed once, as due.
    """
    areas = set(problem_areas)
    given_sets = {k: set(v) for k, v in given.items()}
    running = set(in_progress)
    known = None if available is None else set(available)
    report = DueReport(
        protocol=getattr(protocol, "id", None), session=session, planned=planned,
        phase=derive_phase(session, planned, course_type), started=started,
    )
    if protocol is None:
        return report
    seen: dict[str, DueItem] = {}
    overdue: dict[str, DueItem] = {}
    for rule in protocol.rules:
        if rule.problem_areas and not areas & set(rule.problem_areas):
            continue
        every, numbers = scheduled_sessions(rule.when, planned)
        for instrument in rule.instruments:
            if every or session in numbers:
                if instrument not in seen:
                    when = "every session" if every and session not in numbers else describe_session(session, planned)
                    seen[instrument] = DueItem(instrument, "due", session, f"{rule.why} ({when})".strip())
            for s in numbers:
                if s >= session:
                    continue
                # Given at or after its scheduled session, before this one: satisfied, not overdue.
                if any(s <= n < session for n in given_sets.get(instrument, ())):
                    continue
                if instrument not in overdue:
                    overdue[instrument] = DueItem(
                        instrument, "overdue", s, f"{rule.why} (scheduled for {describe_session(s, planned)})".strip()
                    )
    items = list(seen.values())
    for instrument, item in overdue.items():
        if instrument in seen:
            seen[instrument].note = f"also overdue since session {item.scheduled}"
        else:
            items.append(item)
    for item in items:
        if known is not None and item.instrument not in known:
            item.state = "unavailable"
            item.note = (item.note + "; " if item.note else "") + "not registered (see: ipt plugins)"
        elif session in given_sets.get(item.instrument, ()):
            item.state = "done"
        elif item.instrument in running:
            item.state = "in progress"
    report.items = items
    return report
