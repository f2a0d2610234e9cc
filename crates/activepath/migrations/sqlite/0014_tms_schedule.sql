-- A TMS course's sessions booked on the chair: each is an appointment of
-- the booking engine (so the no-overlap guarantee holds for them too),
-- linked here to its course. A missed session is marked; the make-up that
-- replaces it names it.
CREATE TABLE tms_course_appointments (
    appointment_id INTEGER PRIMARY KEY REFERENCES appointments (id),
    course_id INTEGER NOT NULL REFERENCES tms_courses (id),
    missed_at BIGINT,
    makeup_of INTEGER REFERENCES appointments (id)
);
CREATE INDEX tms_course_appointments_course ON tms_course_appointments (course_id);
