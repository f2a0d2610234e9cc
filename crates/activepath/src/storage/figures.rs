//! The site's daily counts (`site_counts`): added to in batches, read for
//! the portal's figures page.

use super::{Result, Storage};
use sqlx::Row;

/// One day's count of one thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyCount {
    /// `YYYY-MM-DD` in the clinic's time zone.
    pub day: String,
    /// `view` (a page) or `step` (of the self-assessment or booking).
    pub kind: String,
    pub name: String,
    pub count: i64,
}

impl Storage {
    /// Adds `counts` to what is stored, in one transaction. Several
    /// instances may add at once: each adds, none overwrites.
    #[tracing::instrument(skip_all)]
    pub async fn add_site_counts(&self, counts: Vec<DailyCount>) -> Result<()> {
        if counts.is_empty() {
            return Ok(());
        }
        self.write(move |conn| {
            Box::pin(async move {
                for c in counts {
                    sqlx::query(
                        "INSERT INTO site_counts (day, kind, name, count) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (day, kind, name) DO UPDATE SET count = site_counts.count + excluded.count",
                    )
                    .bind(c.day)
                    .bind(c.kind)
                    .bind(c.name)
                    .bind(c.count)
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Every count from `first` to `last` (inclusive days), oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn site_counts(&self, first: &str, last: &str) -> Result<Vec<DailyCount>> {
        let rows = sqlx::query(
            "SELECT day, kind, name, count FROM site_counts WHERE day >= $1 AND day <= $2 \
             ORDER BY day, kind, name",
        )
        .bind(first.to_string())
        .bind(last.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DailyCount {
                    day: r.try_get("day")?,
                    kind: r.try_get("kind")?,
                    name: r.try_get("name")?,
                    count: r.try_get("count")?,
                })
            })
            .collect()
    }

    /// Forgets counts of days before `first`.
    #[tracing::instrument(skip_all)]
    pub async fn purge_site_counts(&self, first: &str) -> Result<u64> {
        let first = first.to_string();
        self.write(move |conn| {
            Box::pin(async move {
                Ok(sqlx::query("DELETE FROM site_counts WHERE day < $1")
                    .bind(first)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected())
            })
        })
        .await
    }
}
