-- TMS courses, third part: the course's target, each session's parameters,
-- the checklist answers behind a hold, insurance authorizations, and
-- single-use links by which a patient answers a check-in (e-mailed, or on
-- the clinic's tablet).
ALTER TABLE tms_courses ADD COLUMN target TEXT;
ALTER TABLE tms_courses ADD COLUMN localization TEXT;

ALTER TABLE tms_sessions ADD COLUMN device TEXT;
ALTER TABLE tms_sessions ADD COLUMN coil TEXT;
ALTER TABLE tms_sessions ADD COLUMN trains INTEGER CHECK (trains >= 0);
-- Tenths of a second (an intertrain interval of 11 s is 110).
ALTER TABLE tms_sessions ADD COLUMN intertrain_interval_ds INTEGER CHECK (intertrain_interval_ds >= 0);
ALTER TABLE tms_sessions ADD COLUMN duration_s INTEGER CHECK (duration_s >= 0);
-- Protocol deviations, free text about the treatment: sealed, bound to the row.
ALTER TABLE tms_sessions ADD COLUMN deviations BLOB;
ALTER TABLE tms_sessions ADD COLUMN operator TEXT;

-- The checklist questions answered "yes", comma-separated (checklist holds).
ALTER TABLE tms_holds ADD COLUMN checklist TEXT;

-- Who answered a check-in: staff entering it, or the patient by link.
ALTER TABLE tms_check_ins ADD COLUMN source TEXT NOT NULL DEFAULT 'staff'
    CHECK (source IN ('staff', 'link', 'kiosk'));

CREATE TABLE tms_authorizations (
    id INTEGER PRIMARY KEY,
    course_id INTEGER NOT NULL REFERENCES tms_courses (id),
    payer TEXT NOT NULL,
    -- The payer's authorization number: sealed, bound to the row.
    number BLOB NOT NULL,
    uid TEXT NOT NULL UNIQUE,
    sessions_authorized INTEGER NOT NULL CHECK (sessions_authorized BETWEEN 1 AND 200),
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL,
    -- An extension names the authorization it extends.
    extends_id INTEGER REFERENCES tms_authorizations (id),
    created_by INTEGER REFERENCES staff_users (id),
    created_at BIGINT NOT NULL,
    CHECK (valid_from <= valid_to)
);
CREATE INDEX tms_authorizations_course ON tms_authorizations (course_id);

-- Only a hash of the token is kept; the link works once, until it expires.
CREATE TABLE tms_check_in_links (
    id INTEGER PRIMARY KEY,
    course_id INTEGER NOT NULL REFERENCES tms_courses (id),
    token_hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('link', 'kiosk')),
    created_by INTEGER REFERENCES staff_users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX tms_check_in_links_course ON tms_check_in_links (course_id);
