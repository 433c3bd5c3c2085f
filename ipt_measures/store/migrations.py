"""Append-only schema migrations. Never edit a released migration: add a new one at the end.

Each migration runs in its own transaction together with the row that records it in ``schema_migrations``,
so a crash leaves the schema either before or after it, never half-way.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_initial",
        """
        CREATE TABLE clients (
            id            TEXT PRIMARY KEY,            -- pseudonymous id chosen by the clinic
            display_name  TEXT,                        -- optional, never exported unless asked
            birth_year    INTEGER CHECK (birth_year IS NULL OR birth_year BETWEEN 1900 AND 2100),
            created_at    TEXT NOT NULL
        );

        CREATE TABLE courses (
            id                INTEGER PRIMARY KEY,
            client_id         TEXT NOT NULL REFERENCES clients(id),
            start_date        TEXT NOT NULL,           -- ISO date
            planned_sessions  INTEGER NOT NULL CHECK (planned_sessions BETWEEN 12 AND 16),
            problem_areas     TEXT NOT NULL,           -- JSON list: grief, role-disputes, role-transitions, interpersonal-deficits
            protocol          TEXT,
            end_date          TEXT,
            end_reason        TEXT,
            created_at        TEXT NOT NULL
        );
        CREATE INDEX courses_client ON courses(client_id);

        CREATE TABLE sessions (
            id          INTEGER PRIMARY KEY,
            course_id   INTEGER NOT NULL REFERENCES courses(id),
            number      INTEGER NOT NULL CHECK (number >= 1),
            date        TEXT NOT NULL,
            phase       TEXT NOT NULL CHECK (phase IN ('initial', 'middle', 'termination')),
            created_at  TEXT NOT NULL,
            UNIQUE (course_id, number)
        );

        CREATE TABLE administrations (
            id                  INTEGER PRIMARY KEY,
            session_id          INTEGER NOT NULL REFERENCES sessions(id),
            instrument_id       TEXT NOT NULL,
            instrument_version  TEXT NOT NULL,
            respondent          TEXT NOT NULL,        -- self-report, clinician-rated
            status              TEXT NOT NULL CHECK (status IN ('in-progress', 'complete', 'abandoned')),
            source              TEXT NOT NULL DEFAULT 'interactive',  -- interactive, answers, file, import
            started_at          TEXT NOT NULL,
            finished_at         TEXT,
            import_key          TEXT UNIQUE           -- makes a re-run import skip what it already stored
        );
        CREATE INDEX administrations_session ON administrations(session_id);
        CREATE INDEX administrations_status ON administrations(status);

        -- One row per item as given. A correction never overwrites silently: it goes through an amendment,
        -- which records the old and the new value; the row then holds the current value.
        CREATE TABLE responses (
            administration_id  INTEGER NOT NULL REFERENCES administrations(id),
            item_id            TEXT NOT NULL,
            value              INTEGER,
            status             TEXT NOT NULL CHECK (status IN ('answered', 'skipped', 'declined')),
            answered_at        TEXT NOT NULL,
            PRIMARY KEY (administration_id, item_id),
            CHECK ((status = 'answered') = (value IS NOT NULL))
        );

        -- Scores are appended; a recomputed score supersedes the old one, which stays for the audit trail.
        CREATE TABLE scores (
            id                 INTEGER PRIMARY KEY,
            administration_id  INTEGER NOT NULL REFERENCES administrations(id),
            current            INTEGER NOT NULL DEFAULT 1 CHECK (current IN (0, 1)),
            total              REAL,
            band               TEXT,
            band_severity      INTEGER,
            flag_count         INTEGER NOT NULL DEFAULT 0,
            scorer             TEXT NOT NULL,
            data               TEXT NOT NULL,         -- the full Score as JSON (subscales, flags, notes)
            computed_at        TEXT NOT NULL
        );
        CREATE INDEX scores_administration ON scores(administration_id, current);

        -- Every change to the record: who, when, what, why; amendments carry the old and new value.
        CREATE TABLE audit (
            id          INTEGER PRIMARY KEY,
            at          TEXT NOT NULL,
            actor       TEXT NOT NULL,
            client_id   TEXT,
            action      TEXT NOT NULL,
            entity      TEXT,
            entity_id   TEXT,
            field       TEXT,
            old_value   TEXT,
            new_value   TEXT,
            reason      TEXT
        );
        CREATE INDEX audit_client ON audit(client_id, id);
        """,
    ),
    (
        "0002_active_courses_index",
        """
        -- The active courses (no end date yet): what `ipt caseload` starts from. A partial index holds
        -- only those rows, so the caseload reads the few active courses, then their sessions and
        -- administrations through the existing indexes, instead of scanning every course ever held.
        CREATE INDEX courses_active ON courses(client_id) WHERE end_date IS NULL;
        """,
    ),
    (
        "0003_alerts",
        """
        -- Alerts are stored facts (issue 10): raised in the same transaction as the answer or score that
        -- raised them, open until a clinician acknowledges them (who, when, what was done), never deleted.
        CREATE TABLE alerts (
            id                 INTEGER PRIMARY KEY,
            client_id          TEXT NOT NULL REFERENCES clients(id),
            course_id          INTEGER REFERENCES courses(id),
            administration_id  INTEGER REFERENCES administrations(id),
            item_id            TEXT,
            kind               TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
            rule               TEXT,                 -- which rule: the critical rule's kind, the alert rule's id
            severity           TEXT NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
            message            TEXT NOT NULL CHECK (length(message) >= 1),
            raised_at          TEXT NOT NULL,
            status             TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged')),
            acknowledged_at    TEXT,
            acknowledged_by    TEXT,
            action             TEXT,
            note               TEXT,
            CHECK ((status = 'acknowledged') = (acknowledged_at IS NOT NULL AND acknowledged_by IS NOT NULL
                                                AND action IS NOT NULL))
        );
        CREATE INDEX alerts_client ON alerts(client_id, status);
        CREATE INDEX alerts_open ON alerts(status, severity) WHERE status = 'open';
        -- One open alert per administration, item and kind: an answer stored mid-administration and the
        -- completion that follows raise it once.
        CREATE UNIQUE INDEX alerts_one_open ON alerts(administration_id, coalesce(item_id, ''), kind, coalesce(rule, ''))
            WHERE status = 'open' AND administration_id IS NOT NULL;
        -- The critical items already on current scores of active courses become open alerts, so a record
        -- kept before alerts were stored keeps them in front of the clinician until acknowledged.
        INSERT INTO alerts (client_id, course_id, administration_id, item_id, kind, rule, severity, message, raised_at)
        SELECT c.client_id, c.id, a.id, json_extract(f.value, '$.item'), 'critical-item', min(json_extract(f.value, '$.kind')),
               'critical',
               min(json_extract(f.value, '$.message') || ' (item ' || json_extract(f.value, '$.item') || ': '
                   || json_extract(f.value, '$.answer') || ')'),
               coalesce(a.finished_at, sc.computed_at)
        FROM scores sc JOIN administrations a ON a.id = sc.administration_id
        JOIN sessions s ON s.id = a.session_id JOIN courses c ON c.id = s.course_id,
        json_each(sc.data, '$.flags') f
        WHERE sc.current = 1 AND a.status = 'complete' AND c.end_date IS NULL
        GROUP BY a.id, json_extract(f.value, '$.item');  -- one per item, whatever its rules
        CREATE TRIGGER alerts_never_deleted BEFORE DELETE ON alerts
        BEGIN
            SELECT RAISE(ABORT, 'alerts are never deleted: acknowledge them');
        END;
        CREATE TRIGGER alerts_acknowledged_once BEFORE UPDATE ON alerts
        WHEN OLD.status = 'acknowledged' OR NEW.status != 'acknowledged'
            OR NEW.client_id IS NOT OLD.client_id OR NEW.kind IS NOT OLD.kind OR NEW.message IS NOT OLD.message
            OR NEW.administration_id IS NOT OLD.administration_id OR NEW.item_id IS NOT OLD.item_id
            OR NEW.rule IS NOT OLD.rule
            OR NEW.severity IS NOT OLD.severity OR NEW.raised_at IS NOT OLD.raised_at
        BEGIN
            SELECT RAISE(ABORT, 'an alert is acknowledged once, and nothing else about it changes');
        END;

        -- The stored score always matches the stored answers (issue 10 part 3). A second completion is
        -- impossible, not just checked: an administration leaves 'in-progress' once, and has at most one
        -- current score. (Earlier versions superseded a score in the same transaction that added the new
        -- one, so no database holds two current scores; the UPDATE below makes sure before the index.)
        UPDATE scores SET current = 0 WHERE current = 1 AND id NOT IN
            (SELECT max(id) FROM scores WHERE current = 1 GROUP BY administration_id);
        CREATE UNIQUE INDEX scores_one_current ON scores(administration_id) WHERE current = 1;
        CREATE TRIGGER administrations_finish_once BEFORE UPDATE OF status ON administrations
        WHEN OLD.status != 'in-progress'
        BEGIN
            SELECT RAISE(ABORT, 'administration already finished');
        END;
        """,
    ),
    (
        "0005_audit_declared_actor",
        """
        -- The audit's actor is the operating-system login (getpass.getuser()), which the user does not choose;
        -- a name given with --by (or $IPT_USER) is kept beside it, never instead of it. Rows written before
        -- this migration keep their actor (then whatever --by, $IPT_USER or $USER said) and no declared name.
        ALTER TABLE audit ADD COLUMN declared_actor TEXT;
        """,
    ),
    (
        "0008_open_administrations_index",
        """
        -- Nearly every administration is complete, so an index on status alone narrows nothing, yet without
        -- statistics SQLite starts from it: exporting one client read every completed administration of the
        -- record (71 ms on 10,000 clients, 7 ms on 1,000). Only the rare open administrations are worth an
        -- index (a client's unfinished measures, the doctor's count); every other query now starts from the
        -- client, course or session it names.
        DROP INDEX administrations_status;
        CREATE INDEX administrations_in_progress ON administrations(session_id) WHERE status = 'in-progress';
        """,
    ),
    (
        "0009_handovers",
        """
        -- A one-time link that hands a client's forms to their own screen (`ipt handover`, `ipt serve`).
        -- Only the SHA-256 of the token is kept (the token itself is shown once, on the clinician's screen),
        -- and likewise only the hash of the browser session the token is exchanged for. A handover ends when
        -- its forms are finished, when it expires, or when a new handover of the same forms replaces it.
        CREATE TABLE handovers (
            id            INTEGER PRIMARY KEY,
            client_id     TEXT NOT NULL REFERENCES clients(id),
            token_hash    TEXT NOT NULL UNIQUE,
            session_hash  TEXT UNIQUE,                 -- set once, when the link is first opened
            created_at    TEXT NOT NULL,
            expires_at    TEXT NOT NULL,
            claimed_at    TEXT,
            cursor        INTEGER,                     -- item index after Back; NULL: the first unanswered
            ended_at      TEXT,
            ended_reason  TEXT CHECK (ended_reason IN ('finished', 'expired', 'replaced', 'cancelled')),
            created_by    TEXT NOT NULL
        );
        -- The administrations a handover may touch, in the order they are given; nothing else.
        CREATE TABLE handover_forms (
            handover_id        INTEGER NOT NULL REFERENCES handovers(id),
            position           INTEGER NOT NULL,
            administration_id  INTEGER NOT NULL REFERENCES administrations(id),
            PRIMARY KEY (handover_id, position)
        );
        CREATE INDEX handover_forms_administration ON handover_forms(administration_id);
        """,
    ),
    (
        "0010_ipt_record",
        """
        -- IPT itself in the record (issue 14). Courses gain a type (standard, brief, maintenance: their
        -- lengths and phase rules live in ipt_measures/domain.py, and the services check them); the 12-16
        -- CHECK of 0001 would refuse an 8-session IPT-B course, and SQLite cannot drop a CHECK, so the table
        -- is rebuilt (SQLite's documented procedure; the runner turns foreign keys off around a migration and
        -- checks them before it commits).
        CREATE TABLE courses_0010 (
            id                INTEGER PRIMARY KEY,
            client_id         TEXT NOT NULL REFERENCES clients(id),
            start_date        TEXT NOT NULL,
            planned_sessions  INTEGER NOT NULL CHECK (planned_sessions BETWEEN 1 AND 100),
            problem_areas     TEXT NOT NULL,
            protocol          TEXT,
            end_date          TEXT,
            end_reason        TEXT,
            created_at        TEXT NOT NULL,
            course_type       TEXT NOT NULL DEFAULT 'standard'
        );
        INSERT INTO courses_0010 (id, client_id, start_date, planned_sessions, problem_areas, protocol, end_date,
                                  end_reason, created_at)
            SELECT id, client_id, start_date, planned_sessions, problem_areas, protocol, end_date, end_reason,
                   created_at FROM courses;
        DROP TABLE courses;
        ALTER TABLE courses_0010 RENAME TO courses;
        CREATE INDEX courses_client ON courses(client_id);
        CREATE INDEX courses_active ON courses(client_id) WHERE end_date IS NULL;

        -- The interpersonal inventory: the client's key relationships in a course, each under a pseudonymous
        -- label the clinician chooses ("partner", "colleague A"; never a name), and their ratings. Ratings
        -- are only ever added (start of the course, end, and whenever the clinician re-rates): never updated.
        CREATE TABLE relationships (
            id                 INTEGER PRIMARY KEY,
            course_id          INTEGER NOT NULL REFERENCES courses(id),
            label              TEXT NOT NULL,
            relationship_type  TEXT NOT NULL,
            created_at         TEXT NOT NULL,
            UNIQUE (course_id, label)
        );
        CREATE TABLE relationship_ratings (
            id               INTEGER PRIMARY KEY,
            relationship_id  INTEGER NOT NULL REFERENCES relationships(id),
            rated_on         TEXT NOT NULL,            -- ISO date
            session_number   INTEGER,                  -- the session it was rated in, if one was started
            closeness        TEXT NOT NULL CHECK (closeness IN ('inner', 'middle', 'outer')),
            support          INTEGER NOT NULL CHECK (support BETWEEN 0 AND 4),
            conflict         INTEGER NOT NULL CHECK (conflict BETWEEN 0 AND 4),
            contact          TEXT NOT NULL,
            wanted_change    TEXT,                     -- the change the client wants, in the record only
            created_at       TEXT NOT NULL
        );
        CREATE INDEX relationship_ratings_relationship ON relationship_ratings(relationship_id, id);

        -- Goals agreed for the problem area: up to three per course, rated each session as administrations
        -- of the goals measure (item N = goal N). The text is the client's own: never de-identified out.
        CREATE TABLE goals (
            id            INTEGER PRIMARY KEY,
            course_id     INTEGER NOT NULL REFERENCES courses(id),
            number        INTEGER NOT NULL CHECK (number BETWEEN 1 AND 3),
            text          TEXT NOT NULL,
            problem_area  TEXT NOT NULL,
            created_at    TEXT NOT NULL,
            UNIQUE (course_id, number)
        );

        -- The clinician's end-of-treatment summary: warning signs and plan, free text kept in the record
        -- (changes are audited with the old and new text; never in a de-identified export).
        CREATE TABLE course_summaries (
            course_id      INTEGER PRIMARY KEY REFERENCES courses(id),
            warning_signs  TEXT,
            plan           TEXT,
            updated_at     TEXT NOT NULL
        );
        """,
    ),
    (
        "0011_clinicians",
        """
        -- Who a client and a course belong to (issue 12, part 3). On PostgreSQL the server enforces it
        -- (row-level security, migrations_postgres.py); on SQLite, a solo record with no server, it is what
        -- `ipt clients show` and `ipt caseload` print. Existing rows get who the audit says added them (the
        -- login that ran `clients add` / `course start`), else 'unassigned': never left empty.
        ALTER TABLE clients ADD COLUMN clinician TEXT;
        ALTER TABLE courses ADD COLUMN clinician TEXT;
        UPDATE clients SET clinician = coalesce(
            (SELECT a.actor FROM audit a WHERE a.client_id = clients.id AND a.action = 'client added'
             ORDER BY a.id LIMIT 1), 'unassigned');
        UPDATE courses SET clinician = coalesce(
            (SELECT a.actor FROM audit a WHERE a.client_id = courses.client_id AND a.action = 'course started'
             AND a.entity = 'course' AND a.entity_id = CAST(courses.id AS TEXT) ORDER BY a.id LIMIT 1),
            (SELECT c.clinician FROM clients c WHERE c.id = courses.client_id), 'unassigned');
        CREATE INDEX clients_clinician ON clients(clinician);
        CREATE INDEX courses_clinician ON courses(clinician);

        -- The clinic's staff, as `ipt staff add` records them (on PostgreSQL each is also a login role).
        CREATE TABLE staff (
            name      TEXT PRIMARY KEY,
            role      TEXT NOT NULL CHECK (role IN ('clinician', 'supervisor', 'admin', 'researcher')),
            added_at  TEXT NOT NULL,
            added_by  TEXT NOT NULL
        );
        """,
    ),
]
