-- A safety flag on the patient: raised by a PHQ-9 check-in with question 9
-- above 0, a "yes" to thoughts of suicide on the pre-session checklist, or
-- a side effect "suicidal thoughts". While one is up (cleared_at empty) the
-- patient's courses take no session, until a clinician records a safety
-- review. At most one is up per patient; each signal that raised it or was
-- added to it is kept. The review's note, the screener's answers and the
-- reason a screener was not done are sealed, bound to the review's uid.
--
-- A hold may now also be opened for signs of mania or hypomania reported
-- as a side effect (reason 'mania'). SQLite cannot change a CHECK, so
-- tms_holds is rebuilt; no table refers to it, so this runs inside the
-- migrator's transaction with foreign keys on.
CREATE TABLE safety_flags (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    raised_at BIGINT NOT NULL,
    -- The urgent case opened in the queue when it was raised.
    case_id INTEGER REFERENCES triage_cases (id),
    cleared_at BIGINT
);
CREATE UNIQUE INDEX safety_flags_up ON safety_flags (patient_id) WHERE cleared_at IS NULL;

CREATE TABLE safety_signals (
    id INTEGER PRIMARY KEY,
    flag_id INTEGER NOT NULL REFERENCES safety_flags (id),
    course_id INTEGER NOT NULL REFERENCES tms_courses (id),
    source TEXT NOT NULL CHECK (source IN ('check-in', 'checklist', 'side-effect')),
    -- When it happened: the check-in's time, or the session's.
    at BIGINT NOT NULL,
    check_in_id INTEGER REFERENCES tms_check_ins (id),
    session_id INTEGER REFERENCES tms_sessions (id),
    case_id INTEGER REFERENCES triage_cases (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX safety_signals_flag ON safety_signals (flag_id);

CREATE TABLE safety_reviews (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    flag_id INTEGER NOT NULL UNIQUE REFERENCES safety_flags (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    reviewed_at BIGINT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('continue', 'pause-course', 'refer-urgent')),
    -- The C-SSRS screener was done (1) or not (0). Its six answers are
    -- clinical detail: sealed together (a JSON object), bound to the uid.
    screener_done INTEGER NOT NULL CHECK (screener_done IN (0, 1)),
    cssrs_sealed BLOB,
    -- Why it was not done (sealed), when it was not.
    not_done_reason BLOB,
    note BLOB NOT NULL,
    reviewed_by INTEGER REFERENCES staff_users (id),
    created_at BIGINT NOT NULL,
    CHECK ((screener_done = 1) = (cssrs_sealed IS NOT NULL)),
    CHECK ((screener_done = 0) = (not_done_reason IS NOT NULL))
);
CREATE INDEX safety_reviews_patient ON safety_reviews (patient_id);

CREATE TABLE tms_holds_new (
    id INTEGER PRIMARY KEY,
    course_id INTEGER NOT NULL REFERENCES tms_courses (id),
    reason TEXT NOT NULL CHECK (reason IN ('checklist', 'adverse-event', 'mania')),
    case_id INTEGER REFERENCES triage_cases (id),
    opened_at BIGINT NOT NULL,
    cleared_at BIGINT,
    cleared_by INTEGER REFERENCES staff_users (id),
    checklist TEXT
);
INSERT INTO tms_holds_new (id, course_id, reason, case_id, opened_at, cleared_at, cleared_by, checklist)
SELECT id, course_id, reason, case_id, opened_at, cleared_at, cleared_by, checklist FROM tms_holds;
DROP TABLE tms_holds;
ALTER TABLE tms_holds_new RENAME TO tms_holds;
CREATE INDEX tms_holds_open ON tms_holds (course_id) WHERE cleared_at IS NULL;
