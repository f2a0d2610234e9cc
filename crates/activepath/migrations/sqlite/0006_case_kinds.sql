-- The triage queue holds more than shared self-assessments: messages to the
-- clinic, requests to be called back, and new bookings. A case now has a
-- kind; only an assessment case has a result, and a booking case names its
-- appointment.
--
-- SQLite cannot drop NOT NULL from a column, so the table is rebuilt by the
-- documented procedure (https://sqlite.org/lang_altertable.html, "Making
-- Other Kinds Of Table Schema Changes"): foreign keys off, one transaction,
-- copy, swap, re-create the indexes, check every reference, foreign keys
-- on. This migration therefore runs outside the migrator's transaction.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE triage_cases_new (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'assessment'
        CHECK (kind IN ('assessment', 'message', 'callback', 'booking')),
    result_id INTEGER UNIQUE REFERENCES assessment_results (id) ON DELETE RESTRICT,
    appointment_id INTEGER REFERENCES appointments (id),
    priority TEXT NOT NULL CHECK (priority IN ('urgent', 'routine')),
    status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'in_progress', 'closed')),
    -- Encrypted JSON of the person's contact details and message.
    contact BLOB NOT NULL,
    -- Which consent wording the person agreed to.
    consent_version TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    uid TEXT NOT NULL DEFAULT '',
    assigned_to INTEGER REFERENCES staff_users (id),
    version INTEGER NOT NULL DEFAULT 1,
    closed_reason TEXT,
    updated_at BIGINT,
    patient_id INTEGER REFERENCES patients (id),
    CHECK ((kind = 'assessment') = (result_id IS NOT NULL)),
    CHECK ((kind = 'booking') = (appointment_id IS NOT NULL))
);

INSERT INTO triage_cases_new (id, kind, result_id, priority, status, contact, consent_version,
    created_at, uid, assigned_to, version, closed_reason, updated_at, patient_id)
SELECT id, 'assessment', result_id, priority, status, contact, consent_version,
    created_at, uid, assigned_to, version, closed_reason, updated_at, patient_id
FROM triage_cases;

DROP TABLE triage_cases;
ALTER TABLE triage_cases_new RENAME TO triage_cases;

CREATE INDEX triage_cases_queue ON triage_cases (status, priority, created_at);
CREATE UNIQUE INDEX triage_cases_uid ON triage_cases (uid);
CREATE INDEX triage_cases_patient_id ON triage_cases (patient_id);
CREATE INDEX triage_cases_open ON triage_cases (priority DESC, created_at, id) WHERE status <> 'closed';
CREATE INDEX triage_cases_appointment_id ON triage_cases (appointment_id);

COMMIT;
PRAGMA foreign_keys = ON;
