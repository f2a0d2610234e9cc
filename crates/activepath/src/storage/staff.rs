//! Staff accounts, their second factor, sessions, API tokens and the
//! sign-in throttles (of passwords per address tried, of codes per
//! account).

use super::audit::{self, AuditEntry};
use super::{Flag, Millis, Result, Storage, Text, TextEnum, get};
use crate::crypto::AuditChain;
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};

/// What an account may do (see `staff::roles` for the permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Accounts, settings, the audit log.
    Admin,
    /// All clinical data.
    Clinician,
    /// The queue, contact details, scheduling; not clinical notes.
    Coordinator,
    /// TMS treatment (a later issue).
    Technician,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Admin,
        Role::Clinician,
        Role::Coordinator,
        Role::Technician,
    ];
}

impl TextEnum for Role {
    fn as_text(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Clinician => "clinician",
            Role::Coordinator => "coordinator",
            Role::Technician => "technician",
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_text() == text)
    }
}

#[derive(Debug, Clone)]
pub struct StaffUser {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub password_hash: Option<String>,
    /// Sealed, bound to the user's row.
    pub totp_secret: Option<Vec<u8>>,
    pub totp_pending: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
    pub disabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// A clinician who may approve access to health data (see
    /// `staff::access`).
    pub medical_director: bool,
    /// Wrong second-factor codes in a row.
    pub code_failures: i64,
    /// No code is judged before this.
    pub code_retry_at: Option<Timestamp>,
    /// Only an e-mailed link of this generation works.
    pub link_generation: i64,
}

impl<'r> FromRow<'r, AnyRow> for StaffUser {
    fn from_row(r: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(StaffUser {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            role: get::<Text<Role>>(r, "role")?.0,
            password_hash: r.try_get("password_hash")?,
            totp_secret: r.try_get("totp_secret")?,
            totp_pending: r.try_get("totp_pending")?,
            totp_last_step: r.try_get("totp_last_step")?,
            disabled_at: get::<Option<Millis>>(r, "disabled_at")?.map(|m| m.0),
            created_at: get::<Millis>(r, "created_at")?.0,
            medical_director: get::<Flag>(r, "medical_director")?.0,
            code_failures: r.try_get("code_failures")?,
            code_retry_at: get::<Option<Millis>>(r, "code_retry_at")?.map(|m| m.0),
            link_generation: r.try_get("link_generation")?,
        })
    }
}

const USER_COLUMNS: &str = "u.id, u.email, u.role, u.password_hash, u.totp_secret, u.totp_pending, \
     u.totp_last_step, u.disabled_at, u.created_at, u.medical_director, u.code_failures, \
     u.code_retry_at, u.link_generation";

/// How far a session has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// Password accepted; the code from the authenticator is next.
    SecondFactor,
    /// Password accepted; the second factor must be set up first.
    Enrol,
    Complete,
}

impl TextEnum for SessionStage {
    fn as_text(self) -> &'static str {
        match self {
            SessionStage::SecondFactor => "second_factor",
            SessionStage::Enrol => "enrol",
            SessionStage::Complete => "complete",
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        [
            SessionStage::SecondFactor,
            SessionStage::Enrol,
            SessionStage::Complete,
        ]
        .into_iter()
        .find(|s| s.as_text() == text)
    }
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_hash: String,
    pub user_id: i64,
    pub stage: SessionStage,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub user: StaffUser,
    pub stage: SessionStage,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
}

async fn insert_session(conn: &mut AnyConnection, s: &NewSession) -> Result<()> {
    sqlx::query(
        "INSERT INTO staff_sessions (id_hash, user_id, stage, created_at, last_seen_at, expires_at) \
         VALUES ($1, $2, $3, $4, $4, $5)",
    )
    .bind(s.id_hash.clone())
    .bind(s.user_id)
    .bind(Text(s.stage))
    .bind(Millis(s.created_at))
    .bind(Millis(s.expires_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// An account's failed sign-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub failures: i64,
    pub next_attempt_at: Timestamp,
}

/// What reserving a password attempt found: it may be judged now (and is
/// counted as failed until it proves right), or not before a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Counted: the attempt is the `failures`-th in a row.
    Allowed { failures: i64 },
    /// Not judged: the next attempt is allowed at this time.
    Wait(Timestamp),
}

/// What reserving a second-factor attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeAttempt {
    /// Counted: the attempt is the `failures`-th in a row.
    Allowed { failures: i64 },
    /// Not judged: the next attempt is allowed at this time.
    Wait(Timestamp),
    /// Not judged, and no code is until the account's password is reset
    /// or an administrator enables it again.
    Locked,
}

/// What an e-mailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Accept an invitation: choose a password.
    Invite,
    /// Choose a new password.
    Reset,
}

impl TextEnum for LinkPurpose {
    fn as_text(self) -> &'static str {
        match self {
            LinkPurpose::Invite => "invite",
            LinkPurpose::Reset => "reset",
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        match text {
            "invite" => Some(LinkPurpose::Invite),
            "reset" => Some(LinkPurpose::Reset),
            _ => None,
        }
    }
}

/// An e-mailed link as stored.
#[derive(Debug, Clone)]
pub struct EmailLink {
    pub user: StaffUser,
    pub purpose: LinkPurpose,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    /// Whether it is the account's newest link, and no link was used since
    /// it was made.
    pub newest: bool,
}

/// A new e-mailed link: its digest, and the message that carries it.
#[derive(Debug, Clone)]
pub struct NewLink {
    pub token_hash: String,
    pub purpose: LinkPurpose,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub mail: super::outbox::NewMail,
}

/// Stores a link and queues its message. The account's link generation
/// moves on first, which ends every link made before (a row lock on the
/// account, so two links made at once still leave one working).
async fn insert_link(conn: &mut AnyConnection, user_id: i64, link: NewLink) -> Result<()> {
    let generation: i64 = sqlx::query_scalar(
        "UPDATE staff_users SET link_generation = link_generation + 1 WHERE id = $1 \
         RETURNING link_generation",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO staff_email_links (token_hash, user_id, purpose, created_at, expires_at, \
         generation) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(link.token_hash)
    .bind(user_id)
    .bind(Text(link.purpose))
    .bind(Millis(link.created_at))
    .bind(Millis(link.expires_at))
    .bind(generation)
    .execute(&mut *conn)
    .await?;
    super::outbox::queue(conn, link.mail, link.created_at).await
}

/// Creates an account without a password and queues its invitation link,
/// on `conn` (inside the caller's transaction). An address in use is
/// `Err(StorageError::Conflict(Constraint::StaffEmail))`.
pub(super) async fn insert_invited(
    conn: &mut AnyConnection,
    email: String,
    role: Role,
    link: NewLink,
) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO staff_users (email, role, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(email)
    .bind(Text(role))
    .bind(Millis(link.created_at))
    .fetch_one(&mut *conn)
    .await?;
    insert_link(conn, id, link).await?;
    Ok(id)
}

/// An API token of an account, for its owner's list.
#[derive(Debug, Clone)]
pub struct ApiTokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// What confirming a second factor writes, together.
#[derive(Debug, Clone)]
pub struct SecondFactorSetUp {
    pub user_id: i64,
    pub secret_sealed: Vec<u8>,
    pub step: i64,
    pub recovery_code_hashes: Vec<String>,
    /// The session that did it, replaced by a new one.
    pub old_session: String,
    pub new_session: NewSession,
}

impl Storage {
    /// Creates an account. An address in use is
    /// `Err(StorageError::Conflict(Constraint::StaffEmail))`.
    #[tracing::instrument(skip_all)]
    pub async fn add_staff_user(
        &self,
        email: String,
        role: Role,
        medical_director: bool,
        password_hash: Option<String>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO staff_users (email, role, medical_director, password_hash, \
                     created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(email)
                .bind(Text(role))
                .bind(Flag(medical_director))
                .bind(password_hash)
                .bind(Millis(audit_entry.at))
                .fetch_one(&mut *conn)
                .await?;
                let entry = AuditEntry {
                    record_id: id.to_string(),
                    ..audit_entry
                };
                audit::append(conn, backend, &chain, &entry).await?;
                Ok(id)
            })
        })
        .await
    }

    pub async fn staff_user_by_email(&self, email: &str) -> Result<Option<StaffUser>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM staff_users u WHERE u.email = $1"
        )))
        .bind(email.to_string())
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn staff_user(&self, id: i64) -> Result<Option<StaffUser>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM staff_users u WHERE u.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn staff_users(&self) -> Result<Vec<StaffUser>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM staff_users u ORDER BY u.email"
        )))
        .fetch_all(self.pool())
        .await?)
    }

    /// Keeps a new, unconfirmed second-factor secret for the account.
    pub async fn set_totp_pending(&self, user_id: i64, sealed: Vec<u8>) -> Result<()> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                sqlx::query("UPDATE staff_users SET totp_pending = $1 WHERE id = $2")
                    .bind(sealed)
                    .bind(user_id)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// Makes the pending secret the account's second factor, with new
    /// recovery codes, and replaces the session, all at once.
    #[tracing::instrument(skip_all)]
    pub async fn confirm_second_factor(
        &self,
        set_up: SecondFactorSetUp,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<()> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE staff_users SET totp_secret = $1, totp_pending = NULL, totp_last_step = $2 \
                     WHERE id = $3",
                )
                .bind(set_up.secret_sealed)
                .bind(set_up.step)
                .bind(set_up.user_id)
                .execute(&mut *conn)
                .await?;
                sqlx::query("DELETE FROM staff_recovery_codes WHERE user_id = $1")
                    .bind(set_up.user_id)
                    .execute(&mut *conn)
                    .await?;
                for hash in set_up.recovery_code_hashes {
                    sqlx::query(
                        "INSERT INTO staff_recovery_codes (user_id, code_hash) VALUES ($1, $2)",
                    )
                    .bind(set_up.user_id)
                    .bind(hash)
                    .execute(&mut *conn)
                    .await?;
                }
                sqlx::query("DELETE FROM staff_sessions WHERE id_hash = $1")
                    .bind(set_up.old_session)
                    .execute(&mut *conn)
                    .await?;
                insert_session(conn, &set_up.new_session).await?;
                audit::append(conn, backend, &chain, &audit_entry).await
            })
        })
        .await
    }

    /// Accepts a code's time step once: false when this step (or a later
    /// one) was used before.
    pub async fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE staff_users SET totp_last_step = $1 \
                     WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
                )
                .bind(step)
                .bind(user_id)
                .execute(conn)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }

    /// Uses up a recovery code: false when it is not the account's or was
    /// used before.
    pub async fn use_recovery_code(
        &self,
        user_id: i64,
        hash: String,
        now: Timestamp,
    ) -> Result<bool> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE staff_recovery_codes SET used_at = $1 \
                     WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
                )
                .bind(Millis(now))
                .bind(user_id)
                .bind(hash)
                .execute(conn)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }

    pub async fn unused_recovery_codes(&self, user_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM staff_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?)
    }

    /// Starts a session; when `replaces` is given, that session ends in the
    /// same transaction (a new id at every step of signing in).
    #[tracing::instrument(skip_all)]
    pub async fn start_session(
        &self,
        session: NewSession,
        replaces: Option<String>,
        chain: &AuditChain,
        audit_entry: Option<AuditEntry>,
    ) -> Result<()> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                if let Some(old) = replaces {
                    sqlx::query("DELETE FROM staff_sessions WHERE id_hash = $1")
                        .bind(old)
                        .execute(&mut *conn)
                        .await?;
                }
                insert_session(conn, &session).await?;
                if let Some(entry) = audit_entry {
                    audit::append(conn, backend, &chain, &entry).await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// The session and its account.
    #[tracing::instrument(skip_all)]
    pub async fn session(&self, id_hash: &str) -> Result<Option<Session>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, s.id_hash, s.stage, s.created_at AS s_created, \
             s.last_seen_at, s.expires_at \
             FROM staff_sessions s JOIN staff_users u ON u.id = s.user_id WHERE s.id_hash = $1"
        )))
        .bind(id_hash.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(Session {
                user: StaffUser::from_row(&r)?,
                id_hash: r.try_get("id_hash")?,
                stage: get::<Text<SessionStage>>(&r, "stage")?.0,
                created_at: get::<Millis>(&r, "s_created")?.0,
                last_seen_at: get::<Millis>(&r, "last_seen_at")?.0,
                expires_at: get::<Millis>(&r, "expires_at")?.0,
            })
        })
        .transpose()
    }

    /// Notes that a session was used at `now`.
    pub async fn touch_session(&self, id_hash: String, now: Timestamp) -> Result<()> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                sqlx::query("UPDATE staff_sessions SET last_seen_at = $1 WHERE id_hash = $2")
                    .bind(Millis(now))
                    .bind(id_hash)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    pub async fn end_session(&self, id_hash: String) -> Result<()> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                sqlx::query("DELETE FROM staff_sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// Ends every session of the account but `keep`. Returns how many.
    pub async fn end_other_sessions(&self, user_id: i64, keep: String) -> Result<u64> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                let done =
                    sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1 AND id_hash <> $2")
                        .bind(user_id)
                        .bind(keep)
                        .execute(conn)
                        .await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }

    /// Deletes sessions past their end. Returns how many.
    pub async fn purge_sessions(&self, idle_since: Timestamp, now: Timestamp) -> Result<u64> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "DELETE FROM staff_sessions WHERE expires_at <= $1 OR last_seen_at < $2",
                )
                .bind(Millis(now))
                .bind(Millis(idle_since))
                .execute(conn)
                .await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }

    pub async fn sign_in_throttle(&self, account_key: &str) -> Result<Option<Throttle>> {
        let row = sqlx::query(
            "SELECT failures, next_attempt_at FROM sign_in_throttle WHERE account_key = $1",
        )
        .bind(account_key.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(Throttle {
                failures: r.try_get("failures")?,
                next_attempt_at: get::<Millis>(&r, "next_attempt_at")?.0,
            })
        })
        .transpose()
    }

    /// Reserves a password attempt on `account_key` before it is judged:
    /// when one is allowed now, it is counted as failed at once (and the
    /// next is pushed back by `delay` of the new count), all in one
    /// transaction holding the row, so no number of requests, on any
    /// number of instances, gets more attempts judged than the count
    /// allows. A right password then clears the count
    /// ([`Storage::sign_in_succeeded`]). Failures older than
    /// `forget_before` no longer count.
    pub async fn reserve_sign_in(
        &self,
        account_key: String,
        now: Timestamp,
        forget_before: Timestamp,
        delay: fn(i64) -> jiff::SignedDuration,
    ) -> Result<Attempt> {
        self.write(move |conn| {
            Box::pin(async move {
                // The conflict arm updates (and returns) only when an
                // attempt is allowed; otherwise it returns nothing.
                let failures: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO sign_in_throttle (account_key, failures, next_attempt_at, updated_at) \
                     VALUES ($1, 1, $2, $2) ON CONFLICT (account_key) DO UPDATE SET \
                     failures = CASE WHEN sign_in_throttle.updated_at < $3 THEN 1 \
                                     ELSE sign_in_throttle.failures + 1 END, \
                     updated_at = excluded.updated_at \
                     WHERE sign_in_throttle.next_attempt_at <= $2 OR sign_in_throttle.updated_at < $3 \
                     RETURNING failures",
                )
                .bind(account_key.clone())
                .bind(Millis(now))
                .bind(Millis(forget_before))
                .fetch_optional(&mut *conn)
                .await?;
                let Some(failures) = failures else {
                    // The row is ours until commit; should it be gone all the
                    // same (a right password cleared it), try again at once.
                    let next: Option<Millis> = sqlx::query_scalar(
                        "SELECT next_attempt_at FROM sign_in_throttle WHERE account_key = $1",
                    )
                    .bind(account_key)
                    .fetch_optional(&mut *conn)
                    .await?;
                    return Ok(Attempt::Wait(next.map_or(now, |m| m.0)));
                };
                sqlx::query("UPDATE sign_in_throttle SET next_attempt_at = $1 WHERE account_key = $2")
                    .bind(Millis(crate::time::after(now, delay(failures))))
                    .bind(account_key)
                    .execute(&mut *conn)
                    .await?;
                Ok(Attempt::Allowed { failures })
            })
        })
        .await
    }

    /// Clears the password failures counted on `account_key` (a right
    /// password). Wrong second-factor codes are counted elsewhere and stay.
    pub async fn sign_in_succeeded(&self, account_key: String) -> Result<()> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                sqlx::query("DELETE FROM sign_in_throttle WHERE account_key = $1")
                    .bind(account_key)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// Reserves a second-factor attempt of the account before it is judged,
    /// like [`Storage::reserve_sign_in`]: counted as failed at once, the
    /// next pushed back by `delay`, and none at all once `max` are counted
    /// in a row. Only [`Storage::code_succeeded`], a password set from a
    /// link, or enabling the account starts the count again.
    pub async fn reserve_code_attempt(
        &self,
        user_id: i64,
        now: Timestamp,
        max: i64,
        delay: fn(i64) -> jiff::SignedDuration,
    ) -> Result<CodeAttempt> {
        self.write(move |conn| {
            Box::pin(async move {
                let failures: Option<i64> = sqlx::query_scalar(
                    "UPDATE staff_users SET code_failures = code_failures + 1 \
                     WHERE id = $1 AND code_failures < $2 \
                     AND (code_retry_at IS NULL OR code_retry_at <= $3) \
                     RETURNING code_failures",
                )
                .bind(user_id)
                .bind(max)
                .bind(Millis(now))
                .fetch_optional(&mut *conn)
                .await?;
                let Some(failures) = failures else {
                    let row = sqlx::query(
                        "SELECT code_failures, code_retry_at FROM staff_users WHERE id = $1",
                    )
                    .bind(user_id)
                    .fetch_one(&mut *conn)
                    .await?;
                    let counted: i64 = row.try_get("code_failures")?;
                    let retry = get::<Option<Millis>>(&row, "code_retry_at")?.map(|m| m.0);
                    return Ok(match retry {
                        _ if counted >= max => CodeAttempt::Locked,
                        Some(at) => CodeAttempt::Wait(at),
                        // Unreachable unless the count changed meanwhile:
                        // not judged, try again at once.
                        None => CodeAttempt::Wait(now),
                    });
                };
                sqlx::query("UPDATE staff_users SET code_retry_at = $1 WHERE id = $2")
                    .bind(Millis(crate::time::after(now, delay(failures))))
                    .bind(user_id)
                    .execute(&mut *conn)
                    .await?;
                Ok(CodeAttempt::Allowed { failures })
            })
        })
        .await
    }

    /// A right code: the count of wrong ones starts again.
    pub async fn code_succeeded(&self, user_id: i64) -> Result<()> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE staff_users SET code_failures = 0, code_retry_at = NULL WHERE id = $1",
                )
                .bind(user_id)
                .execute(conn)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Stores a new API token of the account. Returns its id.
    pub async fn add_api_token(
        &self,
        user_id: i64,
        name: String,
        token_hash: String,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO staff_api_tokens (user_id, name, token_hash, created_at) \
                     VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(user_id)
                .bind(name)
                .bind(token_hash)
                .bind(Millis(audit_entry.at))
                .fetch_one(&mut *conn)
                .await?;
                let entry = AuditEntry {
                    record_id: id.to_string(),
                    ..audit_entry
                };
                audit::append(conn, backend, &chain, &entry).await?;
                Ok(id)
            })
        })
        .await
    }

    /// Stores a new link for an existing account and queues its e-mail.
    pub async fn add_email_link(&self, user_id: i64, link: NewLink) -> Result<()> {
        self.write(move |conn| Box::pin(async move { insert_link(conn, user_id, link).await }))
            .await
    }

    pub async fn email_link(&self, token_hash: &str) -> Result<Option<EmailLink>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, l.purpose, l.expires_at, l.used_at, l.generation \
             FROM staff_email_links l JOIN staff_users u ON u.id = l.user_id WHERE l.token_hash = $1"
        )))
        .bind(token_hash.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            let user = StaffUser::from_row(&r)?;
            let generation: i64 = r.try_get("generation")?;
            Ok(EmailLink {
                newest: generation == user.link_generation,
                user,
                purpose: get::<Text<LinkPurpose>>(&r, "purpose")?.0,
                expires_at: get::<Millis>(&r, "expires_at")?.0,
                used_at: get::<Option<Millis>>(&r, "used_at")?.map(|m| m.0),
            })
        })
        .transpose()
    }

    /// Uses a link to set the account's password, once, before it expires,
    /// and only if it is the account's newest link: the account's link
    /// generation moves on in the same statement, so every other link of
    /// the account dies with it, and of two uses at once one wins. Wrong
    /// second-factor codes counted so far are forgotten (whoever guessed
    /// them knew the old password). A reset also ends every session of the
    /// account. Returns false when the link was used, replaced or has
    /// expired meanwhile.
    #[tracing::instrument(skip_all)]
    pub async fn set_password_with_link(
        &self,
        token_hash: String,
        user_id: i64,
        password_hash: String,
        now: Timestamp,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<bool> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let set = sqlx::query(
                    "UPDATE staff_users SET password_hash = $1, \
                     link_generation = link_generation + 1, code_failures = 0, code_retry_at = NULL \
                     WHERE id = $2 AND disabled_at IS NULL AND link_generation = \
                     (SELECT generation FROM staff_email_links \
                      WHERE token_hash = $3 AND user_id = $2 AND used_at IS NULL AND expires_at > $4)",
                )
                .bind(password_hash)
                .bind(user_id)
                .bind(token_hash.clone())
                .bind(Millis(now))
                .execute(&mut *conn)
                .await?;
                if set.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query("UPDATE staff_email_links SET used_at = $1 WHERE token_hash = $2")
                    .bind(Millis(now))
                    .bind(token_hash)
                    .execute(&mut *conn)
                    .await?;
                // Every session ends: whoever knew the old password is out.
                sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *conn)
                    .await?;
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(true)
            })
        })
        .await
    }

    /// Disables (`Some(at)`) or enables (`None`) an account. Either way its
    /// sessions end and its API tokens are revoked, so enabling an account
    /// brings back neither (and tokens made while it was disabled die too);
    /// enabling also forgets its wrong second-factor codes.
    pub async fn set_staff_disabled(
        &self,
        user_id: i64,
        disabled_at: Option<Timestamp>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<bool> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let done = match disabled_at {
                    Some(at) => {
                        sqlx::query("UPDATE staff_users SET disabled_at = $1 WHERE id = $2")
                            .bind(Millis(at))
                            .bind(user_id)
                            .execute(&mut *conn)
                            .await?
                    }
                    None => {
                        sqlx::query(
                            "UPDATE staff_users SET disabled_at = NULL, code_failures = 0, \
                             code_retry_at = NULL WHERE id = $1",
                        )
                        .bind(user_id)
                        .execute(&mut *conn)
                        .await?
                    }
                };
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(
                    "UPDATE staff_api_tokens SET revoked_at = $1 \
                     WHERE user_id = $2 AND revoked_at IS NULL",
                )
                .bind(Millis(audit_entry.at))
                .bind(user_id)
                .execute(&mut *conn)
                .await?;
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(true)
            })
        })
        .await
    }

    /// The account's API tokens, newest first.
    pub async fn api_tokens_of(&self, user_id: i64) -> Result<Vec<ApiTokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM staff_api_tokens \
             WHERE user_id = $1 ORDER BY id DESC",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiTokenInfo {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: get::<Millis>(r, "created_at")?.0,
                    last_used_at: get::<Option<Millis>>(r, "last_used_at")?.map(|m| m.0),
                    revoked_at: get::<Option<Millis>>(r, "revoked_at")?.map(|m| m.0),
                })
            })
            .collect()
    }

    /// Notes that a token was used at `now`.
    pub async fn touch_api_token(&self, token_id: i64, now: Timestamp) -> Result<()> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                sqlx::query("UPDATE staff_api_tokens SET last_used_at = $1 WHERE id = $2")
                    .bind(Millis(now))
                    .bind(token_id)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// The account of a token that has not been revoked, with the token's id.
    pub async fn api_token_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<(i64, Option<Timestamp>, StaffUser)>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, t.id AS token_id, t.last_used_at AS token_used FROM staff_api_tokens t \
             JOIN staff_users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL"
        )))
        .bind(token_hash.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok((
                r.try_get("token_id")?,
                get::<Option<Millis>>(&r, "token_used")?.map(|m| m.0),
                StaffUser::from_row(&r)?,
            ))
        })
        .transpose()
    }

    /// Revokes a token of the account. Returns whether it was revoked now.
    pub async fn revoke_api_token(
        &self,
        user_id: i64,
        token_id: i64,
        now: Timestamp,
    ) -> Result<bool> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE staff_api_tokens SET revoked_at = $1 \
                     WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
                )
                .bind(Millis(now))
                .bind(token_id)
                .bind(user_id)
                .execute(conn)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }
}
