//! Storage: the only module that knows SQL or driver types.
//!
//! One interface, two real backends chosen from the URL scheme: SQLite (the
//! default, a single file) and PostgreSQL (for several app instances). Queries
//! are written once in portable SQL through sqlx's `Any` driver, with `$n`
//! placeholders (both backends accept them); where the dialects differ the
//! code branches on [`Backend`] explicitly.
//!
//! This file holds what every feature shares: the pool, the backend, the
//! migrations, the write path ([`Storage::write`]), the typed conversions at
//! the edge (instants, enums, flags) and the mapping of constraint violations.
//! Each feature's queries live in a file of their own, as one `impl Storage`.
//!
//! Writes on SQLite go through a single writer task that commits whatever is
//! queued together, one fsync for many requests (see `writer.rs`); on
//! PostgreSQL, which does the same inside the server, each write is its own
//! transaction on the pool.

pub mod assessments;
pub mod audit;
pub mod booking;
mod data_migrations;
pub mod figures;
pub mod grants;
pub mod holds;
pub mod idempotency;
mod migrations;
pub mod outbox;
pub mod patients;
pub mod plans;
pub mod safety;
pub mod staff;
pub mod tms;
pub mod tms_orders;
pub mod triage;
mod writer;

use futures_util::future::BoxFuture;
use jiff::Timestamp;
use sqlx::any::{Any, AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{AnyConnection, AnyPool, Connection, Database, Decode, Encode, Executor, Row, Type};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use data_migrations::{SealedCase, SealedResult, SealedRows};
pub use migrations::MIGRATIONS;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A unique constraint refused the write: the row exists already.
    #[error("the write conflicts with an existing row ({0:?})")]
    Conflict(Constraint),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Connect(String),
    #[error("the database is closed")]
    Closed,
    /// The batch this write was part of could not be committed.
    #[error("the write was not committed: {0}")]
    NotCommitted(String),
    #[error("a database write panicked")]
    Panicked,
}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        match constraint_violation(&e) {
            Some(c) => StorageError::Conflict(c),
            None if matches!(e, sqlx::Error::PoolClosed) => StorageError::Closed,
            None => StorageError::Database(e),
        }
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// The unique constraints a feature may want to tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    ResultSubmission,
    ResultToken,
    TriageResult,
    TriageUid,
    IdempotencyKey,
    StaffEmail,
    /// A request for a role is waiting for that address already.
    GrantPending,
    /// Two active appointment blocks on one resource would overlap.
    ResourceBusy,
    /// A single-use link was used, or expired, meanwhile.
    LinkSpent,
    /// A record changed since it was read (a write of several undone).
    Changed,
    Other,
}

/// The no-overlap guarantee on appointment blocks, as each backend reports
/// it: PostgreSQL's exclusion constraint, SQLite's trigger.
const NO_OVERLAP: &str = "appointment_blocks_no_overlap";

/// Each constraint as PostgreSQL names it and as SQLite reports it.
const CONSTRAINTS: &[(Constraint, &str, &str)] = &[
    (
        Constraint::ResultSubmission,
        "assessment_results_submission_key_key",
        "assessment_results.submission_key",
    ),
    (
        Constraint::ResultToken,
        "assessment_results_token_hash_key",
        "assessment_results.token_hash",
    ),
    (
        Constraint::TriageResult,
        "triage_cases_result_id_key",
        "triage_cases.result_id",
    ),
    (
        Constraint::TriageUid,
        "triage_cases_uid_key",
        "triage_cases.uid",
    ),
    (
        Constraint::IdempotencyKey,
        "api_idempotency_pkey",
        "api_idempotency.key_hash",
    ),
    (
        Constraint::StaffEmail,
        "staff_users_email_key",
        "staff_users.email",
    ),
    (
        Constraint::GrantPending,
        "staff_grants_pending",
        "staff_grants.email",
    ),
];

/// The unique constraint a database error reports, on either backend:
/// PostgreSQL names the constraint; SQLite only says
/// "UNIQUE constraint failed: table.column".
pub fn constraint_violation(err: &sqlx::Error) -> Option<Constraint> {
    let db = err.as_database_error()?;
    if db.code().as_deref() == Some("23P01") && db.constraint() == Some(NO_OVERLAP)
        || db.message() == NO_OVERLAP
    {
        return Some(Constraint::ResourceBusy);
    }
    if db.kind() != sqlx::error::ErrorKind::UniqueViolation {
        return None;
    }
    let found = CONSTRAINTS
        .iter()
        .find(|(_, pg, sqlite)| match db.constraint() {
            Some(name) => name == *pg,
            None => db
                .message()
                .strip_prefix("UNIQUE constraint failed: ")
                .is_some_and(|cols| cols == *sqlite),
        });
    Some(found.map_or(Constraint::Other, |(c, _, _)| *c))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Storage {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: the one connection that writes.
    writer: Option<writer::Writer>,
    /// PostgreSQL only: the writer of audit entries (see `writer.rs`).
    audit_writer: Option<writer::Writer>,
}

/// Backend settings applied to every SQLite connection.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

impl Storage {
    /// Connects to `url` (`sqlite:…` or `postgres://…`). Errors never quote
    /// the URL's password.
    #[tracing::instrument(skip_all)]
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let connect_error = |e: sqlx::Error| {
            StorageError::Connect(crate::config::scrub(
                &format!("cannot connect to {}: {e}", crate::config::redact_url(url)),
                &crate::config::url_secrets(url),
            ))
        };
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let (pool, writer, audit_writer) = match backend {
            Backend::Sqlite => {
                let pool = options
                    // Readers beside the writer: WAL lets them run while it commits.
                    .max_connections(8)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(SQLITE_PRAGMAS).await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await
                    .map_err(connect_error)?;
                let options = AnyConnectOptions::from_str(url).map_err(connect_error)?;
                let mut conn = AnyConnection::connect_with(&options)
                    .await
                    .map_err(connect_error)?;
                // FULL: a commit is on disk before we answer, so an
                // acknowledged write survives a crash or power cut.
                conn.execute(SQLITE_PRAGMAS).await.map_err(connect_error)?;
                let writer = writer::Writer::start(writer::Source::Held(conn), "BEGIN IMMEDIATE");
                (pool, Some(writer), None)
            }
            Backend::Postgres => {
                let pool = options
                    .max_connections(16)
                    .connect(url)
                    .await
                    .map_err(connect_error)?;
                let audit = writer::Writer::start(writer::Source::Pool(pool.clone()), "BEGIN");
                (pool, None, Some(audit))
            }
        };
        Ok(Storage {
            inner: Arc::new(Inner {
                pool,
                backend,
                writer,
                audit_writer,
            }),
        })
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// Applies the SQL migrations. (Data that needs the encryption key to be
    /// upgraded is handled by [`Storage::upgrade_sealed_rows`].)
    pub async fn migrate(&self) -> Result<()> {
        migrations::migrator(self.inner.backend, None)
            .run(self.pool())
            .await?;
        Ok(())
    }

    /// Applies the SQL migrations up to `version` only. For tests of upgrades.
    #[doc(hidden)]
    pub async fn migrate_to(&self, version: i64) -> Result<()> {
        migrations::migrator(self.inner.backend, Some(version))
            .run(self.pool())
            .await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }

    /// Closes the pool and the writer. Later calls fail with
    /// [`StorageError::Closed`].
    pub async fn close(&self) {
        for w in [&self.inner.writer, &self.inner.audit_writer]
            .into_iter()
            .flatten()
        {
            w.close().await;
        }
        self.pool().close().await;
    }

    /// Runs `op` as one atomic unit of writes: everything it does is
    /// committed together, durably, before this returns `Ok`; if it fails,
    /// nothing it did remains. `op` must only run SQL on the connection it is
    /// given (on SQLite it runs inside the writer's batch).
    pub(crate) async fn write<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        match &self.inner.writer {
            Some(w) => w.submit(writer::Atomic::Savepoint, op).await,
            None => {
                let mut tx = self.pool().begin().await?;
                let value = op(&mut tx).await?;
                tx.commit().await?;
                Ok(value)
            }
        }
    }

    /// Like [`Storage::write`], for an entry appended to the audit trail
    /// alone: on PostgreSQL such entries go through a writer of their own and
    /// are committed together (see `writer.rs`).
    pub(crate) async fn write_audit<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        match &self.inner.audit_writer {
            Some(w) => w.submit(writer::Atomic::Savepoint, op).await,
            None => self.write(op).await,
        }
    }

    /// Like [`Storage::write`] for an `op` that runs exactly one statement,
    /// which both databases apply atomically on its own.
    pub(crate) async fn write_statement<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        match &self.inner.writer {
            Some(w) => w.submit(writer::Atomic::Statement, op).await,
            None => {
                let mut conn = self.pool().acquire().await?;
                op(&mut conn).await
            }
        }
    }

    /// On SQLite, how many batches the writer has committed and how many
    /// writes they held (a measure of group commit); `None` on PostgreSQL.
    pub fn commit_stats(&self) -> Option<(u64, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        self.inner
            .writer
            .as_ref()
            .map(|w| (w.stats.commits.load(Relaxed), w.stats.writes.load(Relaxed)))
    }

    /// The value sealed with the master key when this database was first
    /// used; `None` on a new database.
    pub async fn key_check(&self) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT sealed FROM key_check WHERE id = 1")
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("sealed")).transpose()?)
    }

    /// Records the key check value unless another instance did first.
    pub async fn set_key_check(&self, sealed: Vec<u8>) -> Result<()> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO key_check (id, sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                )
                .bind(sealed)
                .execute(conn)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// How many rows each table holds (for tests and diagnostics).
    pub async fn counts(&self) -> Result<Counts> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM assessment_results) AS results, \
                    (SELECT COUNT(*) FROM triage_cases) AS cases, \
                    (SELECT COUNT(*) FROM mail_outbox) AS outbox, \
                    (SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NOT NULL) AS sent, \
                    (SELECT COUNT(*) FROM api_idempotency) AS idempotency",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(Counts {
            results: row.try_get("results")?,
            triage_cases: row.try_get("cases")?,
            outbox: row.try_get("outbox")?,
            outbox_sent: row.try_get("sent")?,
            idempotency_keys: row.try_get("idempotency")?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub results: i64,
    pub triage_cases: i64,
    pub outbox: i64,
    pub outbox_sent: i64,
    pub idempotency_keys: i64,
}

// Typed values at the storage edge. Each kind of value has one conversion.

/// An instant, stored as BIGINT milliseconds since the Unix epoch (UTC) on
/// both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis(pub Timestamp);

impl Type<Any> for Millis {
    fn type_info() -> <Any as Database>::TypeInfo {
        <i64 as Type<Any>>::type_info()
    }

    fn compatible(ty: &<Any as Database>::TypeInfo) -> bool {
        <i64 as Type<Any>>::compatible(ty)
    }
}

impl Encode<'_, Any> for Millis {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<Any>>::encode(self.0.as_millisecond(), buf)
    }
}

impl<'r> Decode<'r, Any> for Millis {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let ms = <i64 as Decode<Any>>::decode(value)?;
        Ok(Millis(Timestamp::from_millisecond(ms)?))
    }
}

/// An enum stored as TEXT.
pub trait TextEnum: Sized + Copy + Send + Sync {
    fn as_text(self) -> &'static str;
    fn from_text(text: &str) -> Option<Self>;
}

/// The storage form of a [`TextEnum`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text<T>(pub T);

impl<T: TextEnum> Type<Any> for Text<T> {
    fn type_info() -> <Any as Database>::TypeInfo {
        <str as Type<Any>>::type_info()
    }
}

impl<T: TextEnum> Encode<'_, Any> for Text<T> {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Any>>::encode(self.0.as_text(), buf)
    }
}

impl<'r, T: TextEnum> Decode<'r, Any> for Text<T> {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Any>>::decode(value)?;
        T::from_text(text)
            .map(Text)
            .ok_or_else(|| format!("unknown stored value {text:?}").into())
    }
}

/// A flag, stored as BIGINT 0 or 1 (the `Any` driver has no portable boolean).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl Type<Any> for Flag {
    fn type_info() -> <Any as Database>::TypeInfo {
        <i64 as Type<Any>>::type_info()
    }

    fn compatible(ty: &<Any as Database>::TypeInfo) -> bool {
        <i64 as Type<Any>>::compatible(ty)
    }
}

impl Encode<'_, Any> for Flag {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<Any>>::encode(i64::from(self.0), buf)
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Flag(<i64 as Decode<Any>>::decode(value)? != 0))
    }
}

/// `$from, $from+1, …`: `n` numbered placeholders, for an `IN (…)` list.
fn params(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a typed column: `get::<Millis>(row, "created_at")?.0`.
fn get<'r, T: Decode<'r, Any> + Type<Any>>(row: &'r AnyRow, column: &str) -> sqlx::Result<T> {
    row.try_get(column)
}

impl TextEnum for clinical::InstrumentId {
    fn as_text(self) -> &'static str {
        self.slug()
    }

    fn from_text(text: &str) -> Option<Self> {
        clinical::InstrumentId::from_slug(text)
    }
}

impl TextEnum for clinical::Severity {
    fn as_text(self) -> &'static str {
        self.slug()
    }

    fn from_text(text: &str) -> Option<Self> {
        clinical::Severity::from_slug(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite() -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let storage = Storage::connect(&url).await.unwrap();
        storage.migrate().await.unwrap();
        (dir, storage)
    }

    #[tokio::test]
    async fn typed_values_round_trip() {
        let (_dir, storage) = sqlite().await;
        let at: Timestamp = "2026-11-29T10:11:12.345Z".parse().unwrap();
        let row = sqlx::query(
            "SELECT $1 AS at, $2 AS instrument, $3 AS flag, CAST(NULL AS BIGINT) AS missing",
        )
        .bind(Millis(at))
        .bind(Text(clinical::InstrumentId::Gad7))
        .bind(Flag(true))
        .fetch_one(storage.pool())
        .await
        .unwrap();
        assert_eq!(get::<Millis>(&row, "at").unwrap().0, at);
        assert_eq!(
            get::<Text<clinical::InstrumentId>>(&row, "instrument")
                .unwrap()
                .0,
            clinical::InstrumentId::Gad7
        );
        assert!(get::<Flag>(&row, "flag").unwrap().0);
        assert_eq!(get::<Option<Millis>>(&row, "missing").unwrap(), None);
        let bad = sqlx::query("SELECT 'phq99' AS instrument")
            .fetch_one(storage.pool())
            .await
            .unwrap();
        assert!(get::<Text<clinical::InstrumentId>>(&bad, "instrument").is_err());
    }

    #[tokio::test]
    async fn a_unique_violation_is_named() {
        let (_dir, storage) = sqlite().await;
        let insert = || {
            storage.write_statement(|conn| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO assessment_results (token_hash, submission_key, instrument, \
                         instrument_version, answers, total, severity, self_harm_flag, source, \
                         created_at, expires_at) VALUES ('t', 's', 'phq9', 'v', $1, 0, \
                         'none-minimal', 0, 'web', 0, 1)",
                    )
                    .bind(vec![0u8])
                    .execute(conn)
                    .await?;
                    Ok(())
                })
            })
        };
        insert().await.unwrap();
        assert!(matches!(
            insert().await,
            Err(StorageError::Conflict(Constraint::ResultToken))
                | Err(StorageError::Conflict(Constraint::ResultSubmission))
        ));
    }
}
