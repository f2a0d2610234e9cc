//! Upgrades of stored data that need the encryption key, which SQL
//! migrations do not have: the rows are read, changed by the caller (which
//! holds the key) and written back in one transaction, recorded by name so
//! that each upgrade runs once, even with several instances starting at once.

use super::{Result, Storage, StorageError, get};
use sqlx::{AnyConnection, Row};

/// A result's stored lookup values and sealed answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedResult {
    pub id: i64,
    pub submission_key: String,
    pub token_hash: String,
    pub answers: Vec<u8>,
}

/// A triage case's sealed contact details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedCase {
    pub id: i64,
    pub uid: String,
    pub contact: Vec<u8>,
}

/// Every sealed value and lookup digest, as an upgrade reads and rewrites them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealedRows {
    pub results: Vec<SealedResult>,
    pub cases: Vec<SealedCase>,
}

async fn read_all(conn: &mut AnyConnection) -> Result<SealedRows> {
    let results = sqlx::query(
        "SELECT id, submission_key, token_hash, answers FROM assessment_results ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(SealedResult {
            id: r.try_get("id")?,
            submission_key: r.try_get("submission_key")?,
            token_hash: r.try_get("token_hash")?,
            answers: get(r, "answers")?,
        })
    })
    .collect::<sqlx::Result<_>>()?;
    let cases = sqlx::query("SELECT id, uid, contact FROM triage_cases ORDER BY id")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(SealedCase {
                id: r.try_get("id")?,
                uid: r.try_get("uid")?,
                contact: get(r, "contact")?,
            })
        })
        .collect::<sqlx::Result<_>>()?;
    Ok(SealedRows { results, cases })
}

/// Records the upgrade `name` as done, in the transaction that does it;
/// false when it was done before. First in that transaction, so that a second
/// instance waits here for the first and then finds the upgrade done.
pub(super) async fn claim(
    conn: &mut AnyConnection,
    name: &str,
    now: super::Millis,
) -> Result<bool> {
    let claimed = sqlx::query(
        "INSERT INTO data_migrations (name, applied_at) VALUES ($1, $2) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

impl Storage {
    /// Runs the upgrade `name` unless it has run before: `change` gets every
    /// sealed row and returns them as they must be stored. Returns whether it
    /// ran here.
    #[tracing::instrument(skip_all, fields(upgrade = name))]
    pub async fn upgrade_sealed_rows(
        &self,
        name: &'static str,
        change: impl FnOnce(SealedRows) -> SealedRows + Send + 'static,
    ) -> Result<bool> {
        let now = super::Millis(jiff::Timestamp::now());
        self.write(move |conn| {
            Box::pin(async move {
                if !claim(conn, name, now).await? {
                    return Ok(false);
                }
                let before = read_all(conn).await?;
                let after = change(before.clone());
                if after.results.len() != before.results.len()
                    || after.cases.len() != before.cases.len()
                {
                    return Err(StorageError::NotCommitted(format!(
                        "upgrade {name} changed the number of rows"
                    )));
                }
                let same_rows = before
                    .results
                    .iter()
                    .zip(&after.results)
                    .all(|(a, b)| a.id == b.id)
                    && before
                        .cases
                        .iter()
                        .zip(&after.cases)
                        .all(|(a, b)| a.id == b.id);
                if !same_rows {
                    return Err(StorageError::NotCommitted(format!(
                        "upgrade {name} changed which rows it returned"
                    )));
                }
                for (old, new) in before.results.iter().zip(&after.results) {
                    if old != new {
                        sqlx::query(
                            "UPDATE assessment_results SET submission_key = $1, token_hash = $2, \
                             answers = $3 WHERE id = $4",
                        )
                        .bind(new.submission_key.clone())
                        .bind(new.token_hash.clone())
                        .bind(new.answers.clone())
                        .bind(old.id)
                        .execute(&mut *conn)
                        .await?;
                    }
                }
                for (old, new) in before.cases.iter().zip(&after.cases) {
                    if old != new {
                        sqlx::query("UPDATE triage_cases SET uid = $1, contact = $2 WHERE id = $3")
                            .bind(new.uid.clone())
                            .bind(new.contact.clone())
                            .bind(old.id)
                            .execute(&mut *conn)
                            .await?;
                    }
                }
                Ok(true)
            })
        })
        .await
    }
}
