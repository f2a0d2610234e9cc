-- Lookup values derived from personal data become keyed digests, sealed
-- values are bound to their row, and API idempotency keys are bound to the
-- request they were first used with. Rewriting the stored digests and
-- ciphertexts needs the encryption key, so the application does that at
-- start-up (storage/data_migrations.rs), recorded in data_migrations.

-- A stable identifier for each case, which its sealed contact details are
-- bound to.
ALTER TABLE triage_cases ADD COLUMN uid TEXT NOT NULL DEFAULT '';
UPDATE triage_cases SET uid = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX triage_cases_uid ON triage_cases (uid);

-- An Idempotency-Key of POST /api/v1/assessments, for 24 hours.
CREATE TABLE api_idempotency (
    -- HMAC of the key; the key itself is never stored.
    key_hash TEXT PRIMARY KEY,
    -- HMAC of the request it was first used with.
    fingerprint TEXT NOT NULL,
    result_id INTEGER NOT NULL REFERENCES assessment_results (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX api_idempotency_expires_at ON api_idempotency (expires_at);
CREATE INDEX api_idempotency_result_id ON api_idempotency (result_id);

-- Upgrades of stored data done by the application, each once.
CREATE TABLE data_migrations (
    name TEXT PRIMARY KEY,
    applied_at INTEGER NOT NULL
);
