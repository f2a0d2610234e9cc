//! The self-assessment, without HTTP: storing a scored result, finding it
//! again from its private link (and checking that what is stored is intact),
//! sharing it with the clinic, and the API's idempotent submissions.
//! Handlers, jobs and commands all come here.

mod idempotency;
pub mod share;
pub mod upgrade;

pub use crate::storage::assessments::Source;
pub use idempotency::{IdempotencyKey, KEY_LIFETIME, record_idempotent};

use crate::app::Services;
use crate::crypto::{Aad, FieldCipher, Purpose, submission_digest};
use crate::storage::assessments::{NewResult, StoredResult};
use crate::storage::{Constraint, StorageError};
use clinical::{InstrumentId, Responses, Score};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored result does not decrypt where it is, or its answers do not
    /// give the score stored beside them. It is never shown.
    #[error("result {id} failed its integrity check: {why}")]
    Integrity { id: i64, why: &'static str },
    /// An Idempotency-Key used before with a different request.
    #[error("the Idempotency-Key was first used with a different request")]
    KeyReused,
}

/// The answers as stored (encrypted, bound to the result's token hash).
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredAnswers {
    pub answers: Vec<u8>,
    pub difficulty: Option<u8>,
}

/// What sealed answers are bound to: their column and their result's token
/// hash, which is what the visitor's link leads to.
pub fn answers_aad(token_hash: &str) -> Aad {
    Aad::row("assessment_results", "answers", token_hash)
}

#[derive(Debug)]
pub struct Recorded {
    pub token: String,
    pub score: Score,
    pub expires_at: Timestamp,
}

/// The values that identify one submission.
struct Submission {
    token: String,
    token_hash: String,
    submission_key: String,
}

impl Submission {
    /// `nonce` tells submissions of the same answers apart. The digest of
    /// the parts is never stored: the token and the stored key are keyed
    /// derivations of it.
    fn new(cipher: &FieldCipher, source: Source, nonce: &[u8], responses: &Responses) -> Self {
        let def = responses.instrument().definition();
        let difficulty = responses.difficulty().map(|d| [d]).unwrap_or_default();
        let digest = submission_digest(&[
            crate::storage::TextEnum::as_text(source).as_bytes(),
            nonce,
            def.version.as_bytes(),
            responses.answers(),
            &difficulty,
            &[u8::from(responses.difficulty().is_some())],
        ]);
        let token = cipher.result_token(&digest);
        Submission {
            token_hash: cipher.token_hash(&token),
            submission_key: cipher.digest(Purpose::SubmissionKey, &[digest.as_bytes()]),
            token,
        }
    }

    fn to_new_result(
        &self,
        s: &Services,
        responses: &Responses,
        source: Source,
        now: Timestamp,
    ) -> NewResult {
        let def = responses.instrument().definition();
        let score = responses.score();
        let stored = StoredAnswers {
            answers: responses.answers().to_vec(),
            difficulty: responses.difficulty(),
        };
        let json = serde_json::to_vec(&stored).expect("answers serialize");
        NewResult {
            token_hash: self.token_hash.clone(),
            submission_key: self.submission_key.clone(),
            instrument: def.id,
            instrument_version: def.version.to_string(),
            answers_sealed: s.cipher.encrypt(&answers_aad(&self.token_hash), &json),
            total: score.total,
            severity: score.severity,
            self_harm_flag: score.self_harm_flag,
            source,
            created_at: now,
            expires_at: crate::time::after(now, crate::time::days(s.config.result_ttl_days)),
        }
    }
}

/// Stores a scored result durably (on disk before this returns). `nonce`
/// identifies one submission: the same nonce with the same answers finds the
/// result already stored instead of storing a duplicate.
#[tracing::instrument(skip_all, fields(source = ?source))]
pub async fn record(
    s: &Services,
    responses: &Responses,
    nonce: &str,
    source: Source,
) -> Result<Recorded, Error> {
    let now = s.clock.now();
    let sub = Submission::new(&s.cipher, source, nonce.as_bytes(), responses);
    let new = sub.to_new_result(s, responses, source, now);
    let expires_at = new.expires_at;
    match s.storage.insert_result(new).await {
        Ok(_) => Ok(Recorded {
            token: sub.token,
            score: responses.score(),
            expires_at,
        }),
        Err(StorageError::Conflict(Constraint::ResultSubmission | Constraint::ResultToken)) => {
            // Stored before (a re-posted form): lead to that result.
            let existing = s
                .storage
                .result_by_token_hash(&sub.token_hash)
                .await?
                .ok_or(Error::Integrity {
                    id: 0,
                    why: "a submission conflicts with a result that cannot be found",
                })?;
            let verified = verify(&s.cipher, existing)?;
            Ok(Recorded {
                token: sub.token,
                score: verified.score,
                expires_at: verified.expires_at,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// A stored result whose answers decrypted where they are stored and give
/// the score stored beside them.
#[derive(Debug, Clone)]
pub struct VerifiedResult {
    pub id: i64,
    pub instrument: InstrumentId,
    pub responses: Responses,
    pub score: Score,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub shared_at: Option<Timestamp>,
}

/// Opens and checks a stored result. Anything that does not fit is an
/// [`Error::Integrity`], never a page with wrong data.
fn verify(cipher: &FieldCipher, stored: StoredResult) -> Result<VerifiedResult, Error> {
    let id = stored.id;
    let fail = |why| Error::Integrity { id, why };
    let def = stored.instrument.definition();
    if stored.instrument_version != def.version {
        return Err(fail(
            "stored under an instrument version this build does not define",
        ));
    }
    let plain = cipher
        .decrypt(&answers_aad(&stored.token_hash), &stored.answers_sealed)
        .map_err(|_| fail("the answers do not decrypt for this row"))?;
    let answers: StoredAnswers = serde_json::from_slice(&plain)
        .map_err(|_| fail("the answers are not in the stored form"))?;
    let raw: Vec<Option<i64>> = answers
        .answers
        .iter()
        .map(|&a| Some(i64::from(a)))
        .collect();
    let responses = Responses::parse(stored.instrument, &raw, answers.difficulty.map(i64::from))
        .map_err(|_| fail("the answers are not a valid response set"))?;
    let score = responses.score();
    if i64::from(score.total) != stored.total
        || score.severity != stored.severity
        || score.self_harm_flag != stored.self_harm_flag
    {
        return Err(fail("the answers do not give the stored score"));
    }
    Ok(VerifiedResult {
        id,
        instrument: stored.instrument,
        responses,
        score,
        created_at: stored.created_at,
        expires_at: stored.expires_at,
        shared_at: stored.shared_at,
    })
}

/// A stored result, checked, for staff.
pub fn verify_stored(s: &Services, stored: StoredResult) -> Result<VerifiedResult, Error> {
    verify(&s.cipher, stored)
}

/// The result with id `id`, checked, for staff.
pub async fn verified(s: &Services, id: i64) -> Result<VerifiedResult, Error> {
    let stored = s.storage.result_by_id(id).await?.ok_or(Error::Integrity {
        id,
        why: "a case's result is missing",
    })?;
    verify(&s.cipher, stored)
}

/// Where a private link leads.
#[derive(Debug)]
pub enum Lookup {
    Found(VerifiedResult),
    Expired,
    Missing,
}

/// Finds and checks the result a token names, telling an expired one from a
/// missing one.
#[tracing::instrument(skip_all)]
pub async fn lookup(s: &Services, token: &str) -> Result<Lookup, Error> {
    if !token_is_well_formed(token) {
        return Ok(Lookup::Missing);
    }
    let Some(stored) = s
        .storage
        .result_by_token_hash(&s.cipher.token_hash(token))
        .await?
    else {
        return Ok(Lookup::Missing);
    };
    if stored.expires_at <= s.clock.now() {
        return Ok(Lookup::Expired);
    }
    Ok(Lookup::Found(verify(&s.cipher, stored)?))
}

/// The private page of a result.
pub fn result_path(token: &str) -> String {
    format!("/assessment/result/{token}")
}

/// A token has the shape the server makes: 43 URL-safe base64 characters.
pub fn token_is_well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The instruments a visitor can take on the site. (The PHQ-2 is defined in
/// `clinical` for clinicians' use; visitors take the full PHQ-9.)
pub fn offered(slug: &str) -> Option<InstrumentId> {
    InstrumentId::from_slug(slug).filter(|id| matches!(id, InstrumentId::Phq9 | InstrumentId::Gad7))
}
