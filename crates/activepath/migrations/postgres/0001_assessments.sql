-- Anonymous self-assessment results, the triage cases made when a person
-- chooses to share one, and the mail outbox.
-- Times are UTC instants in milliseconds since the Unix epoch (BIGINT), the
-- same representation as on SQLite so one set of queries serves both.

CREATE TABLE assessment_results (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    submission_key TEXT NOT NULL UNIQUE,
    instrument TEXT NOT NULL CHECK (instrument IN ('phq9', 'gad7')),
    instrument_version TEXT NOT NULL,
    answers BYTEA NOT NULL,
    total BIGINT NOT NULL CHECK (total >= 0),
    severity TEXT NOT NULL,
    self_harm_flag BIGINT NOT NULL CHECK (self_harm_flag IN (0, 1)),
    source TEXT NOT NULL CHECK (source IN ('web', 'api')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX assessment_results_expires_at ON assessment_results (expires_at);

CREATE TABLE triage_cases (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    result_id BIGINT NOT NULL UNIQUE REFERENCES assessment_results (id) ON DELETE RESTRICT,
    priority TEXT NOT NULL CHECK (priority IN ('urgent', 'routine')),
    status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'in_progress', 'closed')),
    contact BYTEA NOT NULL,
    consent_version TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX triage_cases_queue ON triage_cases (status, priority, created_at);

CREATE TABLE mail_outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT,
    sent_at BIGINT,
    last_error TEXT
);

CREATE INDEX mail_outbox_due ON mail_outbox (sent_at, next_attempt_at);

-- One value encrypted with the master key when the database is first used.
-- At start-up it must decrypt: a lost or wrong key is refused at once
-- instead of surfacing later as unreadable records.
CREATE TABLE key_check (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    sealed BYTEA NOT NULL
);
