//! The clinic's words: pages and blog posts written as Markdown with TOML
//! front matter. The demo clinic's content is embedded in the binary; the
//! `content_dir` setting points at the clinic's own folder instead.
//!
//! A file starts with front matter between `+++` lines:
//!
//! ```text
//! +++
//! title = "TMS"
//! slug = "tms"
//! summary = "One or two sentences for search results and previews."
//! date = 2026-09-01
//! reviewer = "Dr. A. Name, MD"
//! reviewed = 2026-09-01
//! next_review = 2027-09-01
//! +++
//! ## Markdown from here
//! ```
//!
//! Every page and post names its medical reviewer, the day of the review and
//! when it is next due; the three go together. A page without them says on
//! the site that it has not been medically reviewed, and `check-config`
//! lists it, with every page past its next review. The demo content's
//! reviewer is a placeholder ([`DEMO_REVIEWER`]): while any published page
//! names it, every page of the site says the content is a demo, not
//! reviewed, and a page naming it says "Not yet medically reviewed (demo
//! content)" rather than naming a reviewer.
//!
//! Notices (`type = "notice"`: privacy, the Notice of Privacy Practices,
//! non-discrimination, terms, accessibility) are not medical content: they
//! name no medical reviewer, show no review line, and `check-config` does
//! not ask for their medical review. The clinic's counsel reviews them.

mod facts;
mod markdown;
pub mod media;
pub mod readability;

pub use facts::Facts;
pub use media::{Image, Media, MediaCache};

use jiff::civil::Date;
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

/// A problem in one content file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ContentError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Page,
    Post,
}

/// A page's lead image, as front matter writes it:
/// `hero = { src = "media/room.jpg", alt = "A quiet treatment room" }`.
/// `alt = ""` says the image is decoration only.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeroRef {
    src: String,
    alt: String,
}

impl HeroRef {
    /// The image in the media folder, or what is wrong with the reference.
    fn find(&self, media: &Media) -> Result<Hero, String> {
        Ok(Hero {
            image: media
                .get(&self.src)
                .ok_or_else(|| media::missing(&self.src, media))?
                .clone(),
            alt: self.alt.trim().to_string(),
        })
    }
}

/// A page's lead image, found in the media folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hero {
    pub image: std::sync::Arc<Image>,
    pub alt: String,
}

impl Hero {
    /// Markup for the image at the top of a page: fetched first.
    pub fn html(&self, sizes: &str) -> String {
        self.image.html(&self.alt, sizes, true)
    }

    /// Markup for a smaller copy further down (a card): loaded lazily.
    pub fn thumbnail(&self, sizes: &str) -> String {
        self.image.html("", sizes, false)
    }
}

/// A page's place in the site's menu: `menu = { order = 3, label = "TMS" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Menu {
    /// Lower comes first.
    pub order: i32,
    /// The menu's words; the page's title when left out.
    #[serde(default)]
    pub label: String,
    /// `header` (the default) or `footer`, for pages a visitor looks for
    /// less often.
    #[serde(default)]
    pub place: MenuPlace,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MenuPlace {
    #[default]
    Header,
    Footer,
}

/// What a page is, beyond its Markdown: `type = "team"` lists people,
/// `"faq"` questions and answers, `"insurance"` the plans accepted,
/// `"notice"` a legal or site notice (not medical content: no medical
/// review).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageType {
    #[default]
    Page,
    Team,
    Faq,
    Insurance,
    Notice,
}

/// The slugs the demo's notices use: a clinic's page with one of them that
/// is not marked `type = "notice"` is told to be (see [`Content::warnings`]).
const NOTICE_SLUGS: &[&str] = &[
    "privacy",
    "notice-of-privacy-practices",
    "non-discrimination",
    "terms",
    "accessibility",
];

/// One person on a team page, as front matter writes it (`[[people]]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonRef {
    name: String,
    /// "MD", "PMHNP-BC", "LCSW".
    #[serde(default)]
    credentials: String,
    role: String,
    bio: String,
    photo: Option<HeroRef>,
    /// A physician (schema.org `Physician`); otherwise a `Person`.
    #[serde(default)]
    physician: bool,
}

/// One person of the team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub credentials: String,
    pub role: String,
    pub bio: String,
    pub photo: Option<Hero>,
    pub physician: bool,
}

/// A question and its answer (`[[questions]]`, the answer in Markdown).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuestionRef {
    question: String,
    answer: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub question: String,
    /// The answer as sanitised HTML, and as plain text for search engines.
    pub answer_html: String,
    pub answer_text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: String,
    slug: String,
    summary: String,
    date: toml::value::Datetime,
    updated: Option<toml::value::Datetime>,
    author: Option<String>,
    /// The medical reviewer, shown as "Medically reviewed by …", with the
    /// day of the review and when the next one is due (all three or none).
    reviewer: Option<String>,
    reviewed: Option<toml::value::Datetime>,
    next_review: Option<toml::value::Datetime>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    draft: bool,
    hero: Option<HeroRef>,
    /// An optional call to action (the home page's lead button).
    cta_text: Option<String>,
    cta_href: Option<String>,
    /// Pages only: shown in the site's menu.
    menu: Option<Menu>,
    /// Pages shown as cards on this page (slugs), e.g. the home page's treatments.
    #[serde(default)]
    cards: Vec<String>,
    #[serde(default, rename = "type")]
    page_type: PageType,
    #[serde(default)]
    people: Vec<PersonRef>,
    #[serde(default)]
    questions: Vec<QuestionRef>,
    /// Insurance pages: the plans the clinic accepts.
    #[serde(default)]
    plans: Vec<String>,
}

/// One page or post, parsed and rendered to sanitised HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub kind: Kind,
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub date: Date,
    pub updated: Option<Date>,
    pub author: Option<String>,
    pub review: Option<Review>,
    pub tags: Vec<String>,
    pub draft: bool,
    pub hero: Option<Hero>,
    pub cta: Option<(String, String)>,
    pub menu: Option<Menu>,
    /// Slugs of the pages shown as cards, checked to exist.
    pub cards: Vec<String>,
    pub page_type: PageType,
    pub people: Vec<Person>,
    pub questions: Vec<Question>,
    pub plans: Vec<String>,
    pub html: String,
    pub reading_minutes: u32,
    /// Where it came from, for error messages.
    pub source: String,
    /// Links to other places on this site (path, line in the file), checked
    /// once every file is read.
    pub links: Vec<(String, usize)>,
}

/// The placeholder reviewer of the demo content. A clinic replaces it with
/// the clinician who actually reviewed each page.
pub const DEMO_REVIEWER: &str = "Dr. Morgan Ellis, MD (demo reviewer)";

/// Who reviewed a page's medical content, when, and when it is next due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub reviewer: String,
    pub on: Date,
    pub next: Date,
}

impl Review {
    /// The demo content's placeholder, not a real review.
    pub fn is_demo(&self) -> bool {
        self.reviewer.trim() == DEMO_REVIEWER
            || self.reviewer.to_lowercase().contains("demo reviewer")
    }
}

impl Document {
    /// A legal or site notice: not medical content, never medically reviewed.
    pub fn is_notice(&self) -> bool {
        self.page_type == PageType::Notice
    }

    /// The most recent of `date` and `updated`.
    pub fn modified(&self) -> Date {
        self.updated.map_or(self.date, |u| u.max(self.date))
    }

    /// How hard the page is to read: its title, summary, text, questions
    /// and answers and people's bios, as a US school grade (see
    /// [`readability`]).
    pub fn reading_grade(&self) -> f64 {
        let mut blocks = vec![self.title.clone(), self.summary.clone()];
        blocks.extend(readability::html_blocks(&self.html));
        for q in &self.questions {
            blocks.push(q.question.clone());
            blocks.extend(readability::html_blocks(&q.answer_html));
        }
        for p in &self.people {
            blocks.extend([p.role.clone(), p.bio.clone()]);
        }
        readability::Counts::of_blocks(blocks.iter().map(String::as_str)).grade()
    }

    /// The highest grade a page of this kind should read at: 8 for the home
    /// page, which everyone starts from, 10 for the rest.
    pub fn reading_limit(&self) -> f64 {
        if self.kind == Kind::Page && self.slug == "home" {
            8.0
        } else {
            10.0
        }
    }

    pub fn path(&self) -> String {
        match (self.kind, self.slug.as_str()) {
            (Kind::Page, "home") => "/".into(),
            (Kind::Page, slug) => format!("/{slug}"),
            (Kind::Post, slug) => format!("/blog/{slug}"),
        }
    }
}

/// Page slugs that would hide the application's own routes.
const RESERVED: &[&str] = &[
    "assessment",
    "api",
    "static",
    "blog",
    "healthz",
    "readyz",
    "sitemap.xml",
    "robots.txt",
    "favicon.ico",
    "media",
    "site.webmanifest",
    "staff",
];

/// All pages and posts, drafts included; the site decides what to publish.
#[derive(Debug, Clone, Default)]
pub struct Content {
    pub pages: Vec<Document>,
    /// Newest first.
    pub posts: Vec<Document>,
    /// The images of the media folder.
    pub media: Media,
}

/// The demo clinic's images, compiled into the binary. Where each comes from
/// and its licence: `content/media/SOURCES.md`.
const EMBEDDED_MEDIA: &[(&str, &[u8])] = &[
    (
        "treatment-room.png",
        include_bytes!("../../content/media/treatment-room.png"),
    ),
    (
        "tms-chair.png",
        include_bytes!("../../content/media/tms-chair.png"),
    ),
    (
        "therapy-room.png",
        include_bytes!("../../content/media/therapy-room.png"),
    ),
    (
        "medication-review.png",
        include_bytes!("../../content/media/medication-review.png"),
    ),
    (
        "path-ahead.png",
        include_bytes!("../../content/media/path-ahead.png"),
    ),
    (
        "portrait-a.png",
        include_bytes!("../../content/media/portrait-a.png"),
    ),
    (
        "portrait-b.png",
        include_bytes!("../../content/media/portrait-b.png"),
    ),
    (
        "portrait-c.png",
        include_bytes!("../../content/media/portrait-c.png"),
    ),
];

/// The demo clinic's content, compiled into the binary. A test checks that
/// every file under `content/` is listed here.
const EMBEDDED: &[(&str, &str)] = &[
    ("pages/home.md", include_str!("../../content/pages/home.md")),
    (
        "pages/treatment-resistant-depression.md",
        include_str!("../../content/pages/treatment-resistant-depression.md"),
    ),
    ("pages/tms.md", include_str!("../../content/pages/tms.md")),
    (
        "pages/tms-results.md",
        include_str!("../../content/pages/tms-results.md"),
    ),
    ("pages/team.md", include_str!("../../content/pages/team.md")),
    ("pages/faq.md", include_str!("../../content/pages/faq.md")),
    (
        "pages/insurance.md",
        include_str!("../../content/pages/insurance.md"),
    ),
    (
        "pages/psychotherapy.md",
        include_str!("../../content/pages/psychotherapy.md"),
    ),
    (
        "pages/medication-management.md",
        include_str!("../../content/pages/medication-management.md"),
    ),
    (
        "pages/contact.md",
        include_str!("../../content/pages/contact.md"),
    ),
    (
        "pages/privacy.md",
        include_str!("../../content/pages/privacy.md"),
    ),
    (
        "pages/accessibility.md",
        include_str!("../../content/pages/accessibility.md"),
    ),
    (
        "pages/notice-of-privacy-practices.md",
        include_str!("../../content/pages/notice-of-privacy-practices.md"),
    ),
    (
        "pages/non-discrimination.md",
        include_str!("../../content/pages/non-discrimination.md"),
    ),
    (
        "pages/terms.md",
        include_str!("../../content/pages/terms.md"),
    ),
    (
        "posts/5-benefits-of-talk-therapy-for-depression.md",
        include_str!("../../content/posts/5-benefits-of-talk-therapy-for-depression.md"),
    ),
    (
        "posts/3-alternative-therapies-for-depression.md",
        include_str!("../../content/posts/3-alternative-therapies-for-depression.md"),
    ),
    (
        "posts/what-to-expect-at-a-first-tms-consultation.md",
        include_str!("../../content/posts/what-to-expect-at-a-first-tms-consultation.md"),
    ),
    (
        "posts/understanding-your-phq-9-score.md",
        include_str!("../../content/posts/understanding-your-phq-9-score.md"),
    ),
];

/// Writes the demo content (pages, posts, images and where they come from)
/// and an example configuration into `dir`, as a clinic's starting point.
/// Refuses to replace a file that is already there. Returns what it wrote.
pub fn export(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<(String, &[u8])> = EMBEDDED
        .iter()
        .map(|(name, text)| (name.to_string(), text.as_bytes()))
        .collect();
    files.extend(
        EMBEDDED_MEDIA
            .iter()
            .map(|(name, bytes)| (format!("media/{name}"), *bytes)),
    );
    files.push((
        "media/SOURCES.md".into(),
        include_bytes!("../../content/media/SOURCES.md"),
    ));
    files.push((
        "media/logo.svg".into(),
        include_bytes!("../../static/logo.svg"),
    ));
    files.push((
        "activepath.toml".into(),
        include_bytes!("../../content/activepath.example.toml"),
    ));
    if let Some((name, _)) = files.iter().find(|(name, _)| dir.join(name).exists()) {
        anyhow::bail!(
            "{} is already there; export into an empty folder (nothing was written)",
            dir.join(name).display()
        );
    }
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, bytes)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Addresses the application serves, which content may link to.
const APP_PATHS: &[&str] = &[
    "/assessment",
    "/assessment/phq9",
    "/assessment/gad7",
    "/book",
    "/book/callback",
    "/contact/message",
    "/blog",
    "/blog/feed.xml",
    "/sitemap.xml",
    "/staff",
    "/staff/login",
    "/api/openapi.json",
];

/// Address prefixes the application answers below (booking steps, assets).
const APP_PREFIXES: &[&str] = &["/book/", "/static/", "/blog/page/"];

impl Content {
    /// The clinic's folder when one is configured, else the demo content.
    /// `facts` fill the `{{ clinic.… }}` placeholders.
    pub fn load(dir: Option<&Path>, facts: &Facts) -> Result<Self, ContentError> {
        Self::load_with(dir, facts, None)
    }

    /// [`Content::load`], with the images' variants read from (and kept in)
    /// `cache`, so that only new or changed images are decoded.
    pub fn load_cached(
        dir: Option<&Path>,
        facts: &Facts,
        cache: &MediaCache,
    ) -> Result<Self, ContentError> {
        Self::load_with(dir, facts, Some(cache))
    }

    fn load_with(
        dir: Option<&Path>,
        facts: &Facts,
        cache: Option<&MediaCache>,
    ) -> Result<Self, ContentError> {
        match dir {
            Some(dir) => Self::from_dir_with(dir, facts, cache),
            None => Self::embedded_with(facts, cache),
        }
    }

    pub fn embedded(facts: &Facts) -> Result<Self, ContentError> {
        Self::embedded_with(facts, None)
    }

    fn embedded_with(facts: &Facts, cache: Option<&MediaCache>) -> Result<Self, ContentError> {
        Self::from_parts_with(
            EMBEDDED
                .iter()
                .map(|(name, text)| (name.to_string(), text.to_string()))
                .collect(),
            EMBEDDED_MEDIA
                .iter()
                .map(|(name, bytes)| (name.to_string(), bytes.to_vec()))
                .collect(),
            facts,
            cache,
        )
    }

    /// Reads `dir/pages/*.md`, `dir/posts/*.md` and the images in `dir/media/`
    /// (a folder that may be missing).
    pub fn from_dir(dir: &Path, facts: &Facts) -> Result<Self, ContentError> {
        Self::from_dir_with(dir, facts, None)
    }

    fn from_dir_with(
        dir: &Path,
        facts: &Facts,
        cache: Option<&MediaCache>,
    ) -> Result<Self, ContentError> {
        let mut media = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir.join("media")) {
            for entry in entries.flatten() {
                let path = entry.path();
                let image = path.extension().is_some_and(|e| {
                    ["jpg", "jpeg", "png", "webp"]
                        .iter()
                        .any(|x| e.eq_ignore_ascii_case(x))
                });
                if image {
                    let bytes = std::fs::read(&path).map_err(|e| ContentError {
                        file: path.display().to_string(),
                        line: 0,
                        message: format!("cannot read the file: {e}"),
                    })?;
                    media.push((entry.file_name().to_string_lossy().into_owned(), bytes));
                }
            }
        }
        let mut files = Vec::new();
        for sub in ["pages", "posts"] {
            let folder = dir.join(sub);
            let entries = std::fs::read_dir(&folder).map_err(|e| ContentError {
                file: folder.display().to_string(),
                line: 0,
                message: format!("cannot read the folder: {e}"),
            })?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "md") {
                    let text = std::fs::read_to_string(&path).map_err(|e| ContentError {
                        file: path.display().to_string(),
                        line: 0,
                        message: format!("cannot read the file: {e}"),
                    })?;
                    files.push((
                        format!("{sub}/{}", entry.file_name().to_string_lossy()),
                        text,
                    ));
                }
            }
        }
        Self::from_parts_with(files, media, facts, cache)
    }

    /// Parses every file; the first problem found is returned.
    pub fn from_files(files: Vec<(String, String)>, facts: &Facts) -> Result<Self, ContentError> {
        Self::from_parts(files, Vec::new(), facts)
    }

    /// Markdown files and images (name in `media/`, bytes).
    pub fn from_parts(
        files: Vec<(String, String)>,
        media: Vec<(String, Vec<u8>)>,
        facts: &Facts,
    ) -> Result<Self, ContentError> {
        Self::from_parts_with(files, media, facts, None)
    }

    fn from_parts_with(
        mut files: Vec<(String, String)>,
        media: Vec<(String, Vec<u8>)>,
        facts: &Facts,
        cache: Option<&MediaCache>,
    ) -> Result<Self, ContentError> {
        files.sort();
        let media = Media::build_with(media, cache).map_err(|(name, message)| ContentError {
            file: format!("media/{name}"),
            line: 0,
            message,
        })?;
        let mut content = Content {
            media,
            ..Content::default()
        };
        let mut seen = HashSet::new();
        for (name, text) in &files {
            let kind = if name.starts_with("posts/") {
                Kind::Post
            } else {
                Kind::Page
            };
            let doc = parse(name, kind, text, facts, &content.media)?;
            if !seen.insert((doc.kind == Kind::Post, doc.slug.clone())) {
                return Err(ContentError {
                    file: name.clone(),
                    line: 0,
                    message: format!("slug {:?} is used twice", doc.slug),
                });
            }
            match kind {
                Kind::Page => content.pages.push(doc),
                Kind::Post => content.posts.push(doc),
            }
        }
        content.check_links()?;
        if !content.pages.iter().any(|p| p.slug == "home" && !p.draft) {
            return Err(ContentError {
                file: "pages/home.md".into(),
                line: 0,
                message: "a published page with slug \"home\" is required (it holds the home page's words)".into(),
            });
        }
        content
            .posts
            .sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.slug.cmp(&b.slug)));
        Ok(content)
    }

    /// Every link to this site leads to a page, a post, a tag or a place the
    /// application serves; the first that does not is an error naming the
    /// file and line.
    fn check_links(&self) -> Result<(), ContentError> {
        let tags: HashSet<String> = self
            .posts
            .iter()
            .filter(|p| !p.draft)
            .flat_map(|p| p.tags.iter().map(|t| tag_slug(t)))
            .collect();
        let exists = |path: &str| {
            let path = path.trim_end_matches('/');
            APP_PATHS.contains(&path)
                || APP_PREFIXES.iter().any(|p| path.starts_with(p))
                || path.is_empty()
                || path
                    .strip_prefix('/')
                    .is_some_and(|slug| self.page(slug).is_some())
                || path
                    .strip_prefix("/blog/tag/")
                    .is_some_and(|t| tags.contains(t))
                || path
                    .strip_prefix("/blog/")
                    .is_some_and(|slug| self.posts.iter().any(|p| p.slug == slug && !p.draft))
        };
        for doc in self.pages.iter().chain(&self.posts).filter(|d| !d.draft) {
            for (path, line) in &doc.links {
                if !exists(path) {
                    return Err(ContentError {
                        file: doc.source.clone(),
                        line: *line,
                        message: format!(
                            "the link to {path} leads nowhere: no page, post or tag has that address"
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn page(&self, slug: &str) -> Option<&Document> {
        self.pages.iter().find(|p| p.slug == slug && !p.draft)
    }

    /// Posts visible on `today`: not drafts, not dated in the future. Newest first.
    pub fn published_posts(&self, today: Date) -> impl Iterator<Item = &Document> {
        self.posts
            .iter()
            .filter(move |p| !p.draft && p.date <= today)
    }

    pub fn published_pages(&self) -> impl Iterator<Item = &Document> {
        self.pages.iter().filter(|p| !p.draft)
    }

    /// Pages and posts that are not drafts.
    fn published(&self) -> impl Iterator<Item = &Document> {
        self.pages.iter().chain(&self.posts).filter(|d| !d.draft)
    }

    /// Published pages and posts that name the demo content's placeholder
    /// reviewer.
    fn demo_reviewed(&self) -> impl Iterator<Item = &Document> {
        self.published()
            .filter(|d| d.review.as_ref().is_some_and(Review::is_demo))
    }

    /// True while any published page or post names the demo content's
    /// placeholder reviewer: the site then says on every page that its
    /// content is a demo no clinician has reviewed.
    pub fn demo_review(&self) -> bool {
        self.demo_reviewed().next().is_some()
    }

    /// What `check-config` and the server's start say about the content on
    /// `today`: the demo reviewer, pages without a medical review, pages
    /// past their next review, and pages above their reading grade.
    pub fn warnings(&self, today: Date) -> Vec<String> {
        let mut out = Vec::new();
        let demo = self.demo_reviewed().count();
        if demo > 0 {
            out.push(format!(
                "{demo} pages and posts name the demo reviewer ({DEMO_REVIEWER}), so every page \
                 says the content is a demo that no clinician has reviewed: have a clinician \
                 review each page and put their name, the day and the next review in its \
                 front matter"
            ));
        }
        for d in self.published() {
            let looks_like_notice = d.kind == Kind::Page && NOTICE_SLUGS.contains(&d.slug.as_str());
            match &d.review {
                _ if d.is_notice() => {}
                r if looks_like_notice && r.as_ref().is_none_or(Review::is_demo) => {
                    out.push(format!(
                        "{} ({}) is a notice, not medical content: add type = \"notice\" to its \
                         front matter (and no reviewer), so it asks for no medical review; the \
                         clinic's counsel reviews it",
                        d.source,
                        d.path()
                    ))
                }
                None => out.push(format!(
                    "{} ({}) names no medical reviewer (reviewer, reviewed, next_review): \
                     the page says it has not been medically reviewed",
                    d.source,
                    d.path()
                )),
                Some(r) if r.next <= today => out.push(format!(
                    "{} ({}) was due for its next medical review on {}",
                    d.source,
                    d.path(),
                    r.next
                )),
                Some(_) => {}
            }
            let (grade, limit) = (d.reading_grade(), d.reading_limit());
            if grade > limit {
                out.push(format!(
                    "{} ({}) reads at US grade {grade:.1} (Flesch–Kincaid); patient pages \
                     should read at grade {limit} or below: shorter sentences, shorter words",
                    d.source,
                    d.path()
                ));
            }
        }
        out
    }

    /// The pages that asked for a place in the menu, in order: (label, path).
    pub fn menu(&self, place: MenuPlace) -> Vec<(String, String)> {
        let mut items: Vec<(&Menu, &Document)> = self
            .published_pages()
            .filter_map(|p| Some((p.menu.as_ref().filter(|m| m.place == place)?, p)))
            .collect();
        items.sort_by(|a, b| a.0.order.cmp(&b.0.order).then(a.1.slug.cmp(&b.1.slug)));
        items
            .into_iter()
            .map(|(m, p)| {
                let label = if m.label.trim().is_empty() {
                    p.title.clone()
                } else {
                    m.label.trim().to_string()
                };
                (label, p.path())
            })
            .collect()
    }
}

fn parse(
    name: &str,
    kind: Kind,
    text: &str,
    facts: &Facts,
    media: &Media,
) -> Result<Document, ContentError> {
    let err = |line: usize, message: String| ContentError {
        file: name.to_string(),
        line,
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text
        .strip_prefix("+++\n")
        .or_else(|| text.strip_prefix("+++\r\n"))
    else {
        return Err(err(
            1,
            "the file must start with front matter between two lines of +++".into(),
        ));
    };
    let Some(end) = rest.find("\n+++") else {
        return Err(err(1, "the front matter has no closing +++ line".into()));
    };
    let (front, body) = (&rest[..end + 1], &rest[end + 4..]);
    let body = body.trim_start_matches(['\r', '\n']);
    // The file's line on which the body starts.
    let body_line = text.len() - body.len();
    let body_line = 1 + text[..body_line].matches('\n').count();
    let fm: FrontMatter = toml::from_str(front).map_err(|e| {
        // Line 1 is the opening +++; the front matter starts on line 2.
        let line = e.span().map_or(2, |s| {
            2 + front[..s.start.min(front.len())].matches('\n').count()
        });
        err(line, e.message().to_string())
    })?;
    let line_of = |key: &str| {
        front
            .lines()
            .position(|l| l.trim_start().starts_with(key))
            .map_or(2, |i| i + 2)
    };
    let date = |field: &str, value: &toml::value::Datetime| -> Result<Date, ContentError> {
        match (&value.date, &value.time) {
            (Some(d), None) => Date::new(d.year as i16, d.month as i8, d.day as i8)
                .map_err(|e| err(line_of(field), format!("{field}: {e}"))),
            _ => Err(err(
                line_of(field),
                format!("{field} must be a plain date like 2026-11-27"),
            )),
        }
    };
    let valid_slug = !fm.slug.is_empty()
        && fm.slug.len() <= 100
        && fm
            .slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !fm.slug.starts_with('-');
    if !valid_slug {
        return Err(err(
            line_of("slug"),
            format!("slug {:?} may only hold a-z, 0-9 and -", fm.slug),
        ));
    }
    if kind == Kind::Page && RESERVED.contains(&fm.slug.as_str()) {
        return Err(err(
            line_of("slug"),
            format!("slug {:?} is reserved for the application", fm.slug),
        ));
    }
    for (field, value) in [("title", &fm.title), ("summary", &fm.summary)] {
        if value.trim().is_empty() {
            return Err(err(line_of(field), format!("{field} must not be empty")));
        }
    }
    let hero = fm
        .hero
        .as_ref()
        .map(|h| h.find(media).map_err(|m| err(line_of("hero"), m)))
        .transpose()?;
    let cta_line = fm
        .cta_href
        .as_ref()
        .filter(|h| h.starts_with('/'))
        .map(|h| (h.clone(), line_of("cta_href")));
    let (people, questions) = typed_parts(&fm, kind, media, facts, &err, &line_of)?;
    let cards_lines: Vec<(String, usize)> = fm
        .cards
        .iter()
        .map(|slug| (format!("/{slug}"), line_of("cards")))
        .collect();
    let cta = match (fm.cta_text, fm.cta_href) {
        (Some(t), Some(h)) => Some((t, h)),
        (None, None) => None,
        _ => {
            return Err(err(
                line_of("cta_"),
                "cta_text and cta_href go together".into(),
            ));
        }
    };
    if kind == Kind::Post && fm.menu.is_some() {
        return Err(err(
            line_of("menu"),
            "menu is for pages; posts are listed on the blog".into(),
        ));
    }
    let body = facts
        .insert(body)
        .map_err(|(line, message)| err(body_line + line, message))?;
    let body = body.as_str();
    let words = body.split_whitespace().count();
    Ok(Document {
        kind,
        date: date("date", &fm.date)?,
        updated: fm
            .updated
            .as_ref()
            .map(|d| date("updated", d))
            .transpose()?,
        review: match (fm.reviewer, &fm.reviewed, &fm.next_review) {
            (None, None, None) => None,
            _ if fm.page_type == PageType::Notice => {
                return Err(err(
                    line_of("review"),
                    "a notice (type = \"notice\") is not medical content: leave out reviewer, \
                     reviewed and next_review (the clinic's counsel reviews notices)"
                        .into(),
                ));
            }
            (Some(reviewer), Some(on), Some(next)) if !reviewer.trim().is_empty() => {
                let on = date("reviewed", on)?;
                let next = date("next_review", next)?;
                if next <= on {
                    return Err(err(
                        line_of("next_review"),
                        "next_review must come after reviewed".into(),
                    ));
                }
                Some(Review {
                    reviewer: reviewer.trim().to_string(),
                    on,
                    next,
                })
            }
            _ => {
                return Err(err(
                    line_of("review"),
                    "reviewer, reviewed and next_review go together: who reviewed the \
                     page's medical content, on which day, and when the next review is due"
                        .into(),
                ));
            }
        },
        slug: fm.slug,
        title: fm.title,
        summary: fm.summary,
        author: fm.author,
        tags: fm
            .tags
            .into_iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        draft: fm.draft,
        hero,
        cta,
        menu: fm.menu,
        cards: fm.cards,
        page_type: fm.page_type,
        people,
        questions,
        plans: fm
            .plans
            .into_iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        html: markdown::render(body, media)
            .map_err(|(line, message)| err(body_line + line, message))?,
        reading_minutes: (words as u32).div_ceil(200).max(1),
        source: name.to_string(),
        links: markdown::local_links(body)
            .into_iter()
            .map(|(path, line)| (path, body_line + line))
            .chain(cta_line)
            .chain(cards_lines)
            .collect(),
    })
}

/// The team's people and the FAQ's answers, checked against the page's type.
fn typed_parts(
    fm: &FrontMatter,
    kind: Kind,
    media: &Media,
    facts: &Facts,
    err: &dyn Fn(usize, String) -> ContentError,
    line_of: &dyn Fn(&str) -> usize,
) -> Result<(Vec<Person>, Vec<Question>), ContentError> {
    let wrong = |field: &str, wanted: &str| {
        err(
            line_of(field),
            format!("{field} belongs on a page with type = \"{wanted}\""),
        )
    };
    if kind == Kind::Post && fm.page_type != PageType::Page {
        return Err(err(line_of("type"), "type is for pages, not posts".into()));
    }
    if !fm.people.is_empty() && fm.page_type != PageType::Team {
        return Err(wrong("[[people]]", "team"));
    }
    if !fm.questions.is_empty() && fm.page_type != PageType::Faq {
        return Err(wrong("[[questions]]", "faq"));
    }
    if !fm.plans.is_empty() && fm.page_type != PageType::Insurance {
        return Err(wrong("plans", "insurance"));
    }
    match fm.page_type {
        PageType::Team if fm.people.is_empty() => {
            return Err(err(
                line_of("type"),
                "a team page lists its people as [[people]] (name, role, bio)".into(),
            ));
        }
        PageType::Faq if fm.questions.is_empty() => {
            return Err(err(
                line_of("type"),
                "an FAQ page lists [[questions]] (question, answer)".into(),
            ));
        }
        _ => {}
    }
    let mut people = Vec::new();
    for p in &fm.people {
        for (field, value) in [("name", &p.name), ("role", &p.role), ("bio", &p.bio)] {
            if value.trim().is_empty() {
                return Err(err(
                    line_of("[[people]]"),
                    format!("each person needs a {field}"),
                ));
            }
        }
        let photo = p
            .photo
            .as_ref()
            .map(|h| h.find(media).map_err(|m| err(line_of("photo"), m)))
            .transpose()?;
        people.push(Person {
            name: p.name.trim().into(),
            credentials: p.credentials.trim().into(),
            role: p.role.trim().into(),
            bio: p.bio.trim().into(),
            photo,
            physician: p.physician,
        });
    }
    let mut questions = Vec::new();
    for q in &fm.questions {
        if q.question.trim().is_empty() || q.answer.trim().is_empty() {
            return Err(err(
                line_of("[[questions]]"),
                "each question needs its question and answer".into(),
            ));
        }
        let answer = facts
            .insert(&q.answer)
            .map_err(|(_, m)| err(line_of("[[questions]]"), m))?;
        let answer_html =
            markdown::render(&answer, media).map_err(|(_, m)| err(line_of("[[questions]]"), m))?;
        questions.push(Question {
            question: q.question.trim().into(),
            answer_text: markdown::plain_text(&answer),
            answer_html,
        });
    }
    Ok((people, questions))
}

/// A tag as it appears in URLs: "Treatment-resistant depression" -> "treatment-resistant-depression".
pub fn tag_slug(tag: &str) -> String {
    let mut out = String::new();
    for c in tag.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests;
