//! The self-assessment: questionnaire forms, results, sharing a result with
//! the clinic, and the JSON API for kiosks and integrations.

pub mod api;
mod form;
mod result;
mod share;

use crate::app::AppState;
use crate::crypto::{self, FieldCipher};
use crate::storage::{Inserted, NewResult};
use crate::time::now_ms;
use axum::Router;
use axum::routing::{get, post};
use clinical::{InstrumentId, Responses, Score};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assessment", get(form::index))
        .route(
            "/assessment/{instrument}",
            get(form::show).post(form::submit),
        )
        .route("/assessment/result/{token}", get(result::show))
        .route(
            "/assessment/result/{token}/share",
            get(share::show).post(share::submit),
        )
        .route("/assessment/result/{token}/shared", get(share::done))
        .route("/api/v1/assessments", post(api::create))
}

/// The instruments a visitor can take on the site. (The PHQ-2 is defined in
/// `clinical` for clinicians' use; visitors take the full PHQ-9.)
pub fn offered(slug: &str) -> Option<InstrumentId> {
    InstrumentId::from_slug(slug).filter(|id| matches!(id, InstrumentId::Phq9 | InstrumentId::Gad7))
}

/// Where the result was submitted from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Web,
    Api,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Web => "web",
            Source::Api => "api",
        }
    }
}

/// The answers as stored (encrypted).
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredAnswers {
    pub answers: Vec<u8>,
    pub difficulty: Option<u8>,
}

pub const ANSWERS_CONTEXT: &str = "assessment_results.answers";

#[derive(Debug)]
pub struct Recorded {
    pub token: String,
    pub score: Score,
    pub expires_at: i64,
}

/// Stores a scored result durably (the commit is on disk before this
/// returns). `nonce` identifies one submission: the same nonce with the same
/// answers finds the result already stored instead of storing a duplicate.
pub async fn record(
    state: &AppState,
    responses: &Responses,
    nonce: &str,
    source: Source,
) -> crate::web::Result<Recorded> {
    let id = responses.instrument();
    let def = id.definition();
    let difficulty = responses.difficulty().map(|d| [d]).unwrap_or_default();
    let submission_key = crypto::sha256_hex(&[
        source.as_str().as_bytes(),
        nonce.as_bytes(),
        def.version.as_bytes(),
        responses.answers(),
        &difficulty,
        &[u8::from(responses.difficulty().is_some())],
    ]);
    let token = state.cipher.result_token(&submission_key);
    let token_hash = crypto::token_hash(&token);
    let score = responses.score();
    let stored = StoredAnswers {
        answers: responses.answers().to_vec(),
        difficulty: responses.difficulty(),
    };
    let sealed = seal_answers(&state.cipher, &stored);
    let now = now_ms();
    let mut expires_at = now + i64::from(state.config.result_ttl_days) * 86_400_000;
    let outcome = state
        .storage
        .insert_result(&NewResult {
            token_hash: &token_hash,
            submission_key: &submission_key,
            instrument: id.slug(),
            instrument_version: def.version,
            answers_sealed: &sealed,
            total: i64::from(score.total),
            severity: score.severity.slug(),
            self_harm_flag: score.self_harm_flag,
            source: source.as_str(),
            created_at: now,
            expires_at,
        })
        .await?;
    if outcome == Inserted::Existing
        && let Some(existing) = state.storage.result_by_token_hash(&token_hash).await?
    {
        expires_at = existing.expires_at;
    }
    Ok(Recorded {
        token,
        score,
        expires_at,
    })
}

fn seal_answers(cipher: &FieldCipher, answers: &StoredAnswers) -> Vec<u8> {
    let json = serde_json::to_vec(answers).expect("answers serialize");
    cipher.encrypt(ANSWERS_CONTEXT, &json)
}

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
