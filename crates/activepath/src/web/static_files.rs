//! CSS and icons, embedded in the binary and served under names that carry
//! a hash of their content, so browsers may cache them forever.

use crate::app::AppState;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

struct Asset {
    path: String,
    body: &'static [u8],
    content_type: &'static str,
}

fn asset(stem: &str, ext: &str, body: &'static [u8], content_type: &'static str) -> Asset {
    let hash = Sha256::digest(body);
    let short: String = hash.iter().take(5).map(|b| format!("{b:02x}")).collect();
    Asset {
        path: format!("/static/{stem}.{short}.{ext}"),
        body,
        content_type,
    }
}

static CSS: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "app",
        "css",
        include_bytes!("../../static/app.css"),
        "text/css; charset=utf-8",
    )
});
static ICON: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "icon",
        "svg",
        include_bytes!("../../static/icon.svg"),
        "image/svg+xml",
    )
});

pub fn css_path() -> &'static str {
    &CSS.path
}

pub fn icon_path() -> &'static str {
    &ICON.path
}

pub fn router() -> Router<AppState> {
    Router::new().route("/static/{file}", get(serve)).route(
        "/favicon.ico",
        get(|| async { respond(&ICON, "public, max-age=86400") }),
    )
}

async fn serve(Path(file): Path<String>) -> Response {
    let wanted = format!("/static/{file}");
    for asset in [&*CSS, &*ICON] {
        if asset.path == wanted {
            return respond(asset, "public, max-age=31536000, immutable");
        }
    }
    super::AppError::NotFound.into_response()
}

fn respond(asset: &Asset, cache: &'static str) -> Response {
    let mut res = asset.body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}
