//! Model output is untrusted: statements are rendered from Markdown with pulldown-cmark
//! (which passes raw HTML through by design) and then sanitised with ammonia, so no
//! script, event handler, `javascript:` URL, iframe, style or image survives.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// Markdown → HTML that is safe to mark `| safe` in a template.
pub fn render_markdown(text: &str) -> String {
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(text, options()));
    // Images go too: a model can only point them at other hosts (blocked by the pages'
    // policy) or at nothing, and an `<img>` without alt text is invalid HTML.
    ammonia::Builder::default()
        .rm_tags(["img"])
        .link_rel(Some("nofollow noopener noreferrer"))
        .url_schemes(["http", "https", "mailto"].into())
        .clean(&html)
        .to_string()
        // A link whose URL was refused keeps its text, but `rel` without `href` is invalid.
        .replace(r#"<a rel="nofollow noopener noreferrer">"#, "<a>")
}

/// The first `limit` characters of the statement as plain text (for excerpts and
/// descriptions); the template escapes it.
pub fn plain_excerpt(text: &str, limit: usize) -> String {
    let mut out = String::new();
    for event in Parser::new_ext(text, options()) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(TagEnd::Paragraph) | Event::End(TagEnd::Heading(_)) => out.push(' '),
            Event::Start(Tag::Item) => out.push(' '),
            _ => {}
        }
        if out.chars().count() > limit {
            break;
        }
    }
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= limit {
        return collapsed;
    }
    let cut: String = collapsed.chars().take(limit).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered_and_scripts_removed() {
        let html = render_markdown(
            "**bold** <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)> <iframe src=//e></iframe><style>body{}</style>",
        );
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(
            html.contains("<a>x</a>"),
            "a refused link keeps no rel: {html}"
        );
        let lower = html.to_lowercase();
        for bad in [
            "<script",
            "javascript:",
            "onerror",
            "<iframe",
            "<style",
            "<img",
        ] {
            assert!(!lower.contains(bad), "{bad} survived: {html}");
        }
    }

    #[test]
    fn excerpt_is_plain_and_cut_at_a_word() {
        assert_eq!(
            plain_excerpt("**Dawn** _over_ the sea.", 100),
            "Dawn over the sea."
        );
        let e = plain_excerpt("one two three four", 9);
        assert_eq!(e, "one two…");
    }
}
