-- Booking: where (locations), who and what (resources), which appointments
-- (types), when (weekly hours and exceptions), and the appointments made.
-- Times of day are minutes after local midnight in the location's zone;
-- instants are UTC milliseconds.

-- Lets one exclusion constraint compare resource ids (=) and time ranges (&&).
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE booking_locations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    map_url TEXT NOT NULL DEFAULT '',
    -- IANA time zone name, checked by the application.
    time_zone TEXT NOT NULL,
    position BIGINT NOT NULL DEFAULT 0,
    active BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

CREATE TABLE booking_resources (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('clinician', 'room', 'tms_chair')),
    active BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

CREATE TABLE booking_types (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    duration_minutes BIGINT NOT NULL CHECK (duration_minutes BETWEEN 5 AND 720),
    buffer_before_minutes BIGINT NOT NULL DEFAULT 0 CHECK (buffer_before_minutes BETWEEN 0 AND 240),
    buffer_after_minutes BIGINT NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 240),
    step_minutes BIGINT NOT NULL DEFAULT 30 CHECK (step_minutes BETWEEN 5 AND 240),
    min_notice_minutes BIGINT NOT NULL DEFAULT 0 CHECK (min_notice_minutes >= 0),
    horizon_days BIGINT NOT NULL DEFAULT 60 CHECK (horizon_days BETWEEN 0 AND 730),
    -- Whether visitors may book it themselves (else staff only).
    public_booking BIGINT NOT NULL DEFAULT 0 CHECK (public_booking IN (0, 1)),
    position BIGINT NOT NULL DEFAULT 0,
    active BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

-- An appointment of a type takes one resource of each kind listed.
CREATE TABLE booking_type_needs (
    type_id BIGINT NOT NULL REFERENCES booking_types (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('clinician', 'room', 'tms_chair')),
    PRIMARY KEY (type_id, kind)
);

-- A resource's regular hours at a location, per ISO weekday (1 = Monday).
CREATE TABLE booking_hours (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource_id BIGINT NOT NULL REFERENCES booking_resources (id) ON DELETE CASCADE,
    location_id BIGINT NOT NULL REFERENCES booking_locations (id) ON DELETE CASCADE,
    weekday BIGINT NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    start_minute BIGINT NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute BIGINT NOT NULL CHECK (end_minute BETWEEN 1 AND 1440),
    CHECK (start_minute < end_minute)
);

CREATE INDEX booking_hours_location ON booking_hours (location_id, resource_id);

-- Holidays and time off ('closed'), or one-off extra hours ('open'), on a
-- date. No resource: the whole location. No minutes: the whole day.
CREATE TABLE booking_exceptions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    location_id BIGINT NOT NULL REFERENCES booking_locations (id) ON DELETE CASCADE,
    resource_id BIGINT REFERENCES booking_resources (id) ON DELETE CASCADE,
    -- YYYY-MM-DD in the location's calendar.
    day TEXT NOT NULL,
    start_minute BIGINT CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute BIGINT CHECK (end_minute BETWEEN 1 AND 1440),
    kind TEXT NOT NULL CHECK (kind IN ('closed', 'open')),
    note TEXT NOT NULL DEFAULT '',
    CHECK ((start_minute IS NULL) = (end_minute IS NULL)),
    CHECK (start_minute IS NULL OR start_minute < end_minute),
    CHECK (kind = 'closed' OR (resource_id IS NOT NULL AND start_minute IS NOT NULL))
);

CREATE INDEX booking_exceptions_day ON booking_exceptions (location_id, day);

CREATE TABLE appointments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Stable public identifier: the calendar invite's UID is built from it.
    uid TEXT NOT NULL UNIQUE,
    type_id BIGINT NOT NULL REFERENCES booking_types (id),
    location_id BIGINT NOT NULL REFERENCES booking_locations (id),
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('booked', 'cancelled')),
    -- 'web', 'api' or 'staff'.
    source TEXT NOT NULL,
    -- Name, e-mail, phone and reason, sealed and bound to the row's uid.
    details BYTEA NOT NULL,
    consent_version TEXT NOT NULL,
    -- Keyed digest of the manage link's token.
    manage_hash TEXT NOT NULL UNIQUE,
    -- The calendar invite's SEQUENCE: raised by every change.
    sequence BIGINT NOT NULL DEFAULT 0,
    reminder_due_at BIGINT,
    reminder_sent_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    cancelled_at BIGINT,
    CHECK (starts_at < ends_at)
);

CREATE INDEX appointments_location_start ON appointments (location_id, starts_at);
CREATE INDEX appointments_reminder_due ON appointments (reminder_due_at)
    WHERE reminder_sent_at IS NULL AND status = 'booked';

-- The time an appointment keeps each of its resources, buffers included.
-- No two active blocks on one resource may overlap: the exclusion
-- constraint below is the database's guarantee (SQLite uses triggers), so
-- no code path and no second app instance can double-book.
CREATE TABLE appointment_blocks (
    appointment_id BIGINT NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    resource_id BIGINT NOT NULL REFERENCES booking_resources (id),
    blocked_from BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    CHECK (blocked_from < blocked_until),
    PRIMARY KEY (appointment_id, resource_id)
);

CREATE INDEX appointment_blocks_busy ON appointment_blocks (resource_id, blocked_from)
    WHERE active = 1;

ALTER TABLE appointment_blocks ADD CONSTRAINT appointment_blocks_no_overlap
    EXCLUDE USING gist (resource_id WITH =, int8range(blocked_from, blocked_until) WITH &&)
    WHERE (active = 1);

-- Personal mail (to a visitor: their booking, its invite) is sealed, with
-- the recipient, and bound to the row's uid; the plain columns stay empty.
ALTER TABLE mail_outbox ADD COLUMN uid TEXT;
ALTER TABLE mail_outbox ADD COLUMN sealed BYTEA;
