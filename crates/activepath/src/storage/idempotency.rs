//! Idempotency-Keys of `POST /api/v1/assessments`: each binds a key to the
//! request it was first used with and to the result that request made.

use super::assessments::{self, NewResult};
use super::{Millis, Result, Storage, get};
use jiff::Timestamp;
use sqlx::Row;

/// A key as stored: digests only, never the key or the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Keyed digest of the Idempotency-Key.
    pub key_hash: String,
    /// Keyed digest of the request it was first used with.
    pub fingerprint: String,
    pub result_id: i64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Storage {
    /// The record of a key that has not expired at `now`.
    #[tracing::instrument(skip_all)]
    pub async fn idempotency_record(
        &self,
        key_hash: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotencyRecord>> {
        let row = sqlx::query(
            "SELECT key_hash, fingerprint, result_id, created_at, expires_at \
             FROM api_idempotency WHERE key_hash = $1 AND expires_at > $2",
        )
        .bind(key_hash.to_string())
        .bind(Millis(now))
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(IdempotencyRecord {
                key_hash: r.try_get("key_hash")?,
                fingerprint: r.try_get("fingerprint")?,
                result_id: r.try_get("result_id")?,
                created_at: get::<Millis>(&r, "created_at")?.0,
                expires_at: get::<Millis>(&r, "expires_at")?.0,
            })
        })
        .transpose()
    }

    /// Stores a result and the key it was made under, together; returns the
    /// result's id. A key another request stored first (and that has not
    /// expired) is `Err(Conflict(IdempotencyKey))`, and nothing is stored.
    #[tracing::instrument(skip_all)]
    pub async fn insert_result_with_key(
        &self,
        result: NewResult,
        key: IdempotencyRecord,
    ) -> Result<i64> {
        self.write(move |conn| {
            Box::pin(async move {
                // An expired record that the purge has not reached yet.
                sqlx::query("DELETE FROM api_idempotency WHERE key_hash = $1 AND expires_at <= $2")
                    .bind(key.key_hash.clone())
                    .bind(Millis(key.created_at))
                    .execute(&mut *conn)
                    .await?;
                let id = assessments::insert(&mut *conn, result).await?;
                sqlx::query(
                    "INSERT INTO api_idempotency (key_hash, fingerprint, result_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(key.key_hash)
                .bind(key.fingerprint)
                .bind(id)
                .bind(Millis(key.created_at))
                .bind(Millis(key.expires_at))
                .execute(&mut *conn)
                .await?;
                Ok(id)
            })
        })
        .await
    }

    /// Deletes keys that expired before `now`. Returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn purge_expired_idempotency_keys(&self, now: Timestamp) -> Result<u64> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                let done = sqlx::query("DELETE FROM api_idempotency WHERE expires_at <= $1")
                    .bind(Millis(now))
                    .execute(conn)
                    .await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }
}
