-- Why a course stopped early, from a fixed list (reportable, and no free
-- text about the patient in the clear).
ALTER TABLE tms_courses ADD COLUMN stop_reason TEXT
    CHECK (stop_reason IN ('patient-choice', 'side-effects', 'adverse-event', 'no-response', 'coverage', 'other'));
