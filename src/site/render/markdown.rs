//! Model output is untrusted: statements are rendered from Markdown with pulldown-cmark
//! (which passes raw HTML through by design) and then sanitised with ammonia, so no
//! script, event handler, `javascript:` URL, iframe or style survives, and nothing in a
//! statement makes a reader's browser load anything: Markdown images become links and
//! `<img>` is dropped.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// Markdown → HTML that is safe to mark `| safe` in a template. At most
/// `store::MAX_STATEMENT_BYTES` of `text` are rendered.
pub fn render_markdown(text: &str) -> String {
    let text = cut_at(text, crate::store::MAX_STATEMENT_BYTES);
    let mut html = String::new();
    // An image would be fetched from wherever the model pointed (a tracker, say): it
    // becomes a link the reader may choose to follow.
    let events = Parser::new_ext(text, options()).flat_map(|event| match event {
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => vec![
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }),
            Event::Text("image: ".into()),
        ],
        Event::End(TagEnd::Image) => vec![Event::End(TagEnd::Link)],
        other => vec![other],
    });
    pulldown_cmark::html::push_html(&mut html, events);
    let clean = ammonia::Builder::default()
        .rm_tags(["img", "map", "area"])
        .link_rel(Some("nofollow noopener noreferrer"))
        .url_schemes(["http", "https", "mailto"].into())
        .clean(&html)
        .to_string()
        // A link whose URL was refused keeps its text, but `rel` without `href` is invalid.
        .replace(r#"<a rel="nofollow noopener noreferrer">"#, "<a>");
    scrub_controls(&clean).into_owned()
}

use crate::untrusted::cut_at;

/// Replaces control characters other than tab, newline and carriage return (NUL among
/// them) with U+FFFD: they are parse errors in HTML and invalid in XML, and escaping does
/// not remove them. So are the bidi embeddings, overrides and isolates: an unclosed
/// U+202E in a name would show the rest of its line reversed.
pub fn scrub_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || crate::untrusted::is_bidi_control(c)
    };
    if text.contains(bad) {
        text.replace(bad, "\u{FFFD}").into()
    } else {
        text.into()
    }
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
    fn nothing_remote_is_loaded_and_no_image_lacks_alt() {
        let html = render_markdown(
            "![](https://tracker.example/a.png) <img src=https://tracker.example/b.png> <img src=x> \
             <picture><source srcset=https://tracker.example/c.png></picture> \
             <video src=https://tracker.example/d.mp4></video> <a href=https://example.org/>ok</a>",
        );
        let lower = html.to_lowercase();
        for bad in ["<img", "src=", "srcset", "<source", "<video", "<picture"] {
            assert!(!lower.contains(bad), "{bad} survived: {html}");
        }
        // The Markdown image is still there, as a link the reader may follow.
        assert!(
            html.contains("href=\"https://tracker.example/a.png\""),
            "{html}"
        );
        assert!(html.contains("image: "), "{html}");
    }

    #[test]
    fn control_characters_never_reach_a_page() {
        let html = render_markdown("a\u{0}b\u{7}c\u{85}d\ne");
        assert!(!html.contains(['\u{0}', '\u{7}', '\u{85}']), "{html:?}");
        assert!(html.contains("b\u{FFFD}c"), "{html:?}");
        assert_eq!(scrub_controls("tab\tok\n"), "tab\tok\n");
    }

    #[test]
    fn long_statements_are_cut_at_a_character() {
        let long = "é".repeat(crate::store::MAX_STATEMENT_BYTES);
        let cut = cut_at(&long, crate::store::MAX_STATEMENT_BYTES);
        assert!(cut.len() <= crate::store::MAX_STATEMENT_BYTES && cut.len() % 2 == 0);
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
