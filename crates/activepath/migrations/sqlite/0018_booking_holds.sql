-- A booking made on the site or through the API first holds its time:
-- 'held' until the person opens the link e-mailed to them (its token kept
-- only as a keyed digest, confirm_hash), then 'booked'; not confirmed by
-- hold_expires_at, it is 'lapsed' and its blocks are released. While held,
-- holder_client and holder_email (keyed digests of the client's address and
-- of the e-mail address given) count the holds each has open; they are
-- emptied when the hold ends. Bookings made before, and staff bookings,
-- are confirmed when made.
--
-- SQLite cannot change a CHECK constraint, so the table is rebuilt by the
-- documented procedure, as in 0006: foreign keys off, one transaction,
-- copy, swap, re-create the indexes, foreign keys on. This migration
-- therefore runs outside the migrator's transaction.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE appointments_new (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    type_id INTEGER NOT NULL REFERENCES booking_types (id),
    location_id INTEGER NOT NULL REFERENCES booking_locations (id),
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('held', 'booked', 'cancelled', 'lapsed')),
    source TEXT NOT NULL,
    details BLOB NOT NULL,
    consent_version TEXT NOT NULL,
    manage_hash TEXT NOT NULL UNIQUE,
    sequence BIGINT NOT NULL DEFAULT 0,
    reminder_due_at BIGINT,
    reminder_sent_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    cancelled_at BIGINT,
    confirm_hash TEXT UNIQUE,
    hold_expires_at BIGINT,
    confirmed_at BIGINT,
    holder_client TEXT,
    holder_email TEXT,
    CHECK (starts_at < ends_at),
    CHECK (status <> 'held' OR (hold_expires_at IS NOT NULL AND confirm_hash IS NOT NULL)),
    CHECK (status <> 'held' OR confirmed_at IS NULL)
);

INSERT INTO appointments_new (id, uid, type_id, location_id, starts_at, ends_at, status, source,
    details, consent_version, manage_hash, sequence, reminder_due_at, reminder_sent_at,
    created_at, updated_at, cancelled_at, confirmed_at)
SELECT id, uid, type_id, location_id, starts_at, ends_at, status, source,
    details, consent_version, manage_hash, sequence, reminder_due_at, reminder_sent_at,
    created_at, updated_at, cancelled_at, created_at
FROM appointments;

DROP TABLE appointments;
ALTER TABLE appointments_new RENAME TO appointments;

CREATE INDEX appointments_location_start ON appointments (location_id, starts_at);
CREATE INDEX appointments_reminder_due ON appointments (reminder_due_at)
    WHERE reminder_sent_at IS NULL AND status = 'booked';
CREATE INDEX appointments_hold_expiry ON appointments (hold_expires_at) WHERE status = 'held';
CREATE INDEX appointments_holder_client ON appointments (holder_client) WHERE status = 'held';
CREATE INDEX appointments_holder_email ON appointments (holder_email) WHERE status = 'held';
CREATE INDEX appointments_unconfirmed ON appointments (location_id, created_at)
    WHERE status IN ('held', 'lapsed');

COMMIT;
PRAGMA foreign_keys = ON;
