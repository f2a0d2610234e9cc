-- Before a course's sessions (issue 19, section 3): the physician's order
-- (each change a new version; the latest is the one in force), informed
-- consent, and the pre-TMS safety screen a clinician reviewed and signed.
CREATE TABLE tms_orders (
    id INTEGER PRIMARY KEY,
    course_id INTEGER NOT NULL REFERENCES tms_courses (id),
    version INTEGER NOT NULL CHECK (version >= 1),
    protocol TEXT NOT NULL,
    target TEXT NOT NULL,
    intensity_percent_mt INTEGER NOT NULL CHECK (intensity_percent_mt BETWEEN 1 AND 200),
    pulses INTEGER NOT NULL CHECK (pulses >= 1),
    sessions_per_day INTEGER NOT NULL CHECK (sessions_per_day BETWEEN 1 AND 10),
    min_spacing_minutes INTEGER NOT NULL CHECK (min_spacing_minutes BETWEEN 0 AND 1440),
    planned_sessions INTEGER NOT NULL CHECK (planned_sessions >= 1),
    signed_by INTEGER REFERENCES staff_users (id),
    signed_at BIGINT NOT NULL,
    UNIQUE (course_id, version)
);

CREATE TABLE tms_consents (
    id INTEGER PRIMARY KEY,
    course_id INTEGER NOT NULL REFERENCES tms_courses (id),
    -- YYYY-MM-DD, the clinic's local date.
    consented_on TEXT NOT NULL,
    consent_version TEXT NOT NULL,
    recorded_by INTEGER REFERENCES staff_users (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX tms_consents_course ON tms_consents (course_id);

CREATE TABLE tms_safety_screens (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    course_id INTEGER NOT NULL REFERENCES tms_courses (id),
    -- Each topic's answer (JSON): sealed, bound to the row.
    answers BLOB NOT NULL,
    -- The reviewing clinician's notes: sealed, bound to the row.
    notes BLOB,
    signed_by INTEGER REFERENCES staff_users (id),
    signed_at BIGINT NOT NULL
);
CREATE INDEX tms_safety_screens_course ON tms_safety_screens (course_id);
