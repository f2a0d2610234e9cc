-- The staff portal: accounts, their second factor, sessions, API tokens,
-- sign-in throttling, work on triage cases, and the audit trail.
-- Times are UTC instants in milliseconds since the Unix epoch.

CREATE TABLE staff_users (
    id INTEGER PRIMARY KEY,
    -- Lower-cased work address; staff addresses are not health data.
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'clinician', 'coordinator', 'technician')),
    -- argon2id PHC string; NULL until an invitation is accepted.
    password_hash TEXT,
    -- TOTP secrets, sealed and bound to the user's row. The pending one
    -- waits for its first code during enrolment.
    totp_secret BLOB,
    totp_pending BLOB,
    -- The last time step whose code was accepted: a code works once.
    totp_last_step BIGINT,
    disabled_at BIGINT,
    created_at BIGINT NOT NULL
);

-- Single-use second-factor recovery codes, as keyed digests.
CREATE TABLE staff_recovery_codes (
    user_id INTEGER NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE staff_sessions (
    -- Keyed digest of the random id in the cookie.
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    -- 'second_factor' or 'enrol' until the second factor is done.
    stage TEXT NOT NULL CHECK (stage IN ('second_factor', 'enrol', 'complete')),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX staff_sessions_user_id ON staff_sessions (user_id);

CREATE TABLE staff_api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- Keyed digest of the token; the token is shown once and never stored.
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

-- Single-use links e-mailed to staff: an invitation (72 hours) or a
-- password reset (30 minutes). Only a keyed digest of the link is kept.
CREATE TABLE staff_email_links (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE INDEX staff_email_links_user_id ON staff_email_links (user_id);

-- Failed sign-ins per account name tried (known or not), shared by every
-- instance: each failure past the first few pushes the next try back.
CREATE TABLE sign_in_throttle (
    account_key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Patient records. Every personal field is sealed and bound to the row's
-- uid: details (name, date of birth, contact details, referring provider)
-- and, apart, the clinical notes that only clinicians see. Exact e-mail and
-- phone lookups use keyed digests (blind indexes); names are found by their
-- words' keyed digests in patient_name_words.
CREATE TABLE patients (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    details BLOB NOT NULL,
    notes BLOB,
    email_index TEXT,
    phone_index TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX patients_email_index ON patients (email_index);
CREATE INDEX patients_phone_index ON patients (phone_index);

CREATE TABLE patient_name_words (
    patient_id INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    word_hash TEXT NOT NULL,
    PRIMARY KEY (word_hash, patient_id)
);

-- Work on a case: who has it, and an optimistic-concurrency version that
-- every change must name.
ALTER TABLE triage_cases ADD COLUMN assigned_to INTEGER REFERENCES staff_users (id);
ALTER TABLE triage_cases ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE triage_cases ADD COLUMN closed_reason TEXT;
ALTER TABLE triage_cases ADD COLUMN updated_at BIGINT;
ALTER TABLE triage_cases ADD COLUMN patient_id INTEGER REFERENCES patients (id);
CREATE INDEX triage_cases_patient_id ON triage_cases (patient_id);

-- A case's timeline. Notes are sealed (they may hold health information),
-- bound to the event's uid.
CREATE TABLE case_events (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    case_id INTEGER NOT NULL REFERENCES triage_cases (id),
    user_id INTEGER REFERENCES staff_users (id),
    kind TEXT NOT NULL CHECK (kind IN ('taken', 'note', 'contact_attempt', 'closed', 'reopened', 'patient_linked')),
    detail BLOB,
    at BIGINT NOT NULL
);

CREATE INDEX case_events_case_id ON case_events (case_id, at);

-- Every access to health data and every change, append-only. Each entry
-- carries an HMAC of the one before and of itself, so a changed, removed
-- or inserted row breaks the chain (activepath audit verify).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id INTEGER,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    client_ip TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);

CREATE INDEX audit_log_actor_at ON audit_log (actor_id, at);
CREATE INDEX audit_log_record ON audit_log (record_type, record_id, at);

-- The queue: open cases, urgent first ('urgent' sorts after 'routine', so
-- descending), then oldest first. A partial index, so closed cases cost
-- nothing however many there are.
CREATE INDEX triage_cases_open ON triage_cases (priority DESC, created_at, id) WHERE status <> 'closed';
