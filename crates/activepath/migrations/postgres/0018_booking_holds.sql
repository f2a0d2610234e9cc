-- A booking made on the site or through the API first holds its time:
-- 'held' until the person opens the link e-mailed to them (its token kept
-- only as a keyed digest, confirm_hash), then 'booked'; not confirmed by
-- hold_expires_at, it is 'lapsed' and its blocks are released. While held,
-- holder_client and holder_email (keyed digests of the client's address and
-- of the e-mail address given) count the holds each has open; they are
-- emptied when the hold ends. Bookings made before, and staff bookings,
-- are confirmed when made.
ALTER TABLE appointments DROP CONSTRAINT appointments_status_check;
ALTER TABLE appointments ADD CONSTRAINT appointments_status_check
    CHECK (status IN ('held', 'booked', 'cancelled', 'lapsed'));

ALTER TABLE appointments ADD COLUMN confirm_hash TEXT UNIQUE;
ALTER TABLE appointments ADD COLUMN hold_expires_at BIGINT;
ALTER TABLE appointments ADD COLUMN confirmed_at BIGINT;
ALTER TABLE appointments ADD COLUMN holder_client TEXT;
ALTER TABLE appointments ADD COLUMN holder_email TEXT;

UPDATE appointments SET confirmed_at = created_at;

ALTER TABLE appointments ADD CONSTRAINT appointments_hold_check
    CHECK (status <> 'held' OR (hold_expires_at IS NOT NULL AND confirm_hash IS NOT NULL));
ALTER TABLE appointments ADD CONSTRAINT appointments_held_unconfirmed_check
    CHECK (status <> 'held' OR confirmed_at IS NULL);

CREATE INDEX appointments_hold_expiry ON appointments (hold_expires_at) WHERE status = 'held';
CREATE INDEX appointments_holder_client ON appointments (holder_client) WHERE status = 'held';
CREATE INDEX appointments_holder_email ON appointments (holder_email) WHERE status = 'held';
CREATE INDEX appointments_unconfirmed ON appointments (location_id, created_at)
    WHERE status IN ('held', 'lapsed');
