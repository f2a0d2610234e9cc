-- The clinic's tablets for check-ins (kiosk mode): a tablet opens its own
-- address once and keeps it; staff send a patient's check-in to it from
-- the course page. The tablet never holds a staff session. Only a hash of
-- its token is kept.
CREATE TABLE tms_kiosks (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by INTEGER REFERENCES staff_users (id),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

ALTER TABLE tms_check_in_links ADD COLUMN kiosk_id INTEGER REFERENCES tms_kiosks (id);
CREATE INDEX tms_check_in_links_kiosk ON tms_check_in_links (kiosk_id) WHERE used_at IS NULL;
