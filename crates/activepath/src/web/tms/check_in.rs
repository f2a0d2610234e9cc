//! `/check-in/{token}`: the PHQ-9 a patient answers during a TMS course, by
//! a single-use link (e-mailed, or opened on the clinic's tablet). The page
//! names no one and shows no score; question 9 above 0 shows the same
//! safety message as the public self-assessment, and the clinicians get an
//! urgent case at once. On the tablet the patient is in the clinic, so the
//! page asks them to tell the staff member now, and promises no reply time. After the answers nothing of them can be seen
//! again: the link is spent, and no page is cached.

use crate::app::AppState;
use crate::i18n::Tr;
use crate::tms::links::{self, Link};
use crate::web::assessment::ErrorLink;
use crate::web::assessment::form::{DifficultyView, Question, RawAnswers, questions, read_fields};
use crate::web::layout::{Layout, html};
use crate::web::{AppError, Result};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use clinical::{InstrumentId, Responses};

#[derive(Template)]
#[template(path = "tms/check_in.html")]
struct FormPage {
    l: Layout,
    /// Where the answers go: the link's page, or the tablet's.
    action: String,
    /// On a tablet: which waiting check-in this form answers.
    link_id: Option<i64>,
    def: &'static clinical::Instrument,
    questions: Vec<Question>,
    difficulty: Option<DifficultyView>,
    errors: Vec<ErrorLink>,
}

#[derive(Template)]
#[template(path = "tms/checked_in.html")]
struct DonePage {
    l: Layout,
    /// Question 9 above 0: the safety message.
    flagged: bool,
    kiosk: bool,
    /// By e-mailed link only: "The clinic aims to contact you within 4
    /// hours …". A tablet is in the clinic: the patient tells the staff
    /// member there, and no time is promised.
    reply_within: Option<String>,
    /// On a clinic tablet: its page, for the next patient.
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "tms/kiosk_waiting.html")]
struct WaitingPage {
    l: Layout,
    here: String,
}

#[derive(Template)]
#[template(path = "tms/check_in_spent.html")]
struct SpentPage {
    l: Layout,
}

fn layout(state: &AppState, title: &str) -> Layout {
    Layout::new(state, "", title, title).private()
}

fn form(
    state: &AppState,
    action: String,
    link_id: Option<i64>,
    raw: &RawAnswers,
    errors: &[(clinical::FieldError, clinical::Problem)],
) -> FormPage {
    let def = InstrumentId::Phq9.definition();
    let (questions, difficulty, errors) = questions(def, raw, errors);
    FormPage {
        l: layout(state, "check-in-title"),
        action,
        link_id,
        def,
        questions,
        difficulty,
        errors,
    }
}

/// A link that does not work: the same page whether it never existed,
/// was used or expired, so the page tells a guesser nothing.
fn spent(state: &AppState) -> Response {
    html(
        StatusCode::NOT_FOUND,
        &SpentPage {
            l: layout(state, "check-in-spent-title"),
        },
    )
}

async fn open(state: &AppState, token: &str) -> Result<Option<Link>> {
    links::find(state, token).await.map_err(AppError::from)
}

pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response> {
    if open(&state, &token).await?.is_none() {
        return Ok(spent(&state));
    }
    Ok(html(
        StatusCode::OK,
        &form(
            &state,
            links::path(&token),
            None,
            &RawAnswers::default(),
            &[],
        ),
    ))
}

pub async fn submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let Some(link) = open(&state, &token).await? else {
        return Ok(spent(&state));
    };
    answer(&state, link, links::path(&token), None, &fields).await
}

/// Records the answers posted through `link`, or shows the form again
/// with each missing answer named.
async fn answer(
    state: &AppState,
    link: Link,
    action: String,
    next: Option<String>,
    fields: &[(String, String)],
) -> Result<Response> {
    let def = InstrumentId::Phq9.definition();
    let raw = read_fields(def, fields);
    let responses = match Responses::parse_repeat(InstrumentId::Phq9, &raw.items, raw.difficulty) {
        Ok(r) => r,
        Err(errors) => {
            let link_id = next.as_ref().map(|_| link.id);
            return Ok(html(
                StatusCode::UNPROCESSABLE_ENTITY,
                &form(state, action, link_id, &raw, &errors),
            ));
        }
    };
    let Some(done) = links::answer(state, link, &responses)
        .await
        .map_err(AppError::from)?
    else {
        return Ok(spent(state));
    };
    let reply_within = (!link.kiosk).then(|| {
        Tr::default().t1(
            "shared-reply-within",
            "within",
            crate::time::format_duration(state.config.staff.urgent_respond_within),
        )
    });
    Ok(html(
        StatusCode::OK,
        &DonePage {
            l: layout(state, "check-in-done-title"),
            flagged: done.self_harm_flag,
            kiosk: link.kiosk,
            reply_within,
            next,
        },
    ))
}

/// `GET /kiosk/{token}`: a clinic tablet. It shows the check-in the staff
/// sent to it once someone taps to start, else that none is waiting; never
/// a name, and nothing of the patient before.
pub async fn kiosk(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<KioskQuery>,
) -> Result<Response> {
    let here = links::kiosk_path(&token);
    match links::on_kiosk(&state, &token)
        .await
        .map_err(AppError::from)?
    {
        None => Ok(spent(&state)),
        Some(Some(link)) if q.start.is_some() => Ok(html(
            StatusCode::OK,
            &form(&state, here, Some(link.id), &RawAnswers::default(), &[]),
        )),
        Some(_) => Ok(html(
            StatusCode::OK,
            &WaitingPage {
                l: layout(&state, "kiosk-title"),
                here,
            },
        )),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct KioskQuery {
    start: Option<String>,
}

/// `POST /kiosk/{token}`: the answers to the check-in the form showed (a
/// check-in sent meanwhile is not answered by it).
pub async fn kiosk_submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let here = links::kiosk_path(&token);
    let shown: Option<i64> = fields
        .iter()
        .find(|(k, _)| k == "link")
        .and_then(|(_, v)| v.parse().ok());
    match links::on_kiosk(&state, &token)
        .await
        .map_err(AppError::from)?
    {
        None => Ok(spent(&state)),
        Some(Some(link)) if Some(link.id) == shown => {
            answer(&state, link, here.clone(), Some(here), &fields).await
        }
        Some(_) => Ok(html(
            StatusCode::CONFLICT,
            &WaitingPage {
                l: layout(&state, "kiosk-title"),
                here,
            },
        )),
    }
}
