//! Markdown to HTML, then sanitised: the clinic may paste raw HTML, but no
//! script, style, frame or event handler ever reaches a page.

use super::Media;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

const OPTIONS: Options = Options::ENABLE_TABLES
    .union(Options::ENABLE_STRIKETHROUGH)
    .union(Options::ENABLE_SMART_PUNCTUATION)
    .union(Options::ENABLE_HEADING_ATTRIBUTES);

/// The links to this site (starting with one `/`) in `markdown`: the path
/// without query or fragment, and the line (from 0) it is on.
pub fn local_links(markdown: &str) -> Vec<(String, usize)> {
    Parser::new_ext(markdown, OPTIONS)
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::Link { dest_url, .. })
                if dest_url.starts_with('/') && !dest_url.starts_with("//") =>
            {
                let path = dest_url.split(['?', '#']).next().unwrap_or("").to_string();
                Some((path, markdown[..range.start].matches('\n').count()))
            }
            _ => None,
        })
        .collect()
}

/// The words of `markdown`, without markup (for search engines' answers).
pub fn plain_text(markdown: &str) -> String {
    let mut out = String::new();
    for event in Parser::new_ext(markdown, OPTIONS) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(TagEnd::Paragraph | TagEnd::Item) => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sizes of an image in the text: the text column is at most 46rem wide.
const PROSE_SIZES: &str = "(min-width: 48rem) 46rem, 100vw";

/// Renders `markdown`, with images from `media` as responsive `<picture>`s.
/// An image with no alt text (unless its title says "decorative"), or one
/// that is not in the media folder, is an error with its line (from 0).
pub fn render(markdown: &str, media: &Media) -> Result<String, (usize, String)> {
    let mut events = Vec::new();
    let mut parser = Parser::new_ext(markdown, OPTIONS).into_offset_iter();
    while let Some((event, range)) = parser.next() {
        let Event::Start(Tag::Image {
            dest_url, title, ..
        }) = event
        else {
            events.push(event);
            continue;
        };
        let line = markdown[..range.start].matches('\n').count();
        // The alt text is the image's inner text, up to its end.
        let mut alt = String::new();
        for (inner, _) in parser.by_ref() {
            match inner {
                Event::End(TagEnd::Image) => break,
                Event::Text(t) | Event::Code(t) => alt.push_str(&t),
                Event::SoftBreak | Event::HardBreak => alt.push(' '),
                _ => {}
            }
        }
        let alt = alt.trim();
        let image = media
            .get(&dest_url)
            .ok_or_else(|| (line, super::media::missing(&dest_url, media)))?;
        if alt.is_empty() && !title.eq_ignore_ascii_case("decorative") {
            return Err((
                line,
                format!(
                    "the image {dest_url} has no alt text: describe it, as ![A quiet treatment room]({dest_url}), \
                     or mark it as decoration only, as ![]({dest_url} \"decorative\")"
                ),
            ));
        }
        events.push(Event::Html(image.html(alt, PROSE_SIZES, false).into()));
    }
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events.into_iter());
    Ok(clean(&out))
}

/// Sanitises HTML written by the clinic (Markdown may hold raw HTML).
fn clean(html: &str) -> String {
    ammonia::Builder::default()
        .add_tags(["picture", "source"])
        .add_tag_attributes("source", &["type", "srcset", "sizes"])
        .add_tag_attributes("h2", &["id"])
        .add_tag_attributes("h3", &["id"])
        .add_tag_attributes(
            "img",
            &["loading", "decoding", "width", "height", "srcset", "sizes"],
        )
        .add_tag_attributes("th", &["scope"])
        .link_rel(Some("noopener"))
        .url_schemes(["http", "https", "mailto", "tel", "sms"].into())
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::{Media, render};

    fn md(text: &str) -> String {
        render(text, &Media::default()).unwrap()
    }

    #[test]
    fn raw_html_is_sanitised() {
        let html = md(
            "Hi <script>alert(1)</script><a href=\"javascript:x()\" onclick=\"y()\">link</a><iframe src=\"https://x\"></iframe>",
        );
        assert!(!html.contains("<script") && !html.contains("alert(1)"));
        assert!(!html.contains("javascript:") && !html.contains("onclick"));
        assert!(!html.contains("<iframe"));
        assert!(html.contains(">link</a>"));
    }

    #[test]
    fn images_come_from_the_media_folder_with_sizes_and_alt_text() {
        let media = Media::build(vec![(
            "room.png".into(),
            crate::content::media::tests::png(1000, 500),
        )])
        .unwrap();
        let html = render("Text\n\n![A quiet room & a chair](media/room.png)", &media).unwrap();
        assert!(html.contains("<picture>"), "{html}");
        assert!(html.contains("loading=\"lazy\""), "{html}");
        assert!(
            html.contains("alt=\"A quiet room &amp; a chair\""),
            "{html}"
        );
        assert!(html.contains("width=\"1000\" height=\"500\""), "{html}");
        assert!(html.contains(" 480w, /media/room-960."), "{html}");
        assert!(
            html.contains("sizes=\"(min-width: 48rem) 46rem, 100vw\""),
            "{html}"
        );

        // Decoration says so; no alt at all is an error with the line.
        let html = render("![](media/room.png \"decorative\")", &media).unwrap();
        assert!(html.contains("alt=\"\""), "{html}");
        let (line, message) = render("a\n\nb ![](media/room.png)", &media).unwrap_err();
        assert_eq!(line, 2);
        assert!(message.contains("no alt text"), "{message}");

        // A missing file, or one on another server, is an error naming what is there.
        let (_, message) = render("![Room](media/rooom.png)", &media).unwrap_err();
        assert!(message.contains("holds room.png"), "{message}");
        let (_, message) = render("![Room](https://cdn.example/room.png)", &media).unwrap_err();
        assert!(message.contains("nothing from other servers"), "{message}");
    }

    #[test]
    fn markdown_features_survive() {
        let html = md(
            "## Combining {#combining}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[call](tel:+15550100123)",
        );
        assert!(
            html.contains("<h2 id=\"combining\">Combining</h2>"),
            "{html}"
        );
        assert!(html.contains("<table>"));
        assert!(html.contains("href=\"tel:+15550100123\""));
    }
}
