//! What the preview server adds to pages on their way out: the live-reload script, a
//! banner for problems in runs/, and the error page of a failed build. Only responses are
//! changed; the files on disk stay exactly what `chorus build` writes. Everything added
//! is markup that points at files the server itself answers (`__chorus/…`): the pages'
//! Content-Security-Policy allows no inline script or style, and the preview keeps it.

use crate::untrusted::escape_html;

/// Where pages listen for rebuilds, relative to the site root so it works under any base path.
pub const EVENTS_PATH: &str = "__chorus/events";
/// The live-reload script (also hides the problem banner on click).
pub const SCRIPT_PATH: &str = "__chorus/reload.js";
/// The banner's and the error page's styles.
pub const STYLE_PATH: &str = "__chorus/serve.css";

/// The body of [`SCRIPT_PATH`]. It reads where to listen and which generation its page
/// was served at from its own `<script>` element. A `hello` carrying another generation
/// means a rebuild happened while the page was loading or the connection was down, so
/// the page reloads then too.
pub const SCRIPT: &str = r#"(function () {
  "use strict";
  var me = document.currentScript;
  var seen = me.getAttribute("data-generation");
  var events = new EventSource(me.getAttribute("data-events"));
  events.addEventListener("hello", function (e) { if (e.data !== seen) location.reload(); });
  events.addEventListener("reload", function () { location.reload(); });
  document.addEventListener("click", function (e) {
    var banner = e.target.closest && e.target.closest("[data-chorus-problems]");
    if (banner) banner.remove();
  });
})();
"#;

/// The body of [`STYLE_PATH`].
pub const STYLE: &str = "[data-chorus-problems]{position:fixed;left:1rem;right:1rem;bottom:1rem;\
z-index:2147483647;max-height:40vh;overflow:auto;margin:0;padding:.75rem 1rem;border-radius:6px;\
font:13px/1.45 ui-monospace,monospace;white-space:pre-wrap;box-shadow:0 4px 16px rgba(0,0,0,.3);\
background:#fff4d6;color:#3d2c00;border:1px solid #c9a227;cursor:pointer}\n\
body.chorus-error{font:15px/1.5 system-ui,sans-serif;margin:2rem}\n\
[data-chorus-error]{white-space:pre-wrap;background:#fde8e8;color:#5c0b0b;padding:1rem;border-radius:6px}\n";

/// The live-reload script for a page `depth` folders below the site root, served when the
/// site was at `generation`.
pub fn reload_script(depth: usize, generation: u64) -> String {
    let root = "../".repeat(depth);
    format!(
        "<script src=\"{root}{SCRIPT_PATH}\" data-chorus-live-reload \
data-events=\"{root}{EVENTS_PATH}\" data-generation=\"{generation}\"></script>"
    )
}

/// Inserts `snippet` before the last `</body>`, or at the end when there is none.
pub fn inject(html: &str, snippet: &str) -> String {
    let at = html
        .to_ascii_lowercase()
        .rfind("</body>")
        .unwrap_or(html.len());
    let mut out = String::with_capacity(html.len() + snippet.len());
    out.push_str(&html[..at]);
    out.push_str(snippet);
    out.push_str(&html[at..]);
    out
}

/// A note listing problems in runs/ (click to hide), so they are seen while previewing.
/// `depth` finds the stylesheet.
pub fn problems_banner(problems: &[String], depth: usize) -> String {
    if problems.is_empty() {
        return String::new();
    }
    format!(
        "<link rel=\"stylesheet\" href=\"{}{STYLE_PATH}\">\
<pre data-chorus-problems>chorus serve: {} problem(s) in runs/ (click to hide)\n{}</pre>",
        "../".repeat(depth),
        problems.len(),
        escape_html(&problems.join("\n"))
    )
}

/// The page shown instead of the site while the build is broken; it reloads by itself
/// once a rebuild succeeds.
pub fn error_page(message: &str, script: &str, depth: usize) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<title>Build failed · chorus serve</title>\n<link rel=\"stylesheet\" href=\"{}{STYLE_PATH}\">\n\
</head>\n<body class=\"chorus-error\">\n<h1>The site could not be built</h1>\n\
<pre data-chorus-error>{}</pre>\n\
<p>Fix the file and save: this page reloads by itself.</p>\n{script}\n</body>\n</html>\n",
        "../".repeat(depth),
        escape_html(message)
    )
}

/// The Content-Security-Policy a page declares in its `<meta>`, so the server can send
/// the very same policy as a header.
pub fn page_csp(html: &str) -> Option<String> {
    let head = &html[..html.len().min(4096)];
    let at = head.find("http-equiv=\"Content-Security-Policy\"")?;
    let rest = &head[at..];
    let start = rest.find("content=\"")? + "content=\"".len();
    let end = rest[start..].find('"')?;
    Some(
        rest[start..start + end]
            .replace("&#x27;", "'")
            .replace("&#39;", "'"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_goes_before_the_last_body_end_and_finds_the_root() {
        let page = inject("<html><body><p>x</p></BODY></html>", &reload_script(2, 7));
        assert!(page.contains("src=\"../../__chorus/reload.js\""));
        assert!(page.contains("data-events=\"../../__chorus/events\""));
        assert!(page.find("data-chorus-live-reload").unwrap() < page.find("</BODY>").unwrap());
        assert_eq!(inject("no body", "S"), "no bodyS");
    }

    #[test]
    fn nothing_added_is_inline_script_or_style() {
        let added = format!(
            "{}{}{}",
            reload_script(1, 1),
            problems_banner(&["p".into()], 1),
            error_page("e", "", 1)
        );
        assert!(!added.contains("style="), "{added}");
        assert!(!added.contains("onclick"), "{added}");
        assert!(!added.contains("<script>"), "{added}");
        assert!(!added.contains("<style"), "{added}");
    }

    #[test]
    fn messages_are_escaped() {
        let page = error_page("templates/run.html: <script>alert(1)</script>", "", 0);
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(problems_banner(&["<b>".into()], 0).contains("&lt;b&gt;"));
        assert_eq!(problems_banner(&[], 0), "");
    }

    #[test]
    fn the_page_policy_is_read_back() {
        let html = "<head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src &#x27;self&#x27;\">";
        assert_eq!(page_csp(html).as_deref(), Some("default-src 'self'"));
        assert_eq!(page_csp("<p>none</p>"), None);
    }
}
