//! Patient records: sealed details and notes, blind indexes for exact
//! e-mail and phone lookups, keyed name words, and the cases linked to them.

use super::assessments::StoredResult;
use super::audit::{self, AuditEntry};
use super::triage::{ChangeOutcome, EventKind};
use super::{Millis, Result, Storage, Text, get};
use crate::crypto::AuditChain;
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};

#[derive(Debug, Clone)]
pub struct PatientRecord {
    pub id: i64,
    pub uid: String,
    /// Sealed JSON of the details, bound to `uid`.
    pub details_sealed: Vec<u8>,
    /// Sealed clinical notes, bound to `uid`.
    pub notes_sealed: Option<Vec<u8>>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl<'r> FromRow<'r, AnyRow> for PatientRecord {
    fn from_row(r: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(PatientRecord {
            id: r.try_get("id")?,
            uid: r.try_get("uid")?,
            details_sealed: r.try_get("details")?,
            notes_sealed: r.try_get("notes")?,
            version: r.try_get("version")?,
            created_at: get::<Millis>(r, "created_at")?.0,
            updated_at: get::<Millis>(r, "updated_at")?.0,
        })
    }
}

const COLUMNS: &str = "p.id, p.uid, p.details, p.notes, p.version, p.created_at, p.updated_at";

/// The query behind [`Storage::find_patients`]: $1 the limit, then $2 the
/// index, or $2 the number of words and $3… the words.
pub(super) fn find_sql(lookup: &PatientLookup) -> String {
    let filter = match lookup {
        PatientLookup::Email(_) => "p.email_index = $2".to_string(),
        PatientLookup::Phone(_) => "p.phone_index = $2".to_string(),
        // Every word: the records holding all of them in the word index.
        PatientLookup::NameWords(words) => format!(
            "p.id IN (SELECT patient_id FROM patient_name_words WHERE word_hash IN ({}) \
             GROUP BY patient_id HAVING COUNT(*) = $2)",
            super::params(3, words.len())
        ),
    };
    format!("SELECT {COLUMNS} FROM patients p WHERE {filter} ORDER BY p.id DESC LIMIT $1")
}

async fn insert_name_words(
    conn: &mut AnyConnection,
    patient_id: i64,
    words: Vec<String>,
) -> Result<()> {
    for word in words {
        sqlx::query(
            "INSERT INTO patient_name_words (patient_id, word_hash) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(patient_id)
        .bind(word)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The results of the cases linked to a record ($1), oldest first.
pub(super) const PATIENT_RESULTS_SQL: &str = "\
    SELECT c.id AS case_id, r.id, r.token_hash, r.instrument, r.instrument_version, r.answers, \
           r.total, r.severity, r.self_harm_flag, r.created_at, r.expires_at, c.created_at AS shared_at \
    FROM triage_cases c JOIN assessment_results r ON r.id = c.result_id \
    WHERE c.patient_id = $1 ORDER BY r.created_at, r.id";

/// How to find records: by a blind index, or by every word of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientLookup {
    Email(String),
    Phone(String),
    NameWords(Vec<String>),
}

/// A new record, sealed and indexed by the caller.
#[derive(Debug, Clone)]
pub struct NewPatient {
    pub uid: String,
    pub details_sealed: Vec<u8>,
    pub notes_sealed: Option<Vec<u8>>,
    pub email_index: Option<String>,
    pub phone_index: Option<String>,
    pub name_words: Vec<String>,
    pub created_at: Timestamp,
}

/// A case to link to a new record, if it is still at `version`.
#[derive(Debug, Clone)]
pub struct LinkCase {
    pub case_id: i64,
    pub version: i64,
    pub user_id: i64,
    pub event_uid: String,
}

/// Links `link.case_id` to `patient_id` if the case is still at its
/// version, with the timeline event. `Done` or `Stale`.
async fn link(
    conn: &mut AnyConnection,
    patient_id: i64,
    link: &LinkCase,
    at: Timestamp,
) -> Result<ChangeOutcome> {
    let done = sqlx::query(
        "UPDATE triage_cases SET patient_id = $1, version = version + 1, updated_at = $2 \
         WHERE id = $3 AND version = $4",
    )
    .bind(patient_id)
    .bind(Millis(at))
    .bind(link.case_id)
    .bind(link.version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(ChangeOutcome::Stale);
    }
    sqlx::query(
        "INSERT INTO case_events (uid, case_id, user_id, kind, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(link.event_uid.clone())
    .bind(link.case_id)
    .bind(link.user_id)
    .bind(Text(EventKind::PatientLinked))
    .bind(Millis(at))
    .execute(&mut *conn)
    .await?;
    Ok(ChangeOutcome::Done)
}

impl Storage {
    /// Stores a new record (and links a case to it), with its audit entry.
    /// `Ok(None)` when the case changed meanwhile: nothing is stored.
    #[tracing::instrument(skip_all)]
    pub async fn add_patient(
        &self,
        new: NewPatient,
        link_case: Option<LinkCase>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<Option<i64>> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                if let Some(l) = &link_case {
                    // Checked before anything is written; on PostgreSQL the
                    // row stays locked until the link is made (SQLite's one
                    // writer cannot be overtaken).
                    let sql = match backend {
                        super::Backend::Sqlite => "SELECT version FROM triage_cases WHERE id = $1",
                        super::Backend::Postgres => {
                            "SELECT version FROM triage_cases WHERE id = $1 FOR UPDATE"
                        }
                    };
                    let version: Option<i64> = sqlx::query_scalar(sql)
                        .bind(l.case_id)
                        .fetch_optional(&mut *conn)
                        .await?;
                    if version != Some(l.version) {
                        return Ok(None);
                    }
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO patients (uid, details, notes, email_index, phone_index, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                )
                .bind(new.uid)
                .bind(new.details_sealed)
                .bind(new.notes_sealed)
                .bind(new.email_index)
                .bind(new.phone_index)
                .bind(Millis(new.created_at))
                .fetch_one(&mut *conn)
                .await?;
                insert_name_words(conn, id, new.name_words).await?;
                if let Some(l) = &link_case {
                    link(conn, id, l, new.created_at).await?;
                }
                let entry = AuditEntry {
                    record_id: id.to_string(),
                    ..audit_entry
                };
                audit::append(conn, backend, &chain, &entry).await?;
                Ok(Some(id))
            })
        })
        .await
    }

    pub async fn patient(&self, id: i64) -> Result<Option<PatientRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM patients p WHERE p.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The records with these ids that exist, in no particular order: one
    /// query for a list's worth of patients.
    pub async fn patients(&self, ids: &[i64]) -> Result<Vec<PatientRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM patients p WHERE p.id IN ({})",
            super::params(1, ids.len())
        )));
        for id in ids {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Records found by `lookup`, newest first, at most `limit`.
    #[tracing::instrument(skip_all)]
    pub async fn find_patients(
        &self,
        lookup: PatientLookup,
        limit: i64,
    ) -> Result<Vec<PatientRecord>> {
        if matches!(&lookup, PatientLookup::NameWords(w) if w.is_empty()) {
            return Ok(Vec::new());
        }
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(find_sql(&lookup))).bind(limit);
        query = match lookup {
            PatientLookup::Email(index) | PatientLookup::Phone(index) => query.bind(index),
            PatientLookup::NameWords(words) => {
                query = query.bind(words.len() as i64);
                for w in words {
                    query = query.bind(w);
                }
                query
            }
        };
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// The newest records.
    pub async fn recent_patients(&self, limit: i64) -> Result<Vec<PatientRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM patients p ORDER BY p.id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Replaces the clinical notes if the record is still at `version`.
    pub async fn set_patient_notes(
        &self,
        id: i64,
        version: i64,
        notes_sealed: Vec<u8>,
        at: Timestamp,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<ChangeOutcome> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE patients SET notes = $1, version = version + 1, updated_at = $2 \
                     WHERE id = $3 AND version = $4",
                )
                .bind(notes_sealed)
                .bind(Millis(at))
                .bind(id)
                .bind(version)
                .execute(&mut *conn)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(ChangeOutcome::Stale);
                }
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(ChangeOutcome::Done)
            })
        })
        .await
    }

    /// Links a case to an existing record, if the case is still at its version.
    pub async fn link_case_to_patient(
        &self,
        patient_id: i64,
        case: LinkCase,
        at: Timestamp,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<ChangeOutcome> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let outcome = link(conn, patient_id, &case, at).await?;
                if outcome == ChangeOutcome::Done {
                    audit::append(conn, backend, &chain, &audit_entry).await?;
                }
                Ok(outcome)
            })
        })
        .await
    }

    /// The results of the cases linked to a record, oldest first, with
    /// their case ids.
    pub async fn patient_results(&self, patient_id: i64) -> Result<Vec<(i64, StoredResult)>> {
        let rows = sqlx::query(PATIENT_RESULTS_SQL)
            .bind(patient_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("case_id")?, StoredResult::from_row(r)?)))
            .collect()
    }
}

impl Storage {
    /// Rewrites every record's name words once (recorded as `name` in
    /// `data_migrations`, so it runs once even with several instances
    /// starting together): `words_of(uid, sealed details)` gives the new
    /// words, or `None` to leave a record's words as they are. Returns how
    /// many records were re-indexed, or `None` if this ran before.
    pub async fn reindex_patient_names(
        &self,
        name: &'static str,
        words_of: impl Fn(&str, &[u8]) -> Option<Vec<String>> + Send + 'static,
    ) -> Result<Option<usize>> {
        let now = Millis(Timestamp::now());
        self.write(move |conn| {
            Box::pin(async move {
                if !super::data_migrations::claim(conn, name, now).await? {
                    return Ok(None);
                }
                let rows = sqlx::query("SELECT id, uid, details FROM patients ORDER BY id")
                    .fetch_all(&mut *conn)
                    .await?;
                let mut done = 0;
                for r in &rows {
                    let (id, uid): (i64, String) = (r.try_get("id")?, r.try_get("uid")?);
                    let details: Vec<u8> = r.try_get("details")?;
                    let Some(words) = words_of(&uid, &details) else {
                        continue;
                    };
                    sqlx::query("DELETE FROM patient_name_words WHERE patient_id = $1")
                        .bind(id)
                        .execute(&mut *conn)
                        .await?;
                    insert_name_words(conn, id, words).await?;
                    done += 1;
                }
                Ok(Some(done))
            })
        })
        .await
    }
}
