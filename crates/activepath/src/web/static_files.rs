//! The theme's files (stylesheet, logo, icons, fonts) and the clinic's
//! images, served under names that carry a hash of their content, so
//! browsers may cache them forever.

use crate::app::AppState;
use crate::assets::Asset;
use crate::web::routes::{Routes, get};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub fn router() -> Routes<AppState> {
    Routes::new()
        .route("/static/{file}", get(theme_file))
        .route("/media/{file}", get(media_file))
        .route(
            "/favicon.ico",
            get(|State(state): State<AppState>| async move {
                match state.theme.assets.get(&state.theme.favicon.path) {
                    Some(icon) => respond(icon, "public, max-age=86400", &HeaderMap::new()),
                    None => super::AppError::NotFound.into_response(),
                }
            }),
        )
}

const FOREVER: &str = "public, max-age=31536000, immutable";

async fn theme_file(
    State(state): State<AppState>,
    Path(file): Path<String>,
    req: HeaderMap,
) -> Response {
    match state.theme.assets.get(&format!("/static/{file}")) {
        Some(asset) => respond(asset, FOREVER, &req),
        None => super::AppError::NotFound.into_response(),
    }
}

async fn media_file(
    State(state): State<AppState>,
    Path(file): Path<String>,
    req: HeaderMap,
) -> Response {
    match state.site.media(&format!("/media/{file}")) {
        Some(asset) => respond(&asset, FOREVER, &req),
        None => super::AppError::NotFound.into_response(),
    }
}

fn respond(asset: &Asset, cache: &'static str, req: &HeaderMap) -> Response {
    let gzip = asset.gzip.as_ref().filter(|_| {
        req.get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(super::site::accepts_gzip)
    });
    let mut res = match gzip {
        Some(gz) => gz.clone().into_response(),
        None => asset.body.clone().into_response(),
    };
    let h = res.headers_mut();
    if asset.gzip.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if gzip.is_some() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // A drawing opened on its own may not run anything.
    if asset.content_type == "image/svg+xml" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    res
}
