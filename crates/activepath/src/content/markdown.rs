//! Markdown to HTML, then sanitised: the clinic may paste raw HTML, but no
//! script, style, frame or event handler ever reaches a page.

use pulldown_cmark::{Event, Options, Parser, Tag, html};

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

pub fn render(markdown: &str) -> String {
    let options = OPTIONS;
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, Parser::new_ext(markdown, options));
    // Images in the text load only when scrolled to.
    let out = out.replace("<img ", "<img loading=\"lazy\" decoding=\"async\" ");
    ammonia::Builder::default()
        .add_tag_attributes("h2", &["id"])
        .add_tag_attributes("h3", &["id"])
        .add_tag_attributes("img", &["loading", "decoding", "width", "height"])
        .add_tag_attributes("th", &["scope"])
        .link_rel(Some("noopener"))
        .url_schemes(["http", "https", "mailto", "tel", "sms"].into())
        .clean(&out)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn raw_html_is_sanitised() {
        let html = render(
            "Hi <script>alert(1)</script><a href=\"javascript:x()\" onclick=\"y()\">link</a><iframe src=\"https://x\"></iframe>",
        );
        assert!(!html.contains("<script") && !html.contains("alert(1)"));
        assert!(!html.contains("javascript:") && !html.contains("onclick"));
        assert!(!html.contains("<iframe"));
        assert!(html.contains(">link</a>"));
    }

    #[test]
    fn images_load_lazily_and_keep_their_alt_text() {
        let html = render("![A quiet treatment room](/static/room.jpg)");
        assert!(html.contains("loading=\"lazy\""), "{html}");
        assert!(html.contains("alt=\"A quiet treatment room\""), "{html}");
    }

    #[test]
    fn markdown_features_survive() {
        let html = render(
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
