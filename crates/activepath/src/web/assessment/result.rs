//! The result page: safety message first when item 9 was answered above 0,
//! then the score on its scale, what it may and may not mean, next steps,
//! the answers given and a way to send the result to the clinic.

use crate::app::AppState;
use crate::assessment::{Lookup, lookup};
use crate::i18n::Tr;
use crate::time::format_date;
use crate::web::Result;
use crate::web::errors::MessagePage;
use crate::web::layout::{Layout, html};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use clinical::{Instrument, Interpretation, Severity};

pub struct BandRow {
    range: String,
    label: String,
    current: bool,
}

pub struct AnswerRow {
    number: u8,
    text: &'static str,
    label: &'static str,
    value: u8,
}

#[derive(Template)]
#[template(path = "assessment/result.html")]
struct ResultPage {
    l: Layout,
    def: &'static Instrument,
    token: String,
    flagged: bool,
    total: i64,
    max: u8,
    band_label: String,
    bands: Vec<BandRow>,
    meaning: String,
    next_steps: Vec<String>,
    answers: Vec<AnswerRow>,
    difficulty: Option<(&'static str, &'static str)>,
    taken_on: String,
    expires_on: String,
    shared_on: Option<String>,
}

/// The page for a token that leads nowhere usable.
pub fn unavailable(state: &AppState, lookup: &Lookup) -> Response {
    match lookup {
        Lookup::Expired => html(
            StatusCode::GONE,
            &MessagePage::new(
                state,
                "expired-title",
                "expired-heading",
                &["expired-body"],
                ("/assessment", "link-assessment"),
            ),
        ),
        _ => html(
            StatusCode::NOT_FOUND,
            &MessagePage::new(
                state,
                "not-found-title",
                "not-found-heading",
                &["result-not-found-body"],
                ("/assessment", "link-assessment"),
            ),
        ),
    }
}

pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response> {
    let result = match lookup(&state, &token).await? {
        Lookup::Found(result) => result,
        other => return Ok(unavailable(&state, &other)),
    };
    let def = result.instrument.definition();
    let severity = result.score.severity;
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let band_label = tr.t(&format!("band-{}", severity.slug()));
    let bands = match def.interpretation {
        Interpretation::Bands(bands) => bands
            .iter()
            .map(|b| BandRow {
                range: format!("{}–{}", b.min, b.max),
                label: tr.t(&format!("band-{}", b.severity.slug())),
                current: b.severity == severity,
            })
            .collect(),
        Interpretation::Cutoff { .. } => Vec::new(),
    };
    let rows = def
        .items
        .iter()
        .zip(result.responses.answers())
        .map(|(item, &value)| AnswerRow {
            number: item.number,
            text: item.text,
            label: item.options[usize::from(value)].label,
            value,
        })
        .collect();
    let difficulty = match (def.difficulty, result.responses.difficulty()) {
        (Some(q), Some(v)) => Some((q.text, q.options[usize::from(v)].label)),
        _ => None,
    };
    let title = tr.t1("result-title", "instrument", def.name);
    let l = Layout::with_title(&state, "assessment", title.clone(), title).private();
    let page = ResultPage {
        def,
        flagged: result.score.self_harm_flag,
        total: i64::from(result.score.total),
        max: def.max_total(),
        band_label,
        bands,
        meaning: tr.t(&format!(
            "meaning-{}-{}",
            result.instrument.slug(),
            severity.slug()
        )),
        next_steps: next_steps(&tr, severity),
        answers: rows,
        difficulty,
        taken_on: format_date(result.created_at, tz),
        expires_on: format_date(result.expires_at, tz),
        shared_on: result.shared_at.map(|at| format_date(at, tz)),
        token,
        l,
    };
    Ok(html(StatusCode::OK, &page))
}

/// Next steps fitting the band. GAD-7's bands share the PHQ-9's advice
/// (its "minimal" reads as the PHQ-9's "none to minimal").
fn next_steps(tr: &Tr, severity: Severity) -> Vec<String> {
    let key = match severity {
        Severity::NoneMinimal | Severity::Minimal | Severity::Negative => "none-minimal",
        Severity::Mild => "mild",
        Severity::Moderate | Severity::Positive => "moderate",
        Severity::ModeratelySevere => "moderately-severe",
        Severity::Severe => "severe",
    };
    (1..=3)
        .map(|n| format!("next-{key}-{n}"))
        .filter(|id| tr.has(id))
        .map(|id| tr.t(&id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinical::instrument::{GAD7, PHQ9};

    #[test]
    fn every_band_of_every_offered_instrument_has_its_words() {
        let tr = Tr::default();
        for def in [&PHQ9, &GAD7] {
            let Interpretation::Bands(bands) = def.interpretation else {
                unreachable!()
            };
            for b in bands {
                assert!(tr.has(&format!("band-{}", b.severity.slug())));
                assert!(
                    tr.has(&format!("meaning-{}-{}", def.id.slug(), b.severity.slug())),
                    "{:?}",
                    b
                );
                assert!(next_steps(&tr, b.severity).len() >= 2);
            }
        }
    }
}
