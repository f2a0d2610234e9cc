//! The contact form (`/contact/message`) and "ask us to call you"
//! (`/book/callback`): checked field by field like every form, then handed
//! to `crate::contact`, which opens a case in the staff queue.

use crate::app::AppState;
use crate::assessment::share::{Contact, ContactMethod, ContactTime};
use crate::contact::{self, DAYS, Request};
use crate::i18n::Tr;
use crate::web::assessment::ErrorLink;
use crate::web::assessment::share::{ShareErrors, ShareForm};
use crate::web::layout::{Layout, html};
use crate::web::rate_limit::{RateLimit, ShareRoute};
use crate::web::routes::{Routes, get};
use crate::web::{AppError, Result};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

pub fn router() -> Routes<AppState> {
    Routes::new()
        .route("/contact/message", get(message_form).post(message_submit))
        .route("/book/callback", get(callback_form).post(callback_submit))
        .route("/contact/sent", get(sent))
}

/// The form as posted: strings, so nothing typed is lost. `days` may be
/// sent several times, so the body is read as pairs.
#[derive(Debug, Default)]
struct ContactForm {
    fields: ShareForm,
    days: Vec<String>,
}

impl ContactForm {
    fn parse(body: &[u8]) -> Self {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let mut f = ShareForm::default();
        let mut days = Vec::new();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v,
                "email" => f.email = v,
                "phone" => f.phone = v,
                "contact_method" => f.contact_method = v,
                "contact_time" => f.contact_time = v,
                "message" => f.message = v,
                "consent" => f.consent = v,
                "days" => days.push(v),
                _ => {}
            }
        }
        ContactForm { fields: f, days }
    }
}

/// Checks a form for `request`: the shared contact rules, plus a message
/// for a message and a phone number for a call back.
fn check(request: Request, form: &ContactForm) -> std::result::Result<Contact, ShareErrors> {
    let mut fields = form.fields.clone();
    if request == Request::Callback {
        fields.contact_method = "phone".into();
    } else {
        fields.contact_time = "any".into();
    }
    let parsed = Contact::try_from(&fields);
    let mut errors = match &parsed {
        Ok(_) => ShareErrors::default(),
        Err(e) => e.clone(),
    };
    if errors.consent.is_some() {
        errors.consent = Some("contact-error-consent");
    }
    if request == Request::Message && form.fields.message.trim().is_empty() {
        errors.message = Some("contact-error-message");
    }
    if request == Request::Callback && form.fields.phone.trim().is_empty() {
        errors.phone = Some("contact-error-phone");
        errors.email = None;
        errors.method = None;
    }
    if form.days.iter().any(|d| !DAYS.contains(&d.as_str())) {
        errors.time = Some("contact-error-days");
    }
    match parsed {
        Ok(mut contact) if errors == ShareErrors::default() => {
            contact.days = DAYS
                .iter()
                .filter(|d| form.days.iter().any(|x| x == *d))
                .map(|d| d.to_string())
                .collect();
            Ok(contact)
        }
        _ => Err(errors),
    }
}

#[derive(Template)]
#[template(path = "contact/form.html")]
struct FormPage {
    l: Layout,
    callback: bool,
    action: &'static str,
    form: ShareForm,
    days: Vec<(&'static str, String, bool)>,
    errors: Vec<ErrorLink>,
    err: std::collections::HashMap<&'static str, String>,
    methods: Vec<(&'static str, String)>,
    times: Vec<(&'static str, String)>,
    consent_text: String,
}

impl FormPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.err.get(field)
    }

    fn checked(&self, posted: &str, value: &str) -> bool {
        posted == value
    }
}

fn page(state: &AppState, request: Request, form: ContactForm, errors: &ShareErrors) -> FormPage {
    let tr = Tr::default();
    let callback = request == Request::Callback;
    let fields = [
        ("name", errors.name),
        ("email", errors.email),
        ("phone", errors.phone),
        ("method", errors.method),
        ("time", errors.time),
        ("message", errors.message),
        ("consent", errors.consent),
    ];
    let (title, path) = if callback {
        ("callback-title", "/book/callback")
    } else {
        ("message-title", "/contact/message")
    };
    let l = Layout::new(state, "contact", title, title).at(path);
    FormPage {
        callback,
        action: path,
        days: DAYS
            .iter()
            .map(|d| {
                (
                    *d,
                    tr.t(&format!("contact-day-{d}")),
                    form.days.iter().any(|x| x == d),
                )
            })
            .collect(),
        errors: fields
            .iter()
            .filter_map(|(anchor, key)| {
                key.map(|k| ErrorLink {
                    anchor: (*anchor).into(),
                    message: tr.t(k),
                })
            })
            .collect(),
        err: fields
            .iter()
            .filter_map(|(f, key)| key.map(|k| (*f, tr.t(k))))
            .collect(),
        methods: ContactMethod::ALL
            .iter()
            .map(|m| (m.slug(), tr.t(&format!("share-method-{}", m.slug()))))
            .collect(),
        times: ContactTime::ALL
            .iter()
            .map(|t| (t.slug(), tr.t(&format!("share-time-{}", t.slug()))))
            .collect(),
        consent_text: tr.t1("contact-consent", "clinic", &state.config.clinic.name),
        form: form.fields,
        l,
    }
}

async fn show(state: AppState, request: Request) -> Result<Response> {
    let mut form = ContactForm::default();
    form.fields.contact_time = "any".into();
    form.fields.contact_method = "email".into();
    Ok(html(
        StatusCode::OK,
        &page(&state, request, form, &ShareErrors::default()),
    ))
}

async fn submit(
    state: AppState,
    limit: RateLimit<ShareRoute>,
    request: Request,
    body: Bytes,
) -> Result<Response> {
    let form = ContactForm::parse(&body);
    let contact = match check(request, &form) {
        Ok(c) => c,
        Err(errors) => {
            return Ok(html(
                StatusCode::UNPROCESSABLE_ENTITY,
                &page(&state, request, form, &errors),
            ));
        }
    };
    limit.spend(&state).map_err(AppError::TooManyRequests)?;
    contact::send(&state, request, &contact).await?;
    let kind = if request == Request::Callback {
        "callback"
    } else {
        "message"
    };
    Ok(Redirect::to(&format!("/contact/sent?kind={kind}")).into_response())
}

pub async fn message_form(State(state): State<AppState>) -> Result<Response> {
    show(state, Request::Message).await
}

pub async fn message_submit(
    limit: RateLimit<ShareRoute>,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response> {
    submit(state, limit, Request::Message, body).await
}

pub async fn callback_form(State(state): State<AppState>) -> Result<Response> {
    show(state, Request::Callback).await
}

pub async fn callback_submit(
    limit: RateLimit<ShareRoute>,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response> {
    submit(state, limit, Request::Callback, body).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SentQuery {
    kind: String,
}

#[derive(Template)]
#[template(path = "contact/sent.html")]
struct SentPage {
    l: Layout,
    callback: bool,
}

pub async fn sent(State(state): State<AppState>, Query(q): Query<SentQuery>) -> Result<Response> {
    let l = Layout::new(
        &state,
        "contact",
        "contact-sent-title",
        "contact-sent-title",
    )
    .private();
    Ok(html(
        StatusCode::OK,
        &SentPage {
            l,
            callback: q.kind == "callback",
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &str) -> ContactForm {
        ContactForm::parse(pairs.as_bytes())
    }

    #[test]
    fn a_message_needs_words_and_a_way_back() {
        let e = check(Request::Message, &form("name=Ana&consent=yes")).unwrap_err();
        assert_eq!(e.message, Some("contact-error-message"));
        assert_eq!(e.email, Some("share-error-contact"));
        let ok = check(
            Request::Message,
            &form(
                "name=Ana&email=ana%40example.org&contact_method=email&message=Hello&consent=yes",
            ),
        )
        .unwrap();
        assert_eq!(ok.message.as_deref(), Some("Hello"));
        assert!(ok.days.is_empty());
    }

    #[test]
    fn a_call_back_needs_a_phone_and_keeps_the_days_in_order() {
        let e = check(
            Request::Callback,
            &form("name=Ana&email=ana%40example.org&contact_time=morning&consent=yes"),
        )
        .unwrap_err();
        assert_eq!(e.phone, Some("contact-error-phone"));
        let ok = check(
            Request::Callback,
            &form("name=Ana&phone=555+010+0123&contact_time=evening&days=friday&days=monday&consent=yes"),
        )
        .unwrap();
        assert_eq!(ok.days, ["monday", "friday"]);
        assert_eq!(ok.contact_method, ContactMethod::Phone);
        assert_eq!(ok.contact_time, ContactTime::Evening);
        let e = check(
            Request::Callback,
            &form("name=Ana&phone=555+010+0123&contact_time=any&days=sunday-night&consent=yes"),
        )
        .unwrap_err();
        assert_eq!(e.time, Some("contact-error-days"));
        let e = check(
            Request::Callback,
            &form("name=Ana&phone=555+010+0123&contact_time=any"),
        )
        .unwrap_err();
        assert_eq!(e.consent, Some("contact-error-consent"));
    }
}
