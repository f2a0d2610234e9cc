//! Upgrades rows written before lookups were keyed and ciphertexts bound to
//! their rows (migration 0002). Stored then: `submission_key` was the bare
//! SHA-256 digest of a submission, `token_hash` the bare SHA-256 of the
//! token, and sealed values were bound only to `table.column`. Each row is
//! rewritten with keyed digests and re-sealed bound to its row; tokens in
//! people's links stay valid, because a token was, and is, derived from
//! the submission's digest, which the old `submission_key` holds.

use super::answers_aad;
use super::share::contact_aad;
use crate::crypto::{Aad, FieldCipher, Purpose, legacy_token_hash};
use crate::storage::{SealedRows, Storage};

/// The name under which the upgrade is recorded as done.
pub const NAME: &str = "0002_keyed_lookups";

/// What one run changed and what it had to leave as it was.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub results: usize,
    pub cases: usize,
    /// Rows whose stored values did not fit together (a token hash that is
    /// not the hash of the token, or a value that does not decrypt). They
    /// are kept, and will show the integrity error page if ever opened.
    pub left_as_found: usize,
}

/// Runs the upgrade once per database. `cipher` must be the database's own
/// key (checked at start-up before this is called).
pub async fn run(storage: &Storage, cipher: FieldCipher) -> crate::storage::Result<Option<Report>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let ran = storage
        .upgrade_sealed_rows(NAME, move |rows| {
            let (rows, report) = rekey(&cipher, rows);
            let _ = tx.send(report);
            rows
        })
        .await?;
    Ok(ran.then(|| rx.try_recv().unwrap_or_default()))
}

fn rekey(cipher: &FieldCipher, mut rows: SealedRows) -> (SealedRows, Report) {
    let mut report = Report::default();
    for r in &mut rows.results {
        let digest = r.submission_key.clone();
        let token = cipher.result_token(&digest);
        let fits = legacy_token_hash(&token) == r.token_hash;
        let plain = cipher.decrypt(&Aad::context("assessment_results.answers"), &r.answers);
        // Never left bare, whatever else is wrong with the row.
        r.submission_key = cipher.digest(Purpose::SubmissionKey, &[digest.as_bytes()]);
        match (fits, plain) {
            (true, Ok(plain)) => {
                r.token_hash = cipher.token_hash(&token);
                r.answers = cipher.encrypt(&answers_aad(&r.token_hash), &plain);
                report.results += 1;
            }
            _ => report.left_as_found += 1,
        }
    }
    for c in &mut rows.cases {
        match cipher.decrypt(&Aad::context("triage_cases.contact"), &c.contact) {
            Ok(plain) => {
                c.contact = cipher.encrypt(&contact_aad(&c.uid), &plain);
                report.cases += 1;
            }
            Err(_) => report.left_as_found += 1,
        }
    }
    (rows, report)
}
