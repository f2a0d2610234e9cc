//! Security headers on every response, and a same-origin check on every
//! state-changing request.

use crate::app::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// No script at all, no inline style, nothing from another origin.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'; manifest-src 'self'";

pub async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    apply(
        &mut res,
        state.config.clinic.base_url.starts_with("https://"),
    );
    res
}

/// Adds the security headers a response does not already carry.
pub fn apply(res: &mut Response, https: bool) {
    apply_to(res.headers_mut(), https);
}

/// Adds the security headers a header map does not already carry.
pub fn apply_to(h: &mut axum::http::HeaderMap, https: bool) {
    let set = |h: &mut axum::http::HeaderMap, name: header::HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        header::HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    );
    set(
        h,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        h,
        header::HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    // Pages can hold health information: never cache unless a handler says so.
    set(h, header::CACHE_CONTROL, "no-store");
    if https {
        set(
            h,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
}

/// Rejects a state-changing request that a browser says came from another
/// site (cross-site request forgery). Clients that send no `Origin` (curl,
/// kiosks, integrations) are not browsers and pass.
pub async fn check_origin(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let h = req.headers();
    let fetch_site = h.get("sec-fetch-site").map(|v| v.as_bytes());
    let cross_site = fetch_site == Some(b"cross-site");
    // With `Referrer-Policy: no-referrer` browsers send `Origin: null` even
    // for same-origin form posts; then `Sec-Fetch-Site` has to vouch for it.
    let origin_mismatch = match (h.get(header::ORIGIN), h.get(header::HOST)) {
        (Some(origin), _) if origin.as_bytes() == b"null" => {
            !matches!(fetch_site, Some(b"same-origin") | Some(b"none"))
        }
        (Some(origin), Some(host)) => {
            let origin = origin.to_str().unwrap_or("");
            let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
            !origin_host.eq_ignore_ascii_case(host.to_str().unwrap_or(""))
        }
        (Some(_), None) => true,
        _ => false,
    };
    if cross_site || origin_mismatch {
        tracing::warn!("rejected a cross-origin form submission");
        return StatusCode::FORBIDDEN.into_response();
    }
    next.run(req).await
}
