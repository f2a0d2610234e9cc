-- The triage queue holds more than shared self-assessments: messages to the
-- clinic, requests to be called back, and new bookings. A case now has a
-- kind; only an assessment case has a result, and a booking case names its
-- appointment.
ALTER TABLE triage_cases ADD COLUMN kind TEXT NOT NULL DEFAULT 'assessment'
    CHECK (kind IN ('assessment', 'message', 'callback', 'booking'));
ALTER TABLE triage_cases ALTER COLUMN result_id DROP NOT NULL;
ALTER TABLE triage_cases ADD COLUMN appointment_id BIGINT REFERENCES appointments (id);
ALTER TABLE triage_cases ADD CONSTRAINT triage_cases_kind_result
    CHECK ((kind = 'assessment') = (result_id IS NOT NULL));
ALTER TABLE triage_cases ADD CONSTRAINT triage_cases_kind_appointment
    CHECK ((kind = 'booking') = (appointment_id IS NOT NULL));
CREATE INDEX triage_cases_appointment_id ON triage_cases (appointment_id);
