//! Security headers on every response, and a same-origin check on every
//! state-changing request.

use crate::app::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use url::Url;

/// No script at all, no inline style, nothing from another origin.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'; manifest-src 'self'";

pub async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    apply(&mut res, state.config.clinic.base_url.is_https());
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
///
/// An `Origin` is accepted when it is the site's configured public origin
/// (`clinic.base_url`: scheme, host and port), or the origin the request was
/// addressed to (its `Host`, with the scheme a trusted proxy reports in
/// `X-Forwarded-Proto`, else plain HTTP). Behind a proxy that rewrites
/// `Host` to the upstream's address, the first rule is the one that holds.
pub async fn check_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let h = req.headers();
    let fetch_site = h
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let cross_site = fetch_site.as_deref() == Some("cross-site");
    let origin_ok = match h.get(header::ORIGIN).map(|v| v.to_str()) {
        None => true,
        // With `Referrer-Policy: no-referrer` browsers send `Origin: null`
        // even for same-origin form posts; then `Sec-Fetch-Site` vouches.
        Some(Ok(o)) if o.trim() == "null" => {
            matches!(fetch_site.as_deref(), Some("same-origin" | "none"))
        }
        Some(Ok(origin)) => {
            let peer = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            origin_allowed(origin, &req, peer, &state)
        }
        Some(Err(_)) => false,
    };
    if cross_site || !origin_ok {
        tracing::warn!("rejected a cross-origin form submission");
        return StatusCode::FORBIDDEN.into_response();
    }
    next.run(req).await
}

fn origin_allowed(origin: &str, req: &Request, peer: Option<IpAddr>, state: &AppState) -> bool {
    let Ok(origin) = Url::parse(origin).map(|u| u.origin()) else {
        return false;
    };
    if !origin.is_tuple() {
        return false;
    }
    if origin == state.config.clinic.base_url.origin() {
        return true;
    }
    let trusted_proxy =
        peer.is_some_and(|ip| super::client::is_trusted(ip, &state.config.server.trusted_proxies));
    let scheme = match req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some(p) if trusted_proxy && p.trim().eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    Url::parse(&format!("{scheme}://{host}")).is_ok_and(|u| u.origin() == origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin_of(s: &str) -> url::Origin {
        Url::parse(s).unwrap().origin()
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            origin_of("https://clinic.example"),
            origin_of("https://CLINIC.example:443/")
        );
        assert_ne!(
            origin_of("http://clinic.example"),
            origin_of("https://clinic.example")
        );
        assert_ne!(
            origin_of("https://clinic.example:8443"),
            origin_of("https://clinic.example")
        );
    }
}
