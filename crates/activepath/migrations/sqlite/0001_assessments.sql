-- Anonymous self-assessment results, the triage cases made when a person
-- chooses to share one, and the mail outbox.
-- Times are UTC instants in milliseconds since the Unix epoch.

CREATE TABLE assessment_results (
    id INTEGER PRIMARY KEY,
    -- SHA-256 of the public token; the token itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    -- Hash of (form nonce, instrument, answers): the same submission twice
    -- finds the first result instead of storing a duplicate.
    submission_key TEXT NOT NULL UNIQUE,
    instrument TEXT NOT NULL CHECK (instrument IN ('phq9', 'gad7')),
    instrument_version TEXT NOT NULL,
    -- Encrypted JSON {"answers":[…],"difficulty":n|null}.
    answers BLOB NOT NULL,
    total INTEGER NOT NULL CHECK (total >= 0),
    severity TEXT NOT NULL,
    self_harm_flag INTEGER NOT NULL CHECK (self_harm_flag IN (0, 1)),
    source TEXT NOT NULL CHECK (source IN ('web', 'api')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX assessment_results_expires_at ON assessment_results (expires_at);

CREATE TABLE triage_cases (
    id INTEGER PRIMARY KEY,
    result_id INTEGER NOT NULL UNIQUE REFERENCES assessment_results (id) ON DELETE RESTRICT,
    priority TEXT NOT NULL CHECK (priority IN ('urgent', 'routine')),
    status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'in_progress', 'closed')),
    -- Encrypted JSON of the person's contact details and message.
    contact BLOB NOT NULL,
    -- Which consent wording the person agreed to.
    consent_version TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE INDEX triage_cases_queue ON triage_cases (status, priority, created_at);

CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until INTEGER,
    sent_at INTEGER,
    last_error TEXT
);

CREATE INDEX mail_outbox_due ON mail_outbox (sent_at, next_attempt_at);

-- One value encrypted with the master key when the database is first used.
-- At start-up it must decrypt: a lost or wrong key is refused at once
-- instead of surfacing later as unreadable records.
CREATE TABLE key_check (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BLOB NOT NULL
);
