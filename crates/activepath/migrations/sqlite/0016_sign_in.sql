-- Signing in that cannot be outguessed, and two people for health-data
-- access (issue 18).

-- Wrong second-factor codes in a row, per account, apart from the password
-- throttle: a correct password never resets them, only a correct code, a
-- new password from an e-mailed link, or an administrator enabling the
-- account again. At staff.max_code_failures no code is accepted.
ALTER TABLE staff_users ADD COLUMN code_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff_users ADD COLUMN code_retry_at BIGINT;

-- A clinician who may approve access to health data, like a second
-- administrator (set with `activepath user add --medical-director`).
ALTER TABLE staff_users ADD COLUMN medical_director INTEGER NOT NULL DEFAULT 0;

-- E-mailed links: only the newest of an account works, and none once one
-- was used. Each link carries the account's link generation when it was
-- made; making or using a link moves the generation on.
ALTER TABLE staff_users ADD COLUMN link_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff_email_links ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;

-- A disabled account's API tokens are revoked, so enabling it again does
-- not bring them back; tokens of accounts disabled before this version too.
UPDATE staff_api_tokens SET revoked_at = (SELECT disabled_at FROM staff_users WHERE staff_users.id = staff_api_tokens.user_id)
WHERE revoked_at IS NULL
  AND user_id IN (SELECT id FROM staff_users WHERE disabled_at IS NOT NULL);

-- Roles given in the portal wait for a second person: another
-- administrator or a medical director approves (never the one who asked),
-- and only then is the account made and its invitation sent.
CREATE TABLE staff_grants (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'clinician', 'coordinator', 'technician')),
    requested_by INTEGER NOT NULL REFERENCES staff_users (id),
    requested_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'declined')),
    -- NULL with a decision: the server's operator, on the command line.
    decided_by INTEGER REFERENCES staff_users (id),
    decided_at BIGINT,
    -- The account made on approval.
    user_id INTEGER REFERENCES staff_users (id)
);

-- One waiting request per address.
CREATE UNIQUE INDEX staff_grants_pending ON staff_grants (email) WHERE status = 'pending';
