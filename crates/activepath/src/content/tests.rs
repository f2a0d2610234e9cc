use super::*;
use crate::content::MenuPlace;

fn one(name: &str, text: &str) -> Result<Content, ContentError> {
    let home =
        "+++\ntitle = \"Home\"\nslug = \"home\"\nsummary = \"s\"\ndate = 2026-01-01\n+++\nHi\n";
    let mut files = vec![(name.to_string(), text.to_string())];
    if name != "pages/home.md" {
        files.push(("pages/home.md".into(), home.into()));
    }
    Content::from_files(files, &Facts::demo())
}

#[test]
fn the_demo_content_loads_and_every_file_is_embedded() {
    let content = Content::embedded(&Facts::demo()).unwrap();
    assert!(content.page("home").is_some());
    assert!(content.posts.len() >= 4);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("content");
    let from_disk = Content::from_dir(&dir, &Facts::demo()).unwrap();
    assert_eq!(
        from_disk.pages, content.pages,
        "a file under content/pages is missing from EMBEDDED"
    );
    assert_eq!(
        from_disk.posts, content.posts,
        "a file under content/posts is missing from EMBEDDED"
    );
    assert_eq!(
        from_disk.media.names(),
        content.media.names(),
        "an image under content/media is missing from EMBEDDED_MEDIA"
    );
}

/// [`one`] with an image `media/x.png` in the media folder.
fn with_image(name: &str, text: &str) -> Result<Content, ContentError> {
    let home =
        "+++\ntitle = \"Home\"\nslug = \"home\"\nsummary = \"s\"\ndate = 2026-01-01\n+++\nHi\n";
    Content::from_parts(
        vec![
            (name.to_string(), text.to_string()),
            ("pages/home.md".into(), home.into()),
        ],
        vec![("x.png".into(), media::tests::png(64, 48))],
        &Facts::demo(),
    )
}

#[test]
fn a_post_parses_with_all_its_fields() {
    let c = with_image(
        "posts/p.md",
        "+++\ntitle = \"T\"\nslug = \"p\"\nsummary = \"S\"\ndate = 2026-02-03\nupdated = 2026-03-04\nauthor = \"A\"\nreviewer = \"Dr R\"\nreviewed = 2026-03-05\nnext_review = 2027-03-05\ntags = [\"TMS\", \" \"]\nhero = { src = \"media/x.png\", alt = \"A chair\" }\n+++\n\n## Hello\n\nSome *words* here.\n",
    )
    .unwrap();
    let p = &c.posts[0];
    assert_eq!((p.title.as_str(), p.slug.as_str()), ("T", "p"));
    assert_eq!(p.date, jiff::civil::date(2026, 2, 3));
    assert_eq!(p.modified(), jiff::civil::date(2026, 3, 4));
    assert_eq!(
        p.review,
        Some(Review {
            reviewer: "Dr R".into(),
            on: jiff::civil::date(2026, 3, 5),
            next: jiff::civil::date(2027, 3, 5),
        })
    );
    assert_eq!(p.tags, ["TMS"]);
    let hero = p.hero.as_ref().unwrap();
    assert_eq!(hero.alt, "A chair");
    assert!(hero.html("100vw").contains("fetchpriority=\"high\""));
    assert!(hero.html("100vw").contains("alt=\"A chair\""));
    assert!(p.html.contains("<h2>Hello</h2>") && p.html.contains("<em>words</em>"));
    assert_eq!(p.reading_minutes, 1);
    assert_eq!(p.path(), "/blog/p");
}

#[test]
fn broken_front_matter_names_the_file_and_line() {
    let e = one("posts/p.md", "+++\ntitle = \"T\"\nslug = \"p\"\nsummary = \"S\"\ndate = 2026-02-03\ntitel = \"x\"\n+++\n").unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("posts/p.md", 6), "{e}");
    assert!(e.message.contains("titel"), "{e}");

    let e = one(
        "posts/p.md",
        "+++\ntitle = \"T\"\nslug = \"p\"\nsummary = \"S\"\ndate = \"yesterday\"\n+++\n",
    )
    .unwrap_err();
    assert_eq!(e.line, 5, "{e}");

    let e = one("posts/p.md", "+++\ntitle = \"T\nslug = \"p\"\n+++\n").unwrap_err();
    assert_eq!(e.line, 2, "{e}");

    let e = one("posts/p.md", "+++\ntitle = \"T\"\nslug = \"p\"\n+++\n").unwrap_err();
    assert!(e.message.contains("summary"), "{e}");

    let e = one("posts/p.md", "title = \"T\"\n").unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.message.contains("+++"));

    let e = one("posts/p.md", "+++\ntitle = \"T\"\n").unwrap_err();
    assert!(e.message.contains("closing"));

    let e = one(
        "pages/x.md",
        "+++\ntitle = \"T\"\nslug = \"assessment\"\nsummary = \"S\"\ndate = 2026-01-01\n+++\n",
    )
    .unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.message.contains("reserved"));

    let e = one(
        "pages/x.md",
        "+++\ntitle = \"T\"\nslug = \"Bad Slug\"\nsummary = \"S\"\ndate = 2026-01-01\n+++\n",
    )
    .unwrap_err();
    assert!(e.message.contains("a-z"));

    // A hero needs its alt text (empty for decoration) and an image that is there.
    let e = with_image("posts/x.md", "+++\ntitle = \"T\"\nslug = \"x\"\nsummary = \"S\"\ndate = 2026-01-01\nhero = { src = \"media/x.png\" }\n+++\n").unwrap_err();
    assert!(e.message.contains("missing field `alt`"), "{e}");
    assert_eq!(e.line, 6);
    with_image("posts/x.md", "+++\ntitle = \"T\"\nslug = \"x\"\nsummary = \"S\"\ndate = 2026-01-01\nhero = { src = \"media/x.png\", alt = \"\" }\n+++\n").unwrap();
    let e = with_image("posts/x.md", "+++\ntitle = \"T\"\nslug = \"x\"\nsummary = \"S\"\ndate = 2026-01-01\nhero = { src = \"media/y.png\", alt = \"Y\" }\n+++\n").unwrap_err();
    assert!(e.message.contains("no such image (it holds x.png)"), "{e}");
    assert_eq!(e.line, 6);
    assert_eq!(
        e.to_string(),
        format!("posts/x.md:{}: {}", e.line, e.message)
    );
}

#[test]
fn a_home_page_is_required_and_slugs_are_unique() {
    let e = Content::from_files(vec![], &Facts::demo()).unwrap_err();
    assert!(e.message.contains("home"));
    let post = "+++\ntitle = \"T\"\nslug = \"same\"\nsummary = \"S\"\ndate = 2026-01-01\n+++\n";
    let home = "+++\ntitle = \"Home\"\nslug = \"home\"\nsummary = \"s\"\ndate = 2026-01-01\n+++\n";
    let e = Content::from_files(
        vec![
            ("posts/a.md".into(), post.into()),
            ("posts/b.md".into(), post.into()),
            ("pages/home.md".into(), home.into()),
        ],
        &Facts::demo(),
    )
    .unwrap_err();
    assert!(e.message.contains("used twice"));
}

#[test]
fn drafts_and_future_posts_are_not_published() {
    let post = |slug: &str, date: &str, draft: bool| {
        (
            format!("posts/{slug}.md"),
            format!(
                "+++\ntitle = \"T\"\nslug = \"{slug}\"\nsummary = \"S\"\ndate = {date}\ndraft = {draft}\n+++\n"
            ),
        )
    };
    let home = (
        "pages/home.md".to_string(),
        "+++\ntitle = \"Home\"\nslug = \"home\"\nsummary = \"s\"\ndate = 2026-01-01\n+++\n"
            .to_string(),
    );
    let c = Content::from_files(
        vec![
            post("old", "2026-01-01", false),
            post("new", "2026-06-01", false),
            post("draft", "2026-01-02", true),
            post("future", "2026-12-25", false),
            home,
        ],
        &Facts::demo(),
    )
    .unwrap();
    let today = jiff::civil::date(2026, 11, 27);
    let visible: Vec<&str> = c.published_posts(today).map(|p| p.slug.as_str()).collect();
    assert_eq!(visible, ["new", "old"]);
    let christmas: Vec<&str> = c
        .published_posts(jiff::civil::date(2026, 12, 25))
        .map(|p| p.slug.as_str())
        .collect();
    assert_eq!(christmas, ["future", "new", "old"]);
}

#[test]
fn tag_slugs() {
    assert_eq!(
        tag_slug("Treatment-resistant depression"),
        "treatment-resistant-depression"
    );
    assert_eq!(tag_slug(" TMS "), "tms");
    assert_eq!(tag_slug("Self care & you!"), "self-care-you");
}

#[test]
fn a_link_to_a_page_that_does_not_exist_is_an_error_with_file_and_line() {
    let text = "+++\ntitle = \"T\"\nslug = \"about\"\nsummary = \"s\"\ndate = 2026-01-01\n+++\n\nSee [home](/), [the test](/assessment/phq9?x=1),\n[booking](/book/initial-consultation/main) and [us](/about#team).\n\nBut [this](/old-page) moved.\n";
    let e = one("pages/about.md", text).unwrap_err();
    assert_eq!(e.file, "pages/about.md");
    assert_eq!(e.line, 11, "{e:?}");
    assert!(e.message.contains("/old-page"), "{}", e.message);
    let fixed = text.replace("/old-page", "https://example.org/old-page");
    assert!(one("pages/about.md", &fixed).is_ok());
    // A call to action is checked too.
    let cta = "+++\ntitle = \"T\"\nslug = \"x\"\nsummary = \"s\"\ndate = 2026-01-01\ncta_text = \"Go\"\ncta_href = \"/nowhere\"\n+++\nBody\n";
    let e = one("pages/x.md", cta).unwrap_err();
    assert_eq!(e.line, 7);
}

#[test]
fn team_faq_and_insurance_pages_carry_their_parts_and_refuse_misplaced_ones() {
    let team = "+++\ntitle = \"Team\"\nslug = \"team\"\nsummary = \"S\"\ndate = 2026-01-01\ntype = \"team\"\n\n[[people]]\nname = \"Dr A\"\ncredentials = \"MD\"\nrole = \"Psychiatrist\"\nbio = \"Sees people.\"\nphysician = true\nphoto = { src = \"media/x.png\", alt = \"\" }\n+++\nHi\n";
    let c = with_image("pages/team.md", team).unwrap();
    let p = &c.page("team").unwrap().people[0];
    assert_eq!(
        (p.name.as_str(), p.credentials.as_str(), p.physician),
        ("Dr A", "MD", true)
    );
    assert!(p.photo.is_some());

    let faq = "+++\ntitle = \"FAQ\"\nslug = \"faq\"\nsummary = \"S\"\ndate = 2026-01-01\ntype = \"faq\"\n\n[[questions]]\nquestion = \"Why?\"\nanswer = \"Call {{ clinic.phone }}, *any* day.\"\n+++\n";
    let c = one("pages/faq.md", faq).unwrap();
    let q = &c.page("faq").unwrap().questions[0];
    assert_eq!(q.answer_text, "Call +1 555 010 0123, any day.");
    assert!(q.answer_html.contains("<em>any</em>"), "{}", q.answer_html);

    // Parts on the wrong type, or a typed page without its parts, are errors.
    for (text, wanted) in [
        ("type = \"team\"\n", "a team page lists its people"),
        ("type = \"faq\"\n", "an FAQ page lists [[questions]]"),
        (
            "plans = [\"A\"]\n",
            "plans belongs on a page with type = \"insurance\"",
        ),
        (
            "\n[[people]]\nname = \"A\"\nrole = \"R\"\nbio = \"B\"\n",
            "[[people]] belongs on a page with type = \"team\"",
        ),
        (
            "type = \"team\"\n\n[[people]]\nname = \"A\"\nrole = \"\"\nbio = \"B\"\n",
            "each person needs a role",
        ),
        ("type = \"brochure\"\n", "unknown variant"),
    ] {
        let file = format!(
            "+++\ntitle = \"T\"\nslug = \"t\"\nsummary = \"S\"\ndate = 2026-01-01\n{text}+++\n"
        );
        let e = one("pages/t.md", &file).unwrap_err();
        assert!(e.message.contains(wanted), "{text}: {e}");
        assert!(e.line >= 2, "{e}");
    }
}

#[test]
fn the_menu_lists_pages_by_order_in_their_place() {
    let page = |slug: &str, menu: &str| {
        (
            format!("pages/{slug}.md"),
            format!(
                "+++\ntitle = \"Title {slug}\"\nslug = \"{slug}\"\nsummary = \"S\"\ndate = 2026-01-01\n{menu}\n+++\n"
            ),
        )
    };
    let c = Content::from_files(
        vec![
            page("home", ""),
            page("b", "menu = { order = 2, label = \"Bee\" }"),
            page("a", "menu = { order = 1 }"),
            page("f", "menu = { order = 0, place = \"footer\" }"),
            page("none", ""),
        ],
        &Facts::demo(),
    )
    .unwrap();
    assert_eq!(
        c.menu(MenuPlace::Header),
        [
            ("Title a".to_string(), "/a".to_string()),
            ("Bee".into(), "/b".into())
        ]
    );
    assert_eq!(
        c.menu(MenuPlace::Footer),
        [("Title f".to_string(), "/f".to_string())]
    );
    let e = one(
        "posts/p.md",
        "+++\ntitle = \"T\"\nslug = \"p\"\nsummary = \"S\"\ndate = 2026-01-01\nmenu = { order = 1 }\n+++\n",
    )
    .unwrap_err();
    assert!(e.message.contains("menu is for pages"), "{e}");
}

/// A page whose front matter ends with `review` (TOML lines).
fn page_with(review: &str) -> String {
    format!(
        "+++\ntitle = \"T\"\nslug = \"p\"\nsummary = \"S\"\ndate = 2026-01-01\n{review}\n+++\nText.\n"
    )
}

#[test]
fn a_medical_review_names_who_when_and_the_next_one() {
    for partial in [
        "reviewer = \"Dr R\"",
        "reviewer = \"Dr R\"\nreviewed = 2026-03-05",
        "reviewed = 2026-03-05\nnext_review = 2027-03-05",
        "reviewer = \" \"\nreviewed = 2026-03-05\nnext_review = 2027-03-05",
    ] {
        let e = one("pages/p.md", &page_with(partial)).unwrap_err();
        assert!(e.message.contains("go together"), "{partial}: {e}");
    }
    let e = one(
        "pages/p.md",
        &page_with("reviewer = \"Dr R\"\nreviewed = 2026-03-05\nnext_review = 2026-03-05"),
    )
    .unwrap_err();
    assert!(e.message.contains("after reviewed"), "{e}");
    assert_eq!(e.line, 8);
}

#[test]
fn check_config_names_the_demo_reviewer_unreviewed_and_overdue_pages() {
    let today = jiff::civil::date(2027, 6, 1);
    let real = "reviewer = \"Dr Jane Rivera, MD\"\nreviewed = 2026-06-01\nnext_review = 2027-06-02";
    let c = one("pages/p.md", &page_with(real)).unwrap();
    assert!(!c.demo_review());
    // The test's home page has no review.
    let w = c.warnings(today);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("pages/home.md (/) names no medical reviewer"),
        "{w:?}"
    );

    // The day of the next review is the day it is due.
    let w = c.warnings(jiff::civil::date(2027, 6, 2));
    assert!(
        w.iter().any(
            |w| w.contains("pages/p.md (/p) was due for its next medical review on 2027-06-02")
        ),
        "{w:?}"
    );

    let demo =
        format!("reviewer = \"{DEMO_REVIEWER}\"\nreviewed = 2026-06-01\nnext_review = 2027-06-02");
    let c = one("pages/p.md", &page_with(&demo)).unwrap();
    assert!(c.demo_review());
    assert!(c.warnings(today)[0].starts_with("1 pages and posts name the demo reviewer"));
    // A draft does not count.
    let c = one("pages/p.md", &page_with(&format!("{demo}\ndraft = true"))).unwrap();
    assert!(!c.demo_review());
}

#[test]
fn the_demo_content_is_reviewed_by_the_placeholder_and_reads_plainly() {
    let c = Content::embedded(&Facts::demo()).unwrap();
    assert!(c.demo_review());
    // The notices are not medical content: no medical review.
    let notices: Vec<&str> = c
        .pages
        .iter()
        .filter(|d| d.is_notice())
        .map(|d| d.slug.as_str())
        .collect();
    assert_eq!(
        notices,
        [
            "accessibility",
            "non-discrimination",
            "notice-of-privacy-practices",
            "privacy",
            "terms"
        ]
    );
    for d in c.pages.iter().chain(&c.posts) {
        if d.is_notice() {
            assert_eq!(d.review, None, "{}", d.source);
            continue;
        }
        let r = d
            .review
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no review", d.source));
        assert!(r.is_demo(), "{}", d.source);
    }
    // Only the placeholder is left to warn about: every page is reviewed,
    // none is overdue, none reads above its grade.
    let w = c.warnings(jiff::civil::date(2026, 12, 7));
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].contains("demo reviewer"));
}

#[test]
fn a_notice_asks_for_no_medical_review_and_may_not_name_a_reviewer() {
    let today = jiff::civil::date(2027, 6, 1);
    let notice = "+++\ntitle = \"Privacy\"\nslug = \"privacy\"\nsummary = \"S\"\ndate = 2026-01-01\ntype = \"notice\"\n+++\nText.\n";
    let c = one("pages/privacy.md", notice).unwrap();
    assert!(c.page("privacy").unwrap().is_notice());
    let w = c.warnings(today);
    assert!(!w.iter().any(|w| w.contains("(/privacy)")), "{w:?}");
    // A reviewer on a notice is a mistake, named with its line.
    let reviewed = notice.replace(
        "type = \"notice\"\n",
        "type = \"notice\"\nreviewer = \"Dr R\"\nreviewed = 2026-03-05\nnext_review = 2027-03-05\n",
    );
    let e = one("pages/privacy.md", &reviewed).unwrap_err();
    assert!(e.message.contains("not medical content"), "{e}");
    assert_eq!(e.line, 7);
    // A clinic's privacy page from before notices had a type: told to
    // mark it, not to have it medically reviewed.
    for old in [
        page_with("").replace("slug = \"p\"", "slug = \"privacy\""),
        page_with(&format!(
            "reviewer = \"{DEMO_REVIEWER}\"\nreviewed = 2026-06-01\nnext_review = 2027-06-02"
        ))
        .replace("slug = \"p\"", "slug = \"privacy\""),
    ] {
        let c = one("pages/privacy.md", &old).unwrap();
        let w: Vec<String> = c
            .warnings(today)
            .into_iter()
            .filter(|w| w.contains("(/privacy)"))
            .collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("add type = \"notice\""), "{w:?}");
        assert!(!w[0].contains("names no medical reviewer"), "{w:?}");
    }
}
