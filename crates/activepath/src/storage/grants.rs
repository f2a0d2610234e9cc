//! Roles given in the portal, waiting for a second person's approval (see
//! `staff::access`), and the medical-director flag of an account.

use super::audit::{self, AuditEntry};
use super::outbox::{self, NewMail};
use super::staff::{NewLink, Role, insert_invited};
use super::{Constraint, Flag, Millis, Result, Storage, StorageError, Text, TextEnum, get};
use crate::crypto::AuditChain;
use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Where a request for a role stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantStatus {
    Pending,
    Approved,
    Declined,
}

impl TextEnum for GrantStatus {
    fn as_text(self) -> &'static str {
        match self {
            GrantStatus::Pending => "pending",
            GrantStatus::Approved => "approved",
            GrantStatus::Declined => "declined",
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        [
            GrantStatus::Pending,
            GrantStatus::Approved,
            GrantStatus::Declined,
        ]
        .into_iter()
        .find(|s| s.as_text() == text)
    }
}

/// A request, made in the portal, to give `email` an account with `role`.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub requested_by: i64,
    /// The requester's address, as it is now.
    pub requester: String,
    pub requested_at: Timestamp,
    pub status: GrantStatus,
    /// `None` with a decision: the server's operator, on the command line.
    pub decided_by: Option<i64>,
    pub decider: Option<String>,
    pub decided_at: Option<Timestamp>,
}

fn grant(r: &AnyRow) -> sqlx::Result<Grant> {
    Ok(Grant {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        role: get::<Text<Role>>(r, "role")?.0,
        requested_by: r.try_get("requested_by")?,
        requester: r.try_get("requester")?,
        requested_at: get::<Millis>(r, "requested_at")?.0,
        status: get::<Text<GrantStatus>>(r, "status")?.0,
        decided_by: r.try_get("decided_by")?,
        decider: r.try_get("decider")?,
        decided_at: get::<Option<Millis>>(r, "decided_at")?.map(|m| m.0),
    })
}

const GRANT_SELECT: &str = "SELECT g.id, g.email, g.role, g.requested_by, r.email AS requester, \
     g.requested_at, g.status, g.decided_by, d.email AS decider, g.decided_at \
     FROM staff_grants g JOIN staff_users r ON r.id = g.requested_by \
     LEFT JOIN staff_users d ON d.id = g.decided_by";

/// What approving a grant writes, together.
#[derive(Debug, Clone)]
pub struct Approval {
    pub grant_id: i64,
    /// The approving account; `None` for the command line.
    pub decided_by: Option<i64>,
    pub at: Timestamp,
    /// The new account's invitation link and its message.
    pub link: NewLink,
    /// Told to the clinic's administrators.
    pub notices: Vec<NewMail>,
    /// The approval's entry; the account's own (`invite`) is made from it.
    pub audit_entry: AuditEntry,
}

impl Storage {
    /// Records a request for a role, queues `notices` and its audit entry,
    /// in one transaction. An address with an account is
    /// `Conflict(StaffEmail)`; one with a request waiting already,
    /// `Conflict(GrantPending)`.
    #[tracing::instrument(skip_all)]
    pub async fn request_grant(
        &self,
        email: String,
        role: Role,
        requested_by: i64,
        notices: Vec<NewMail>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let taken: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM staff_users WHERE email = $1")
                        .bind(email.clone())
                        .fetch_optional(&mut *conn)
                        .await?;
                if taken.is_some() {
                    return Err(StorageError::Conflict(Constraint::StaffEmail));
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO staff_grants (email, role, requested_by, requested_at, status) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(email)
                .bind(Text(role))
                .bind(requested_by)
                .bind(Millis(audit_entry.at))
                .bind(Text(GrantStatus::Pending))
                .fetch_one(&mut *conn)
                .await?;
                for mail in notices {
                    outbox::queue(conn, mail, audit_entry.at).await?;
                }
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

    pub async fn grant(&self, id: i64) -> Result<Option<Grant>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{GRANT_SELECT} WHERE g.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(grant).transpose()?)
    }

    /// Requests waiting, oldest first, and the `decided` latest decisions.
    pub async fn grants(&self, decided: i64) -> Result<(Vec<Grant>, Vec<Grant>)> {
        let pending = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{GRANT_SELECT} WHERE g.status = $1 ORDER BY g.id"
        )))
        .bind(Text(GrantStatus::Pending))
        .fetch_all(self.pool())
        .await?;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{GRANT_SELECT} WHERE g.status <> $1 ORDER BY g.decided_at DESC, g.id DESC LIMIT $2"
        )))
        .bind(Text(GrantStatus::Pending))
        .bind(decided)
        .fetch_all(self.pool())
        .await?;
        Ok((
            pending.iter().map(grant).collect::<sqlx::Result<_>>()?,
            done.iter().map(grant).collect::<sqlx::Result<_>>()?,
        ))
    }

    /// The request waiting for `email`, if any.
    pub async fn pending_grant_for(&self, email: &str) -> Result<Option<Grant>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{GRANT_SELECT} WHERE g.email = $1 AND g.status = $2"
        )))
        .bind(email.to_string())
        .bind(Text(GrantStatus::Pending))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(grant).transpose()?)
    }

    /// Approves a waiting request: marks it approved, makes the account,
    /// queues its invitation and the notices, and writes the audit entries,
    /// in one transaction. The database refuses it too when the approver is
    /// the one who asked. Returns the new account's id, or `None` when the
    /// request was no longer waiting (decided meanwhile) or is the
    /// approver's own. An address taken meanwhile is `Conflict(StaffEmail)`
    /// and leaves the request waiting.
    #[tracing::instrument(skip_all)]
    pub async fn approve_grant(
        &self,
        approval: Approval,
        chain: &AuditChain,
    ) -> Result<Option<i64>> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let decided = sqlx::query(
                    "UPDATE staff_grants SET status = $1, decided_by = $2, decided_at = $3 \
                     WHERE id = $4 AND status = $5 AND ($2 IS NULL OR requested_by <> $2) \
                     RETURNING email, role",
                )
                .bind(Text(GrantStatus::Approved))
                .bind(approval.decided_by)
                .bind(Millis(approval.at))
                .bind(approval.grant_id)
                .bind(Text(GrantStatus::Pending))
                .fetch_optional(&mut *conn)
                .await?;
                let Some(row) = decided else {
                    return Ok(None);
                };
                let email: String = row.try_get("email")?;
                let role = get::<Text<Role>>(&row, "role")?.0;
                let user_id = insert_invited(conn, email, role, approval.link).await?;
                sqlx::query("UPDATE staff_grants SET user_id = $1 WHERE id = $2")
                    .bind(user_id)
                    .bind(approval.grant_id)
                    .execute(&mut *conn)
                    .await?;
                for mail in approval.notices {
                    outbox::queue(conn, mail, approval.at).await?;
                }
                let invite = AuditEntry {
                    action: "invite".into(),
                    record_type: "staff_user".into(),
                    record_id: user_id.to_string(),
                    ..approval.audit_entry.clone()
                };
                audit::append(conn, backend, &chain, &approval.audit_entry).await?;
                audit::append(conn, backend, &chain, &invite).await?;
                Ok(Some(user_id))
            })
        })
        .await
    }

    /// Declines (or withdraws) a waiting request. Returns false when it was
    /// no longer waiting.
    pub async fn decline_grant(
        &self,
        grant_id: i64,
        decided_by: Option<i64>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<bool> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE staff_grants SET status = $1, decided_by = $2, decided_at = $3 \
                     WHERE id = $4 AND status = $5",
                )
                .bind(Text(GrantStatus::Declined))
                .bind(decided_by)
                .bind(Millis(audit_entry.at))
                .bind(grant_id)
                .bind(Text(GrantStatus::Pending))
                .execute(&mut *conn)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(true)
            })
        })
        .await
    }

    /// Makes a clinician the medical director, or not. Returns false when
    /// the account is not a clinician's.
    pub async fn set_medical_director(
        &self,
        user_id: i64,
        on: bool,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<bool> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE staff_users SET medical_director = $1 WHERE id = $2 AND role = $3",
                )
                .bind(Flag(on))
                .bind(user_id)
                .bind(Text(Role::Clinician))
                .execute(&mut *conn)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(true)
            })
        })
        .await
    }
}
