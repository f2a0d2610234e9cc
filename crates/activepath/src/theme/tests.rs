use super::*;
use crate::config::{FontFile, ThemeConfig};

fn theme(edit: impl FnOnce(&mut ThemeConfig)) -> anyhow::Result<Theme> {
    let mut cfg = ThemeConfig::demo();
    edit(&mut cfg);
    Theme::build(&cfg)
}

fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn the_demo_theme_makes_one_hashed_stylesheet_from_its_colours() {
    let t = theme(|_| {}).unwrap();
    assert!(
        t.css.starts_with("/static/app.") && t.css.ends_with(".css"),
        "{}",
        t.css
    );
    let css = t.assets.get(&t.css).unwrap();
    let text = std::str::from_utf8(&css.body).unwrap();
    assert!(text.starts_with(":root{--primary:#1f5f8b;"), "{text}");
    assert!(text.contains(".button.primary"), "the base sheet follows");
    // The demo logo keeps its square shape at the header's height.
    assert_eq!((t.logo.width, t.logo.height), (44, 44));
    assert_eq!(t.favicon.content_type, "image/svg+xml");
    assert_eq!(t.theme_color(), "#1f5f8b");
    // Another colour, another file name.
    let other = theme(|c| c.primary_color = "#1b4f72".into()).unwrap();
    assert_ne!(other.css, t.css);
}

#[test]
fn a_colour_too_light_for_white_button_text_is_refused_with_the_pair_and_ratio() {
    let e = theme(|c| c.primary_color = "#77aadd".into())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("theme.primary_color: white button text (#ffffff) on primary_color (#77aadd)"),
        "{e}"
    );
    assert!(e.contains("needs at least 4.5:1"), "{e}");
    assert!(e.contains(":1;"), "the ratio is given: {e}");
    // Links on the page fail too, and are listed as well.
    assert!(
        e.contains("links and headings (#77aadd) on the page background"),
        "{e}"
    );
}

#[test]
fn an_accent_too_pale_for_the_current_page_marker_is_refused() {
    let e = theme(|c| c.accent_color = "#ffd9a0".into())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("theme.accent_color: the current-page marker (#ffd9a0) on the white header"),
        "{e}"
    );
    assert!(e.contains("needs at least 3:1"), "{e}");
}

#[test]
fn every_checked_pair_passes_for_a_range_of_dark_primaries() {
    for hex in [
        "#000000", "#1f5f8b", "#2d5a27", "#6b2d5c", "#8a1c1c", "#334155",
    ] {
        let p = Palette::new(Rgb::parse(hex).unwrap(), Rgb::parse("#9c4a1a").unwrap());
        assert!(p.is_ok(), "{hex}: {p:?}");
    }
    // A dark accent gets white text, a light-enough one dark text.
    let dark = Palette::new(WHITE.mix(BLACK, 0.9), Rgb::parse("#9c4a1a").unwrap()).unwrap();
    assert_eq!(dark.on_accent, WHITE);
    let mid = Palette::new(
        Rgb::parse("#1f5f8b").unwrap(),
        Rgb::parse("#c77c02").unwrap(),
    )
    .unwrap();
    assert_eq!(mid.on_accent, INK);
}

#[test]
fn unreadable_colour_text_names_the_setting() {
    let e = theme(|c| c.accent_color = "orange".into())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("theme.accent_color:") && e.contains("#rrggbb"),
        "{e}"
    );
}

#[test]
fn an_svg_logo_that_could_run_anything_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (name, svg) in [
        (
            "a.svg",
            r#"<svg viewBox="0 0 10 10"><script>alert(1)</script></svg>"#,
        ),
        ("b.svg", r#"<svg viewBox="0 0 10 10" onload="x()"></svg>"#),
        (
            "c.svg",
            r#"<svg viewBox="0 0 10 10"><image href="https://x.example/a.png"/></svg>"#,
        ),
        ("d.svg", "just text"),
        ("e.svg", "<svg viewBox=\"0 0 10 10\"\nonload=\"x()\"></svg>"),
        (
            "f.svg",
            r#"<svg viewBox="0 0 10 10"><image href="//x.example/a.png"/></svg>"#,
        ),
        (
            "g.svg",
            r#"<svg viewBox="0 0 10 10"><image xlink:href = 'data:image/png;base64,AA'/></svg>"#,
        ),
        (
            "h.svg",
            r#"<svg viewBox="0 0 10 10"><rect style="fill:url(https://x.example/p)"/></svg>"#,
        ),
    ] {
        let path = file(&dir, name, svg.as_bytes());
        let e = theme(|c| c.logo = Some(path)).unwrap_err().to_string();
        assert!(e.starts_with("theme.logo:"), "{name}: {e}");
    }
    let wide = file(&dir, "wide.svg", br##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 100" onboarding-note="1"><defs><linearGradient id="g"/></defs><rect width="300" height="100" fill="url(#g)"/><use href = "#g"/></svg>"##);
    let t = theme(|c| c.logo = Some(wide)).unwrap();
    assert_eq!((t.logo.width, t.logo.height), (132, 44));
    assert!(t.logo.path.ends_with(".svg"));
}

#[test]
fn a_png_logo_gives_square_png_icons() {
    let dir = tempfile::tempdir().unwrap();
    let png = file(
        &dir,
        "logo.png",
        &crate::content::media::tests::png(400, 200),
    );
    let t = theme(|c| c.logo = Some(png)).unwrap();
    assert_eq!((t.logo.width, t.logo.height), (88, 44));
    assert_eq!(t.favicon.sizes, "32x32");
    let sizes: Vec<&str> = t.manifest_icons.iter().map(|i| i.sizes.as_str()).collect();
    assert_eq!(sizes, ["192x192", "512x512"]);
    for icon in &t.manifest_icons {
        let body = &t.assets.get(&icon.path).unwrap().body;
        let img = image::load_from_memory(body).unwrap();
        assert_eq!(img.width(), img.height());
    }
    assert!(t.apple_touch_icon.is_some());
}

#[test]
fn fonts_must_be_woff2_and_get_a_font_face() {
    let dir = tempfile::tempdir().unwrap();
    let bad = file(&dir, "a.ttf", b"\0\x01\0\0rest");
    let e = theme(|c| {
        c.font_family = Some("Atkinson".into());
        c.fonts = vec![FontFile {
            file: bad,
            weight: 400,
            italic: false,
        }];
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("is not a WOFF2 font file"), "{e}");

    let good = file(&dir, "a.woff2", b"wOF2 not really a font");
    let t = theme(|c| {
        c.font_family = Some("Atkinson".into());
        c.fonts = vec![FontFile {
            file: good.clone(),
            weight: 700,
            italic: false,
        }];
    })
    .unwrap();
    let css = String::from_utf8(t.assets.get(&t.css).unwrap().body.to_vec()).unwrap();
    assert!(
        css.contains("@font-face{font-family:\"Atkinson\";src:url(/static/font."),
        "{css}"
    );
    assert!(
        css.contains("font-weight:700;font-style:normal;font-display:swap"),
        "{css}"
    );
    let e = theme(|c| {
        c.fonts = vec![FontFile {
            file: good,
            weight: 400,
            italic: false,
        }]
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("theme.font_family"), "{e}");
}
