//! The public site: the home page, content pages, the blog, feeds and the
//! files search engines read. Everything here is rendered once per content
//! change (and once a day, so posts dated in the future appear on their
//! date), never while a request waits, kept in memory with a gzip copy, and
//! served with `ETag` and `Last-Modified` so revalidation costs a 304.

mod render;

use crate::app::AppState;
use crate::content::Content;
use crate::web::routes::{Routes, get};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

pub fn router() -> Routes<AppState> {
    Routes::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
}

/// One rendered response, with its headers prepared for each way it is
/// sent: plain, gzip, or "not modified".
#[derive(Debug)]
pub struct CachedPage {
    body: Bytes,
    gzip: Bytes,
    etag: HeaderValue,
    last_modified: HeaderValue,
    plain_headers: HeaderMap,
    gzip_headers: HeaderMap,
    not_modified_headers: HeaderMap,
    /// A page people read (not a feed, sitemap or manifest): counted as a view.
    html: bool,
    /// Its tally of views, found once here so that a view costs no look-up
    /// (`None` in the unlikely case that the counter's table is full).
    views: Option<crate::figures::PageId>,
}

impl CachedPage {
    fn new(
        body: String,
        content_type: &'static str,
        last_modified: &HeaderValue,
        https: bool,
        views: impl FnOnce() -> Option<crate::figures::PageId>,
    ) -> Self {
        use sha2::{Digest, Sha256};
        let gzip = crate::assets::gzip(body.as_bytes());
        let hash = Sha256::digest(body.as_bytes());
        let tag: String = hash.iter().take(10).map(|b| format!("{b:02x}")).collect();
        let etag = HeaderValue::from_str(&format!("\"{tag}\"")).expect("hex is a valid header");

        let mut common = HeaderMap::with_capacity(16);
        common.insert(header::ETAG, etag.clone());
        common.insert(header::LAST_MODIFIED, last_modified.clone());
        common.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        // Public, and revalidated on every visit so an edit shows at once.
        common.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, no-cache"),
        );
        super::security::apply_to(&mut common, https);
        let not_modified_headers = common.clone();
        let mut plain_headers = common;
        plain_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        let mut gzip_headers = plain_headers.clone();
        gzip_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        CachedPage {
            body: Bytes::from(body),
            gzip: Bytes::from(gzip),
            etag,
            last_modified: last_modified.clone(),
            plain_headers,
            gzip_headers,
            not_modified_headers,
            html: content_type.starts_with("text/html"),
            views: content_type.starts_with("text/html").then(views).flatten(),
        }
    }

    fn respond(&self, req: &HeaderMap) -> Response {
        let not_modified = match req.get(header::IF_NONE_MATCH) {
            Some(inm) => inm.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == self.etag)
            }),
            None => req.get(header::IF_MODIFIED_SINCE) == Some(&self.last_modified),
        };
        let (status, body, headers) = if not_modified {
            (
                StatusCode::NOT_MODIFIED,
                Body::empty(),
                &self.not_modified_headers,
            )
        } else if req
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(accepts_gzip)
        {
            (
                StatusCode::OK,
                Body::from(self.gzip.clone()),
                &self.gzip_headers,
            )
        } else {
            (
                StatusCode::OK,
                Body::from(self.body.clone()),
                &self.plain_headers,
            )
        };
        let mut res = Response::new(body);
        *res.status_mut() = status;
        *res.headers_mut() = headers.clone();
        res
    }
}

pub(crate) fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|part| {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let q_zero = it.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
        coding.eq_ignore_ascii_case("gzip") && !q_zero
    })
}

type Pages = HashMap<String, Arc<CachedPage>>;

/// The content and its rendered pages, shared by all requests. Requests
/// only read: pages are rendered by [`publish`] off the request path (at
/// start, on SIGHUP and when the clinic's date changes) and swapped in whole.
#[derive(Debug, Default)]
pub struct SiteCache {
    content: RwLock<Arc<Content>>,
    /// The clinic's locations from the booking set-up, for every page's
    /// footer and the contact page.
    places: RwLock<Arc<Vec<Place>>>,
    /// The site's menu, from the content.
    menu: RwLock<Arc<Nav>>,
    pages: RwLock<Arc<Pages>>,
    /// One render at a time, so an older render cannot replace a newer one.
    rendering: Mutex<()>,
}

impl SiteCache {
    pub fn new(content: Content) -> Self {
        SiteCache {
            menu: RwLock::new(Arc::new(Nav::of(&content))),
            content: RwLock::new(Arc::new(content)),
            ..SiteCache::default()
        }
    }

    pub fn content(&self) -> Arc<Content> {
        self.content.read().expect("content lock").clone()
    }

    pub fn menu(&self) -> Arc<Nav> {
        self.menu.read().expect("menu lock").clone()
    }

    /// A file made from the content's images.
    pub fn media(&self, path: &str) -> Option<Arc<crate::assets::Asset>> {
        self.content().media.assets.get(path).cloned()
    }

    pub fn places(&self) -> Arc<Vec<Place>> {
        self.places.read().expect("places lock").clone()
    }

    /// Renders `content` (or the current content again, for a new day) as of
    /// the clock's date and serves it from now on. Blocking: CPU work.
    pub fn publish_blocking(&self, state: &AppState, content: Option<Content>) {
        let _one_at_a_time = self.rendering.lock().expect("render lock");
        let content = match content {
            Some(c) => Arc::new(c),
            None => self.content(),
        };
        // The menu first: the pages rendered below show it.
        *self.menu.write().expect("menu lock") = Arc::new(Nav::of(&content));
        let now = state.clock.now();
        let today = crate::time::date_in(now, state.config.clinic.time_zone.tz());
        let pages = Arc::new(render::all(state, &content, today, now));
        *self.content.write().expect("content lock") = content;
        *self.pages.write().expect("pages lock") = pages;
    }

    fn get(&self, path: &str) -> Option<Arc<CachedPage>> {
        self.pages.read().expect("pages lock").get(path).cloned()
    }
}

/// One entry of the site's menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavItem {
    pub label: String,
    pub path: String,
    /// For the application's own pages: the section that marks it current.
    pub section: &'static str,
}

/// The menu: the pages the clinic put in it (front matter `menu`), then
/// the blog, booking and contact, which are always there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nav {
    pub items: Vec<NavItem>,
    /// Pages the clinic placed in the footer's menu.
    pub footer: Vec<NavItem>,
    /// Whether the footer's pages exist in the content.
    pub privacy: bool,
    pub accessibility: bool,
    /// The notices a US clinic posts: its Notice of Privacy Practices, its
    /// non-discrimination and language-assistance notice, its terms of use.
    pub privacy_practices: bool,
    pub non_discrimination: bool,
    pub terms: bool,
    /// Whether any page names the demo reviewer: every page then says the
    /// content is a demo that no clinician has reviewed.
    pub demo_content: bool,
}

impl Nav {
    pub fn of(content: &Content) -> Nav {
        let tr = crate::i18n::Tr::default();
        let pages = |place| {
            content
                .menu(place)
                .into_iter()
                .map(|(label, path)| NavItem {
                    label,
                    path,
                    section: "",
                })
                .collect::<Vec<_>>()
        };
        let mut items = pages(crate::content::MenuPlace::Header);
        // Without a contact page, the message form is the way to write.
        let contact = if content.page("contact").is_some() {
            "/contact"
        } else {
            "/contact/message"
        };
        for (id, path, section) in [
            ("nav-book", "/book", "book"),
            ("nav-contact", contact, "contact"),
        ] {
            if !items.iter().any(|i| i.path == path) {
                items.push(NavItem {
                    label: tr.t(id),
                    path: path.into(),
                    section,
                });
            }
        }
        Nav {
            items,
            footer: pages(crate::content::MenuPlace::Footer),
            privacy: content.page("privacy").is_some(),
            accessibility: content.page("accessibility").is_some(),
            privacy_practices: content.page("notice-of-privacy-practices").is_some(),
            non_discrimination: content.page("non-discrimination").is_some(),
            terms: content.page("terms").is_some(),
            demo_content: content.demo_review(),
        }
    }
}

/// A location as the public pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub name: String,
    pub address: String,
    pub map_url: String,
    /// "Monday–Thursday: 9:00 AM–6:00 PM": when appointments are offered.
    pub hours: Vec<String>,
}

/// The active locations with the hours appointments are offered there.
pub async fn places(state: &AppState) -> Vec<Place> {
    let setup = match state.storage.booking_setup().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("reading the locations failed: {e:#}");
            return Vec::new();
        }
    };
    setup
        .locations
        .iter()
        .filter(|l| l.active)
        .map(|l| {
            // Per weekday, from the earliest start to the latest end.
            let days: [Vec<(u16, u16)>; 7] = std::array::from_fn(|i| {
                setup
                    .hours
                    .iter()
                    .filter(|h| h.location_id == l.id && h.weekday == i as i64 + 1)
                    .filter(|h| {
                        setup
                            .resources
                            .iter()
                            .any(|r| r.id == h.resource_id && r.active)
                    })
                    .fold(None, |acc: Option<(i64, i64)>, h| {
                        Some(acc.map_or((h.start_minute, h.end_minute), |(a, b)| {
                            (a.min(h.start_minute), b.max(h.end_minute))
                        }))
                    })
                    .map(|(a, b)| (a.clamp(0, 1440) as u16, b.clamp(0, 1440) as u16))
                    .into_iter()
                    .collect()
            });
            let hours = crate::time::format_week(&days, false);
            Place {
                name: l.name.clone(),
                address: l.address.clone(),
                map_url: l.map_url.clone(),
                hours,
            }
        })
        .collect()
}

/// [`SiteCache::publish_blocking`] on a blocking thread, after reading the
/// locations again.
pub async fn publish(state: &AppState, content: Option<Content>) {
    let fresh = places(state).await;
    *state.site.places.write().expect("places lock") = Arc::new(fresh);
    let state = state.clone();
    let done =
        tokio::task::spawn_blocking(move || state.site.publish_blocking(&state, content)).await;
    if let Err(e) = done {
        tracing::error!("rendering the site failed: {e}");
    }
}

/// The rendered page for a GET or HEAD request, if there is one.
pub fn from_memory(state: &AppState, req: &Request) -> Option<Response> {
    if !matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    ) {
        return None;
    }
    let path = normalize(req.uri().path());
    let page = state.site.get(path)?;
    if page.html && req.method() == axum::http::Method::GET {
        match page.views {
            Some(views) => state.figures.view_page(views, state.clock.now()),
            None => state.figures.view(state.clock.now(), path),
        }
    }
    Some(page.respond(req.headers()))
}

fn normalize(path: &str) -> &str {
    if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    }
}

/// Ready when the database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.storage.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!("readiness check failed: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn accept_encoding() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(!accepts_gzip("gzip;q=0, br"));
        assert!(!accepts_gzip("identity"));
    }
}
