//! "Send my result to the clinic": contact details, preferences and explicit
//! consent. Creates a triage case (urgent when the item-9 flag is set) and the
//! clinic's notification in one transaction. Contact details are encrypted.

use super::result::{Lookup, lookup, unavailable};
use super::result_path;
use crate::app::AppState;
use crate::i18n::Tr;
use crate::storage::{NewMail, NewTriageCase, Shared};
use crate::time::now_ms;
use crate::web::Result;
use crate::web::layout::{Layout, html};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

pub const CONTACT_CONTEXT: &str = "triage_cases.contact";
/// Changes whenever the consent wording changes, so each case records which
/// text the person agreed to.
const CONSENT_VERSION: &str = "share-consent/en-US/1";

const METHODS: [&str; 3] = ["email", "phone", "text"];
const TIMES: [&str; 4] = ["any", "morning", "afternoon", "evening"];

/// The form as posted; every field a string so nothing typed is lost.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShareForm {
    name: String,
    email: String,
    phone: String,
    contact_method: String,
    contact_time: String,
    message: String,
    consent: String,
}

/// Checked contact details, as stored (encrypted).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Contact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub contact_method: String,
    pub contact_time: String,
    pub message: Option<String>,
}

#[derive(Debug, Default, PartialEq)]
pub struct ShareErrors {
    name: Option<&'static str>,
    email: Option<&'static str>,
    phone: Option<&'static str>,
    method: Option<&'static str>,
    time: Option<&'static str>,
    message: Option<&'static str>,
    consent: Option<&'static str>,
}

impl ShareErrors {
    fn is_empty(&self) -> bool {
        *self == ShareErrors::default()
    }
}

fn valid_email(s: &str) -> bool {
    s.len() <= 254
        && s.parse::<lettre::Address>().is_ok()
        && s.rsplit_once('@').is_some_and(|(_, d)| d.contains('.'))
}

fn valid_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (7..=15).contains(&digits)
        && s.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        && s.chars().filter(|&c| c == '+').count() <= 1
}

impl TryFrom<&ShareForm> for Contact {
    type Error = ShareErrors;

    /// Collects every field's problem at once.
    fn try_from(f: &ShareForm) -> std::result::Result<Self, ShareErrors> {
        let mut e = ShareErrors::default();
        let name = f.name.trim();
        if name.is_empty() {
            e.name = Some("share-error-name");
        } else if name.chars().count() > 100 {
            e.name = Some("share-error-name-long");
        }
        let email = f.email.trim();
        let phone = f.phone.trim();
        if !email.is_empty() && !valid_email(email) {
            e.email = Some("share-error-email");
        }
        if !phone.is_empty() && !valid_phone(phone) {
            e.phone = Some("share-error-phone");
        }
        if email.is_empty() && phone.is_empty() {
            e.email = Some("share-error-contact");
        }
        match f.contact_method.as_str() {
            m if !METHODS.contains(&m) => e.method = Some("share-error-method"),
            "email" if email.is_empty() && !phone.is_empty() => {
                e.method = Some("share-error-method-email")
            }
            "phone" | "text" if phone.is_empty() && !email.is_empty() => {
                e.method = Some("share-error-method-phone")
            }
            _ => {}
        }
        if !TIMES.contains(&f.contact_time.as_str()) {
            e.time = Some("share-error-time");
        }
        if f.message.chars().count() > 2000 {
            e.message = Some("share-error-message");
        }
        if f.consent != "yes" {
            e.consent = Some("share-error-consent");
        }
        if !e.is_empty() {
            return Err(e);
        }
        let message = f.message.trim();
        Ok(Contact {
            name: name.to_string(),
            email: (!email.is_empty()).then(|| email.to_string()),
            phone: (!phone.is_empty()).then(|| phone.to_string()),
            contact_method: f.contact_method.clone(),
            contact_time: f.contact_time.clone(),
            message: (!message.is_empty()).then(|| message.to_string()),
        })
    }
}

#[derive(Template)]
#[template(path = "assessment/share.html")]
struct SharePage {
    l: Layout,
    token: String,
    flagged: bool,
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
    SharePage {
        consent_text: tr.t1("share-consent", "clinic", &state.config.clinic.name),
        methods: METHODS
            .iter()
            .map(|m| (*m, tr.t(&format!("share-method-{m}"))))
            .collect(),
        times: TIMES
            .iter()
            .map(|t| (*t, tr.t(&format!("share-time-{t}"))))
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
    let stored = match lookup(&state, &token).await? {
        Lookup::Found(stored, _) => stored,
        other => return Ok(unavailable(&state, &other)),
    };
    if stored.shared_at.is_some() {
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
            stored.self_harm_flag,
            form,
            &ShareErrors::default(),
        ),
    ))
}

pub async fn submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<ShareForm>,
) -> Result<Response> {
    let stored = match lookup(&state, &token).await? {
        Lookup::Found(stored, _) => stored,
        other => return Ok(unavailable(&state, &other)),
    };
    let contact = match Contact::try_from(&form) {
        Ok(contact) => contact,
        Err(errors) => {
            let page = share_page(&state, token, stored.self_harm_flag, form, &errors);
            return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    let sealed = state.cipher.encrypt(
        CONTACT_CONTEXT,
        &serde_json::to_vec(&contact).expect("contact serializes"),
    );
    let mail = crate::mail::new_share_notification(&state.config);
    let outcome = state
        .storage
        .share_result(
            &NewTriageCase {
                result_id: stored.id,
                urgent: stored.self_harm_flag,
                contact_sealed: &sealed,
                consent_version: CONSENT_VERSION,
                created_at: now_ms(),
            },
            &NewMail {
                recipient: &state.config.mail.notify,
                subject: &mail.subject,
                body_text: &mail.text,
                body_html: &mail.html,
            },
        )
        .await?;
    match outcome {
        Shared::Created => {
            state.mail_wake.notify_one();
            Ok(Redirect::to(&format!("{}/shared", result_path(&token))).into_response())
        }
        // Sent already (a second tab, a re-post): nothing new is stored.
        Shared::AlreadyShared => Ok(Redirect::to(&result_path(&token)).into_response()),
    }
}

#[derive(Template)]
#[template(path = "assessment/shared.html")]
struct SharedPage {
    l: Layout,
    token: String,
}

pub async fn done(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response> {
    match lookup(&state, &token).await? {
        Lookup::Found(stored, _) if stored.shared_at.is_some() => {
            let l = Layout::new(&state, "assessment", "shared-title", "shared-title").private();
            Ok(html(StatusCode::OK, &SharedPage { l, token }))
        }
        Lookup::Found(..) => Ok(Redirect::to(&result_path(&token)).into_response()),
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
        assert!(Contact::try_from(&form("Ana", "", "+1 (555) 010-0123", "text")).is_ok());
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
    fn bad_email_and_phone() {
        assert!(!valid_email("ana"));
        assert!(!valid_email("ana@localhost"));
        assert!(!valid_email("<script>@x.org"));
        assert!(valid_email("ana.b+x@example.co.uk"));
        assert!(!valid_phone("123"));
        assert!(!valid_phone("555-CALL-NOW"));
        assert!(!valid_phone("++1 555 010 0123"));
        assert!(valid_phone("(555) 010-0123"));
    }
}
