//! "Send my result to the clinic": the form (contact details, preferences,
//! explicit consent), checked field by field; `crate::assessment::share`
//! does the rest.

use super::result::unavailable;
use crate::app::AppState;
use crate::assessment::share::{Contact, ContactMethod, ContactTime, share};
use crate::assessment::{Lookup, lookup, result_path};
use crate::domain::{EmailAddress, PhoneNumber, TextError, multi_line, single_line};
use crate::i18n::Tr;
use crate::storage::triage::ShareOutcome;
use crate::web::layout::{Layout, html};
use crate::web::rate_limit::{RateLimit, ShareRoute};
use crate::web::{AppError, Result};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// The form as posted; every field a string so nothing typed is lost.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ShareForm {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) contact_method: String,
    pub(crate) contact_time: String,
    pub(crate) message: String,
    pub(crate) consent: String,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ShareErrors {
    pub(crate) name: Option<&'static str>,
    pub(crate) email: Option<&'static str>,
    pub(crate) phone: Option<&'static str>,
    pub(crate) method: Option<&'static str>,
    pub(crate) time: Option<&'static str>,
    pub(crate) message: Option<&'static str>,
    pub(crate) consent: Option<&'static str>,
}

impl ShareErrors {
    fn is_empty(&self) -> bool {
        *self == ShareErrors::default()
    }
}

/// An optional field: empty is `None`, anything else must parse.
fn optional<T, E>(
    raw: &str,
    parse: impl Fn(&str) -> std::result::Result<T, E>,
) -> std::result::Result<Option<T>, E> {
    let raw = raw.trim();
    if raw.is_empty() {
        Ok(None)
    } else {
        parse(raw).map(Some)
    }
}

impl TryFrom<&ShareForm> for Contact {
    type Error = ShareErrors;

    /// Collects every field's problem at once.
    fn try_from(f: &ShareForm) -> std::result::Result<Self, ShareErrors> {
        let mut e = ShareErrors::default();
        let name = single_line(&f.name, 100).map_err(|err| {
            e.name = Some(match err {
                TextError::Empty => "share-error-name",
                TextError::TooLong => "share-error-name-long",
                TextError::Forbidden => "share-error-characters",
            })
        });
        let email = optional(&f.email, EmailAddress::parse)
            .map_err(|_| e.email = Some("share-error-email"));
        let phone =
            optional(&f.phone, PhoneNumber::parse).map_err(|_| e.phone = Some("share-error-phone"));
        let (has_email, has_phone) = (!f.email.trim().is_empty(), !f.phone.trim().is_empty());
        if !has_email && !has_phone {
            e.email = Some("share-error-contact");
        }
        let method = ContactMethod::from_slug(&f.contact_method);
        match method {
            None => e.method = Some("share-error-method"),
            Some(ContactMethod::Email) if !has_email && has_phone => {
                e.method = Some("share-error-method-email")
            }
            Some(ContactMethod::Phone | ContactMethod::Text) if !has_phone && has_email => {
                e.method = Some("share-error-method-phone")
            }
            _ => {}
        }
        let time = ContactTime::from_slug(&f.contact_time);
        if time.is_none() {
            e.time = Some("share-error-time");
        }
        let message = match multi_line(&f.message, 2000) {
            Ok(m) => Some(m),
            Err(TextError::Empty) => None,
            Err(TextError::TooLong) => {
                e.message = Some("share-error-message");
                None
            }
            Err(TextError::Forbidden) => {
                e.message = Some("share-error-characters");
                None
            }
        };
        if f.consent != "yes" {
            e.consent = Some("share-error-consent");
        }
        match (name, email, phone, method, time) {
            (Ok(name), Ok(email), Ok(phone), Some(contact_method), Some(contact_time))
                if e.is_empty() =>
            {
                Ok(Contact {
                    name,
                    email: email.map(|a| a.as_str().to_string()),
                    phone: phone.map(|p| p.as_str().to_string()),
                    contact_method,
                    contact_time,
                    message,
                    days: Vec::new(),
                })
            }
            _ => Err(e),
        }
    }
}

#[derive(Template)]
#[template(path = "assessment/share.html")]
struct SharePage {
    l: Layout,
    token: String,
    flagged: bool,
    /// What happens to an urgent result, from the configured response
    /// time and opening hours.
    urgent_note: String,
    form: ShareForm,
    errors: Vec<super::form::ErrorLink>,
    err_name: Option<String>,
    err_email: Option<String>,
    err_phone: Option<String>,
    err_method: Option<String>,
    err_time: Option<String>,
    err_message: Option<String>,
    err_consent: Option<String>,
    methods: Vec<(&'static str, String)>,
    times: Vec<(&'static str, String)>,
    consent_text: String,
}

impl SharePage {
    /// Whether a radio button's value is the one posted.
    fn checked(&self, posted: &str, value: &str) -> bool {
        posted == value
    }
}

fn share_page(
    state: &AppState,
    token: String,
    flagged: bool,
    form: ShareForm,
    errors: &ShareErrors,
) -> SharePage {
    let tr = Tr::default();
    let msg = |k: Option<&'static str>| k.map(|k| tr.t(k));
    let mut links = Vec::new();
    for (anchor, key) in [
        ("name", errors.name),
        ("email", errors.email),
        ("phone", errors.phone),
        ("method", errors.method),
        ("time", errors.time),
        ("message", errors.message),
        ("consent", errors.consent),
    ] {
        if let Some(k) = key {
            links.push(super::form::ErrorLink {
                anchor: anchor.into(),
                message: tr.t(k),
            });
        }
    }
    let l = Layout::new(state, "assessment", "share-title", "share-title").private();
    let hours = if l.hours.is_empty() {
        tr.t("share-hours-unknown")
    } else {
        l.hours.join("; ")
    };
    SharePage {
        urgent_note: tr.args(
            "share-urgent-note",
            &[
                (
                    "within",
                    crate::time::format_duration(state.config.staff.urgent_respond_within),
                ),
                ("when", hours),
            ],
        ),
        consent_text: tr.t1("share-consent", "clinic", &state.config.clinic.name),
        methods: ContactMethod::ALL
            .iter()
            .map(|m| (m.slug(), tr.t(&format!("share-method-{}", m.slug()))))
            .collect(),
        times: ContactTime::ALL
            .iter()
            .map(|t| (t.slug(), tr.t(&format!("share-time-{}", t.slug()))))
            .collect(),
        err_name: msg(errors.name),
        err_email: msg(errors.email),
        err_phone: msg(errors.phone),
        err_method: msg(errors.method),
        err_time: msg(errors.time),
        err_message: msg(errors.message),
        err_consent: msg(errors.consent),
        errors: links,
        token,
        flagged,
        form,
        l,
    }
}

pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response> {
    let result = match lookup(&state, &token).await? {
        Lookup::Found(result) => result,
        other => return Ok(unavailable(&state, &other)),
    };
    if result.shared_at.is_some() {
        return Ok(Redirect::to(&result_path(&token)).into_response());
    }
    let form = ShareForm {
        contact_time: "any".into(),
        ..ShareForm::default()
    };
    Ok(html(
        StatusCode::OK,
        &share_page(
            &state,
            token,
            result.score.self_harm_flag,
            form,
            &ShareErrors::default(),
        ),
    ))
}

pub async fn submit(
    limit: RateLimit<ShareRoute>,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<ShareForm>,
) -> Result<Response> {
    let result = match lookup(&state, &token).await? {
        Lookup::Found(result) => result,
        other => return Ok(unavailable(&state, &other)),
    };
    let contact = match Contact::try_from(&form) {
        Ok(contact) => contact,
        Err(errors) => {
            let page = share_page(&state, token, result.score.self_harm_flag, form, &errors);
            return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    limit.spend(&state).map_err(AppError::TooManyRequests)?;
    match share(&state, &result, &contact).await? {
        ShareOutcome::Created => {
            Ok(Redirect::to(&format!("{}/shared", result_path(&token))).into_response())
        }
        // Sent already (a second tab, a re-post): nothing new is stored.
        ShareOutcome::AlreadyShared => Ok(Redirect::to(&result_path(&token)).into_response()),
    }
}

#[derive(Template)]
#[template(path = "assessment/shared.html")]
struct SharedPage {
    l: Layout,
    token: String,
    /// "The clinic aims to contact you within 48 hours …", from the
    /// configured response times.
    reply_within: String,
}

pub async fn done(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response> {
    match lookup(&state, &token).await? {
        Lookup::Found(result) if result.shared_at.is_some() => {
            let l = Layout::new(&state, "assessment", "shared-title", "shared-title").private();
            let staff = &state.config.staff;
            let within = if result.score.self_harm_flag {
                staff.urgent_respond_within
            } else {
                staff.routine_respond_within
            };
            let reply_within = Tr::default().t1(
                "shared-reply-within",
                "within",
                crate::time::format_duration(within),
            );
            Ok(html(
                StatusCode::OK,
                &SharedPage {
                    l,
                    token,
                    reply_within,
                },
            ))
        }
        Lookup::Found(_) => Ok(Redirect::to(&result_path(&token)).into_response()),
        other => Ok(unavailable(&state, &other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, email: &str, phone: &str, method: &str) -> ShareForm {
        ShareForm {
            name: name.into(),
            email: email.into(),
            phone: phone.into(),
            contact_method: method.into(),
            contact_time: "any".into(),
            message: String::new(),
            consent: "yes".into(),
        }
    }

    #[test]
    fn valid_contact() {
        let c = Contact::try_from(&form(" Ana ", "ana@example.org", "", "email")).unwrap();
        assert_eq!(c.name, "Ana");
        assert_eq!(c.email.as_deref(), Some("ana@example.org"));
        assert_eq!(c.phone, None);
        assert_eq!(c.message, None);
        assert!(Contact::try_from(&form("Ana", "", "+1 (555) 010-0123", "text")).is_ok());
        let mut f = form("Ana", "ana@example.org", "", "email");
        f.message = "Line one\r\nLine two\r\n".into();
        assert_eq!(
            Contact::try_from(&f).unwrap().message.as_deref(),
            Some("Line one\nLine two")
        );
    }

    #[test]
    fn every_problem_is_reported_together() {
        let mut f = form("", "", "", "fax");
        f.contact_time = "midnight".into();
        f.consent = String::new();
        f.message = "x".repeat(2001);
        let e = Contact::try_from(&f).unwrap_err();
        assert_eq!(e.name, Some("share-error-name"));
        assert_eq!(e.email, Some("share-error-contact"));
        assert_eq!(e.method, Some("share-error-method"));
        assert_eq!(e.time, Some("share-error-time"));
        assert_eq!(e.message, Some("share-error-message"));
        assert_eq!(e.consent, Some("share-error-consent"));
    }

    #[test]
    fn method_must_match_a_given_channel() {
        let e = Contact::try_from(&form("Ana", "", "5550100123", "email")).unwrap_err();
        assert_eq!(e.method, Some("share-error-method-email"));
        let e = Contact::try_from(&form("Ana", "ana@example.org", "", "phone")).unwrap_err();
        assert_eq!(e.method, Some("share-error-method-phone"));
    }

    #[test]
    fn control_and_direction_characters_are_refused() {
        for name in ["Ana\0", "Ana\r\nBcc: x", "Ana\u{202E}evil"] {
            let e = Contact::try_from(&form(name, "ana@example.org", "", "email")).unwrap_err();
            assert_eq!(e.name, Some("share-error-characters"), "{name:?}");
        }
        let e = Contact::try_from(&form("Ana", "\"<script>\"@x.org", "", "email")).unwrap_err();
        assert_eq!(e.email, Some("share-error-email"));
        let mut f = form("Ana", "ana@example.org", "", "email");
        f.message = "hello\u{2066}there".into();
        assert_eq!(
            Contact::try_from(&f).unwrap_err().message,
            Some("share-error-characters")
        );
    }
}
