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
use clinical::{Instrument, InstrumentId, Interpretation, Severity};

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
    /// 988 and the Crisis Text Line among the next steps.
    crisis_in_next_steps: bool,
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
        next_steps: next_steps(
            &tr,
            result.instrument,
            severity,
            result.responses.difficulty(),
            result.score.self_harm_flag,
        ),
        crisis_in_next_steps: crisis_in_next_steps(result.instrument, severity),
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

/// The answer to the question about daily life from which a low score
/// still calls for a clinician: "Very difficult" (2) or "Extremely
/// difficult" (3).
const HARD_DAILY_LIFE: u8 = 2;

/// Next steps fitting the instrument and band. Anxiety (GAD-7) has its
/// own, which never suggest TMS (not a treatment for anxiety). A low score
/// with daily life very or extremely difficult adds talking with a
/// clinician: that answer counts as much as the score.
///
/// Question 9 above 0 (`self_harm`) comes first, whatever the total (FACTS
/// §1.8: a positive safety flag, reviewed by a clinician the same day):
/// talk with a clinician within the next day, by sending the result or
/// calling. Nothing then says to wait and watch or to take the screening
/// again later, so the low bands' own steps are left out, and a higher
/// band's "talk to a clinician soon" gives way to the next day; what a
/// higher band says about treatment stays.
fn next_steps(
    tr: &Tr,
    instrument: InstrumentId,
    severity: Severity,
    difficulty: Option<u8>,
    self_harm: bool,
) -> Vec<String> {
    let key = match severity {
        Severity::NoneMinimal | Severity::Minimal | Severity::Negative => "none-minimal",
        Severity::Mild => "mild",
        Severity::Moderate | Severity::Positive => "moderate",
        Severity::ModeratelySevere => "moderately-severe",
        Severity::Severe => "severe",
    };
    let prefix = match instrument {
        InstrumentId::Gad7 => "next-gad7",
        _ => "next",
    };
    let low = matches!(
        severity,
        Severity::NoneMinimal | Severity::Minimal | Severity::Mild | Severity::Negative
    );
    let hard = low && difficulty.is_some_and(|d| d >= HARD_DAILY_LIFE);
    if self_harm {
        let mut steps = vec![tr.t("next-self-harm-1"), tr.t("next-self-harm-2")];
        if hard {
            steps.push(tr.t("next-hard-daily-life"));
        }
        if !low {
            steps.extend(
                (2..=3)
                    .map(|n| format!("{prefix}-{key}-{n}"))
                    .filter(|id| tr.has(id))
                    .map(|id| tr.t(&id)),
            );
        }
        return steps;
    }
    let mut steps: Vec<String> = (1..=3)
        .map(|n| format!("{prefix}-{key}-{n}"))
        .filter(|id| tr.has(id))
        .map(|id| tr.t(&id))
        .collect();
    if hard {
        steps.insert(0, tr.t("next-hard-daily-life"));
    }
    steps
}

/// Whether the next steps carry the crisis lines themselves (not only the
/// footer): a moderately severe or severe PHQ-9.
fn crisis_in_next_steps(instrument: InstrumentId, severity: Severity) -> bool {
    instrument == InstrumentId::Phq9
        && matches!(severity, Severity::ModeratelySevere | Severity::Severe)
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
                assert!(next_steps(&tr, def.id, b.severity, None, false).len() >= 2);
            }
        }
    }
}

#[cfg(test)]
mod next_steps_tests {
    use super::*;
    use clinical::instrument::GAD7;

    #[test]
    fn anxiety_results_never_suggest_tms() {
        let tr = Tr::default();
        let Interpretation::Bands(bands) = GAD7.interpretation else {
            unreachable!()
        };
        for b in bands {
            for d in [None, Some(0), Some(3)] {
                let steps = next_steps(&tr, InstrumentId::Gad7, b.severity, d, false).join(" ");
                assert!(!steps.contains("TMS"), "{:?}: {steps}", b.severity);
                assert!(!steps.contains("magnetic"), "{:?}: {steps}", b.severity);
                assert!(!steps.contains("depression"), "{:?}: {steps}", b.severity);
            }
        }
    }

    #[test]
    fn a_hard_daily_life_turns_a_low_score_toward_a_clinician() {
        let tr = Tr::default();
        for (instrument, severity) in [
            (InstrumentId::Phq9, Severity::NoneMinimal),
            (InstrumentId::Phq9, Severity::Mild),
            (InstrumentId::Gad7, Severity::Minimal),
            (InstrumentId::Gad7, Severity::Mild),
        ] {
            let easy = next_steps(&tr, instrument, severity, Some(1), false);
            let hard = next_steps(&tr, instrument, severity, Some(2), false);
            assert!(
                !easy
                    .join(" ")
                    .contains("daily life very or extremely difficult")
            );
            assert_eq!(hard[0], tr.t("next-hard-daily-life"), "{severity:?}");
            assert_eq!(hard.len(), easy.len() + 1);
        }
        // A moderate score already says to talk with a clinician.
        assert_eq!(
            next_steps(&tr, InstrumentId::Phq9, Severity::Moderate, Some(3), false),
            next_steps(&tr, InstrumentId::Phq9, Severity::Moderate, Some(0), false)
        );
    }

    #[test]
    fn crisis_lines_sit_in_the_next_steps_of_the_two_highest_phq9_bands_only() {
        for s in [Severity::NoneMinimal, Severity::Mild, Severity::Moderate] {
            assert!(!crisis_in_next_steps(InstrumentId::Phq9, s));
        }
        assert!(crisis_in_next_steps(
            InstrumentId::Phq9,
            Severity::ModeratelySevere
        ));
        assert!(crisis_in_next_steps(InstrumentId::Phq9, Severity::Severe));
        assert!(!crisis_in_next_steps(InstrumentId::Gad7, Severity::Severe));
    }

    #[test]
    fn question_9_above_0_asks_for_a_clinician_within_a_day_in_every_band() {
        use clinical::instrument::PHQ9;
        let tr = Tr::default();
        let Interpretation::Bands(bands) = PHQ9.interpretation else {
            unreachable!()
        };
        for b in bands {
            for d in [None, Some(0), Some(3)] {
                let steps = next_steps(&tr, InstrumentId::Phq9, b.severity, d, true);
                assert_eq!(steps[0], tr.t("next-self-harm-1"), "{:?}", b.severity);
                assert_eq!(steps[1], tr.t("next-self-harm-2"), "{:?}", b.severity);
                let all = steps.join(" ");
                assert!(all.contains("within the next day"), "{all}");
                for wait in [
                    "two weeks",
                    "again at any time",
                    "Keep an eye",
                    "If your symptoms last",
                ] {
                    assert!(!all.contains(wait), "{:?}: {all}", b.severity);
                }
                // Without question 9, the band's own words.
                let calm = next_steps(&tr, InstrumentId::Phq9, b.severity, d, false).join(" ");
                assert!(!calm.contains("within the next day"), "{calm}");
            }
        }
    }
}
