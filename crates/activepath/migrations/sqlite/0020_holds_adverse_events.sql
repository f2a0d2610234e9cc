-- Holds that mean something (issue 19 §2).
--
-- Clearing a hold records the clinician's note: free text about the
-- patient, so sealed and bound to the hold's row (tms_holds.clear_note/<id>).
-- Holds cleared before this have none.
ALTER TABLE tms_holds ADD COLUMN clear_note BLOB;

-- How each motor threshold was found (EMG or a visible twitch) and with
-- which device and coil; thresholds recorded before this have none.
ALTER TABLE tms_motor_thresholds ADD COLUMN method TEXT CHECK (method IN ('emg', 'visual'));
ALTER TABLE tms_motor_thresholds ADD COLUMN device TEXT;
ALTER TABLE tms_motor_thresholds ADD COLUMN coil TEXT;

-- A structured record of a seizure, fainting or other serious adverse
-- event: when and how long, what was done (a comma-separated list from a
-- fixed set), the outcome, and when it was reported to the device's maker
-- and to FDA MedWatch. The description is sealed and bound to the row's
-- uid. hold_id is the adverse-event hold it opened or joined.
CREATE TABLE tms_adverse_events (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    course_id INTEGER NOT NULL REFERENCES tms_courses (id),
    session_id INTEGER REFERENCES tms_sessions (id),
    hold_id INTEGER REFERENCES tms_holds (id),
    kind TEXT NOT NULL CHECK (kind IN ('seizure', 'fainting', 'other-serious')),
    onset_at BIGINT NOT NULL,
    duration_s INTEGER CHECK (duration_s >= 0),
    description BLOB NOT NULL,
    actions TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL CHECK (outcome IN ('resolved', 'resolved-with-after-effects', 'ongoing', 'hospitalised', 'other')),
    reported_to_manufacturer_at BIGINT,
    reported_to_medwatch_at BIGINT,
    recorded_by INTEGER REFERENCES staff_users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX tms_adverse_events_course ON tms_adverse_events (course_id, onset_at);
CREATE INDEX tms_adverse_events_onset ON tms_adverse_events (onset_at, id);
