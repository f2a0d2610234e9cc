//! The database's own account of how it runs the queries that run all the
//! time (the staff portal's pages, the outbox worker's claim): which indexes
//! it uses, and whether any step reads a whole large table. `bench/staff.sh` prints it on clinic-network-sized data, and a test
//! checks it on every run, so that a page does not quietly come to depend on
//! a full scan.

use super::outbox::claim_sql;
use super::patients::{PATIENT_RESULTS_SQL, PatientLookup, find_sql};
use super::triage::{CASE_EVENTS_SQL, CASE_SQL, OPEN_CASES_SQL, QUEUE_SQL};
use super::{Backend, Result, Storage};
use sqlx::Row;

/// Tables that grow with the clinic's work; reading one whole is a defect.
/// (Staff accounts stay small: a scan of them is fine.)
const LARGE_TABLES: &[&str] = &[
    "assessment_results",
    "triage_cases",
    "case_events",
    "patients",
    "patient_name_words",
    "audit_log",
    "mail_outbox",
];

/// Indexes over part of a table (the open cases): small by design.
const PARTIAL_INDEXES: &[&str] = &["triage_cases_open"];

/// One query's plan, as the database printed it.
#[derive(Debug, Clone)]
pub struct QueryPlan {
    pub name: &'static str,
    pub plan: Vec<String>,
    /// The plan's steps that read a whole large table.
    pub full_scans: Vec<String>,
}

/// A value for a parameter of a query being explained.
enum Param {
    Int(i64),
    Text,
}

/// The queries, with a value for each parameter.
fn hot_queries(backend: Backend) -> Vec<(&'static str, String, Vec<Param>)> {
    use Param::{Int, Text};
    let by_name = PatientLookup::NameWords(vec![String::new()]);
    vec![
        ("queue page", QUEUE_SQL.into(), vec![Int(50), Int(0)]),
        ("queue counts", OPEN_CASES_SQL.into(), vec![]),
        ("case", CASE_SQL.into(), vec![Int(1)]),
        ("case timeline", CASE_EVENTS_SQL.into(), vec![Int(1)]),
        ("patient results", PATIENT_RESULTS_SQL.into(), vec![Int(1)]),
        (
            "patient by e-mail",
            find_sql(&PatientLookup::Email(String::new())),
            vec![Int(50), Text],
        ),
        (
            "patient by name",
            find_sql(&by_name),
            vec![Int(50), Int(1), Text],
        ),
        (
            "outbox claim",
            claim_sql(backend).into(),
            vec![Int(1), Int(0)],
        ),
    ]
}

impl Storage {
    /// The plans of the queries that run on every page view and mail. With `discourage_scans`, the
    /// PostgreSQL planner is told to avoid sequential scans where it can: on
    /// a nearly empty database it rightly prefers them, and this shows which
    /// indexes it would use once the tables are large.
    pub async fn query_plans(&self, discourage_scans: bool) -> Result<Vec<QueryPlan>> {
        let backend = self.backend();
        let mut tx = self.pool().begin().await?;
        if backend == Backend::Postgres && discourage_scans {
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *tx)
                .await?;
        }
        let mut plans = Vec::new();
        for (name, sql, params) in hot_queries(backend) {
            let explain = match backend {
                Backend::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
                Backend::Postgres => format!("EXPLAIN {sql}"),
            };
            let mut query = sqlx::query(sqlx::AssertSqlSafe(explain));
            for p in params {
                query = match p {
                    Param::Int(v) => query.bind(v),
                    Param::Text => query.bind(String::new()),
                };
            }
            let rows = query.fetch_all(&mut *tx).await?;
            let plan = rows
                .iter()
                .map(|r| match backend {
                    Backend::Sqlite => r.try_get::<String, _>("detail"),
                    Backend::Postgres => r.try_get::<String, _>(0),
                })
                .collect::<sqlx::Result<Vec<String>>>()?;
            let full_scans = plan
                .iter()
                .filter(|step| reads_whole_table(backend, step))
                .cloned()
                .collect();
            plans.push(QueryPlan {
                name,
                plan,
                full_scans,
            });
        }
        tx.rollback().await?;
        Ok(plans)
    }
}

/// Whether a plan step reads every row of a large table: SQLite's
/// "SCAN t" without an index, PostgreSQL's "Seq Scan on t".
fn reads_whole_table(backend: Backend, step: &str) -> bool {
    let step = step.trim_start().trim_start_matches("->").trim_start();
    let table = match backend {
        // A scan of a partial index reads only the rows it holds; a scan of
        // any other index reads them all.
        Backend::Sqlite => match step.strip_prefix("SCAN ") {
            Some(rest)
                if !PARTIAL_INDEXES
                    .iter()
                    .any(|i| rest.ends_with(&format!(" INDEX {i}"))) =>
            {
                rest.split_whitespace().next()
            }
            _ => None,
        },
        Backend::Postgres => step
            .strip_prefix("Seq Scan on ")
            .and_then(|rest| rest.split_whitespace().next()),
    };
    // SQLite names the alias the query gave ("SCAN c"), PostgreSQL the table.
    table.is_some_and(|t| {
        let t = match t {
            "c" => "triage_cases",
            "r" => "assessment_results",
            "e" => "case_events",
            "p" => "patients",
            other => other,
        };
        LARGE_TABLES.contains(&t)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scans_are_told_from_index_use() {
        let s = Backend::Sqlite;
        assert!(reads_whole_table(s, "SCAN c"));
        assert!(reads_whole_table(s, "SCAN triage_cases"));
        assert!(!reads_whole_table(
            s,
            "SCAN c USING INDEX triage_cases_open"
        ));
        assert!(!reads_whole_table(
            s,
            "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)"
        ));
        assert!(!reads_whole_table(s, "SCAN u"), "staff accounts are few");
        let p = Backend::Postgres;
        assert!(reads_whole_table(
            p,
            "  ->  Seq Scan on triage_cases c  (cost=0.00..1.01 rows=1 width=8)"
        ));
        assert!(!reads_whole_table(
            p,
            "  ->  Seq Scan on staff_users u  (cost=0.00..1.01 rows=1 width=8)"
        ));
        assert!(!reads_whole_table(
            p,
            "Index Scan using triage_cases_open on triage_cases c"
        ));
    }
}
