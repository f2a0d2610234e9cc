//! What a TMS course needs before its sessions: the physician's order (every
//! version kept), informed consent and the pre-TMS safety screen; and the
//! spacing of sessions, checked again inside the transaction that stores
//! one. Every write carries its audit entry in the same transaction.

use super::audit::{self, AuditEntry};
use super::{Backend, Constraint, Millis, Result, Storage, StorageError, get};
use crate::crypto::AuditChain;
use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A physician's order to store (its version is the next of its course).
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub protocol: String,
    pub target: String,
    pub intensity_percent_mt: i64,
    pub pulses: i64,
    pub sessions_per_day: i64,
    pub min_spacing_minutes: i64,
    pub planned_sessions: i64,
    pub signed_by: Option<i64>,
    pub signed_at: Timestamp,
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub id: i64,
    pub version: i64,
    pub protocol: String,
    pub target: String,
    pub intensity_percent_mt: i64,
    pub pulses: i64,
    pub sessions_per_day: i64,
    pub min_spacing_minutes: i64,
    pub planned_sessions: i64,
    pub signed_by: Option<i64>,
    /// The signer's e-mail address, as the account has it now.
    pub signed_by_email: Option<String>,
    pub signed_at: Timestamp,
}

impl OrderRecord {
    fn from_row(r: &AnyRow) -> sqlx::Result<Self> {
        Ok(OrderRecord {
            id: r.try_get("id")?,
            version: r.try_get("version")?,
            protocol: r.try_get("protocol")?,
            target: r.try_get("target")?,
            intensity_percent_mt: r.try_get("intensity_percent_mt")?,
            pulses: r.try_get("pulses")?,
            sessions_per_day: r.try_get("sessions_per_day")?,
            min_spacing_minutes: r.try_get("min_spacing_minutes")?,
            planned_sessions: r.try_get("planned_sessions")?,
            signed_by: r.try_get("signed_by")?,
            signed_by_email: r.try_get("email")?,
            signed_at: get::<Millis>(r, "signed_at")?.0,
        })
    }
}

/// Informed consent as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub id: i64,
    /// `YYYY-MM-DD`.
    pub consented_on: String,
    pub consent_version: String,
    pub recorded_by_email: Option<String>,
    pub created_at: Timestamp,
}

/// A safety screen to store: answers and notes sealed by the caller.
#[derive(Debug, Clone)]
pub struct NewSafetyScreen {
    pub uid: String,
    pub answers_sealed: Vec<u8>,
    pub notes_sealed: Option<Vec<u8>>,
    pub signed_by: Option<i64>,
    pub signed_at: Timestamp,
}

/// A safety screen as stored (sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyScreenRecord {
    pub id: i64,
    pub uid: String,
    pub answers_sealed: Vec<u8>,
    pub notes_sealed: Option<Vec<u8>>,
    pub signed_by_email: Option<String>,
    pub signed_at: Timestamp,
}

/// The session spacing an order asks for, around one session's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spacing {
    pub course_id: i64,
    pub started_at: Timestamp,
    /// The clinic's local day the session falls on: [start, end).
    pub day_start: Timestamp,
    pub day_end: Timestamp,
    pub sessions_per_day: i64,
    pub min_spacing_minutes: i64,
}

/// Why a session would break its order's spacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpacingConflict {
    /// The day has this many sessions already (as many as ordered, or more).
    FullDay(i64),
    /// Another session of the course started at this time, closer than
    /// the ordered spacing.
    TooClose(Timestamp),
}

/// The spacing conflict a session at `rule.started_at` would make, reading
/// on `conn` (inside the storing transaction, or on its own).
async fn spacing_conflict(
    conn: &mut sqlx::AnyConnection,
    rule: &Spacing,
) -> Result<Option<SpacingConflict>> {
    let gap = rule.min_spacing_minutes * 60_000;
    if gap > 0 {
        let at = rule.started_at.as_millisecond();
        let near: Option<Millis> = sqlx::query_scalar(
            "SELECT started_at FROM tms_sessions WHERE course_id = $1 \
             AND started_at > $2 AND started_at < $3 ORDER BY started_at LIMIT 1",
        )
        .bind(rule.course_id)
        .bind(at - gap)
        .bind(at + gap)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(near) = near {
            return Ok(Some(SpacingConflict::TooClose(near.0)));
        }
    }
    let that_day: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM tms_sessions WHERE course_id = $1 \
         AND started_at >= $2 AND started_at < $3",
    )
    .bind(rule.course_id)
    .bind(Millis(rule.day_start))
    .bind(Millis(rule.day_end))
    .fetch_one(&mut *conn)
    .await?;
    Ok((that_day >= rule.sessions_per_day).then_some(SpacingConflict::FullDay(that_day)))
}

/// Inside the transaction that stores a session: holds the course (on
/// PostgreSQL its row stays locked until commit, so two sessions posted at
/// once are checked one after the other; SQLite's one writer cannot be
/// overtaken) and checks the spacing again. `Conflict(Changed)`, and the
/// session is not stored, when another session came in meanwhile.
pub(crate) async fn guard_spacing(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    rule: Option<Spacing>,
) -> Result<()> {
    let Some(rule) = rule else {
        return Ok(());
    };
    lock_course(conn, backend, rule.course_id).await?;
    match spacing_conflict(conn, &rule).await? {
        None => Ok(()),
        Some(_) => Err(StorageError::Conflict(Constraint::Changed)),
    }
}

/// Locks a course's row until the transaction ends (PostgreSQL; SQLite
/// has one writer).
async fn lock_course(conn: &mut sqlx::AnyConnection, backend: Backend, course: i64) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT id FROM tms_courses WHERE id = $1 FOR UPDATE")
            .bind(course)
            .fetch_optional(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Inserts `order` as the next version of `course_id`'s order and makes its
/// number of sessions the course's (inside a transaction). Returns the
/// version.
async fn insert_order(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    course_id: i64,
    order: NewOrder,
) -> Result<i64> {
    lock_course(conn, backend, course_id).await?;
    let version: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(version), 0) + 1 AS BIGINT) FROM tms_orders WHERE course_id = $1",
    )
    .bind(course_id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO tms_orders (course_id, version, protocol, target, intensity_percent_mt, pulses, \
         sessions_per_day, min_spacing_minutes, planned_sessions, signed_by, signed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(course_id)
    .bind(version)
    .bind(order.protocol)
    .bind(order.target)
    .bind(order.intensity_percent_mt)
    .bind(order.pulses)
    .bind(order.sessions_per_day)
    .bind(order.min_spacing_minutes)
    .bind(order.planned_sessions)
    .bind(order.signed_by)
    .bind(Millis(order.signed_at))
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE tms_courses SET planned_sessions = $1, updated_at = $2, version = version + 1 \
         WHERE id = $3 AND planned_sessions <> $1",
    )
    .bind(order.planned_sessions)
    .bind(Millis(order.signed_at))
    .bind(course_id)
    .execute(&mut *conn)
    .await?;
    Ok(version)
}

impl Storage {
    /// Stores a new version of a course's order, with its audit entry.
    /// Returns the version.
    #[tracing::instrument(skip_all)]
    pub async fn add_order(
        &self,
        course_id: i64,
        order: NewOrder,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let version = insert_order(conn, backend, course_id, order).await?;
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(version)
            })
        })
        .await
    }

    /// Stores a course in status `planned` and its signed order (version
    /// 1), in one transaction with both audit entries. Returns the course's
    /// id.
    #[tracing::instrument(skip_all)]
    pub async fn add_course_with_order(
        &self,
        course: super::tms::NewCourse,
        order: NewOrder,
        chain: &AuditChain,
        audit_course: AuditEntry,
        audit_order: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let id = super::tms::insert_course(conn, course).await?;
                audit::append(
                    conn,
                    backend,
                    &chain,
                    &AuditEntry {
                        record_id: id.to_string(),
                        ..audit_course
                    },
                )
                .await?;
                insert_order(conn, backend, id, order).await?;
                audit::append(
                    conn,
                    backend,
                    &chain,
                    &AuditEntry {
                        record_id: id.to_string(),
                        ..audit_order
                    },
                )
                .await?;
                Ok(id)
            })
        })
        .await
    }

    /// Every version of a course's order, oldest first (the last is in force).
    pub async fn orders(&self, course_id: i64) -> Result<Vec<OrderRecord>> {
        let rows = sqlx::query(
            "SELECT o.id, o.version, o.protocol, o.target, o.intensity_percent_mt, o.pulses, \
             o.sessions_per_day, o.min_spacing_minutes, o.planned_sessions, o.signed_by, \
             o.signed_at, u.email FROM tms_orders o LEFT JOIN staff_users u ON u.id = o.signed_by \
             WHERE o.course_id = $1 ORDER BY o.version",
        )
        .bind(course_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(OrderRecord::from_row)
            .collect::<sqlx::Result<_>>()?)
    }

    /// Records informed consent for a course, with its audit entry.
    #[tracing::instrument(skip_all)]
    pub async fn add_consent(
        &self,
        course_id: i64,
        consented_on: String,
        consent_version: String,
        recorded_by: Option<i64>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO tms_consents (course_id, consented_on, consent_version, recorded_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(course_id)
                .bind(consented_on)
                .bind(consent_version)
                .bind(recorded_by)
                .bind(Millis(audit_entry.at))
                .fetch_one(&mut *conn)
                .await?;
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(id)
            })
        })
        .await
    }

    /// A course's consents, in the order recorded.
    pub async fn consents(&self, course_id: i64) -> Result<Vec<ConsentRecord>> {
        let rows = sqlx::query(
            "SELECT c.id, c.consented_on, c.consent_version, c.created_at, u.email \
             FROM tms_consents c LEFT JOIN staff_users u ON u.id = c.recorded_by \
             WHERE c.course_id = $1 ORDER BY c.id",
        )
        .bind(course_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ConsentRecord {
                    id: r.try_get("id")?,
                    consented_on: r.try_get("consented_on")?,
                    consent_version: r.try_get("consent_version")?,
                    recorded_by_email: r.try_get("email")?,
                    created_at: get::<Millis>(r, "created_at")?.0,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(Into::into)
    }

    /// Records a reviewed, signed safety screen for a course, with its
    /// audit entry.
    #[tracing::instrument(skip_all)]
    pub async fn add_safety_screen(
        &self,
        course_id: i64,
        new: NewSafetyScreen,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO tms_safety_screens (uid, course_id, answers, notes, signed_by, signed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(new.uid)
                .bind(course_id)
                .bind(new.answers_sealed)
                .bind(new.notes_sealed)
                .bind(new.signed_by)
                .bind(Millis(new.signed_at))
                .fetch_one(&mut *conn)
                .await?;
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(id)
            })
        })
        .await
    }

    /// A course's safety screens, in the order signed (the last counts).
    pub async fn safety_screens(&self, course_id: i64) -> Result<Vec<SafetyScreenRecord>> {
        let rows = sqlx::query(
            "SELECT s.id, s.uid, s.answers, s.notes, s.signed_at, u.email \
             FROM tms_safety_screens s LEFT JOIN staff_users u ON u.id = s.signed_by \
             WHERE s.course_id = $1 ORDER BY s.id",
        )
        .bind(course_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SafetyScreenRecord {
                    id: r.try_get("id")?,
                    uid: r.try_get("uid")?,
                    answers_sealed: r.try_get("answers")?,
                    notes_sealed: r.try_get("notes")?,
                    signed_by_email: r.try_get("email")?,
                    signed_at: get::<Millis>(r, "signed_at")?.0,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(Into::into)
    }

    /// What a course has before its sessions: (consent recorded, safety
    /// screen signed, the order in force).
    pub async fn session_readiness(
        &self,
        course_id: i64,
    ) -> Result<(bool, bool, Option<OrderRecord>)> {
        let consents: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tms_consents WHERE course_id = $1")
                .bind(course_id)
                .fetch_one(self.pool())
                .await?;
        let screens: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tms_safety_screens WHERE course_id = $1")
                .bind(course_id)
                .fetch_one(self.pool())
                .await?;
        Ok((
            consents > 0,
            screens > 0,
            self.orders(course_id).await?.pop(),
        ))
    }

    /// The spacing conflict a session would make with the course's
    /// sessions stored now.
    pub async fn session_spacing(&self, rule: Spacing) -> Result<Option<SpacingConflict>> {
        let mut conn = self.pool().acquire().await?;
        spacing_conflict(&mut conn, &rule).await
    }
}
