-- PHQ-9 check-ins during a TMS course, and a new kind of triage case: a
-- course's urgent matter (a check-in with question 9 above 0). The answers
-- are sealed and bound to the row; the total and the question-9 flag are
-- kept beside them, as for self-assessment results, so that the course's
-- progress and the queue can be read without opening every answer.
--
-- The triage_cases CHECK on kind changes, which SQLite can only do by
-- rebuilding the table (the procedure of migration 6): foreign keys off,
-- one transaction, copy, swap, indexes, foreign keys on. This migration
-- runs outside the migrator's transaction.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE triage_cases_new (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'assessment'
        CHECK (kind IN ('assessment', 'message', 'callback', 'booking', 'course')),
    result_id INTEGER UNIQUE REFERENCES assessment_results (id) ON DELETE RESTRICT,
    appointment_id INTEGER REFERENCES appointments (id),
    priority TEXT NOT NULL CHECK (priority IN ('urgent', 'routine')),
    status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'in_progress', 'closed')),
    contact BLOB NOT NULL,
    consent_version TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    uid TEXT NOT NULL DEFAULT '',
    assigned_to INTEGER REFERENCES staff_users (id),
    version INTEGER NOT NULL DEFAULT 1,
    closed_reason TEXT,
    updated_at BIGINT,
    patient_id INTEGER REFERENCES patients (id),
    course_id INTEGER REFERENCES tms_courses (id),
    CHECK ((kind = 'assessment') = (result_id IS NOT NULL)),
    CHECK ((kind = 'booking') = (appointment_id IS NOT NULL)),
    CHECK ((kind = 'course') = (course_id IS NOT NULL))
);

INSERT INTO triage_cases_new (id, kind, result_id, appointment_id, priority, status, contact,
    consent_version, created_at, uid, assigned_to, version, closed_reason, updated_at, patient_id)
SELECT id, kind, result_id, appointment_id, priority, status, contact,
    consent_version, created_at, uid, assigned_to, version, closed_reason, updated_at, patient_id
FROM triage_cases;

DROP TABLE triage_cases;
ALTER TABLE triage_cases_new RENAME TO triage_cases;

CREATE INDEX triage_cases_queue ON triage_cases (status, priority, created_at);
CREATE UNIQUE INDEX triage_cases_uid ON triage_cases (uid);
CREATE INDEX triage_cases_patient_id ON triage_cases (patient_id);
CREATE INDEX triage_cases_open ON triage_cases (priority DESC, created_at, id) WHERE status <> 'closed';
CREATE INDEX triage_cases_appointment_id ON triage_cases (appointment_id);
CREATE INDEX triage_cases_course_id ON triage_cases (course_id);

CREATE TABLE tms_check_ins (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    course_id INTEGER NOT NULL REFERENCES tms_courses (id),
    instrument TEXT NOT NULL CHECK (instrument IN ('phq9')),
    taken_at BIGINT NOT NULL,
    total INTEGER NOT NULL CHECK (total BETWEEN 0 AND 27),
    self_harm_flag INTEGER NOT NULL CHECK (self_harm_flag IN (0, 1)),
    answers BLOB NOT NULL,
    case_id INTEGER REFERENCES triage_cases (id),
    recorded_by INTEGER REFERENCES staff_users (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX tms_check_ins_course ON tms_check_ins (course_id, taken_at);

COMMIT;
PRAGMA foreign_keys = ON;
