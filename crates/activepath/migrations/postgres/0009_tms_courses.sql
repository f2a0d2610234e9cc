-- TMS treatment courses, first part: a course's plan for a patient, and
-- the motor thresholds determined for it (a session needs one; sessions,
-- check-ins and authorizations come in later migrations).
CREATE TABLE tms_courses (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    protocol TEXT NOT NULL,
    planned_sessions BIGINT NOT NULL CHECK (planned_sessions BETWEEN 1 AND 200),
    start_date TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('planned', 'active', 'paused', 'completed', 'stopped')),
    created_by BIGINT REFERENCES staff_users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX tms_courses_patient ON tms_courses (patient_id);

CREATE TABLE tms_motor_thresholds (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    course_id BIGINT NOT NULL REFERENCES tms_courses (id),
    determined_at BIGINT NOT NULL,
    percent_output BIGINT NOT NULL CHECK (percent_output BETWEEN 1 AND 100),
    recorded_by BIGINT REFERENCES staff_users (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX tms_motor_thresholds_course ON tms_motor_thresholds (course_id, determined_at);
