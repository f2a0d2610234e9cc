//! The audit trail: append-only, each entry linked to the one before by a
//! keyed hash. Appends are serialised (SQLite's single writer; on
//! PostgreSQL a transaction-scoped advisory lock), so the chain has one
//! order on every instance.

use super::{Backend, Millis, Result, Storage, get};
use crate::crypto::AuditChain;
use jiff::Timestamp;
use sqlx::{AnyConnection, Row};

/// Taken by every append on PostgreSQL, so that appends from several
/// instances form one chain.
const APPEND_LOCK: i64 = 0x0061_7564_6974; // "audit" in ASCII

/// What happened, to which record, by whom, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Timestamp,
    /// The staff user; `None` for the system or a command on the server.
    pub actor_id: Option<i64>,
    /// Who, in words: the user's e-mail at the time, or "command line".
    pub actor: String,
    /// `view`, `create`, `update`, `export`, `sign_in`, …
    pub action: String,
    pub record_type: String,
    pub record_id: String,
    pub client_ip: Option<String>,
}

impl AuditEntry {
    /// The entry's fields as the chain hashes them.
    fn hashed_fields(&self) -> Vec<Vec<u8>> {
        vec![
            self.at.as_millisecond().to_be_bytes().to_vec(),
            self.actor_id
                .map_or(b"-".to_vec(), |id| id.to_string().into_bytes()),
            self.actor.clone().into_bytes(),
            self.action.clone().into_bytes(),
            self.record_type.clone().into_bytes(),
            self.record_id.clone().into_bytes(),
            self.client_ip.clone().unwrap_or_default().into_bytes(),
        ]
    }

    /// This entry's hash after `prev_hash`.
    pub fn link(&self, chain: &AuditChain, prev_hash: &str) -> String {
        let fields = self.hashed_fields();
        let parts: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
        chain.link(prev_hash, &parts)
    }
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// Appends `entry` on `conn`, inside the caller's transaction: the entry is
/// kept exactly when the change it records is.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    backend: Backend,
    chain: &AuditChain,
    entry: &AuditEntry,
) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    let prev: Option<String> =
        sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let prev = prev.unwrap_or_else(|| AuditChain::GENESIS.to_string());
    let hash = entry.link(chain, &prev);
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor, action, record_type, record_id, client_ip, \
         prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(Millis(entry.at))
    .bind(entry.actor_id)
    .bind(entry.actor.clone())
    .bind(entry.action.clone())
    .bind(entry.record_type.clone())
    .bind(entry.record_id.clone())
    .bind(entry.client_ip.clone())
    .bind(prev)
    .bind(hash)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn row(r: &sqlx::any::AnyRow) -> sqlx::Result<AuditRow> {
    Ok(AuditRow {
        id: r.try_get("id")?,
        entry: AuditEntry {
            at: get::<Millis>(r, "at")?.0,
            actor_id: r.try_get("actor_id")?,
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            record_type: r.try_get("record_type")?,
            record_id: r.try_get("record_id")?,
            client_ip: r.try_get("client_ip")?,
        },
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// Which entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<i64>,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl Storage {
    /// Appends one entry on its own (for what is seen rather than changed).
    #[tracing::instrument(skip_all)]
    pub async fn audit(&self, chain: &AuditChain, entry: AuditEntry) -> Result<()> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write_audit(move |conn| {
            Box::pin(async move { append(conn, backend, &chain, &entry).await })
        })
        .await
    }

    /// Up to `limit` entries after `after_id`, in order: for checking the
    /// chain page by page.
    #[tracing::instrument(skip_all)]
    pub async fn audit_rows(&self, after_id: i64, limit: i64) -> Result<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT id, at, actor_id, actor, action, record_type, record_id, client_ip, prev_hash, hash \
             FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(row).collect::<sqlx::Result<_>>()?)
    }

    /// Entries matching `filter`, newest first, at most `limit`.
    #[tracing::instrument(skip_all)]
    pub async fn audit_search(&self, filter: &AuditFilter, limit: i64) -> Result<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT id, at, actor_id, actor, action, record_type, record_id, client_ip, prev_hash, hash \
             FROM audit_log \
             WHERE ($1 IS NULL OR actor_id = $1) \
               AND ($2 IS NULL OR record_type = $2) \
               AND ($3 IS NULL OR record_id = $3) \
               AND ($4 IS NULL OR at >= $4) \
               AND ($5 IS NULL OR at < $5) \
             ORDER BY id DESC LIMIT $6",
        )
        .bind(filter.actor_id)
        .bind(filter.record_type.clone())
        .bind(filter.record_id.clone())
        .bind(filter.from.map(Millis))
        .bind(filter.until.map(Millis))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(row).collect::<sqlx::Result<_>>()?)
    }
}
