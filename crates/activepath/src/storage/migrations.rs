//! Migrations, embedded in the binary, one folder per backend with the same
//! version numbers (a test checks the folders stay in step). Never edit an
//! applied migration: add a new one to both folders.

use super::Backend;
use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// (version, description, SQLite SQL, PostgreSQL SQL).
pub const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "assessments",
        include_str!("../../migrations/sqlite/0001_assessments.sql"),
        include_str!("../../migrations/postgres/0001_assessments.sql"),
    ),
    (
        2,
        "keyed_lookups",
        include_str!("../../migrations/sqlite/0002_keyed_lookups.sql"),
        include_str!("../../migrations/postgres/0002_keyed_lookups.sql"),
    ),
    (
        3,
        "staff",
        include_str!("../../migrations/sqlite/0003_staff.sql"),
        include_str!("../../migrations/postgres/0003_staff.sql"),
    ),
    (
        4,
        "outbox_pending",
        include_str!("../../migrations/sqlite/0004_outbox_pending.sql"),
        include_str!("../../migrations/postgres/0004_outbox_pending.sql"),
    ),
    (
        5,
        "booking",
        include_str!("../../migrations/sqlite/0005_booking.sql"),
        include_str!("../../migrations/postgres/0005_booking.sql"),
    ),
    (
        6,
        "case_kinds",
        include_str!("../../migrations/sqlite/0006_case_kinds.sql"),
        include_str!("../../migrations/postgres/0006_case_kinds.sql"),
    ),
    (
        7,
        "mail_delivery",
        include_str!("../../migrations/sqlite/0007_mail_delivery.sql"),
        include_str!("../../migrations/postgres/0007_mail_delivery.sql"),
    ),
    (
        8,
        "site_counts",
        include_str!("../../migrations/sqlite/0008_site_counts.sql"),
        include_str!("../../migrations/postgres/0008_site_counts.sql"),
    ),
    (
        9,
        "tms_courses",
        include_str!("../../migrations/sqlite/0009_tms_courses.sql"),
        include_str!("../../migrations/postgres/0009_tms_courses.sql"),
    ),
    (
        10,
        "tms_check_ins",
        include_str!("../../migrations/sqlite/0010_tms_check_ins.sql"),
        include_str!("../../migrations/postgres/0010_tms_check_ins.sql"),
    ),
    (
        11,
        "course_status",
        include_str!("../../migrations/sqlite/0011_course_status.sql"),
        include_str!("../../migrations/postgres/0011_course_status.sql"),
    ),
    (
        12,
        "tms_sessions",
        include_str!("../../migrations/sqlite/0012_tms_sessions.sql"),
        include_str!("../../migrations/postgres/0012_tms_sessions.sql"),
    ),
    (
        13,
        "tms_details",
        include_str!("../../migrations/sqlite/0013_tms_details.sql"),
        include_str!("../../migrations/postgres/0013_tms_details.sql"),
    ),
    (
        14,
        "tms_schedule",
        include_str!("../../migrations/sqlite/0014_tms_schedule.sql"),
        include_str!("../../migrations/postgres/0014_tms_schedule.sql"),
    ),
    (
        15,
        "tms_kiosks",
        include_str!("../../migrations/sqlite/0015_tms_kiosks.sql"),
        include_str!("../../migrations/postgres/0015_tms_kiosks.sql"),
    ),
    (
        16,
        "sign_in",
        include_str!("../../migrations/sqlite/0016_sign_in.sql"),
        include_str!("../../migrations/postgres/0016_sign_in.sql"),
    ),
    (
        17,
        "sealed_outbox",
        include_str!("../../migrations/sqlite/0017_sealed_outbox.sql"),
        include_str!("../../migrations/postgres/0017_sealed_outbox.sql"),
    ),
    (
        18,
        "booking_holds",
        include_str!("../../migrations/sqlite/0018_booking_holds.sql"),
        include_str!("../../migrations/postgres/0018_booking_holds.sql"),
    ),
    (
        19,
        "safety_flag",
        include_str!("../../migrations/sqlite/0019_safety_flag.sql"),
        include_str!("../../migrations/postgres/0019_safety_flag.sql"),
    ),
    (
        20,
        "holds_adverse_events",
        include_str!("../../migrations/sqlite/0020_holds_adverse_events.sql"),
        include_str!("../../migrations/postgres/0020_holds_adverse_events.sql"),
    ),
    (
        21,
        "tms_orders",
        include_str!("../../migrations/sqlite/0021_tms_orders.sql"),
        include_str!("../../migrations/postgres/0021_tms_orders.sql"),
    ),
];

/// Migrations that manage their own transaction on SQLite (a table rebuild
/// must turn foreign keys off, which SQLite ignores inside a transaction).
const SQLITE_OWN_TRANSACTION: &[i64] = &[6, 10, 18];

/// The migrations of `backend`, all of them or those up to `up_to`.
pub(super) fn migrator(backend: Backend, up_to: Option<i64>) -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .filter(|(version, ..)| up_to.is_none_or(|v| *version <= v))
            .map(|&(version, description, sqlite, postgres)| {
                let sql = match backend {
                    Backend::Sqlite => sqlite,
                    Backend::Postgres => postgres,
                };
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    backend == Backend::Sqlite && SQLITE_OWN_TRANSACTION.contains(&version),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;
    use std::path::Path;

    fn versions_in(folder: &str) -> Vec<(i64, String)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(folder);
        let mut found: Vec<(i64, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .map(|name| {
                let (version, rest) = name
                    .split_once('_')
                    .expect("files are named NNNN_description.sql");
                (
                    version.parse().unwrap(),
                    rest.trim_end_matches(".sql").to_string(),
                )
            })
            .collect();
        found.sort();
        found
    }

    #[test]
    fn both_backends_have_the_same_migrations_and_all_are_embedded() {
        let sqlite = versions_in("sqlite");
        let postgres = versions_in("postgres");
        assert_eq!(
            sqlite, postgres,
            "migrations/sqlite and migrations/postgres differ"
        );
        let embedded: Vec<(i64, String)> = MIGRATIONS
            .iter()
            .map(|&(v, d, _, _)| (v, d.to_string()))
            .collect();
        assert_eq!(
            embedded, sqlite,
            "every migration file must be listed in MIGRATIONS"
        );
    }
}
