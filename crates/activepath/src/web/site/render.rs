//! Renders every public page of the site from the content, for one day.

use super::CachedPage;
use crate::app::AppState;
use crate::content::{Content, Document, tag_slug};
use crate::i18n::Tr;
use crate::time::{format_civil, http_date};
use crate::web::layout::Layout;
use askama::Template;
use axum::http::HeaderValue;
use jiff::civil::Date;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const HTML: &str = "text/html; charset=utf-8";
/// Posts per blog index page.
pub const PAGE_SIZE: usize = 6;

struct PostItem {
    path: String,
    title: String,
    summary: String,
    date: String,
    iso_date: String,
    minutes: u32,
}

impl PostItem {
    fn of(doc: &Document) -> Self {
        PostItem {
            path: doc.path(),
            title: doc.title.clone(),
            summary: doc.summary.clone(),
            date: format_civil(doc.date),
            iso_date: doc.date.to_string(),
            minutes: doc.reading_minutes,
        }
    }
}

/// A page shown as a card on the home page.
struct Card {
    path: String,
    title: String,
    summary: String,
    /// The page's hero, small and lazily loaded.
    image: Option<String>,
}

#[derive(Template)]
#[template(path = "site/home.html")]
struct HomePage<'a> {
    l: Layout,
    doc: &'a Document,
    cards: Vec<Card>,
    recent: Vec<PostItem>,
    reviewed: Option<String>,
}

#[derive(Template)]
#[template(path = "site/page.html")]
struct ContentPage<'a> {
    l: Layout,
    doc: &'a Document,
    reviewed: Option<String>,
    modified: String,
}

#[derive(Template)]
#[template(path = "site/post.html")]
struct PostPage<'a> {
    l: Layout,
    doc: &'a Document,
    date: String,
    iso_date: String,
    reviewed: Option<String>,
    tags: Vec<(String, String)>,
    related: Vec<PostItem>,
}

#[derive(Template)]
#[template(path = "site/blog.html")]
struct BlogPage {
    l: Layout,
    heading: String,
    intro: Option<String>,
    posts: Vec<PostItem>,
    page: usize,
    pages: usize,
    prev: Option<String>,
    next: Option<String>,
    all_tags: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "site/sitemap.xml")]
struct Sitemap {
    urls: Vec<(String, Option<String>)>,
}

struct FeedEntry {
    title: String,
    url: String,
    published: String,
    updated: String,
    summary: String,
    html: String,
}

#[derive(Template)]
#[template(path = "site/feed.xml")]
struct Feed {
    title: String,
    base: String,
    clinic: String,
    updated: String,
    entries: Vec<FeedEntry>,
}

fn midnight(date: Date) -> String {
    format!("{date}T00:00:00Z")
}

/// Who reviewed the page's medical content and when, or that nobody has
/// (the demo's placeholder reviewer is nobody). None for a notice, which is
/// not medical content.
fn reviewed_line(tr: &Tr, doc: &Document) -> Option<String> {
    if doc.is_notice() {
        return None;
    }
    Some(match &doc.review {
        Some(r) if r.is_demo() => tr.t("reviewed-demo"),
        Some(r) => tr.args(
            "reviewed-by-on",
            &[
                ("reviewer", r.reviewer.clone()),
                ("date", format_civil(r.on)),
                ("next", format_civil(r.next)),
            ],
        ),
        None => tr.t("reviewed-none"),
    })
}

fn section_of(slug: &str) -> &'static str {
    match slug {
        "home" => "home",
        "contact" => "contact",
        _ => "",
    }
}

/// All tags of the published posts: display name and address, by name.
fn tags_of<'a>(posts: impl Iterator<Item = &'a Document>) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    for p in posts {
        for t in &p.tags {
            tags.entry(tag_slug(t)).or_insert_with(|| t.clone());
        }
    }
    tags
}

fn clinic_ld(state: &AppState) -> serde_json::Value {
    let c = &state.config.clinic;
    json!({
        "@context": "https://schema.org",
        "@type": "MedicalClinic",
        "name": c.name,
        "url": c.base_url.as_str(),
        "telephone": c.phone,
        "email": c.email,
        "address": { "@type": "PostalAddress", "streetAddress": c.address },
        "medicalSpecialty": "Psychiatric",
        "logo": c.base_url.join(&state.theme.logo.path),
        "openingHoursSpecification": opening_hours(&c.hours),
    })
}

/// schema.org opening hours: one entry per run of weekdays with the same span.
fn opening_hours(hours: &crate::config::OpeningHours) -> Vec<serde_json::Value> {
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let clock = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    let mut by_span: Vec<((u16, u16), Vec<&str>)> = Vec::new();
    for (day, spans) in hours.days.iter().enumerate() {
        for &span in spans {
            match by_span.iter_mut().find(|(s, _)| *s == span) {
                Some((_, days)) => days.push(DAYS[day]),
                None => by_span.push((span, vec![DAYS[day]])),
            }
        }
    }
    by_span
        .into_iter()
        .map(|((opens, closes), days)| {
            json!({
                "@type": "OpeningHoursSpecification",
                "dayOfWeek": days,
                "opens": clock(opens),
                "closes": clock(closes),
            })
        })
        .collect()
}

/// The clinic as the publisher of a page or post.
fn publisher(state: &AppState) -> serde_json::Value {
    let c = &state.config.clinic;
    json!({ "@type": "MedicalClinic", "name": c.name, "url": c.base_url.as_str() })
}

/// A notice is a plain `WebPage`; other pages are medical content. Only a
/// real review is claimed: the demo's placeholder reviewer is none.
fn page_ld(state: &AppState, doc: &Document, url: &str) -> serde_json::Value {
    let mut v = json!({
        "@context": "https://schema.org",
        "@type": if doc.is_notice() { "WebPage" } else { "MedicalWebPage" },
        "name": doc.title,
        "description": doc.summary,
        "url": url,
        "dateModified": doc.modified().to_string(),
        "publisher": publisher(state),
    });
    if let Some(r) = doc.review.as_ref().filter(|r| !r.is_demo()) {
        v["reviewedBy"] = json!({ "@type": "Person", "name": r.reviewer });
        v["lastReviewed"] = json!(r.on.to_string());
    }
    v
}

/// A team page names its people (schema.org `Physician` or `Person`); an
/// FAQ page is an `FAQPage` with each question and its answer.
fn typed_ld(state: &AppState, doc: &Document, mut ld: serde_json::Value) -> serde_json::Value {
    use crate::content::PageType;
    let base = &state.config.clinic.base_url;
    match doc.page_type {
        PageType::Team => {
            let people: Vec<serde_json::Value> = doc
                .people
                .iter()
                .map(|p| {
                    let mut v = json!({
                        "@type": if p.physician { "Physician" } else { "Person" },
                        "name": p.name,
                        "description": p.bio,
                    });
                    if p.physician {
                        v["medicalSpecialty"] = json!("Psychiatric");
                    } else {
                        v["jobTitle"] = json!(p.role);
                        v["worksFor"] = publisher(state);
                    }
                    if !p.credentials.is_empty() {
                        v["honorificSuffix"] = json!(p.credentials);
                    }
                    if let Some(photo) = &p.photo
                        && let Some(largest) = photo.image.variants.last()
                    {
                        v["image"] = json!(base.join(&largest.fallback));
                    }
                    v
                })
                .collect();
            ld["mainEntity"] = json!(people);
            ld
        }
        PageType::Faq => json!({
            "@context": "https://schema.org",
            "@type": "FAQPage",
            "name": doc.title,
            "url": ld["url"],
            "mainEntity": doc.questions.iter().map(|q| json!({
                "@type": "Question",
                "name": q.question,
                "acceptedAnswer": { "@type": "Answer", "text": q.answer_text },
            })).collect::<Vec<_>>(),
        }),
        _ => ld,
    }
}

fn post_ld(state: &AppState, doc: &Document, url: &str) -> serde_json::Value {
    json!({
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": doc.title,
        "description": doc.summary,
        "url": url,
        "mainEntityOfPage": url,
        "datePublished": doc.date.to_string(),
        "dateModified": doc.modified().to_string(),
        "author": { "@type": "Organization", "name": doc.author.clone().unwrap_or_else(|| state.config.clinic.name.clone()) },
        "publisher": publisher(state),
    })
}

/// Renders the whole public site as it stands on `today`.
pub fn all(
    state: &AppState,
    content: &Content,
    today: Date,
    now: jiff::Timestamp,
) -> HashMap<String, Arc<CachedPage>> {
    let tr = Tr::default();
    let base = state.config.clinic.base_url.as_str();
    let last_modified =
        HeaderValue::from_str(&http_date(now)).expect("an HTTP date is a valid header");
    let https = state.config.clinic.base_url.is_https();
    let mut out: HashMap<String, Arc<CachedPage>> = HashMap::new();
    let mut add = |path: String,
                   rendered: Result<String, askama::Error>,
                   content_type: &'static str| match rendered {
        Ok(body) => {
            let page = CachedPage::new(body, content_type, &last_modified, https, || {
                state.figures.page(&path)
            });
            out.insert(path, Arc::new(page));
        }
        Err(e) => tracing::error!("rendering {path} failed: {e}"),
    };
    let posts: Vec<&Document> = content.published_posts(today).collect();
    let all_tags = tags_of(posts.iter().copied());
    let tag_links: Vec<(String, String)> = all_tags
        .iter()
        .map(|(slug, name)| (name.clone(), format!("/blog/tag/{slug}")))
        .collect();

    for doc in content.published_pages() {
        let path = doc.path();
        let url = format!("{base}{path}");
        let l = Layout::with_title(
            state,
            section_of(&doc.slug),
            doc.title.clone(),
            doc.summary.clone(),
        )
        .at(&path);
        if doc.slug == "home" {
            let l = l.with_json_ld(&clinic_ld(state));
            let recent = posts.iter().take(3).map(|p| PostItem::of(p)).collect();
            let cards = doc
                .cards
                .iter()
                .filter_map(|slug| content.page(slug))
                .map(|p| Card {
                    path: p.path(),
                    title: p.title.clone(),
                    summary: p.summary.clone(),
                    image: p.hero.as_ref().map(|h| {
                        h.thumbnail("(min-width: 64rem) 17rem, (min-width: 40rem) 50vw, 100vw")
                    }),
                })
                .collect();
            add(
                path,
                HomePage {
                    l,
                    doc,
                    cards,
                    recent,
                    reviewed: reviewed_line(&tr, doc),
                }
                .render(),
                HTML,
            );
        } else {
            let ld = if doc.slug == "contact" {
                clinic_ld(state)
            } else {
                typed_ld(state, doc, page_ld(state, doc, &url))
            };
            let page = ContentPage {
                l: l.with_json_ld(&ld),
                doc,
                reviewed: reviewed_line(&tr, doc),
                modified: format_civil(doc.modified()),
            };
            add(path, page.render(), HTML);
        }
    }

    for doc in &posts {
        let path = doc.path();
        let url = format!("{base}{path}");
        let mut l =
            Layout::with_title(state, "blog", doc.title.clone(), doc.summary.clone()).at(&path);
        l.og_type = "article";
        let mine: Vec<String> = doc.tags.iter().map(|t| tag_slug(t)).collect();
        // Related: posts sharing a tag first (most shared first), then the newest others.
        let mut others: Vec<(usize, usize, &Document)> = posts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.slug != doc.slug)
            .map(|(i, p)| {
                (
                    p.tags
                        .iter()
                        .filter(|t| mine.contains(&tag_slug(t)))
                        .count(),
                    i,
                    *p,
                )
            })
            .collect();
        others.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let page = PostPage {
            l: l.with_json_ld(&post_ld(state, doc, &url)),
            doc,
            date: format_civil(doc.date),
            iso_date: doc.date.to_string(),
            reviewed: reviewed_line(&tr, doc),
            tags: doc
                .tags
                .iter()
                .map(|t| (t.clone(), format!("/blog/tag/{}", tag_slug(t))))
                .collect(),
            related: others
                .iter()
                .take(3)
                .map(|(_, _, p)| PostItem::of(p))
                .collect(),
        };
        add(path, page.render(), HTML);
    }

    // The blog index, paginated, and one list per tag. It says the posts
    // are reviewed by clinicians only when each names a real reviewer.
    let all_reviewed = posts
        .iter()
        .all(|p| p.review.as_ref().is_some_and(|r| !r.is_demo()));
    let mut lists: Vec<(String, String, Option<String>, Vec<&Document>)> = vec![(
        "/blog".into(),
        tr.t("blog-title"),
        Some(tr.t(if all_reviewed {
            "blog-intro"
        } else {
            "blog-intro-unreviewed"
        })),
        posts.clone(),
    )];
    for (slug, name) in &all_tags {
        let tagged = posts
            .iter()
            .copied()
            .filter(|p| p.tags.iter().any(|t| tag_slug(t) == *slug))
            .collect();
        lists.push((
            format!("/blog/tag/{slug}"),
            tr.t1("blog-tag-title", "tag", name),
            None,
            tagged,
        ));
    }
    for (root, heading, intro, list) in lists {
        let pages = list.len().div_ceil(PAGE_SIZE).max(1);
        let page_path = |n: usize| {
            if n == 1 {
                root.clone()
            } else {
                format!("{root}/page/{n}")
            }
        };
        for n in 1..=pages {
            let path = page_path(n);
            let title = if n == 1 {
                heading.clone()
            } else {
                tr.t2("blog-title-page", "title", &heading, "page", n)
            };
            let page = BlogPage {
                l: Layout::with_title(state, "blog", title, tr.t("blog-description")).at(&path),
                heading: heading.clone(),
                intro: intro.clone().filter(|_| n == 1),
                posts: list
                    .iter()
                    .skip((n - 1) * PAGE_SIZE)
                    .take(PAGE_SIZE)
                    .map(|p| PostItem::of(p))
                    .collect(),
                page: n,
                pages,
                prev: (n > 1).then(|| page_path(n - 1)),
                next: (n < pages).then(|| page_path(n + 1)),
                all_tags: if root == "/blog" {
                    tag_links.clone()
                } else {
                    Vec::new()
                },
            };
            add(path, page.render(), HTML);
        }
    }

    let feed = Feed {
        title: tr.t1("feed-title", "clinic", &state.config.clinic.name),
        base: base.to_string(),
        clinic: state.config.clinic.name.clone(),
        updated: midnight(posts.iter().map(|p| p.modified()).max().unwrap_or(today)),
        entries: posts
            .iter()
            .map(|p| FeedEntry {
                title: p.title.clone(),
                url: format!("{base}{}", p.path()),
                published: midnight(p.date),
                updated: midnight(p.modified()),
                summary: p.summary.clone(),
                html: p.html.clone(),
            })
            .collect(),
    };
    add(
        "/blog/feed.xml".into(),
        feed.render(),
        "application/atom+xml; charset=utf-8",
    );

    let mut urls: Vec<(String, Option<String>)> = Vec::new();
    for doc in content.published_pages() {
        urls.push((
            format!("{base}{}", doc.path()),
            Some(doc.modified().to_string()),
        ));
    }
    for path in [
        "/assessment",
        "/assessment/phq9",
        "/assessment/gad7",
        "/blog",
    ] {
        urls.push((format!("{base}{path}"), None));
    }
    for doc in &posts {
        urls.push((
            format!("{base}{}", doc.path()),
            Some(doc.modified().to_string()),
        ));
    }
    add(
        "/sitemap.xml".into(),
        Sitemap { urls }.render(),
        "application/xml; charset=utf-8",
    );

    // Result pages are not disallowed: a crawler must fetch one to see its
    // `X-Robots-Tag: noindex`, which is what keeps it out of search results.
    let robots =
        format!("User-agent: *\nAllow: /\nDisallow: /api/\n\nSitemap: {base}/sitemap.xml\n");
    add(
        "/robots.txt".into(),
        Ok(robots),
        "text/plain; charset=utf-8",
    );

    let manifest = json!({
        "name": state.config.clinic.name,
        "short_name": state.config.clinic.name,
        "start_url": "/",
        "display": "browser",
        "background_color": "#fbfaf7",
        "theme_color": state.theme.theme_color(),
        "icons": state.theme.manifest_icons.iter().map(|i| json!({
            "src": i.path, "sizes": i.sizes, "type": i.content_type,
        })).collect::<Vec<_>>(),
    });
    add(
        "/site.webmanifest".into(),
        Ok(manifest.to_string()),
        "application/manifest+json",
    );
    out
}
