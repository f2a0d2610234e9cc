-- TMS sessions as given, and holds: a course takes no session while a hold
-- is open (a "yes" on the pre-session checklist, or a seizure or other
-- serious event), until a clinician clears it.
CREATE TABLE tms_holds (
    id INTEGER PRIMARY KEY,
    course_id INTEGER NOT NULL REFERENCES tms_courses (id),
    reason TEXT NOT NULL CHECK (reason IN ('checklist', 'adverse-event')),
    case_id INTEGER REFERENCES triage_cases (id),
    opened_at BIGINT NOT NULL,
    cleared_at BIGINT,
    cleared_by INTEGER REFERENCES staff_users (id)
);
CREATE INDEX tms_holds_open ON tms_holds (course_id) WHERE cleared_at IS NULL;

CREATE TABLE tms_sessions (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    course_id INTEGER NOT NULL REFERENCES tms_courses (id),
    started_at BIGINT NOT NULL,
    motor_threshold_id INTEGER NOT NULL REFERENCES tms_motor_thresholds (id),
    intensity_percent_mt INTEGER NOT NULL CHECK (intensity_percent_mt BETWEEN 1 AND 200),
    pulses INTEGER NOT NULL CHECK (pulses >= 0),
    -- Side effects from a fixed list, comma-separated; empty for none.
    side_effects TEXT NOT NULL DEFAULT '',
    recorded_by INTEGER REFERENCES staff_users (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX tms_sessions_course ON tms_sessions (course_id, started_at);
