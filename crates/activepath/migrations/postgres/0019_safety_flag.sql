-- A safety flag on the patient: raised by a PHQ-9 check-in with question 9
-- above 0, a "yes" to thoughts of suicide on the pre-session checklist, or
-- a side effect "suicidal thoughts". While one is up (cleared_at empty) the
-- patient's courses take no session, until a clinician records a safety
-- review. At most one is up per patient; each signal that raised it or was
-- added to it is kept. The review's note, the screener's answers and the
-- reason a screener was not done are sealed, bound to the review's uid.
--
-- A hold may now also be opened for signs of mania or hypomania reported
-- as a side effect (reason 'mania').
CREATE TABLE safety_flags (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    raised_at BIGINT NOT NULL,
    -- The urgent case opened in the queue when it was raised.
    case_id BIGINT REFERENCES triage_cases (id),
    cleared_at BIGINT
);
CREATE UNIQUE INDEX safety_flags_up ON safety_flags (patient_id) WHERE cleared_at IS NULL;

CREATE TABLE safety_signals (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flag_id BIGINT NOT NULL REFERENCES safety_flags (id),
    course_id BIGINT NOT NULL REFERENCES tms_courses (id),
    source TEXT NOT NULL CHECK (source IN ('check-in', 'checklist', 'side-effect')),
    -- When it happened: the check-in's time, or the session's.
    at BIGINT NOT NULL,
    check_in_id BIGINT REFERENCES tms_check_ins (id),
    session_id BIGINT REFERENCES tms_sessions (id),
    case_id BIGINT REFERENCES triage_cases (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX safety_signals_flag ON safety_signals (flag_id);

CREATE TABLE safety_reviews (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    flag_id BIGINT NOT NULL UNIQUE REFERENCES safety_flags (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    reviewed_at BIGINT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('continue', 'pause-course', 'refer-urgent')),
    -- The C-SSRS screener was done (1) or not (0). Its six answers are
    -- clinical detail: sealed together (a JSON object), bound to the uid.
    screener_done BIGINT NOT NULL CHECK (screener_done IN (0, 1)),
    cssrs_sealed BYTEA,
    -- Why it was not done (sealed), when it was not.
    not_done_reason BYTEA,
    note BYTEA NOT NULL,
    reviewed_by BIGINT REFERENCES staff_users (id),
    created_at BIGINT NOT NULL,
    CHECK ((screener_done = 1) = (cssrs_sealed IS NOT NULL)),
    CHECK ((screener_done = 0) = (not_done_reason IS NOT NULL))
);
CREATE INDEX safety_reviews_patient ON safety_reviews (patient_id);

ALTER TABLE tms_holds DROP CONSTRAINT tms_holds_reason_check;
ALTER TABLE tms_holds ADD CONSTRAINT tms_holds_reason_check
    CHECK (reason IN ('checklist', 'adverse-event', 'mania'));
