"""The record store's SQL, shared by both engines: every method of the interface written once, in SQL that
SQLite and PostgreSQL both run.

:class:`SQLStore` holds the statements; an engine subclass (``sqlite.SQLiteStore``, ``postgres.PostgresStore``)
supplies the connection, the write transaction, error translation and the few spellings that differ
(``_same``, ``_unindexed``, ``_entry_order``, ``_text_order``, ``_actor``). Placeholders are ``?``; the
PostgreSQL connection rewrites them. No service sees this module: they see :class:`~ipt_measures.store.base.Store`.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Optional

from ..errors import NotFound, StoreError, UsageError
from .base import CourseRecord, Evaluate

def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def login() -> str:
    """The operating-system login (works where $USER is unset), as the audit names who did something."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name at all (a container with an unnamed uid)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def declared(actor: Optional[str] = None) -> Optional[str]:
    """The name a user declares (``--by NAME``, else $IPT_USER): kept beside the login, never instead of it."""
    name = (actor or os.environ.get("IPT_USER") or "").strip()
    return name or None


class SQLStore:
    """The interface's methods in portable SQL; see the module docstring for what an engine supplies."""

    engine = "sql"
    # NULL-safe equality (SQLite: IS; PostgreSQL: IS NOT DISTINCT FROM).
    _same = "IS"
    # A prefix that keeps a column's index out of a plan (SQLite's unary +); empty where the planner needs no hint.
    _unindexed = ""
    # The column that orders an administration's responses as they were entered.
    _entry_order = "rowid"
    # Text in ORDER BY: SQLite compares bytes (BINARY); PostgreSQL adds this so a server initialised with a
    # linguistic collation (en_US.UTF-8, ICU) lists and exports in the same order as SQLite does.
    _text_order = ""
    # The driver's error class for a failed read (translated to StoreError).
    _driver_error: type[BaseException] = Exception
    _conn: Any

    # -- what an engine supplies ---------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A write transaction, serialised with every other writer, committed on leaving."""
        raise NotImplementedError
        yield

    def _translate(self, exc: BaseException) -> StoreError:
        raise NotImplementedError

    def _actor(self) -> str:
        """Who the audit names: the operating-system login (SQLite), the server's session_user (PostgreSQL)."""
        return login()

    def _no_client(self, client_id: str) -> str:
        return f"no client {client_id!r} (see: ipt clients list)"

    def _no_alert(self, alert_id: int) -> str:
        return f"no alert {alert_id} (see: ipt alerts)"

    def _check_clinician(self, conn: Any, name: str) -> None:
        """Refuse a course's clinician the engine knows cannot hold one (SQLite: any name; no server roles)."""

    # Whether a server enforces the staff's roles (PostgreSQL); SQLite keeps the staff list only.
    enforces_roles = False

    def _check_may_add_staff(self) -> None:
        """Refuse, in one line, a user who may not add staff (PostgreSQL: anyone not an admin)."""

    def _add_login(self, conn: Any, name: str, role: str) -> Optional[str]:
        """Give a new staff member a way in (PostgreSQL: a login role in the role's group); returns a note
        for the one who added them, or None (SQLite: the staff table only)."""
        return None

    def _insert(self, conn: Any, sql: str, params: Any) -> int:
        """Run an INSERT and return the id the database gave the new row (``RETURNING``, on both engines)."""
        return conn.execute(sql + " RETURNING id", params).fetchone()[0]

    def _write(self, sql: str, params: Any = ()) -> Any:
        """One statement in its own transaction."""
        with self._transaction() as conn:
            return conn.execute(sql, params)

    def _query(self, sql: str, params: Any = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except self._driver_error as exc:
            raise self._translate(exc) from None

    def _tuples(self, sql: str, params: Any = ()) -> list[Any]:
        """Rows read by position only, as plain tuples where the driver's rows are not already (SQLite)."""
        return self._query(sql, params)

    # -- audit -------------------------------------------------------------------------------------

    def _audit(self, conn, client_id, action, entity=None, entity_id=None, field=None, old=None, new=None, reason=None,
               actor=None):
        conn.execute(
            "INSERT INTO audit (at, actor, declared_actor, client_id, action, entity, entity_id, field, old_value,"
            " new_value, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now(), self._actor(), declared(actor), client_id, action, entity, None if entity_id is None else str(entity_id),
             field, None if old is None else str(old), None if new is None else str(new), reason),
        )

    def record_access(self, action: str, client_ids: Optional[Iterable[str]], detail: str,
                      *, destination: Optional[str] = None, actor: Optional[str] = None) -> None:
        """Record that the record was read out (``export``, ``report``): who, when, which clients (None: all of
        them, one row without a client), how (``detail``: format, de-identified or not) and to which file
        (``destination``, kept as entity "file": ``ipt doctor`` looks there for leftovers)."""
        with self._transaction() as conn:
            for client_id in ([None] if client_ids is None else list(dict.fromkeys(client_ids))):
                self._audit(conn, client_id, action, "file" if destination else None, destination, new=detail,
                            actor=actor)

    def audit_trail(self, client_id: str) -> list[dict]:
        # With the exports of the whole caseload made since the client was added (they hold the client too).
        client = self.get_client(client_id)
        return [dict(r) for r in self._query(
            "SELECT * FROM audit WHERE client_id = ? OR (client_id IS NULL AND action = 'export' AND at >= ?)"
            " ORDER BY id", (client_id, client["created_at"]))]

    # -- clients -----------------------------------------------------------------------------------

    def add_client(self, client_id: str, display_name: Optional[str] = None, birth_year: Optional[int] = None) -> dict:
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM clients WHERE id = ?", (client_id,)).fetchone():
                raise UsageError(f"client {client_id!r} already exists")
            # The one who adds a client is their clinician until a course names another (start_course).
            conn.execute(
                "INSERT INTO clients (id, display_name, birth_year, created_at, clinician) VALUES (?, ?, ?, ?, ?)",
                (client_id, display_name, birth_year, now(), self._actor()),
            )
            self._audit(conn, client_id, "client added", "client", client_id)
        return self.get_client(client_id)

    def get_client(self, client_id: str) -> dict:
        row = self._conn.execute("SELECT * FROM clients WHERE id = ?", (client_id,)).fetchone()
        if row is None:
            raise NotFound(self._no_client(client_id))
        return dict(row)

    def list_clients(self) -> list[dict]:
        return [dict(r) for r in self._query(f"SELECT * FROM clients ORDER BY id{self._text_order}")]

    # -- courses -----------------------------------------------------------------------------------

    def start_course(
        self, client_id: str, start_date: str, planned_sessions: int, problem_areas: list[str], protocol: Optional[str],
        course_type: str = "standard", clinician: Optional[str] = None,
    ) -> dict:
        """Start a course assigned to ``clinician`` (default: whoever starts it); the client is then theirs
        (``clients.clinician``: on PostgreSQL, who may see the client's whole record)."""
        client = self.get_client(client_id)
        clinician = clinician or self._actor()
        with self._transaction() as conn:
            if self._active_course(conn, client_id):
                raise UsageError(f"client {client_id!r} already has an active course; end it first")
            self._check_clinician(conn, clinician)
            course_id = self._insert(
                conn,
                "INSERT INTO courses (client_id, start_date, planned_sessions, problem_areas, protocol, created_at,"
                " course_type, clinician) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (client_id, start_date, planned_sessions, json.dumps(problem_areas), protocol, now(), course_type,
                 clinician),
            )
            self._audit(conn, client_id, "course started", "course", course_id,
                        new=f"{course_type}, {planned_sessions} sessions, {', '.join(problem_areas)}; clinician {clinician}")
            if client.get("clinician") != clinician:
                conn.execute("UPDATE clients SET clinician = ? WHERE id = ?", (clinician, client_id))
                self._audit(conn, client_id, "client assigned", "client", client_id, "clinician",
                            client.get("clinician"), clinician)
        return self.get_course(course_id)

    def _active_course(self, conn, client_id: str):
        return conn.execute(
            "SELECT * FROM courses WHERE client_id = ? AND end_date IS NULL ORDER BY id DESC LIMIT 1", (client_id,)
        ).fetchone()

    def active_course(self, client_id: str) -> Optional[dict]:
        self.get_client(client_id)
        row = self._active_course(self._conn, client_id)
        return _course(row) if row else None

    def get_course(self, course_id: int) -> dict:
        row = self._conn.execute("SELECT * FROM courses WHERE id = ?", (course_id,)).fetchone()
        if row is None:
            raise NotFound(f"no course {course_id}")
        return _course(row)

    def courses(self, client_id: str) -> list[dict]:
        return [_course(r) for r in self._query("SELECT * FROM courses WHERE client_id = ? ORDER BY id", (client_id,))]

    def end_course(self, course_id: int, end_date: str, reason: str) -> dict:
        course = self.get_course(course_id)
        if course["end_date"]:
            raise UsageError(f"course {course_id} already ended on {course['end_date']}")
        with self._transaction() as conn:
            conn.execute("UPDATE courses SET end_date = ?, end_reason = ? WHERE id = ?", (end_date, reason, course_id))
            self._audit(conn, course["client_id"], "course ended", "course", course_id, new=end_date, reason=reason)
        return self.get_course(course_id)

    # -- the IPT record: interpersonal inventory, goals, end-of-treatment summary -------------------

    def add_relationship(self, course_id: int, label: str, relationship_type: str, rating: dict) -> dict:
        """Add a key relationship to a course's inventory with its first rating, in one transaction.

        ``rating`` holds rated_on, session_number, closeness, support, conflict, contact, wanted_change."""
        course = self.get_course(course_id)
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM relationships WHERE course_id = ? AND label = ?", (course_id, label)).fetchone():
                raise UsageError(f"the inventory already has {label!r}; re-rate it with: ipt inventory "
                                 f"{course['client_id']} rate {label!r} ...")
            new_id = self._insert(
                conn,
                "INSERT INTO relationships (course_id, label, relationship_type, created_at) VALUES (?, ?, ?, ?)",
                (course_id, label, relationship_type, now()),
            )
            self._insert_rating(conn, new_id, rating)
            self._audit(conn, course["client_id"], "relationship added", "relationship", new_id,
                        new=f"{label} ({relationship_type})")
        return self.get_relationship(course_id, label)

    def rate_relationship(self, course_id: int, label: str, rating: dict) -> dict:
        """Add a rating to a relationship of a course's inventory (ratings are never overwritten)."""
        course = self.get_course(course_id)
        relationship = self.get_relationship(course_id, label)
        with self._transaction() as conn:
            self._insert_rating(conn, relationship["id"], rating)
            self._audit(conn, course["client_id"], "relationship rated", "relationship", relationship["id"],
                        new=f"{label}: {rating['closeness']}, support {rating['support']}, conflict {rating['conflict']}")
        return self.get_relationship(course_id, label)

    def _insert_rating(self, conn, relationship_id: int, r: dict) -> None:
        conn.execute(
            "INSERT INTO relationship_ratings (relationship_id, rated_on, session_number, closeness, support, conflict,"
            " contact, wanted_change, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (relationship_id, r["rated_on"], r.get("session_number"), r["closeness"], r["support"], r["conflict"],
             r["contact"], r.get("wanted_change"), now()),
        )

    def get_relationship(self, course_id: int, label: str) -> dict:
        row = self._conn.execute(
            "SELECT * FROM relationships WHERE course_id = ? AND label = ?", (course_id, label)
        ).fetchone()
        if row is None:
            known = ", ".join(r["label"] for r in self.relationships(course_id)) or "none yet"
            raise NotFound(f"no relationship {label!r} in this course's inventory (known: {known})")
        return self._with_ratings(dict(row))

    def relationships(self, course_id: int) -> list[dict]:
        """A course's inventory: each relationship with its ratings, oldest first."""
        rows = [dict(r) for r in self._query("SELECT * FROM relationships WHERE course_id = ? ORDER BY id", (course_id,))]
        return [self._with_ratings(r) for r in rows]

    def _with_ratings(self, relationship: dict) -> dict:
        relationship["ratings"] = [
            dict(r) for r in self._query(
                "SELECT id, rated_on, session_number, closeness, support, conflict, contact, wanted_change, created_at"
                " FROM relationship_ratings WHERE relationship_id = ? ORDER BY rated_on, id", (relationship["id"],)
            )
        ]
        return relationship

    def add_goal(self, course_id: int, number: int, text: str, problem_area: str) -> dict:
        course = self.get_course(course_id)
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM goals WHERE course_id = ? AND number = ?", (course_id, number)).fetchone():
                raise UsageError(f"goal {number} of this course already exists")
            new_id = self._insert(
                conn,
                "INSERT INTO goals (course_id, number, text, problem_area, created_at) VALUES (?, ?, ?, ?, ?)",
                (course_id, number, text, problem_area, now()),
            )
            self._audit(conn, course["client_id"], "goal added", "goal", new_id,
                        new=f"goal {number} ({problem_area})")
        return next(g for g in self.goals(course_id) if g["number"] == number)

    def goals(self, course_id: int) -> list[dict]:
        return [dict(r) for r in self._query("SELECT * FROM goals WHERE course_id = ? ORDER BY number", (course_id,))]

    def set_course_summary(self, course_id: int, *, warning_signs: Optional[str] = None, plan: Optional[str] = None,
                           actor: Optional[str] = None) -> dict:
        """Set the warning signs and/or plan of a course's end-of-treatment summary; each change is audited
        with the old and the new text (None leaves a field as it is)."""
        course = self.get_course(course_id)
        before = self.course_summary(course_id)
        values = {"warning_signs": before["warning_signs"], "plan": before["plan"]}
        with self._transaction() as conn:
            for name, value in (("warning_signs", warning_signs), ("plan", plan)):
                if value is None or value == before[name]:
                    continue
                values[name] = value
                self._audit(conn, course["client_id"], "summary updated", "course", course_id, name, before[name],
                            value, actor=actor)
            conn.execute(
                "INSERT INTO course_summaries (course_id, warning_signs, plan, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (course_id) DO UPDATE SET warning_signs = excluded.warning_signs, plan = excluded.plan,"
                " updated_at = excluded.updated_at",
                (course_id, values["warning_signs"], values["plan"], now()),
            )
        return self.course_summary(course_id)

    def course_summary(self, course_id: int) -> dict:
        row = self._conn.execute("SELECT * FROM course_summaries WHERE course_id = ?", (course_id,)).fetchone()
        if row is None:
            return {"course_id": course_id, "warning_signs": None, "plan": None, "updated_at": None}
        return dict(row)

    # -- sessions ----------------------------------------------------------------------------------

    def add_session(self, course_id: int, number: int, date: str, phase: str) -> dict:
        course = self.get_course(course_id)
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM sessions WHERE course_id = ? AND number = ?", (course_id, number)).fetchone():
                raise UsageError(f"session {number} of this course already exists")
            new_id = self._insert(
                conn,
                "INSERT INTO sessions (course_id, number, date, phase, created_at) VALUES (?, ?, ?, ?, ?)",
                (course_id, number, date, phase, now()),
            )
            self._audit(conn, course["client_id"], "session added", "session", new_id, new=f"session {number} on {date}")
        return self.get_session(new_id)

    def get_session(self, session_id: int) -> dict:
        row = self._conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise NotFound(f"no session {session_id}")
        return dict(row)

    def sessions(self, course_id: int) -> list[dict]:
        return [dict(r) for r in self._query("SELECT * FROM sessions WHERE course_id = ? ORDER BY number", (course_id,))]

    def amend_session(self, session_id: int, field: str, value: str, reason: str, *, actor: Optional[str] = None) -> dict:
        """Correct a session's date or phase: recorded as an amendment with the old and new value.

        ``actor`` is who makes the correction (default: $IPT_USER, else the login name)."""
        if field not in ("date", "phase"):
            raise UsageError("only a session's date or phase can be amended")
        if not reason or not reason.strip():
            raise UsageError("an amendment needs a reason")
        session = self.get_session(session_id)
        course = self.get_course(session["course_id"])
        with self._transaction() as conn:
            conn.execute(f"UPDATE sessions SET {field} = ? WHERE id = ?", (value, session_id))
            self._audit(conn, course["client_id"], "amendment", "session", session_id, field, session[field], value, reason,
                        actor)
        return self.get_session(session_id)

    # -- administrations and responses -------------------------------------------------------------

    def start_administration(
        self, session_id: int, instrument_id: str, instrument_version: str, respondent: str, source: str = "interactive"
    ) -> int:
        session = self.get_session(session_id)
        client_id = self.get_course(session["course_id"])["client_id"]
        with self._transaction() as conn:
            new_id = self._insert(
                conn,
                "INSERT INTO administrations (session_id, instrument_id, instrument_version, respondent, status, source,"
                " started_at) VALUES (?, ?, ?, ?, 'in-progress', ?, ?)",
                (session_id, instrument_id, instrument_version, respondent, source, now()),
            )
            self._audit(conn, client_id, "administration started", "administration", new_id, new=instrument_id)
        return new_id

    def get_administration(self, administration_id: int) -> dict:
        return self._administration(self._conn, administration_id)

    def record_response(self, administration_id: int, item_id: str, value: Optional[int], status: str = "answered",
                        *, alerts: Iterable[dict] = ()) -> list[int]:
        """Store one answer of an in-progress administration; committed before this returns.

        Answering an item again while the administration is in progress (going back) replaces the answer;
        after completion a change is an amendment (``amend_response``). ``alerts`` (dicts with ``kind``,
        ``severity``, ``message``, optional ``item_id``) are what this answer raises, e.g. a critical item:
        they are stored in the same transaction (see ``add_alert``). Returns the alert ids.
        """
        _check_response(value, status)
        with self._transaction() as conn:
            admin = self._administration(conn, administration_id)
            if admin["status"] != "in-progress":
                raise UsageError(f"administration {administration_id} is {admin['status']}; correct it with an amendment")
            conn.execute(_UPSERT_RESPONSE, (administration_id, item_id, value, status, now()))
            return [self._add_alert(conn, admin, a) for a in alerts]

    def _administration(self, conn, administration_id: int) -> dict:
        row = conn.execute(
            "SELECT a.*, s.number AS session_number, s.course_id, c.client_id FROM administrations a"
            " JOIN sessions s ON s.id = a.session_id JOIN courses c ON c.id = s.course_id WHERE a.id = ?",
            (administration_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no administration {administration_id}")
        return dict(row)

    def responses(self, administration_id: int) -> dict[str, dict]:
        try:
            return self._responses(self._conn, administration_id)
        except self._driver_error as exc:
            raise self._translate(exc) from None

    def _responses(self, conn, administration_id: int) -> dict[str, dict]:
        rows = conn.execute(
            "SELECT item_id, value, status, answered_at FROM responses WHERE administration_id = ?", (administration_id,)
        )
        return {r["item_id"]: dict(r) for r in rows}

    def complete_administration(self, administration_id: int, evaluate: "Evaluate", *, actor: Optional[str] = None) -> dict:
        """Complete an administration: check it is in progress, re-read its answers, score them and store
        the score and its alerts, all in one BEGIN IMMEDIATE transaction.

        ``evaluate(administration, responses)`` is the caller's scoring (the store never scores):
        ``administration`` is the row as ``get_administration`` gives it, ``responses`` the stored answers
        as ``responses()`` gives them, read inside this transaction; it returns ``(score, alerts)``, with
        ``score`` a Score as JSON (``Score.model_dump(mode='json')``) and ``alerts`` dicts for ``add_alert``.
        It may read the store (e.g. earlier scores); it runs inside the transaction. A second completion
        is refused by the database itself (trigger ``administrations_finish_once``), not only by the check.
        """
        with self._transaction() as conn:
            admin = self._administration(conn, administration_id)
            if admin["status"] != "in-progress":
                raise UsageError(f"administration {administration_id} is already {admin['status']}")
            score, alerts = evaluate(admin, self._responses(conn, administration_id))
            conn.execute(
                "UPDATE administrations SET status = 'complete', finished_at = ? WHERE id = ?", (now(), administration_id)
            )
            self._insert_score(conn, administration_id, score)
            total = score["total"]["value"]
            self._audit(conn, admin["client_id"], "administration completed", "administration", administration_id,
                        new=f"{admin['instrument_id']} total {total}", actor=actor)
            for alert in alerts:
                self._add_alert(conn, admin, alert)
        return self.get_administration(administration_id)

    def _insert_score(self, conn, administration_id: int, score: dict) -> None:
        conn.execute("UPDATE scores SET current = 0 WHERE administration_id = ? AND current = 1", (administration_id,))
        conn.execute(
            "INSERT INTO scores (administration_id, current, total, band, band_severity, flag_count, scorer, data,"
            " computed_at) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?)",
            (administration_id, *_score_columns(score), now()),
        )

    def abandon_administration(self, administration_id: int, reason: str = "") -> None:
        with self._transaction() as conn:
            admin = self._administration(conn, administration_id)
            if admin["status"] != "in-progress":
                raise UsageError(f"administration {administration_id} is {admin['status']}, not in progress")
            conn.execute(
                "UPDATE administrations SET status = 'abandoned', finished_at = ? WHERE id = ?", (now(), administration_id)
            )
            self._audit(conn, admin["client_id"], "administration abandoned", "administration", administration_id,
                        reason=reason or None)

    def amend_response(
        self, administration_id: int, item_id: str, value: Optional[int], status: str, reason: str, evaluate: "Evaluate",
        *, actor: Optional[str] = None,
    ) -> dict:
        """Correct an answer of a completed administration and re-score it, as one amendment in one
        BEGIN IMMEDIATE transaction: check it is complete, store the new answer, re-read every answer, score
        them with ``evaluate`` (as in ``complete_administration``), store the score and its alerts.

        ``actor`` is who makes the correction (default: $IPT_USER, else the login name). Returns
        ``{"previous_total": ..., "score": ...}``."""
        return self.amend_responses(administration_id, [(item_id, value, status)], reason, evaluate, actor=actor)

    def amend_responses(
        self, administration_id: int, changes: list[tuple[str, Optional[int], str]], reason: str,
        evaluate: "Evaluate", *, actor: Optional[str] = None,
    ) -> dict:
        """Correct several answers of a completed administration at once (a record corrected at its source and
        imported again), as ``amend_response`` corrects one: each changed answer and the recomputed score are
        audited with their old values, the score's alerts stored, all in one transaction."""
        for _, value, status in changes:
            _check_response(value, status)
        if not reason or not reason.strip():
            raise UsageError("an amendment needs a reason")
        with self._transaction() as conn:
            admin = self._administration(conn, administration_id)
            if admin["status"] != "complete":
                raise UsageError(f"administration {administration_id} is {admin['status']}; only completed ones are amended")
            stored = self._responses(conn, administration_id)
            for item_id, value, status in changes:
                old = stored.get(item_id)
                if old and old["status"] == status and old["value"] == value:
                    raise UsageError(f"item {item_id} already holds that answer; nothing to amend")
                old_text = "missing" if old is None else (str(old["value"]) if old["status"] == "answered" else old["status"])
                new_text = str(value) if status == "answered" else status
                conn.execute(_UPSERT_RESPONSE, (administration_id, item_id, value, status, now()))
                self._audit(conn, admin["client_id"], "amendment", "response", f"{administration_id}/{item_id}",
                            f"item {item_id}", old_text, new_text, reason, actor)
            old_total = conn.execute(
                "SELECT total FROM scores WHERE administration_id = ? AND current = 1", (administration_id,)
            ).fetchone()
            score, alerts = evaluate(admin, self._responses(conn, administration_id))
            self._insert_score(conn, administration_id, score)
            self._audit(conn, admin["client_id"], "score recomputed", "administration", administration_id, "total",
                        None if old_total is None else old_total[0], score["total"]["value"], reason, actor)
            for alert in alerts:
                self._add_alert(conn, admin, alert)
        return {"previous_total": None if old_total is None else old_total[0], "score": score}

    def current_score(self, administration_id: int) -> Optional[dict]:
        row = self._conn.execute(
            "SELECT data FROM scores WHERE administration_id = ? AND current = 1", (administration_id,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def score_history(self, administration_id: int) -> list[dict]:
        rows = self._query("SELECT * FROM scores WHERE administration_id = ? ORDER BY id", (administration_id,))
        return [dict(r) for r in rows]

    def administrations(self, course_id: int, status: Optional[str] = None) -> list[dict]:
        """Administrations of a course with their current score (total, band, flags), in session order."""
        sql = (
            "SELECT a.*, s.number AS session_number, s.date AS session_date, s.phase,"
            " sc.total, sc.band, sc.band_severity, sc.flag_count, sc.data AS score_data"
            " FROM administrations a JOIN sessions s ON s.id = a.session_id"
            " LEFT JOIN scores sc ON sc.administration_id = a.id AND sc.current = 1"
            " WHERE s.course_id = ?"
        )
        params: list[Any] = [course_id]
        if status:
            sql += " AND a.status = ?"
            params.append(status)
        sql += " ORDER BY s.number, a.id"
        return [dict(r) for r in self._query(sql, params)]

    def in_progress(self, client_id: str) -> list[dict]:
        rows = self._query(
            "SELECT a.*, s.number AS session_number FROM administrations a JOIN sessions s ON s.id = a.session_id"
            " JOIN courses c ON c.id = s.course_id WHERE c.client_id = ? AND a.status = 'in-progress' ORDER BY a.id",
            (client_id,),
        )
        return [dict(r) for r in rows]

    def add_completed_administration(
        self,
        session_id: int,
        instrument_id: str,
        instrument_version: str,
        respondent: str,
        source: str,
        responses: Iterable[tuple[str, Optional[int], str]],
        evaluate: "Evaluate",
    ) -> int:
        """Store an administration entered at once (a paper form): responses, completion, score and alerts in
        one transaction, so a crash stores all of it or none. ``responses`` is (item id, value, status)
        tuples; ``evaluate`` scores the stored answers, as in ``complete_administration``."""
        rows = list(responses)
        for _, value, status in rows:
            _check_response(value, status)
        stamp = now()
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
                raise NotFound(f"no session {session_id}")
            new_id = self._insert(
                conn,
                "INSERT INTO administrations (session_id, instrument_id, instrument_version, respondent, status, source,"
                " started_at, finished_at) VALUES (?, ?, ?, ?, 'complete', ?, ?, ?)",
                (session_id, instrument_id, instrument_version, respondent, source, stamp, stamp),
            )
            admin_id = new_id
            conn.executemany(_INSERT_RESPONSE, [(admin_id, item, value, status, stamp) for item, value, status in rows])
            admin = self._administration(conn, admin_id)
            score, alerts = evaluate(admin, self._responses(conn, admin_id))
            self._insert_score(conn, admin_id, score)
            self._audit(conn, admin["client_id"], "administration entered", "administration", admin_id,
                        new=f"{instrument_id} total {score['total']['value']} ({source})")
            for alert in alerts:
                self._add_alert(conn, admin, alert)
        return admin_id

    # -- alerts --------------------------------------------------------------------------------------

    def add_alert(
        self, client_id: str, kind: str, severity: str, message: str, *, course_id: Optional[int] = None,
        administration_id: Optional[int] = None, item_id: Optional[str] = None, conn: Any = None,
        rule: Optional[str] = None, once: bool = False,
    ) -> int:
        """Raise an alert (open until acknowledged); returns its id.

        With ``conn``, inside the caller's transaction (the alert commits with the answer or score that
        raised it). An open alert with the same client, course, administration, item and kind is not
        raised twice (nor one of the same ``rule``, when given: e.g. which alert rule of an instrument file):
        its id is returned. With ``once``, neither is one already acknowledged (a score
        re-computed by an amendment does not re-raise what a clinician has already dealt with).
        """
        alert = {"kind": kind, "severity": severity, "message": message, "item_id": item_id, "rule": rule, "once": once}
        if conn is not None:
            return self._add_alert(conn, self._alert_owner(conn, client_id, course_id, administration_id), alert)
        with self._transaction() as c:
            return self._add_alert(c, self._alert_owner(c, client_id, course_id, administration_id), alert)

    def _alert_owner(self, conn, client_id: str, course_id: Optional[int], administration_id: Optional[int]) -> dict:
        if administration_id is not None:
            admin = self._administration(conn, administration_id)
            if admin["client_id"] != client_id:
                raise UsageError(f"administration {administration_id} is not {client_id!r}'s")
            return admin
        if conn.execute("SELECT 1 FROM clients WHERE id = ?", (client_id,)).fetchone() is None:
            raise NotFound(self._no_client(client_id))
        if course_id is not None:
            row = conn.execute("SELECT client_id FROM courses WHERE id = ?", (course_id,)).fetchone()
            if row is None or row[0] != client_id:
                raise UsageError(f"course {course_id} is not {client_id!r}'s")
        return {"client_id": client_id, "course_id": course_id, "id": None}

    def _add_alert(self, conn, owner: dict, alert: dict) -> int:
        """One alert for ``owner`` (an administration row, or {client_id, course_id, id: None})."""
        severity = alert.get("severity")
        if severity not in SEVERITIES:
            raise UsageError(f"alert severity is one of {', '.join(SEVERITIES)}, not {severity!r}")
        kind, message = str(alert.get("kind") or ""), str(alert.get("message") or "")
        if not kind or not message:
            raise UsageError("an alert needs a kind and a message")
        item_id = None if alert.get("item_id") is None else str(alert["item_id"])
        rule = None if alert.get("rule") is None else str(alert["rule"])
        key = (owner["client_id"], owner.get("course_id"), owner.get("id"), item_id, kind, rule)
        same = self._same  # NULL-safe equality: SQLite's IS, PostgreSQL's IS NOT DISTINCT FROM
        where = (f"client_id = ? AND course_id {same} ? AND administration_id {same} ? AND item_id {same} ?"
                 f" AND kind = ? AND rule {same} ?")
        status = "" if alert.get("once") else " AND status = 'open'"
        row = conn.execute(f"SELECT id FROM alerts WHERE {where}{status} ORDER BY id LIMIT 1", key).fetchone()
        if row is not None:
            return row[0]
        new_id = self._insert(
            conn,
            "INSERT INTO alerts (client_id, course_id, administration_id, item_id, kind, rule, severity, message,"
            " raised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*key, severity, message, now()),
        )
        self._audit(conn, owner["client_id"], "alert raised", "alert", new_id, new=f"{severity}: {message}")
        return new_id

    def alerts(
        self, client_id: Optional[str] = None, *, include_acknowledged: bool = False, course_id: Optional[int] = None,
        after_id: Optional[int] = None,
    ) -> list[dict]:
        """Alerts, open ones only unless ``include_acknowledged``: most serious first, then oldest.

        ``after_id`` gives only alerts raised after that one (a front end polling for new alerts)."""
        sql, params = _ALERTS_SQL + " WHERE 1 = 1", []
        if client_id is not None:
            sql += " AND al.client_id = ?"
            params.append(client_id)
        if course_id is not None:
            sql += " AND al.course_id = ?"
            params.append(course_id)
        if not include_acknowledged:
            sql += " AND al.status = 'open'"
        if after_id is not None:
            sql += " AND al.id > ?"
            params.append(after_id)
        sql += (" ORDER BY CASE al.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,"
                " al.raised_at, al.id")
        return [dict(r) for r in self._query(sql, params)]

    def get_alert(self, alert_id: int) -> dict:
        row = self._conn.execute(_ALERTS_SQL + " WHERE al.id = ?", (alert_id,)).fetchone()
        if row is None:
            raise NotFound(self._no_alert(alert_id))
        return dict(row)

    def acknowledge_alert(self, alert_id: int, action: str, note: Optional[str] = None, *,
                          actor: Optional[str] = None) -> dict:
        """Record that an alert was dealt with: who (the login, with ``actor`` beside it if declared), when,
        what was done (``action``) and an optional note. The alert is kept; the acknowledgement is audited."""
        if not action or not action.strip():
            raise UsageError("an acknowledgement says what was done (--action), e.g. 'risk assessed, safety plan reviewed'")
        who = self._actor()
        if actor and actor.strip() and actor.strip() != who:
            who = f"{actor.strip()} (login {who})"
        with self._transaction() as conn:
            row = conn.execute("SELECT client_id, status, message FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            if row is None:
                raise NotFound(self._no_alert(alert_id))
            if row["status"] != "open":
                raise UsageError(f"alert {alert_id} is already acknowledged (see: ipt alerts --all)")
            stamp = now()
            conn.execute(
                "UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, action = ?, note = ?"
                " WHERE id = ?",
                (stamp, who, action.strip(), note, alert_id),
            )
            self._audit(conn, row["client_id"], "alert acknowledged", "alert", alert_id, "status", "open",
                        f"acknowledged: {action.strip()}", note, actor)
        return self.get_alert(alert_id)

    # -- caseload reads (review.caseload assembles the caseload from these) ----------------------------

    def active_courses(self) -> list[CourseRecord]:
        """Every course not ended (from the partial index courses_active), problem areas decoded."""
        rows = self._query(
            "SELECT id, client_id, start_date, planned_sessions, problem_areas, clinician FROM courses"
            " WHERE end_date IS NULL")
        return [{**row, "problem_areas": json.loads(row["problem_areas"])} for row in map(dict, rows)]  # type: ignore[typeddict-item]

    def active_sessions(self) -> list[tuple[int, int, str, str]]:
        """``(course_id, number, date, phase)`` of every session of the courses not ended."""
        return self._tuples(
            "SELECT s.course_id, s.number, s.date, s.phase FROM sessions s WHERE s.course_id IN"
            " (SELECT id FROM courses WHERE end_date IS NULL)")

    def active_scores(self) -> list[tuple[int, int, str, Optional[float], Optional[str], Optional[int]]]:
        """``(course_id, session number, instrument_id, total, band, flag_count)`` of every completed
        administration of the courses not ended, with its current score (no score JSON), in course, session
        and administration order."""
        # Sessions and administrations are found through sessions(course_id, number) and administrations_session;
        # on SQLite `+a.status` (``_unindexed``) keeps the planner off an index on status, which matches nearly
        # every row.
        return self._tuples(
            "SELECT s.course_id, s.number, a.instrument_id, sc.total, sc.band, sc.flag_count"
            " FROM administrations a JOIN sessions s ON s.id = a.session_id"
            " LEFT JOIN scores sc ON sc.administration_id = a.id AND sc.current = 1"
            " WHERE s.course_id IN (SELECT id FROM courses WHERE end_date IS NULL)"
            f" AND {self._unindexed}a.status = 'complete'"
            " ORDER BY s.course_id, s.number, a.id")

    def a_client_outside(self, prefix: str) -> Optional[str]:
        """The id of one client whose id does not start with ``prefix`` (None if every one does)."""
        rows = self._query("SELECT id FROM clients WHERE substr(id, 1, ?) != ? LIMIT 1", (len(prefix), prefix))
        return rows[0][0] if rows else None

    # -- export reads (the exchange wing assembles records from these) -------------------------------

    def export_instrument_ids(self, client_ids: Optional[list[str]] = None) -> list[str]:
        """The instruments with a completed administration among these clients (None: all), sorted."""
        where, params = _export_client_filter(client_ids)
        sql = (
            "SELECT DISTINCT a.instrument_id FROM administrations a JOIN sessions s ON s.id = a.session_id"
            " JOIN courses co ON co.id = s.course_id JOIN clients c ON c.id = co.client_id"
            " WHERE a.status = 'complete'" + where
        )
        return sorted(row[0] for row in self._conn.execute(sql, params))  # code points, whatever the collation

    def export_count(self, client_ids: Optional[list[str]] = None) -> int:
        """How many completed administrations :meth:`export_rows` gives for these clients (a progress total)."""
        where, params = _export_client_filter(client_ids)
        sql = (
            "SELECT count(*) FROM administrations a JOIN sessions s ON s.id = a.session_id"
            " JOIN courses co ON co.id = s.course_id JOIN clients c ON c.id = co.client_id"
            " WHERE a.status = 'complete'" + where
        )
        return self._conn.execute(sql, params).fetchone()[0]

    def export_responses(self, administration_ids: list[int]) -> dict[int, list[dict]]:
        """The item responses of these administrations as stored (one indexed query), by administration."""
        marks = ",".join("?" * len(administration_ids))
        result: dict[int, list[dict]] = {}
        for row in self._conn.execute(
            "SELECT administration_id, item_id, value, status FROM responses"
            f" WHERE administration_id IN ({marks}) ORDER BY administration_id, {self._entry_order}",
            administration_ids,
        ):
            result.setdefault(row[0], []).append({"item_id": row[1], "value": row[2], "status": row[3]})
        return result

    def export_amendments(self, client_ids: list[str]) -> list[dict]:
        """The amendments made to these clients' records, oldest first, from the audit (read by client,
        which is indexed): ``at, actor, entity, entity_id, field, old, new, reason``."""
        marks = ",".join("?" * len(client_ids))
        return [
            {"at": at, "actor": actor, "entity": entity, "entity_id": entity_id, "field": field, "old": old,
             "new": new, "reason": reason}
            for at, actor, entity, entity_id, field, old, new, reason in self._conn.execute(
                # the declared name (--by) where one was given, else the login
                "SELECT at, coalesce(declared_actor, actor), entity, entity_id, field, old_value, new_value, reason"
                " FROM audit"
                f" WHERE client_id IN ({marks}) AND action = 'amendment' ORDER BY id", client_ids)
        ]

    def completed_administration_ids(self, administration_ids: Iterable[int]) -> set[int]:
        """Which of these administrations are complete (what an export holds)."""
        ids = list(administration_ids)
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        return {row[0] for row in self._conn.execute(
            f"SELECT id FROM administrations WHERE status = 'complete' AND id IN ({marks})", ids)}

    # -- staff (on PostgreSQL each is a login role in its role's group; see migrations_postgres 0011) ----

    def add_staff(self, name: str, role: str) -> dict:
        """Add a member of staff with their role (clinician, supervisor, admin, researcher), audited; on
        PostgreSQL also their login role in that role's group. ``note`` in the result says what is left to
        do (a password) or that no server enforces the role (SQLite)."""
        self._check_may_add_staff()
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM staff WHERE name = ?", (name,)).fetchone():
                raise UsageError(f"{name!r} is already on the staff (see: ipt staff list)")
            note = self._add_login(conn, name, role)
            conn.execute("INSERT INTO staff (name, role, added_at, added_by) VALUES (?, ?, ?, ?)",
                         (name, role, now(), self._actor()))
            self._audit(conn, None, "staff added", "staff", name, "role", None, role)
        member = next(s for s in self.staff() if s["name"] == name)
        return {**member, "note": note}

    def staff(self) -> list[dict]:
        """The staff, by name: name, role, added_at, added_by."""
        return [dict(r) for r in self._query("SELECT name, role, added_at, added_by FROM staff ORDER BY name")]

    # -- handovers (one-time links to a client's own screen) ---------------------------------------

    def add_handover(self, client_id: str, token_hash: str, expires_at: str, administration_ids: list[int]) -> dict:
        """Store a handover of these in-progress administrations; any earlier live handover of them ends."""
        with self._transaction() as conn:
            marks = ",".join("?" * len(administration_ids))
            conn.execute(
                "UPDATE handovers SET ended_at = ?, ended_reason = 'replaced' WHERE ended_at IS NULL AND id IN"
                f" (SELECT handover_id FROM handover_forms WHERE administration_id IN ({marks}))",
                (now(), *administration_ids),
            )
            new_id = self._insert(
                conn,
                "INSERT INTO handovers (client_id, token_hash, created_at, expires_at, created_by)"
                " VALUES (?, ?, ?, ?, ?)",
                (client_id, token_hash, now(), expires_at, self._actor()),
            )
            conn.executemany(
                "INSERT INTO handover_forms (handover_id, position, administration_id) VALUES (?, ?, ?)",
                [(new_id, n, a) for n, a in enumerate(administration_ids)],
            )
            self._audit(conn, client_id, "handover created", "handover", new_id,
                        new=",".join(str(a) for a in administration_ids))
        return self.get_handover(new_id)

    def _handover(self, where: str, value: Any) -> Optional[dict]:
        row = self._conn.execute(f"SELECT * FROM handovers WHERE {where} = ?", (value,)).fetchone()
        if row is None:
            return None
        handover = dict(row)
        handover["administrations"] = [r[0] for r in self._conn.execute(
            "SELECT administration_id FROM handover_forms WHERE handover_id = ? ORDER BY position", (row["id"],))]
        return handover

    def get_handover(self, handover_id: int) -> dict:
        handover = self._handover("id", handover_id)
        if handover is None:
            raise NotFound(f"no handover {handover_id}")
        return handover

    def handover_by_token(self, token_hash: str) -> Optional[dict]:
        return self._handover("token_hash", token_hash)

    def handover_by_session(self, session_hash: str) -> Optional[dict]:
        return self._handover("session_hash", session_hash)

    def claim_handover(self, handover_id: int, session_hash: str) -> bool:
        """Bind a handover to the browser session that first opened it. False if another already has."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE handovers SET session_hash = ?, claimed_at = ? WHERE id = ? AND session_hash IS NULL"
                " AND ended_at IS NULL",
                (session_hash, now(), handover_id),
            )
            if cur.rowcount:
                client = conn.execute("SELECT client_id FROM handovers WHERE id = ?", (handover_id,)).fetchone()[0]
                self._audit(conn, client, "handover opened", "handover", handover_id)
        return bool(cur.rowcount)

    def set_handover_cursor(self, handover_id: int, cursor: Optional[int]) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE handovers SET cursor = ? WHERE id = ?", (cursor, handover_id))

    def end_handover(self, handover_id: int, reason: str) -> None:
        """End a live handover (finished, expired, replaced, cancelled); an ended one stays as it ended."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE handovers SET ended_at = ?, ended_reason = ?, cursor = NULL WHERE id = ? AND ended_at IS NULL",
                (now(), reason, handover_id),
            )
            if cur.rowcount:
                client = conn.execute("SELECT client_id FROM handovers WHERE id = ?", (handover_id,)).fetchone()[0]
                self._audit(conn, client, "handover ended", "handover", handover_id, new=reason)


SEVERITIES = ("critical", "warning", "info")

# An alert with where it came from: the session number and instrument of the administration that raised it.
EXPORT_SELECT = """
SELECT c.id AS client_id, c.display_name, c.birth_year,
       co.start_date, co.planned_sessions, co.problem_areas, co.protocol, co.end_date, co.end_reason, co.course_type,
       s.id AS session_id, s.number AS session_number, s.date AS session_date, s.phase,
       a.id AS administration_id, a.instrument_id, a.instrument_version, a.respondent, a.status, a.source,
       a.started_at, a.finished_at,
       sc.data AS score_data
FROM administrations a
JOIN sessions s ON s.id = a.session_id
JOIN courses co ON co.id = s.course_id
JOIN clients c ON c.id = co.client_id
LEFT JOIN scores sc ON sc.administration_id = a.id AND sc.current = 1
WHERE a.status = 'complete'
"""


def _export_client_filter(client_ids: Optional[list[str]]) -> tuple[str, list[Any]]:
    if client_ids is None:
        return "", []
    if not client_ids:
        return " AND 1 = 0", []
    return f" AND c.id IN ({','.join('?' * len(client_ids))})", list(client_ids)


_ALERTS_SQL = (
    "SELECT al.id, al.client_id, al.course_id, s.number AS session_number, al.administration_id,"
    " a.instrument_id, al.item_id, al.kind, al.rule, al.severity, al.message, al.raised_at, al.status,"
    " al.acknowledged_at, al.acknowledged_by, al.action, al.note"
    " FROM alerts al LEFT JOIN administrations a ON a.id = al.administration_id"
    " LEFT JOIN sessions s ON s.id = a.session_id"
)


def scored_administrations(conn: Any) -> Iterator[dict]:
    """Every completed administration with its current score (``score``: the JSON, or None when it has none),
    the score's indexed columns the caseload reads (``columns``: total, band, flag_count) and its stored
    answers (``answers``: item id -> value, None when skipped or declined), in id order.

    For ``ipt doctor``, on any connection (a read-only one too). Streams: two ordered cursors merged, so
    memory stays flat on a large record."""
    admins = conn.execute(
        "SELECT a.id, a.instrument_id, a.instrument_version, c.client_id, s.number, sc.data, sc.total, sc.band,"
        " sc.flag_count"
        " FROM administrations a JOIN sessions s ON s.id = a.session_id JOIN courses c ON c.id = s.course_id"
        " LEFT JOIN scores sc ON sc.administration_id = a.id AND sc.current = 1"
        " WHERE a.status = 'complete' ORDER BY a.id"
    )
    # Iterated, never fetchone(): a server-side cursor then reads in batches instead of a row per round trip.
    answers = iter(conn.execute("SELECT administration_id, item_id, value FROM responses ORDER BY administration_id"))
    pending = next(answers, None)
    for admin_id, instrument_id, version, client_id, number, data, total, band, flag_count in admins:
        given: dict[str, Optional[int]] = {}
        while pending is not None and pending[0] < admin_id:
            pending = next(answers, None)
        while pending is not None and pending[0] == admin_id:
            given[pending[1]] = pending[2]
            pending = next(answers, None)
        yield {"id": admin_id, "instrument_id": instrument_id, "instrument_version": version, "client_id": client_id,
               "session_number": number, "score": json.loads(data) if data else None, "answers": given,
               "columns": {"total": total, "band": band, "flag_count": flag_count}}


def _check_response(value: Optional[int], status: str) -> None:
    if status not in ("answered", "skipped", "declined") or (status == "answered") != (value is not None):
        raise UsageError("an answer has a value; a skipped or declined item has none")


# Going back during an administration, and amending after it, both replace an item's one stored response.
_UPSERT_RESPONSE = (
    "INSERT INTO responses (administration_id, item_id, value, status, answered_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (administration_id, item_id) DO UPDATE SET value = excluded.value,"
    " status = excluded.status, answered_at = excluded.answered_at"
)
_INSERT_RESPONSE = "INSERT INTO responses (administration_id, item_id, value, status, answered_at) VALUES (?, ?, ?, ?, ?)"


def _compact_json() -> Any:
    """``json.dumps(value, separators=(",", ":"))`` for a score's dict, the same text at a fraction of the cost: the C
    encoder built once (dumps builds one per call), a dict in ``Score.model_dump``'s layout written around its
    scales' texts, and each scale's text remembered (below). Anything else goes to the encoder whole. Built with a
    check against json.dumps on a sample, and json.dumps itself where the accelerator is missing or differs."""
    from json.encoder import c_make_encoder, encode_basestring_ascii

    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))

    try:  # the arguments JSONEncoder.iterencode passes it (CPython 3.9 to 3.13)
        chunks = c_make_encoder(None, json.JSONEncoder().default, encode_basestring_ascii, None, ":", ",", False,
                                False, True)
        sample = {"total": {"value": 1.5, "band": "mild \u00e9", "note": None, "prorated": False}, "flags": [2]}
        if "".join(chunks(sample, 0)) != dumps(sample):
            return dumps
    except TypeError:  # None (no accelerator), or another signature
        return dumps
    encode = encode_basestring_ascii

    def generic(value: Any) -> str:
        return "".join(chunks(value, 0))

    # A scale's result (total or subscale) is one of few: a scale scores each sum of complete answers the same, so
    # the same dict comes back again and again. Its text is kept under its keys, its values and their exact types
    # (1, 1.0 and True are equal as keys but not as JSON). A value 0.0 is never kept: 0.0 and -0.0 are equal, and
    # their texts are not.
    scales: dict[tuple, str] = {}

    def scale_text(scale: Any) -> str:
        if type(scale) is not dict:
            return generic(scale)
        values = tuple(scale.values())
        types = tuple(map(type, values))
        key = (tuple(scale), values, types)
        try:
            return scales[key]
        except KeyError:
            text = generic(scale)
            if len(scales) < 4096 and not any(t is float and v == 0 for v, t in zip(values, types)):
                scales[key] = text
            return text
        except TypeError:  # an unhashable value (a list): not a scale result as the scorer makes them
            return generic(scale)

    def score_text(score: Any) -> str:
        if type(score) is not dict or tuple(score) != _SCORE_KEYS:
            return generic(score)
        instrument, version, scorer, total, subscales, flags = score.values()
        if type(instrument) is not str or type(version) is not str or type(scorer) is not str or \
                type(subscales) is not list or type(flags) is not list:
            return generic(score)
        return (f'{{"instrument":{encode(instrument)},"instrument_version":{encode(version)},'
                f'"scorer":{encode(scorer)},"total":{scale_text(total)},'
                f'"subscales":[{",".join(map(scale_text, subscales)) if subscales else ""}],'
                f'"flags":{generic(flags) if flags else "[]"}}}')

    sample = {"instrument": "x", "instrument_version": "1", "scorer": "s", "total": sample["total"],
              "subscales": [sample["total"]], "flags": [{"item": "9", "value": 1}]}
    return score_text if score_text(sample) == dumps(sample) else generic


# Score.model_dump()'s keys, in order: the layout _score_json writes without walking the dict.
_SCORE_KEYS = ("instrument", "instrument_version", "scorer", "total", "subscales", "flags")
_score_json = _compact_json()


def _score_columns(score: dict) -> tuple:
    """A score's indexed columns (total, band, band_severity, flag_count, scorer) and its JSON ``data``."""
    total = score["total"]
    return (total["value"], total["band"], total.get("band_severity"), len(score["flags"]), score["scorer"],
            _score_json(score))


def _course(row: Any) -> dict:
    course = dict(row)
    course["problem_areas"] = json.loads(course["problem_areas"])
    return course

