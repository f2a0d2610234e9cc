//! The clinic's own site: facts from configuration, the menu from front
//! matter, images and the theme.

use crate::helpers::*;

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} missing"));
    let rest = &html[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

#[tokio::test]
async fn the_clinics_facts_come_from_configuration_and_every_page_follows() {
    let app = spawn_app_with(|c| {
        c.clinic.phone = "+1 555 777 1234".into();
        c.clinic.email = "hello@lakeside.example".into();
        c.clinic.address = "9 Lake Road, Springfield".into();
        c.clinic.hours = Default::default();
        c.clinic
            .hours
            .apply_line("monday-friday 9:00-16:00")
            .unwrap();
        c.clinic.hours.apply_line("saturday 10:00-12:00").unwrap();
    })
    .await;
    for path in ["/", "/contact", "/tms", "/blog", "/assessment", "/book"] {
        let (status, html) = app.get_text(path).await;
        assert_eq!(status, 200, "{path}");
        let header = between(&html, "<header", "</header>");
        assert!(
            header.contains("href=\"tel:+15557771234\">Call +1 555 777 1234"),
            "{path}"
        );
        let footer = between(&html, "<footer", "</footer>");
        for fact in [
            "9 Lake Road, Springfield",
            "mailto:hello@lakeside.example",
            "Monday–Friday: 9:00 AM–4:00 PM",
            "Saturday: 10:00 AM–12:00 PM",
            "Sunday: Closed",
        ] {
            assert!(footer.contains(fact), "{path}: {fact}");
        }
        assert!(
            !html.contains("555 010 0123") && !html.contains("8:30"),
            "{path} shows an old fact"
        );
    }
    // The contact page's Markdown inserts them ({{ clinic.phone_link }}, {{ clinic.hours }}).
    let (_, contact) = app.get_text("/contact").await;
    let prose = between(&contact, "<div class=\"prose\">", "</article>");
    assert!(
        prose.contains("<a href=\"tel:+15557771234\" rel=\"noopener\">+1 555 777 1234</a>"),
        "{prose}"
    );
    assert!(
        prose.contains("<li>Saturday: 10:00 AM–12:00 PM</li>"),
        "{prose}"
    );
    assert!(prose.contains("9 Lake Road, Springfield"));
    // Search engines read the same hours.
    let (_, home) = app.get_text("/").await;
    let ld = between(&home, "application/ld+json\">", "</script>")
        .trim_start_matches("application/ld+json\">");
    let ld: serde_json::Value = serde_json::from_str(ld).unwrap();
    let hours = ld["openingHoursSpecification"].as_array().unwrap();
    assert_eq!(hours.len(), 2);
    assert_eq!(
        hours[0]["dayOfWeek"],
        serde_json::json!(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"])
    );
    assert_eq!(
        (hours[0]["opens"].as_str(), hours[0]["closes"].as_str()),
        (Some("09:00"), Some("16:00"))
    );
    assert_eq!(hours[1]["dayOfWeek"], serde_json::json!(["Saturday"]));
    assert_eq!(ld["telephone"], "+1 555 777 1234");
    // And the printed result.
    let result = app.submit_phq9([1, 1, 1, 1, 1, 1, 1, 1, 0], 1).await;
    let (_, page) = app.get_text(&result).await;
    let printed = between(&page, "<p class=\"print-only small\">Riverbend", "</p>");
    assert!(
        printed.contains("9 Lake Road, Springfield") && printed.contains("+1 555 777 1234"),
        "{printed}"
    );
    assert!(printed.contains("Saturday: 10:00 AM–12:00 PM"), "{printed}");
}

/// The attribute value that follows `prefix`, up to its closing quote.
fn value_after<'a>(html: &'a str, prefix: &str) -> &'a str {
    let at = html
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix:?} missing"))
        + prefix.len();
    &html[at..at + html[at..].find('"').unwrap()]
}

fn page(slug: &str, title: &str, extra: &str, body: &str) -> String {
    format!(
        "+++\ntitle = \"{title}\"\nslug = \"{slug}\"\nsummary = \"About {title}\"\ndate = 2026-01-01\n{extra}\n+++\n\n{body}\n"
    )
}

#[tokio::test]
async fn the_menu_comes_from_front_matter_and_the_assessment_and_contact_stay() {
    let content = tempfile::tempdir().unwrap();
    write_content(content.path(), &[]);
    let pages = content.path().join("pages");
    std::fs::write(
        pages.join("team.md"),
        page(
            "team",
            "Our people",
            "menu = { order = 2, label = \"Team\" }",
            "Hi",
        ),
    )
    .unwrap();
    std::fs::write(
        pages.join("fees.md"),
        page("fees", "Fees and insurance", "menu = { order = 1 }", "Hi"),
    )
    .unwrap();
    std::fs::write(
        pages.join("quiet.md"),
        page("quiet", "Not in the menu", "", "Hi"),
    )
    .unwrap();
    let dir = content.path().to_path_buf();
    let app = spawn_app_with(|c| c.content_dir = Some(dir)).await;

    let (_, html) = app.get_text("/team").await;
    let nav = between(&html, "<nav aria-label=\"Main\">", "</nav>");
    let links: Vec<String> = internal_links(nav);
    assert_eq!(
        links,
        ["/fees", "/team", "/book", "/contact/message", "/assessment"],
        "menu pages by order, then the fixed entries; no contact page, so its form"
    );
    assert!(
        nav.contains(">Fees and insurance</a>"),
        "no label: the title"
    );
    assert!(
        nav.contains("<a href=\"/team\" aria-current=\"page\">Team</a>"),
        "{nav}"
    );
    assert!(
        !html.contains("href=\"/tms\""),
        "no menu entry for a page that is not there"
    );
    // No privacy or accessibility page in this content: no footer link to one.
    assert!(!html.contains("href=\"/privacy\""));
    for link in internal_links(&html) {
        let status = app.get(&link).await.status();
        assert!(status == 200, "{link} answers {status}");
    }
}

/// A JPEG whose EXIF holds a made-up GPS note.
fn photo_with_metadata() -> Vec<u8> {
    use image::ImageEncoder;
    let img = image::RgbImage::from_fn(1200, 800, |x, y| {
        image::Rgb([(x / 5) as u8, (y / 4) as u8, 90])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .write_image(img.as_raw(), 1200, 800, image::ExtendedColorType::Rgb8)
        .unwrap();
    let mut app1 = b"Exif\0\0II*\0\x08\0\0\0\0\0\0\0\0\0GPS 51.5N 0.1W secret".to_vec();
    app1.splice(0..0, ((app1.len() + 2) as u16).to_be_bytes());
    app1.splice(0..0, [0xff, 0xe1]);
    jpeg.splice(2..2, app1);
    jpeg
}

#[tokio::test]
async fn images_are_served_resized_under_hashed_addresses_without_metadata() {
    let content = tempfile::tempdir().unwrap();
    write_content(content.path(), &[]);
    std::fs::create_dir_all(content.path().join("media")).unwrap();
    std::fs::write(content.path().join("media/room.jpg"), photo_with_metadata()).unwrap();
    std::fs::write(
        content.path().join("pages/about.md"),
        page(
            "about",
            "About us",
            "hero = { src = \"media/room.jpg\", alt = \"Our waiting room\" }",
            "Text.\n\n![The room again, from the door](media/room.jpg)",
        ),
    )
    .unwrap();
    let dir = content.path().to_path_buf();
    let app = spawn_app_with(|c| c.content_dir = Some(dir)).await;
    let (_, html) = app.get_text("/about").await;
    let hero = between(&html, "<div class=\"hero-image\">", "</picture>");
    assert!(
        hero.contains("alt=\"Our waiting room\"") && hero.contains("fetchpriority=\"high\""),
        "{hero}"
    );
    assert!(
        hero.contains("width=\"1200\" height=\"800\""),
        "no layout shift: {hero}"
    );
    assert!(!hero.contains("loading=\"lazy\""), "the hero is not lazy");
    let inline = between(&html, "<div class=\"prose\">", "</div>");
    assert!(
        inline.contains("loading=\"lazy\"")
            && inline.contains("alt=\"The room again, from the door\"")
    );

    let urls: Vec<&str> = hero
        .split("srcset=\"")
        .skip(1)
        .flat_map(|s| s.split('"').next().unwrap().split(", "))
        .map(|entry| entry.split(' ').next().unwrap())
        .collect();
    assert!(urls.len() >= 3, "{urls:?}");
    for url in urls {
        assert!(url.starts_with("/media/room-"), "{url}");
        let res = app.get(url).await;
        assert_eq!(res.status(), 200, "{url}");
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let kind = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(kind == "image/jpeg" || kind == "image/webp", "{kind}");
        let body = res.bytes().await.unwrap();
        assert!(
            !body.windows(6).any(|w| w == b"secret"),
            "{url} keeps the EXIF note"
        );
        assert!(!body.windows(4).any(|w| w == b"Exif"), "{url} keeps EXIF");
    }
    assert_eq!(
        app.get("/media/room-480.0000000000.jpg").await.status(),
        404
    );
}

#[tokio::test]
async fn the_theme_colours_the_stylesheet_and_unreadable_colours_stop_start_up() {
    let app = spawn_app_with(|c| c.theme.primary_color = "#2d5a27".into()).await;
    let (_, html) = app.get_text("/").await;
    assert!(html.contains("<meta name=\"theme-color\" content=\"#2d5a27\">"));
    let css = value_after(&html, "<link rel=\"stylesheet\" href=\"");
    let res = app.get(css).await;
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let body = res.text().await.unwrap();
    assert!(
        body.starts_with(":root{--primary:#2d5a27;"),
        "{}",
        &body[..80]
    );
    let logo = value_after(&html, "<a class=\"brand\" href=\"/\"><img src=\"");
    let res = app.get(logo).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert_eq!(
        res.headers()["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'",
        "a drawing opened on its own can run nothing"
    );
    let (_, manifest) = app.get_text("/site.webmanifest").await;
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["theme_color"], "#2d5a27");
    let icon = manifest["icons"][0]["src"].as_str().unwrap();
    assert_eq!(app.get(icon).await.status(), 200);
    assert_eq!(app.get("/favicon.ico").await.status(), 200);

    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), fresh_database_url().await);
    config.theme.primary_color = "#88aacc".into();
    let e = activepath::app::Application::build(config)
        .await
        .err()
        .expect("refused");
    let e = format!("{e:#}");
    assert!(
        e.contains("theme.primary_color: white button text (#ffffff) on primary_color (#88aacc)"),
        "{e}"
    );
    assert!(e.contains("WCAG AA needs at least 4.5:1"), "{e}");
}

fn json_ld(html: &str) -> serde_json::Value {
    let ld = value_after_tag(html, "<script type=\"application/ld+json\">", "</script>");
    serde_json::from_str(ld).unwrap()
}

fn value_after_tag<'a>(html: &'a str, open: &str, close: &str) -> &'a str {
    let at = html.find(open).unwrap() + open.len();
    &html[at..at + html[at..].find(close).unwrap()]
}

#[tokio::test]
async fn team_faq_and_insurance_pages_show_their_parts_to_people_and_search_engines() {
    let app = spawn_app().await;
    let (status, team) = app.get_text("/team").await;
    assert_eq!(status, 200);
    assert!(team.contains("<h2>Dr. Sam Rivera, MD</h2>"));
    assert!(team.contains("<p class=\"role\">Psychotherapist</p>"));
    let ld = json_ld(&team);
    let people = ld["mainEntity"].as_array().unwrap();
    assert_eq!(people.len(), 4);
    assert_eq!(people[0]["@type"], "Physician");
    assert_eq!(people[0]["name"], "Dr. Sam Rivera");
    assert!(
        people[0]["image"]
            .as_str()
            .unwrap()
            .contains("/media/portrait-a-")
    );
    assert_eq!(people[3]["@type"], "Person");
    assert_eq!(people[3]["jobTitle"], "Psychotherapist");

    let (_, faq) = app.get_text("/faq").await;
    let ld = json_ld(&faq);
    assert_eq!(ld["@type"], "FAQPage");
    let questions = ld["mainEntity"].as_array().unwrap();
    assert_eq!(questions.len(), 6);
    assert_eq!(
        questions[0]["name"],
        "Is the online self-assessment a diagnosis?"
    );
    assert!(
        questions[1]["acceptedAnswer"]["text"]
            .as_str()
            .unwrap()
            .contains("+1 555 010 0123")
    );
    assert!(faq.contains("<h2 id=\"q1\">Is the online self-assessment a diagnosis?</h2>"));

    let (_, insurance) = app.get_text("/insurance").await;
    assert!(insurance.contains("<h2 id=\"plans-heading\">Plans we work with</h2>"));
    assert!(insurance.contains("<li>Medicare</li>"));
    // Team and FAQ sit in the footer's menu, insurance in the header's.
    let footer = between(&insurance, "<footer", "</footer>");
    assert!(footer.contains("href=\"/team\"") && footer.contains(">FAQ</a>"));
    let nav = between(&insurance, "<nav", "</nav>");
    assert!(
        nav.contains("<a href=\"/insurance\" aria-current=\"page\">Insurance</a>"),
        "{nav}"
    );
}
