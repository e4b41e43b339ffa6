//! What the preview server adds to pages on their way out: the live-reload script, a
//! banner for problems in runs/, and the error page of a failed build. Only responses are
//! changed; the files on disk stay exactly what `chorus build` writes.

use crate::site::theme::escape_html;

/// Where pages listen for rebuilds, relative to the site root so it works under any base path.
pub const EVENTS_PATH: &str = "__chorus/events";

/// The live-reload script for a page `depth` folders below the site root, served when the
/// site was at `generation`. A `hello` carrying another generation means a rebuild happened
/// while the page was loading or the connection was down, so the page reloads then too.
pub fn reload_script(depth: usize, generation: u64) -> String {
    format!(
        r#"<script data-chorus-live-reload>
(function () {{
  var seen = "{generation}";
  var events = new EventSource("{root}{EVENTS_PATH}");
  events.addEventListener("hello", function (e) {{ if (e.data !== seen) location.reload(); }});
  events.addEventListener("reload", function () {{ location.reload(); }});
}})();
</script>"#,
        root = "../".repeat(depth)
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

const BOX_STYLE: &str =
    "position:fixed;left:1rem;right:1rem;bottom:1rem;z-index:2147483647;max-height:40vh;\
overflow:auto;margin:0;padding:.75rem 1rem;border-radius:6px;font:13px/1.45 ui-monospace,monospace;\
white-space:pre-wrap;box-shadow:0 4px 16px rgba(0,0,0,.3)";

/// A dismissable note listing problems in runs/, so they are seen while previewing.
pub fn problems_banner(problems: &[String]) -> String {
    if problems.is_empty() {
        return String::new();
    }
    format!(
        "<pre data-chorus-problems style=\"{BOX_STYLE};background:#fff4d6;color:#3d2c00;border:1px solid #c9a227\" \
onclick=\"this.remove()\">chorus serve: {} problem(s) in runs/ (click to hide)\n{}</pre>",
        problems.len(),
        escape_html(&problems.join("\n"))
    )
}

/// The page shown instead of the site while the build is broken; it reloads by itself
/// once a rebuild succeeds.
pub fn error_page(message: &str, script: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<title>Build failed · chorus serve</title>\n</head>\n<body style=\"font:15px/1.5 system-ui,sans-serif;margin:2rem\">\n\
<h1>The site could not be built</h1>\n\
<pre data-chorus-error style=\"white-space:pre-wrap;background:#fde8e8;color:#5c0b0b;padding:1rem;border-radius:6px\">{}</pre>\n\
<p>Fix the file and save: this page reloads by itself.</p>\n{script}\n</body>\n</html>\n",
        escape_html(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_goes_before_the_last_body_end_and_finds_the_root() {
        let page = inject("<html><body><p>x</p></BODY></html>", &reload_script(2, 7));
        assert!(page.contains("new EventSource(\"../../__chorus/events\")"));
        assert!(page.find("data-chorus-live-reload").unwrap() < page.find("</BODY>").unwrap());
        assert_eq!(inject("no body", "S"), "no bodyS");
    }

    #[test]
    fn messages_are_escaped() {
        let page = error_page("templates/run.html: <script>alert(1)</script>", "");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(problems_banner(&["<b>".into()]).contains("&lt;b&gt;"));
        assert_eq!(problems_banner(&[]), "");
    }
}
