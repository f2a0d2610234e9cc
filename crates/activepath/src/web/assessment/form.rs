//! GET and POST of a questionnaire, and the assessment's start page.

use crate::app::AppState;
use crate::assessment::{Source, offered, record, result_path};
use crate::crypto::random_id;
use crate::i18n::Tr;
use crate::web::layout::{Layout, html};
use crate::web::rate_limit::{AssessmentRoute, RateLimit};
use crate::web::{AppError, Result};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use clinical::instrument::AnswerOption;
use clinical::{FieldError, Instrument, InstrumentId, Problem, Responses};

#[derive(Template)]
#[template(path = "assessment/index.html")]
struct IndexPage {
    l: Layout,
    ttl_days: u32,
}

pub async fn index(State(state): State<AppState>) -> Response {
    let l = Layout::new(
        &state,
        "assessment",
        "assess-index-title",
        "assess-index-description",
    );
    html(
        StatusCode::OK,
        &IndexPage {
            l,
            ttl_days: state.config.result_ttl_days,
        },
    )
}

pub struct Question {
    pub(crate) number: u8,
    pub(crate) name: String,
    pub(crate) text: &'static str,
    pub(crate) options: &'static [AnswerOption],
    pub(crate) selected: Option<u8>,
    pub(crate) error: Option<String>,
}

pub struct DifficultyView {
    pub(crate) text: &'static str,
    pub(crate) options: &'static [AnswerOption],
    pub(crate) selected: Option<u8>,
    pub(crate) error: Option<String>,
}

impl Question {
    pub(crate) fn checked(&self, value: impl std::borrow::Borrow<u8>) -> bool {
        self.selected == Some(*value.borrow())
    }
}

impl DifficultyView {
    pub(crate) fn checked(&self, value: impl std::borrow::Borrow<u8>) -> bool {
        self.selected == Some(*value.borrow())
    }
}

pub struct ErrorLink {
    pub anchor: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "assessment/form.html")]
struct FormPage {
    l: Layout,
    def: &'static Instrument,
    submission: String,
    questions: Vec<Question>,
    difficulty: Option<DifficultyView>,
    errors: Vec<ErrorLink>,
}

/// A questionnaire's questions as a form shows them: each with its answer
/// so far and its error, the difficulty question, and the error summary's
/// links. (Also the TMS check-in's form.)
pub(crate) fn questions(
    def: &'static Instrument,
    raw: &RawAnswers,
    errors: &[(FieldError, Problem)],
) -> (Vec<Question>, Option<DifficultyView>, Vec<ErrorLink>) {
    let tr = Tr::default();
    let error_for = |field: FieldError| errors.iter().find(|(f, _)| *f == field).map(|(_, p)| *p);
    let mut links = Vec::new();
    let questions = def
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let error = error_for(FieldError::Item(item.number)).map(|p| {
                let key = match p {
                    Problem::Missing => "form-error-item-missing",
                    Problem::OutOfRange => "form-error-item-invalid",
                };
                tr.t1(key, "number", item.number)
            });
            let name = format!("q{}", item.number);
            if let Some(message) = &error {
                links.push(ErrorLink {
                    anchor: name.clone(),
                    message: message.clone(),
                });
            }
            Question {
                number: item.number,
                name,
                text: item.text,
                options: item.options,
                selected: raw.items.get(i).copied().flatten().and_then(valid_value),
                error,
            }
        })
        .collect();
    let difficulty = def.difficulty.map(|q| {
        let error = error_for(FieldError::Difficulty).map(|p| match p {
            Problem::Missing => tr.t("form-error-difficulty-missing"),
            Problem::OutOfRange => tr.t("form-error-difficulty-invalid"),
        });
        if let Some(message) = &error {
            links.push(ErrorLink {
                anchor: "difficulty".into(),
                message: message.clone(),
            });
        }
        DifficultyView {
            text: q.text,
            options: q.options,
            selected: raw.difficulty.and_then(valid_value),
            error,
        }
    });
    (questions, difficulty, links)
}

fn form_page(
    state: &AppState,
    id: InstrumentId,
    raw: &RawAnswers,
    errors: &[(FieldError, Problem)],
) -> FormPage {
    let def = id.definition();
    let tr = Tr::default();
    let (questions, difficulty, links) = questions(def, raw, errors);
    let title = tr.t1("form-title", "instrument", def.name);
    let description = tr.t1("form-description", "count", def.items.len());
    let mut l = Layout::with_title(state, "assessment", title, description);
    if !errors.is_empty() {
        l.noindex = true;
    }
    FormPage {
        l,
        def,
        submission: raw.submission.clone().unwrap_or_else(random_id),
        questions,
        difficulty,
        errors: links,
    }
}

fn valid_value(v: i64) -> Option<u8> {
    u8::try_from(v).ok().filter(|v| *v <= 3)
}

pub async fn show(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Response> {
    let id = offered(&slug).ok_or(AppError::NotFound)?;
    let page = form_page(&state, id, &RawAnswers::default(), &[]);
    Ok(html(StatusCode::OK, &page))
}

/// The form as posted: every field optional and untyped, so that nothing a
/// person sends makes the page fail; [`Responses::parse`] judges it.
#[derive(Debug, Default)]
pub(crate) struct RawAnswers {
    pub items: Vec<Option<i64>>,
    pub difficulty: Option<i64>,
    submission: Option<String>,
}

/// Reads `q1`…`qN`, `difficulty` and `submission`. A value that is not a
/// small integer, or a field sent twice with different values, counts as an
/// invalid answer (-1) so that the person is asked again.
pub(crate) fn read_fields(def: &Instrument, fields: &[(String, String)]) -> RawAnswers {
    let value_of = |name: &str| -> Option<i64> {
        let mut values = fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim());
        let first = values.next()?;
        if values.any(|v| v != first) {
            return Some(-1);
        }
        if first.is_empty() {
            return None;
        }
        Some(
            first
                .parse::<i64>()
                .ok()
                .filter(|v| (0..=9).contains(v))
                .unwrap_or(-1),
        )
    };
    let items = def
        .items
        .iter()
        .map(|item| value_of(&format!("q{}", item.number)))
        .collect();
    let submission = fields
        .iter()
        .find(|(k, _)| k == "submission")
        .map(|(_, v)| v.clone())
        .filter(|v| {
            v.len() == 22
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    RawAnswers {
        items,
        difficulty: value_of("difficulty"),
        submission,
    }
}

pub async fn submit(
    limit: RateLimit<AssessmentRoute>,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let id = offered(&slug).ok_or(AppError::NotFound)?;
    let def = id.definition();
    let raw = read_fields(def, &fields);
    match Responses::parse(id, &raw.items, raw.difficulty) {
        Err(errors) => {
            let page = form_page(&state, id, &raw, &errors);
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Ok(responses) => {
            limit.spend(&state).map_err(AppError::TooManyRequests)?;
            // Without a form nonce (a hand-made post) every post is its own submission.
            let nonce = raw.submission.unwrap_or_else(random_id);
            let recorded = record(&state, &responses, &nonce, Source::Web).await?;
            Ok(Redirect::to(&result_path(&recorded.token)).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinical::instrument::PHQ9;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reading_fields_never_fails() {
        let raw = read_fields(
            &PHQ9,
            &f(&[
                ("q1", "2"),
                ("q2", "x"),
                ("q3", ""),
                ("q4", "1"),
                ("q4", "2"),
                ("q5", "99999999999999999999"),
                ("difficulty", " 3 "),
            ]),
        );
        assert_eq!(raw.items[0], Some(2));
        assert_eq!(raw.items[1], Some(-1));
        assert_eq!(raw.items[2], None);
        assert_eq!(raw.items[3], Some(-1));
        assert_eq!(raw.items[4], Some(-1));
        assert_eq!(raw.items[8], None);
        assert_eq!(raw.difficulty, Some(3));
        assert_eq!(raw.submission, None);
    }

    #[test]
    fn same_value_twice_is_fine() {
        let raw = read_fields(&PHQ9, &f(&[("q1", "2"), ("q1", "2")]));
        assert_eq!(raw.items[0], Some(2));
    }
}
