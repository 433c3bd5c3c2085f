"""The store interface: every method the services call, with the records it returns, for every engine.

:class:`Store` is a :class:`typing.Protocol`: :class:`~ipt_measures.store.sqlite.SQLiteStore` and
:class:`~ipt_measures.store.postgres.PostgresStore` implement it (tests/test_boundaries.py checks every method
here exists on both, with the same parameters). The records are :class:`typing.TypedDict`: typed for readers
and checkers, plain dicts at run time. No SQL and no driver
type appears in this interface; only ``store/`` speaks SQL.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Protocol, TypedDict

Evaluate = Callable[[dict, dict], tuple]
"""The caller's scoring, run inside the store's transaction: (administration, responses) -> (score, alerts)."""


# -- records ---------------------------------------------------------------------------------------------


class ClientRecord(TypedDict):
    """A client: a pseudonymous id chosen by the clinic, optional name and birth year."""

    id: str
    display_name: Optional[str]
    birth_year: Optional[int]
    created_at: str
    clinician: Optional[str]  # who the client is assigned to (None only on a SQLite record's bulk-imported rows)


class CourseRecord(TypedDict, total=False):
    """A course of IPT (``problem_areas`` decoded to a list); the caseload's reads carry the first five keys."""

    id: int
    client_id: str
    start_date: str
    planned_sessions: int
    problem_areas: list[str]
    protocol: Optional[str]
    end_date: Optional[str]
    end_reason: Optional[str]
    created_at: str
    course_type: str
    clinician: Optional[str]


class SessionRecord(TypedDict):
    """A session of a course: its number, date and phase."""

    id: int
    course_id: int
    number: int
    date: str
    phase: str
    created_at: str


class AdministrationRecord(TypedDict, total=False):
    """An administration of an instrument; :meth:`Store.administrations` adds its session and current score."""

    id: int
    session_id: int
    instrument_id: str
    instrument_version: str
    respondent: str
    status: str  # in-progress, complete, abandoned
    source: str
    started_at: str
    finished_at: Optional[str]
    import_key: Optional[str]
    session_number: int
    session_date: str
    phase: str
    total: Optional[float]
    band: Optional[str]
    band_severity: Optional[int]
    flag_count: Optional[int]
    score_data: Optional[str]


class ScoreRecord(TypedDict, total=False):
    """A stored score: :class:`ipt_measures.models.Score` as JSON (``model_dump(mode="json")``)."""

    instrument: str
    instrument_version: str
    scorer: str
    total: dict[str, Any]
    subscales: list[dict[str, Any]]
    flags: list[dict[str, Any]]


class AlertRecord(TypedDict):
    """An alert: open until a clinician acknowledges it (who, when, what was done), never deleted."""

    id: int
    client_id: str
    course_id: Optional[int]
    session_number: Optional[int]
    administration_id: Optional[int]
    instrument_id: Optional[str]
    item_id: Optional[str]
    kind: str
    rule: Optional[str]
    severity: str  # critical, warning, info
    message: str
    raised_at: str
    status: str  # open, acknowledged
    acknowledged_at: Optional[str]
    acknowledged_by: Optional[str]
    action: Optional[str]
    note: Optional[str]


# The columns of an export row (:meth:`Store.export_rows`), in this order, as plain tuples.
EXPORT_COLUMNS = (
    "client_id", "display_name", "birth_year",
    "start_date", "planned_sessions", "problem_areas", "protocol", "end_date", "end_reason", "course_type",
    "session_id", "session_number", "session_date", "phase",
    "administration_id", "instrument_id", "instrument_version", "respondent", "status", "source",
    "started_at", "finished_at",
    "score_data",
)


# -- the interface ---------------------------------------------------------------------------------------


class RecordInspection(Protocol):
    """A read-only look at a record (``ipt doctor``); each method raises StoreError if it cannot answer."""

    def integrity_method(self, quick: bool = False) -> str: """What the integrity check runs, in words."""
    def integrity_problems(self, quick: bool = False) -> list[str]: """What the engine's integrity check finds."""
    def broken_references(self) -> int: """How many rows refer to a record that does not exist."""
    def applied_migrations(self) -> list[str]: """The migrations applied, by name."""
    def counts(self) -> dict[str, int]: """Clients, administrations and responses held."""
    def in_progress(self) -> int: """How many administrations were left in progress."""
    def journal_mode(self) -> str: """The durability mode (wal on SQLite, synchronous_commit on on PostgreSQL)."""
    def scored_administrations(self) -> Iterator[dict]:
        """Every completed administration with its current score and stored answers, streamed in id order."""


class Store(Protocol):
    """Every method the services use. One line each; the implementation's docstring says more."""

    path: Path

    # lifetime and schema
    def close(self) -> None: """Close the store (an export still streaming is closed first)."""
    def files(self) -> list[Path]: """The files the store keeps on this machine (none for a server): never an output."""
    def __enter__(self) -> "Store": """Use the store in a ``with`` block; it closes at the end."""
    def __exit__(self, *exc: Any) -> None: """Close the store."""
    def migrate(self) -> list[str]: """Apply every migration not yet applied; return their names."""
    def schema_version(self) -> str: """The name of the last migration applied."""
    def pending_migrations(self) -> list[str]: """The migrations this release has that the record has not yet."""

    # looking after the record without opening it for writing (ipt doctor, ipt backup)
    @staticmethod
    def inspect_file(path: Path) -> AbstractContextManager[RecordInspection]:
        """A read-only look at a record (integrity, references, schema, counts, stored scores)."""
    @staticmethod
    def backup_file(source: Path, dest: Path, *, force: bool = False,
                    step: Optional[Callable[[], None]] = None) -> dict[str, int]:
        """A consistent copy of a record taken while it is in use; returns the counts the copy holds."""
    @staticmethod
    def recorded_outputs(path: Path) -> list[str]:
        """The files exports and reports were written to, from the audit, read without any write."""

    # clients, courses, the inventory, goals, summaries
    def audit_trail(self, client_id: str) -> list[dict]: """Every change to a client's record, oldest first."""
    def record_access(self, action: str, client_ids: Optional[Iterable[str]], detail: str, *,
                      destination: Optional[str] = None, actor: Optional[str] = None) -> None:
        """Audit a read-out (export, report): who, when, which clients (None: all), how, to which file."""
    def add_client(self, client_id: str, display_name: Optional[str] = None,
                   birth_year: Optional[int] = None) -> ClientRecord: """Add a client."""
    def get_client(self, client_id: str) -> ClientRecord: """One client (NotFound if absent)."""
    def list_clients(self) -> list[ClientRecord]: """Every client, by id."""
    def start_course(self, client_id: str, start_date: str, planned_sessions: int, problem_areas: list[str],
                     protocol: Optional[str], course_type: str = "standard",
                     clinician: Optional[str] = None) -> CourseRecord: """Start a course, assigned to a clinician."""
    def active_course(self, client_id: str) -> Optional[CourseRecord]: """A client's course not ended, if any."""
    def get_course(self, course_id: int) -> CourseRecord: """One course (NotFound if absent)."""
    def courses(self, client_id: str) -> list[CourseRecord]: """A client's courses, oldest first."""
    def end_course(self, course_id: int, end_date: str, reason: str) -> CourseRecord: """End a course."""
    def add_relationship(self, course_id: int, label: str, relationship_type: str,
                         rating: dict) -> dict: """Add a relationship to the inventory with its first rating."""
    def rate_relationship(self, course_id: int, label: str, rating: dict) -> dict: """Rate a relationship again."""
    def get_relationship(self, course_id: int, label: str) -> dict: """One relationship with its ratings."""
    def relationships(self, course_id: int) -> list[dict]: """A course's inventory with every rating."""
    def add_goal(self, course_id: int, number: int, text: str, problem_area: str) -> dict: """Add a goal."""
    def goals(self, course_id: int) -> list[dict]: """A course's goals, by number."""
    def set_course_summary(self, course_id: int, *, warning_signs: Optional[str] = None,
                           plan: Optional[str] = None, actor: Optional[str] = None) -> dict:
        """Set the end-of-treatment summary's warning signs and/or plan (audited)."""
    def course_summary(self, course_id: int) -> dict: """A course's end-of-treatment summary."""

    # sessions and administrations
    def add_session(self, course_id: int, number: int, date: str, phase: str) -> SessionRecord: """Add a session."""
    def get_session(self, session_id: int) -> SessionRecord: """One session (NotFound if absent)."""
    def sessions(self, course_id: int) -> list[SessionRecord]: """A course's sessions, by number."""
    def amend_session(self, session_id: int, field: str, value: str, reason: str, *,
                      actor: Optional[str] = None) -> SessionRecord: """Correct a session's date or phase."""
    def start_administration(self, session_id: int, instrument_id: str, instrument_version: str, respondent: str,
                             source: str = "interactive") -> int: """Start an administration; return its id."""
    def get_administration(self, administration_id: int) -> AdministrationRecord: """One administration."""
    def record_response(self, administration_id: int, item_id: str, value: Optional[int], status: str = "answered",
                        *, alerts: Iterable[dict] = ()) -> list[int]:
        """Store one answer (and the alerts it raised), committed before returning; return the alert ids."""
    def responses(self, administration_id: int) -> dict[str, dict]: """An administration's answers by item."""
    def complete_administration(self, administration_id: int, evaluate: Evaluate, *,
                                actor: Optional[str] = None) -> dict:
        """Score and complete an administration in one transaction."""
    def abandon_administration(self, administration_id: int, reason: str = "") -> None: """Abandon one."""
    def amend_response(self, administration_id: int, item_id: str, value: Optional[int], status: str, reason: str,
                       evaluate: Evaluate, *, actor: Optional[str] = None) -> dict:
        """Correct one answer of a completed administration and re-score it."""
    def amend_responses(self, administration_id: int, changes: list[tuple[str, Optional[int], str]], reason: str,
                        evaluate: Evaluate, *, actor: Optional[str] = None) -> dict:
        """Correct several answers at once as one amendment, re-scored once."""
    def current_score(self, administration_id: int) -> Optional[ScoreRecord]: """An administration's score."""
    def score_history(self, administration_id: int) -> list[dict]: """Every score it has had, oldest first."""
    def administrations(self, course_id: int, status: Optional[str] = None) -> list[AdministrationRecord]:
        """A course's administrations with their current score, in session order."""
    def in_progress(self, client_id: str) -> list[AdministrationRecord]: """A client's unfinished ones."""
    def add_completed_administration(self, session_id: int, instrument_id: str, instrument_version: str,
                                     respondent: str, source: str,
                                     responses: Iterable[tuple[str, Optional[int], str]],
                                     evaluate: Evaluate) -> int:
        """Store an administration entered at once (a paper form), scored, in one transaction."""

    # alerts
    def add_alert(self, client_id: str, kind: str, severity: str, message: str, *, course_id: Optional[int] = None,
                  administration_id: Optional[int] = None, item_id: Optional[str] = None,
                  rule: Optional[str] = None, once: bool = False) -> int: """Raise an alert; return its id."""
    def alerts(self, client_id: Optional[str] = None, *, include_acknowledged: bool = False,
               course_id: Optional[int] = None, after_id: Optional[int] = None) -> list[AlertRecord]:
        """Alerts (open only unless asked), most serious first, then oldest."""
    def get_alert(self, alert_id: int) -> AlertRecord: """One alert (NotFound if absent)."""
    def acknowledge_alert(self, alert_id: int, action: str, note: Optional[str] = None, *,
                          actor: Optional[str] = None) -> AlertRecord: """Acknowledge an alert (audited)."""

    # the caseload
    def active_courses(self) -> list[CourseRecord]: """Every course not ended (id, client, start, length, areas)."""
    def active_sessions(self) -> list[tuple[int, int, str, str]]:
        """``(course_id, number, date, phase)`` of the sessions of every course not ended."""
    def active_scores(self) -> list[tuple[int, int, str, Optional[float], Optional[str], Optional[int]]]:
        """``(course_id, number, instrument_id, total, band, flag_count)`` of their completed administrations."""
    def a_client_outside(self, prefix: str) -> Optional[str]: """One client id not starting with ``prefix``."""

    # exports
    def export_instrument_ids(self, client_ids: Optional[list[str]] = None) -> list[str]:
        """The instruments completed by these clients (None: all), sorted."""
    def export_rows(self, client_ids: Optional[list[str]] = None, *,
                    order_key: Optional[Callable[[str], str]] = None,
                    batch: int = 500) -> AbstractContextManager[Iterator[list[tuple]]]:
        """A context manager streaming batches of export rows from one snapshot; its cursor closes on exit."""
    def export_count(self, client_ids: Optional[list[str]] = None) -> int:
        """How many completed administrations :meth:`export_rows` gives for these clients (a progress total)."""
    def export_responses(self, administration_ids: list[int]) -> dict[int, list[dict]]:
        """The responses of these administrations, by administration."""
    def export_amendments(self, client_ids: list[str]) -> list[dict]: """These clients' amendments, oldest first."""
    def completed_administration_ids(self, administration_ids: Iterable[int]) -> set[int]:
        """Which of these administrations are complete."""

    # imports
    def bulk_import(self, records: Iterable[dict], batch_size: int = 2000,
                    counts: Optional[dict] = None) -> dict[str, int]:
        """Store completed, scored administrations in bulk (imports, the demo, benchmarks)."""
    def analyze(self) -> None: """Refresh the query planner's statistics after bulk work (skipped when busy)."""
    def imported_answers(self, keys: list[str]) -> dict[str, tuple[int, dict]]:
        """For the import keys already stored: key -> (administration id, its answers)."""
    def stored_import_keys(self, keys: list[str]) -> set[str]: """Which of these import keys are stored."""

    # staff
    def add_staff(self, name: str, role: str) -> dict: """Add a member of staff with a role (audited)."""
    def staff(self) -> list[dict]: """The staff, by name."""

    # handovers (the client's page)
    def add_handover(self, client_id: str, token_hash: str, expires_at: str,
                     administration_ids: list[int]) -> dict: """Hand these administrations over to the client."""
    def get_handover(self, handover_id: int) -> dict: """One handover (NotFound if absent)."""
    def handover_by_token(self, token_hash: str) -> Optional[dict]: """The handover of a link's token."""
    def handover_by_session(self, session_hash: str) -> Optional[dict]: """The handover of a browser session."""
    def claim_handover(self, handover_id: int, session_hash: str) -> bool: """Bind it to the first browser."""
    def set_handover_cursor(self, handover_id: int, cursor: Optional[int]) -> None: """Where the client is."""
    def end_handover(self, handover_id: int, reason: str) -> None: """End a live handover."""
