//! The staff portal (`/staff`) and the staff API (`/api/v1/staff/`).
//!
//! Signing in is open; everything else needs a complete session (portal) or
//! an API token (API), checked by one middleware each, and then a
//! permission, checked by the [`Allowed`] extractor against the one table in
//! `staff::roles`. Every form post of a signed-in page carries the session's
//! CSRF token, checked by the session middleware before any handler runs.

mod accounts;
pub(crate) mod api;
mod audit;
mod calendar;
mod case;
mod figures;
mod grants;
mod links;
mod login;
mod mail_log;
mod patients;
mod queue;
mod setup;

use crate::app::AppState;
use crate::i18n::Tr;
use crate::staff::sign_in::{self, Current};
use crate::staff::{Actor, Permission, Role, allows};
use crate::storage::staff::{SessionStage, StaffUser};
use crate::web::routes::{Routes, get, post};
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::marker::PhantomData;
use std::net::SocketAddr;
use tower_http::set_header::SetResponseHeaderLayer;

pub fn router(state: AppState) -> Routes<AppState> {
    let signing_in = Routes::new()
        .route("/staff/login", get(login::show).post(login::submit))
        .route(
            "/staff/login/code",
            get(login::code_form).post(login::code_submit),
        )
        .route(
            "/staff/enrol",
            get(login::enrol_form).post(login::enrol_submit),
        )
        .route("/staff/enrol/qr.svg", get(login::enrol_qr))
        .route(
            "/staff/welcome/{token}",
            get(links::welcome_form).post(links::welcome_submit),
        )
        .route(
            "/staff/password-reset",
            get(links::reset_request_form).post(links::reset_request_submit),
        )
        .route(
            "/staff/password-reset/{token}",
            get(links::reset_form).post(links::reset_submit),
        );
    let portal = Routes::new()
        .route("/staff", get(queue::home))
        .route("/staff/cases/{id}", get(case::page))
        .route("/staff/cases/{id}/act", post(case::act))
        .route("/staff/cases/{id}/link", post(patients::link_case))
        .route("/staff/patients", get(patients::list))
        .route(
            "/staff/patients/new",
            get(patients::new_form).post(patients::create),
        )
        .route("/staff/patients/{id}", get(patients::page))
        .route("/staff/patients/{id}/notes", post(patients::save_notes))
        .route(
            "/staff/patients/{id}/courses/new",
            get(crate::web::tms::pages::new_form),
        )
        .route(
            "/staff/patients/{id}/courses",
            post(crate::web::tms::pages::create),
        )
        .route("/staff/courses", get(crate::web::tms::pages::list))
        .route(
            "/staff/patients/{id}/safety-review",
            get(crate::web::tms::safety::review_form).post(crate::web::tms::safety::review_submit),
        )
        .route(
            "/staff/kiosks",
            get(crate::web::tms::pages::kiosks).post(crate::web::tms::pages::add_kiosk),
        )
        .route(
            "/staff/kiosks/{id}/revoke",
            post(crate::web::tms::pages::revoke_kiosk),
        )
        .route("/staff/courses/{id}", get(crate::web::tms::pages::page))
        .route(
            "/staff/courses/{id}/session",
            get(crate::web::tms::pages::session_form).post(crate::web::tms::pages::session),
        )
        .route(
            "/staff/courses/{id}/motor-thresholds",
            post(crate::web::tms::pages::threshold),
        )
        .route(
            "/staff/courses/{id}/before",
            get(crate::web::tms::pages::before::page),
        )
        .route(
            "/staff/courses/{id}/consent",
            post(crate::web::tms::pages::before::consent),
        )
        .route(
            "/staff/courses/{id}/safety-screen",
            post(crate::web::tms::pages::before::safety_screen),
        )
        .route(
            "/staff/courses/{id}/order",
            post(crate::web::tms::pages::before::order),
        )
        .route(
            "/staff/courses/{id}/authorizations",
            post(crate::web::tms::pages::authorization),
        )
        .route(
            "/staff/courses/{id}/status",
            post(crate::web::tms::pages::status),
        )
        .route(
            "/staff/courses/{id}/holds/{hold}/clear",
            post(crate::web::tms::pages::clear_hold),
        )
        .route(
            "/staff/courses/{id}/check-in",
            post(crate::web::tms::pages::send_check_in),
        )
        .route(
            "/staff/courses/{id}/check-ins/new",
            get(crate::web::tms::pages::paper_form),
        )
        .route(
            "/staff/courses/{id}/check-ins",
            post(crate::web::tms::pages::paper),
        )
        .route(
            "/staff/courses/{id}/schedule",
            post(crate::web::tms::pages::book_series),
        )
        .route(
            "/staff/courses/{id}/appointments/{appointment}/missed",
            post(crate::web::tms::pages::missed),
        )
        .route(
            "/staff/courses/{id}/sessions/change",
            post(crate::web::tms::pages::change_sessions),
        )
        .route(
            "/staff/courses/{id}/adverse-events/new",
            get(crate::web::tms::adverse_events::new_form),
        )
        .route(
            "/staff/courses/{id}/adverse-events",
            post(crate::web::tms::adverse_events::new_submit),
        )
        .route(
            "/staff/courses/{id}/adverse-events/{event}/reports",
            get(crate::web::tms::adverse_events::reports_form)
                .post(crate::web::tms::adverse_events::reports_submit),
        )
        .route(
            "/staff/adverse-events",
            get(crate::web::tms::adverse_events::page),
        )
        .route(
            "/staff/adverse-events.csv",
            get(crate::web::tms::adverse_events::page_csv),
        )
        .route("/staff/calendar", get(calendar::page))
        .route("/staff/calendar/book", get(calendar::book_times))
        .route(
            "/staff/calendar/book/details",
            get(calendar::book_form).post(calendar::book_submit),
        )
        .route("/staff/appointments/{uid}", get(calendar::appointment))
        .route("/staff/appointments/{uid}/cancel", post(calendar::cancel))
        .route(
            "/staff/appointments/{uid}/move",
            get(calendar::move_times).post(calendar::move_submit),
        )
        .route("/staff/booking-setup", get(setup::page))
        .route("/staff/booking-setup/{what}", post(setup::add))
        .route("/staff/booking-setup/{what}/{id}", post(setup::change))
        .route("/staff/mail", get(mail_log::page))
        .route("/staff/figures", get(figures::page))
        .route("/staff/mail/{id}/retry", post(mail_log::retry))
        .route("/staff/mail/{id}/dismiss", post(mail_log::dismiss))
        .route("/staff/accounts", get(accounts::list))
        .route("/staff/accounts/invite", post(accounts::invite))
        .route("/staff/accounts/{id}/disable", post(accounts::disable))
        .route("/staff/accounts/{id}/enable", post(accounts::enable))
        .route(
            "/staff/accounts/{id}/medical-director",
            post(accounts::medical_director),
        )
        .route("/staff/grants", get(grants::page))
        .route("/staff/grants/{id}/approve", post(grants::approve))
        .route("/staff/grants/{id}/decline", post(grants::decline))
        .route(
            "/staff/tokens",
            get(accounts::tokens).post(accounts::create_token),
        )
        .route("/staff/tokens/{id}/revoke", post(accounts::revoke_token))
        .route("/staff/audit", get(audit::page))
        .route("/staff/audit.csv", get(audit::export))
        .route("/staff/sign-out", post(login::sign_out))
        .route("/staff/sign-out-elsewhere", post(login::sign_out_elsewhere))
        // Anything else under /staff: a session first, then "not found".
        .route("/staff/{*rest}", get(not_found).post(not_found))
        .map(|r| {
            r.route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                require_session,
            ))
        });
    let staff_api = Routes::new()
        .route("/api/v1/staff/cases", get(api::cases))
        .route("/api/v1/staff/cases/{id}", get(api::case))
        .route("/api/v1/staff/patients", post(api::create_patient))
        .route(
            "/api/v1/staff/patients/{id}/courses",
            post(crate::web::tms::api::start),
        )
        .route(
            "/api/v1/staff/patients/{id}",
            get(crate::web::tms::safety::patient),
        )
        .route(
            "/api/v1/staff/patients/{id}/safety-reviews",
            post(crate::web::tms::safety::create_review),
        )
        .route(
            "/api/v1/staff/courses/{id}",
            get(crate::web::tms::api::course),
        )
        .route(
            "/api/v1/staff/courses/{id}/motor-thresholds",
            post(crate::web::tms::api::motor_threshold),
        )
        .route(
            "/api/v1/staff/courses/{id}/check-ins",
            post(crate::web::tms::api::check_in),
        )
        .route(
            "/api/v1/staff/courses/{id}/status",
            post(crate::web::tms::api::status),
        )
        .route(
            "/api/v1/staff/courses/{id}/sessions",
            post(crate::web::tms::api::session),
        )
        .route(
            "/api/v1/staff/courses/{id}/order",
            post(crate::web::tms::orders::order),
        )
        .route(
            "/api/v1/staff/courses/{id}/consent",
            post(crate::web::tms::orders::consent),
        )
        .route(
            "/api/v1/staff/courses/{id}/safety-screen",
            post(crate::web::tms::orders::safety_screen),
        )
        .route(
            "/api/v1/staff/courses/{id}/holds/{hold}/clear",
            post(crate::web::tms::api::clear_hold),
        )
        .route(
            "/api/v1/staff/courses/{id}/authorizations",
            post(crate::web::tms::api::authorization),
        )
        .route(
            "/api/v1/staff/courses/{id}/check-in-links",
            post(crate::web::tms::api::check_in_link),
        )
        .route(
            "/api/v1/staff/courses/{id}/schedule",
            post(crate::web::tms::api::schedule),
        )
        .route(
            "/api/v1/staff/courses/{id}/appointments/{appointment}/missed",
            post(crate::web::tms::api::missed),
        )
        .route(
            "/api/v1/staff/courses/{id}/appointments/{appointment}/change",
            post(crate::web::tms::api::change),
        )
        .route(
            "/api/v1/staff/courses/{id}/adverse-events",
            post(crate::web::tms::adverse_events::create),
        )
        .route(
            "/api/v1/staff/courses/{id}/adverse-events/{event}/reports",
            post(crate::web::tms::adverse_events::reports),
        )
        .route(
            "/api/v1/staff/adverse-events",
            get(crate::web::tms::adverse_events::list),
        )
        .route("/api/v1/staff/{*rest}", get(not_found))
        .map(|r| r.route_layer(axum::middleware::from_fn_with_state(state, require_token)));
    signing_in.merge(portal).merge(staff_api).map(|r| {
        r.layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-robots-tag"),
            HeaderValue::from_static("noindex, nofollow"),
        ))
    })
}

async fn not_found() -> crate::web::AppError {
    crate::web::AppError::NotFound
}

/// The session cookie's name: with the `__Host-` prefix (which browsers
/// only accept over https, from the host itself, for path /) when the site
/// is served over https.
fn cookie_name(state: &AppState) -> &'static str {
    if state.config.clinic.base_url.is_https() {
        "__Host-activepath_staff"
    } else {
        "activepath_staff"
    }
}

/// `Set-Cookie` for a session: script cannot read it, no other site's
/// request carries it, and over https it is sent over https only.
fn session_cookie(state: &AppState, value: &str) -> HeaderValue {
    let secure = if state.config.clinic.base_url.is_https() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict{secure}",
        cookie_name(state)
    ))
    .expect("a base64url value is a valid cookie")
}

fn clear_cookie(state: &AppState) -> HeaderValue {
    let secure = if state.config.clinic.base_url.is_https() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
        cookie_name(state)
    ))
    .expect("a valid cookie")
}

/// The session cookie's value, if the request carries one.
fn cookie_value(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 43)
}

/// The client's address, for the audit trail.
fn client_ip(state: &AppState, parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| {
            crate::web::client::address(
                peer.ip(),
                &parts.headers,
                &state.config.server.trusted_proxies,
            )
            .to_string()
        })
}

/// The client's address, for the audit trail (`None` for a request that
/// did not come over a socket).
pub struct ClientIp(pub Option<String>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(state, parts)))
    }
}

/// Someone signed in: by a session (portal) or an API token.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: StaffUser,
    /// The session, for the portal; `None` for an API token.
    pub session: Option<Current>,
    pub actor: Actor,
    /// Messages that failed for good, for those who watch delivery: the
    /// portal shows an alert on every page while there are any.
    pub failed_mail: i64,
}

impl SignedIn {
    pub fn can(&self, permission: Permission) -> bool {
        allows(self.user.role, permission)
    }
}

/// Where a local `next` address may lead after signing in: only back into
/// the portal, never to another site.
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = (next == "/staff" || next.starts_with("/staff/"))
        && !next.contains("//")
        && !next.contains('\\')
        && next.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(next)
}

/// Portal pages: a complete session, or a redirect to where signing in
/// stands; form posts must carry the session's CSRF token.
async fn require_session(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let current = match cookie_value(&state, &parts.headers) {
        Some(cookie) => match sign_in::current(&state, &cookie).await {
            Ok(current) => current,
            Err(e) => return crate::web::AppError::from(e).into_response(),
        },
        None => None,
    };
    let Some(current) = current else {
        let wanted = parts
            .uri
            .path_and_query()
            .map_or("/staff", |p| p.as_str())
            .to_string();
        let to = match (parts.method == Method::GET, safe_next(&wanted)) {
            (true, Some(next)) if next != "/staff" => format!(
                "/staff/login?next={}",
                percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
            ),
            _ => "/staff/login".to_string(),
        };
        return Redirect::to(&to).into_response();
    };
    match current.session.stage {
        SessionStage::SecondFactor => return Redirect::to("/staff/login/code").into_response(),
        SessionStage::Enrol => return Redirect::to("/staff/enrol").into_response(),
        SessionStage::Complete => {}
    }
    let body = if parts.method == Method::POST {
        let bytes = match axum::body::to_bytes(body, crate::web::BODY_LIMIT).await {
            Ok(b) => b,
            Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        };
        let sent = form_field(&bytes, "csrf");
        if !sent.is_some_and(|t| current.cookie.csrf_matches(&state, &t)) {
            tracing::warn!("refused a staff form without its session's CSRF token");
            return StatusCode::FORBIDDEN.into_response();
        }
        Body::from(bytes)
    } else {
        body
    };
    let user = current.session.user.clone();
    let actor = Actor {
        user_id: Some(user.id),
        label: user.email.clone(),
        client_ip: client_ip(&state, &parts),
    };
    let failed_mail = if allows(user.role, Permission::SeeMailLog) {
        match state.storage.failed_mail().await {
            Ok(n) => n,
            Err(e) => return crate::web::AppError::from(e).into_response(),
        }
    } else {
        0
    };
    parts.extensions.insert(SignedIn {
        user,
        session: Some(current),
        actor,
        failed_mail,
    });
    next.run(Request::from_parts(parts, body)).await
}

/// One field of a url-encoded form.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The staff API: `Authorization: Bearer <token>` of a live token of an
/// enabled account; rate-limited per client.
async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let unauthorized = || {
        let mut res = crate::web::ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Send a staff API token: Authorization: Bearer <token>",
        )
        .into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"activepath staff API\""),
        );
        res
    };
    let ip = client_ip(&state, &parts);
    if let Some(client) = ip.as_deref().and_then(|ip| ip.parse().ok())
        && let Err(wait) = state
            .limits
            .check(crate::web::rate_limit::Route::StaffApi, client)
    {
        return crate::web::ApiError::too_many_requests(wait);
    }
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token else {
        return unauthorized();
    };
    let user = match sign_in::token_user(&state, token).await {
        Ok(Some(user)) => user,
        Ok(None) => return unauthorized(),
        Err(e) => return crate::web::AppError::from(e).into_response(),
    };
    let actor = Actor {
        user_id: Some(user.id),
        label: format!("{} (API token)", user.email),
        client_ip: ip,
    };
    parts.extensions.insert(SignedIn {
        user,
        session: None,
        actor,
        failed_mail: 0,
    });
    next.run(Request::from_parts(parts, body)).await
}

/// A permission, as a type, for [`Allowed`].
pub trait Needs: Send + Sync + 'static {
    const PERMISSION: Permission;
}

macro_rules! needs {
    ($($name:ident),*) => {$(
        pub struct $name;
        impl Needs for $name {
            const PERMISSION: Permission = Permission::$name;
        }
    )*};
}

needs!(
    SeeQueue,
    SeeCase,
    WorkCases,
    SeePatients,
    EditPatients,
    ClinicalNotes,
    ManageAccounts,
    SeeAudit,
    OwnTokens,
    SeeSchedule,
    ManageSchedule,
    SeeMailLog,
    SetUpBooking,
    SeeSiteFigures,
    SeeCourses,
    ManageCourses,
    RecordTreatment,
    ManageAuthorizations,
    RecordConsent
);

/// The signed-in person, if their role has `P`'s permission; 403 if not.
pub struct Allowed<P>(pub SignedIn, pub PhantomData<P>);

impl<P: Needs> FromRequestParts<AppState> for Allowed<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        let Some(signed_in) = parts.extensions.get::<SignedIn>().cloned() else {
            // Only reachable if a route escaped the middlewares: deny.
            return Err(StatusCode::UNAUTHORIZED.into_response());
        };
        if !signed_in.can(P::PERMISSION) {
            return Err(StatusCode::FORBIDDEN.into_response());
        }
        Ok(Allowed(signed_in, PhantomData))
    }
}

/// What every portal page shares.
pub struct StaffLayout {
    pub tr: Tr,
    pub title: String,
    pub theme: std::sync::Arc<crate::theme::Theme>,
    pub clinic_name: String,
    /// The signed-in person's address and role, and the CSRF token for the
    /// sign-out forms; empty while signing in.
    pub user_email: String,
    pub role: String,
    pub csrf: String,
    pub nav_queue: bool,
    pub nav_patients: bool,
    pub nav_calendar: bool,
    pub nav_courses: bool,
    /// Medical directors: the clinic's adverse events.
    pub nav_adverse_events: bool,
    pub nav_accounts: bool,
    /// Administrators and the medical director: requests for roles.
    pub nav_grants: bool,
    pub nav_audit: bool,
    pub nav_tokens: bool,
    pub nav_mail: bool,
    pub nav_figures: bool,
    pub nav_setup: bool,
    /// Messages that failed for good (an alert on every page).
    pub failed_mail: i64,
    /// The second factor is not required: said on every page.
    pub second_factor_off: bool,
    pub section: &'static str,
}

impl StaffLayout {
    pub fn new(
        state: &AppState,
        title: String,
        who: Option<&SignedIn>,
        section: &'static str,
    ) -> Self {
        let tr = Tr::default();
        let (user_email, role, csrf) = match who {
            Some(w) => (
                w.user.email.clone(),
                role_label(&tr, w.user.role),
                w.session
                    .as_ref()
                    .map(|c| c.cookie.csrf_token(state))
                    .unwrap_or_default(),
            ),
            None => Default::default(),
        };
        let can = |p: Permission| who.is_some_and(|w| w.can(p));
        StaffLayout {
            title,
            theme: state.theme.clone(),
            clinic_name: state.config.clinic.name.clone(),
            user_email,
            role,
            csrf,
            nav_queue: can(Permission::SeeQueue),
            nav_patients: can(Permission::SeePatients),
            nav_calendar: can(Permission::SeeSchedule),
            nav_courses: can(Permission::SeeCourses),
            nav_adverse_events: who
                .is_some_and(|w| crate::tms::holds::is_medical_director(&w.user)),
            nav_accounts: can(Permission::ManageAccounts),
            nav_grants: who.is_some_and(|w| crate::staff::roles::approves_grants(&w.user)),
            nav_audit: can(Permission::SeeAudit),
            nav_tokens: can(Permission::OwnTokens),
            nav_mail: can(Permission::SeeMailLog),
            nav_figures: can(Permission::SeeSiteFigures),
            nav_setup: can(Permission::SetUpBooking),
            failed_mail: who.map_or(0, |w| w.failed_mail),
            second_factor_off: !state.config.staff.require_second_factor,
            section,
            tr,
        }
    }
}

/// Roles as people read them, for lists.
pub fn role_label(tr: &Tr, role: Role) -> String {
    tr.t(&format!(
        "staff-role-{}",
        crate::storage::TextEnum::as_text(role)
    ))
}
