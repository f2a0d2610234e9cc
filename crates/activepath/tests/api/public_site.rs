use crate::helpers::*;
use std::collections::{BTreeSet, VecDeque};

#[tokio::test]
async fn a_crawl_of_the_demo_site_finds_no_broken_link() {
    let app = spawn_app().await;
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from(["/".to_string()]);
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let res = app.get(&path).await;
        assert_eq!(
            res.status(),
            200,
            "{path} is linked but answers {}",
            res.status()
        );
        let is_html = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"));
        if is_html {
            let html = res.text().await.unwrap();
            // Links with a query (a week of times, one chosen time) are
            // the booking pages' own steps, hundreds of them: the booking
            // tests walk those.
            for link in internal_links(&html) {
                if !seen.contains(&link) && !link.contains('?') {
                    queue.push_back(link);
                }
            }
        }
        assert!(seen.len() < 500, "the crawl should be bounded");
    }
    for must in [
        "/tms",
        "/tms-results",
        "/treatment-resistant-depression",
        "/psychotherapy",
        "/medication-management",
        "/contact",
        "/book",
        "/book/initial-consultation/main",
        "/privacy",
        "/accessibility",
        "/blog",
        "/assessment/phq9",
        "/blog/feed.xml",
    ] {
        assert!(
            seen.contains(must),
            "{must} is not reachable from the home page"
        );
    }
    let posts = seen
        .iter()
        .filter(|p| {
            p.starts_with("/blog/") && !p.starts_with("/blog/tag/") && *p != "/blog/feed.xml"
        })
        .count();
    assert!(posts >= 4, "at least four posts are linked, found {posts}");
}

#[tokio::test]
async fn the_home_page_has_its_sections_in_order() {
    let app = spawn_app().await;
    let (_, html) = app.get_text("/").await;
    let order = [
        "Take the online depression self-assessment",
        "How we can help",
        "href=\"/treatment-resistant-depression\">Treatment-resistant depression</a>",
        "href=\"/tms\">TMS (transcranial magnetic stimulation)</a>",
        "href=\"/psychotherapy\">Psychotherapy</a>",
        "href=\"/medication-management\">Medication management</a>",
        "What is treatment-resistant depression?",
        "What causes it?",
        "The body.",
        "Life and relationships.",
        "Psychotherapy.",
        "Changes to medicine.",
        "Treatments together.",
        "TMS (transcranial magnetic",
        "Talk to our team",
        "Recent posts",
    ];
    let mut at = 0;
    for text in order {
        let found = html[at..]
            .find(text)
            .unwrap_or_else(|| panic!("{text:?} missing or out of order"));
        at += found;
    }
    // The three newest posts, newest first, each with "Read more".
    let recent = &html[html.find("Recent posts").unwrap()..];
    let titles = [
        "Understanding your PHQ-9 score",
        "What to expect at a first TMS consultation",
        "3 alternative therapies for depression",
    ];
    let mut at = 0;
    for t in titles {
        at += recent[at..]
            .find(t)
            .unwrap_or_else(|| panic!("{t} not among recent posts in order"));
    }
    assert!(
        !recent.contains("5 benefits of talk therapy"),
        "only the three newest"
    );
    assert_eq!(recent.matches("class=\"card-item\"").count(), 3);
}

#[tokio::test]
async fn seo_basics_on_content_pages() {
    let app = spawn_app().await;
    let (_, home) = app.get_text("/").await;
    assert!(home.contains(&format!("<link rel=\"canonical\" href=\"{BASE_URL}/\">")));
    assert!(home.contains("\"@type\":\"MedicalClinic\""));
    assert!(home.contains("<meta property=\"og:title\""));
    let (_, post) = app.get_text("/blog/understanding-your-phq-9-score").await;
    assert!(post.contains("\"@type\":\"BlogPosting\""));
    assert!(post.contains("<meta property=\"og:type\" content=\"article\">"));
    // The demo's placeholder reviewer is no review (issue 19).
    assert!(post.contains("Not yet medically reviewed (demo content)."));
    assert!(post.contains("min read"));
    assert!(post.contains("Related posts"));
    let (_, page) = app.get_text("/tms").await;
    assert!(page.contains("\"@type\":\"MedicalWebPage\""));
    assert!(page.contains("<meta name=\"description\" content=\"How TMS works"));
    let (_, contact) = app.get_text("/contact").await;
    assert!(contact.contains("\"@type\":\"MedicalClinic\""));
    let (status, robots) = app.get_text("/robots.txt").await;
    assert_eq!(status, 200);
    assert!(robots.contains(&format!("Sitemap: {BASE_URL}/sitemap.xml")));
    assert!(
        !robots.contains("/assessment/result"),
        "crawlers must reach result pages to read their noindex"
    );
    let (status, manifest) = app.get_text("/site.webmanifest").await;
    assert_eq!(status, 200);
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["start_url"], "/");
}

#[tokio::test]
async fn tms_results_cite_the_registry_and_never_promise_no_symptoms() {
    let app = spawn_app().await;
    let (_, html) = app.get_text("/tms-results").await;
    assert!(html.contains("Sackeim and colleagues"));
    assert!(html.contains("3 in 10"));
    assert!(!html.contains("no longer experience any symptoms"));
}

#[tokio::test]
async fn pages_revalidate_with_304_and_come_gzipped() {
    let app = spawn_app().await;
    let res = app.get("/blog").await;
    let etag = res.headers().get("etag").unwrap().clone();
    let modified = res.headers().get("last-modified").unwrap().clone();
    assert_eq!(
        res.headers().get("cache-control").unwrap(),
        "public, no-cache"
    );
    let body = res.text().await.unwrap();
    let again = app
        .client
        .get(app.url("/blog"))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers().get("etag").unwrap(), &etag);
    assert!(again.bytes().await.unwrap().is_empty());
    let again = app
        .client
        .get(app.url("/blog"))
        .header("if-modified-since", modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let other = app
        .client
        .get(app.url("/blog"))
        .header("if-none-match", "\"nope\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);

    let gz = app
        .client
        .get(app.url("/blog"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers().get("content-encoding").unwrap(), "gzip");
    assert_eq!(gz.headers().get("vary").unwrap(), "accept-encoding");
    let bytes = gz.bytes().await.unwrap();
    let mut decoded = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut decoded)
        .unwrap();
    assert_eq!(decoded, body);
}

#[tokio::test]
async fn the_home_page_is_small_over_the_wire() {
    let app = spawn_app().await;
    let gz = |path: String| {
        let client = app.client.clone();
        let url = app.url(&path);
        async move {
            client
                .get(url)
                .header("accept-encoding", "gzip")
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .len()
        }
    };
    let (_, html) = app.get_text("/").await;
    let css = html
        .split("href=\"/static/app.")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let css_bytes = gz(format!("/static/app.{css}")).await;
    let html_bytes = gz("/".into()).await;
    // The hero image as a phone fetches it: the narrowest width, WebP when
    // offered (browsers that read <picture> take it), else the fallback.
    let hero = html
        .split("<div class=\"hero-media\">")
        .nth(1)
        .expect("the home page has a hero image");
    let first_srcset = hero.split("srcset=\"").nth(1).unwrap();
    let narrowest = first_srcset.split(' ').next().unwrap().to_string();
    let image_bytes = gz(narrowest.clone()).await;
    let total = html_bytes + css_bytes + image_bytes;
    eprintln!(
        "home page on a phone, gzipped: {html_bytes} bytes HTML + {css_bytes} bytes CSS + {image_bytes} bytes image ({narrowest})"
    );
    assert!(
        html_bytes + css_bytes <= 30 * 1024,
        "home page HTML (gzipped) + CSS is {} bytes, over 30 KB",
        html_bytes + css_bytes
    );
    assert!(
        total <= 100 * 1024,
        "home page HTML + CSS + hero image is {total} bytes, over the 100 KB budget"
    );
}

#[tokio::test]
async fn feed_and_sitemap_list_exactly_the_published_posts() {
    let content = tempfile::tempdir().unwrap();
    write_content(
        content.path(),
        &[
            ("old", "2026-01-05", false, &["TMS"]),
            ("new", "2026-06-01", false, &["TMS", "Therapy"]),
            ("hidden-draft", "2026-02-01", true, &[]),
            ("scheduled", "2099-01-01", false, &[]),
        ],
    );
    let dir = content.path().to_path_buf();
    let app = spawn_app_with(|c| c.content_dir = Some(dir)).await;

    let (status, feed) = app.get_text("/blog/feed.xml").await;
    assert_eq!(status, 200);
    let doc = roxmltree::Document::parse(&feed).expect("the feed is well-formed XML");
    let atom = "http://www.w3.org/2005/Atom";
    assert_eq!(doc.root_element().tag_name().name(), "feed");
    assert_eq!(doc.root_element().tag_name().namespace(), Some(atom));
    let entries: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name((atom, "entry")))
        .map(|e| {
            e.children()
                .find(|c| c.has_tag_name((atom, "id")))
                .unwrap()
                .text()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        entries,
        [
            format!("{BASE_URL}/blog/new"),
            format!("{BASE_URL}/blog/old")
        ]
    );

    let (_, sitemap) = app.get_text("/sitemap.xml").await;
    let doc = roxmltree::Document::parse(&sitemap).expect("the sitemap is well-formed XML");
    let locs: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("loc"))
        .filter_map(|n| n.text())
        .collect();
    let posts: Vec<&&str> = locs.iter().filter(|l| l.contains("/blog/")).collect();
    assert_eq!(
        posts,
        [
            &format!("{BASE_URL}/blog/new").as_str(),
            &format!("{BASE_URL}/blog/old").as_str()
        ]
    );
    assert!(locs.contains(&format!("{BASE_URL}/").as_str()));

    assert_eq!(app.get("/blog/hidden-draft").await.status(), 404);
    assert_eq!(app.get("/blog/scheduled").await.status(), 404);
    assert_eq!(app.get("/blog/new").await.status(), 200);
    let (_, tag) = app.get_text("/blog/tag/tms").await;
    assert!(tag.contains("Post new") && tag.contains("Post old"));
    let (_, tag) = app.get_text("/blog/tag/therapy").await;
    assert!(tag.contains("Post new") && !tag.contains("Post old"));
}

#[tokio::test]
async fn the_blog_index_paginates() {
    let content = tempfile::tempdir().unwrap();
    let slugs: Vec<String> = (1..=8).map(|i| format!("p{i}")).collect();
    let dates: Vec<String> = (1..=8).map(|i| format!("2026-03-{i:02}")).collect();
    let posts: Vec<(&str, &str, bool, &[&str])> = slugs
        .iter()
        .zip(&dates)
        .map(|(s, d)| (s.as_str(), d.as_str(), false, &[][..]))
        .collect();
    write_content(content.path(), &posts);
    let dir = content.path().to_path_buf();
    let app = spawn_app_with(|c| c.content_dir = Some(dir)).await;
    let (_, first) = app.get_text("/blog").await;
    assert!(first.contains("Post p8") && first.contains("Post p3") && !first.contains("Post p2"));
    assert!(first.contains("href=\"/blog/page/2\" rel=\"next\""));
    assert!(first.contains("Page 1 of 2"));
    let (status, second) = app.get_text("/blog/page/2").await;
    assert_eq!(status, 200);
    assert!(
        second.contains("Post p2") && second.contains("Post p1") && !second.contains("Post p3")
    );
    assert!(second.contains("href=\"/blog\" rel=\"prev\""));
    assert_eq!(app.get("/blog/page/3").await.status(), 404);
}

#[tokio::test]
async fn edits_are_served_after_a_reload() {
    let content = tempfile::tempdir().unwrap();
    write_content(content.path(), &[("first", "2026-01-05", false, &[])]);
    let dir = content.path().to_path_buf();
    let app = spawn_app_with(|c| c.content_dir = Some(dir.clone())).await;
    assert_eq!(app.get("/blog/second").await.status(), 404);
    write_content(content.path(), &[("second", "2026-01-06", false, &[])]);
    app.state.site.publish_blocking(
        &app.state,
        Some(
            activepath::content::Content::from_dir(&dir, &activepath::content::Facts::demo())
                .unwrap(),
        ),
    );
    assert_eq!(app.get("/blog/second").await.status(), 200);
    assert_eq!(app.get("/blog/first").await.status(), 200);
}

#[tokio::test]
async fn what_a_walk_through_the_flows_found_is_fixed() {
    let app = spawn_app().await;
    let (_, home) = app.get_text("/").await;
    assert!(
        home.contains(r#"<link rel="alternate" type="application/atom+xml" href="/blog/feed.xml""#)
    );
    assert!(home.contains(r#"href="/assessment/phq9">Take the online depression self-assessment"#));
    assert!(home.contains("href=\"/assessment\">Or choose another questionnaire"));
    let (_, tag) = app.get_text("/blog/tag/tms").await;
    assert!(tag.contains("Posts about TMS"), "the tag's own name");
    // A form sent back with mistakes says so in its title first.
    let res = app.post_form("/assessment/phq9", "q1=1").await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("<title>Error: "), "{}", &body[..400]);
    assert!(body.contains("Please check the following"));
    // The printed result names the clinic and how to reach it; the score is
    // there once.
    let path = app.submit_phq9([1, 1, 1, 1, 1, 1, 1, 1, 0], 1).await;
    let (_, result) = app.get_text(&path).await;
    assert!(result.contains(&format!(
        "<p class=\"print-only small\">{} · {} · {} · Monday–Wednesday: 8:30 AM–5:30 PM; ",
        app.state.config.clinic.name,
        app.state.config.clinic.address,
        app.state.config.clinic.phone
    )));
    assert!(shows_score(&result, 8, 27));
    assert!(!result.contains("8 out of 27"));
    // The sent page says when the clinic aims to reply.
    let res = app
        .post_form(
            &format!("{path}/share"),
            "name=Ana&email=ana%40example.org&phone=&contact_method=email&contact_time=any&message=&consent=yes",
        )
        .await;
    let (_, sent) = app.get_text(&location(&res)).await;
    assert!(sent.contains("aims to contact you within 48 hours"));
}
