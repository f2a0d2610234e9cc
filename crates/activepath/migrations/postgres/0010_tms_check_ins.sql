-- PHQ-9 check-ins during a TMS course, and a new kind of triage case: a
-- course's urgent matter (a check-in with question 9 above 0). The answers
-- are sealed and bound to the row; the total and the question-9 flag are
-- kept beside them, as for self-assessment results, so that the course's
-- progress and the queue can be read without opening every answer.
ALTER TABLE triage_cases DROP CONSTRAINT triage_cases_kind_check;
ALTER TABLE triage_cases ADD CONSTRAINT triage_cases_kind_check
    CHECK (kind IN ('assessment', 'message', 'callback', 'booking', 'course'));
ALTER TABLE triage_cases ADD COLUMN course_id BIGINT REFERENCES tms_courses (id);
ALTER TABLE triage_cases ADD CONSTRAINT triage_cases_kind_course
    CHECK ((kind = 'course') = (course_id IS NOT NULL));
CREATE INDEX triage_cases_course_id ON triage_cases (course_id);

CREATE TABLE tms_check_ins (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    course_id BIGINT NOT NULL REFERENCES tms_courses (id),
    instrument TEXT NOT NULL CHECK (instrument IN ('phq9')),
    taken_at BIGINT NOT NULL,
    total BIGINT NOT NULL CHECK (total BETWEEN 0 AND 27),
    self_harm_flag BIGINT NOT NULL CHECK (self_harm_flag IN (0, 1)),
    answers BYTEA NOT NULL,
    case_id BIGINT REFERENCES triage_cases (id),
    recorded_by BIGINT REFERENCES staff_users (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX tms_check_ins_course ON tms_check_ins (course_id, taken_at);
