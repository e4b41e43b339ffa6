//! Text from `runs/` (file names, JSON keys and values) and from models is untrusted: it
//! may hold terminal escape sequences (`ESC [2J` clears a reviewer's screen and can print
//! a fake "ok" line) or bidi controls (an unclosed U+202E reverses the rest of its line,
//! so `harmless\u{202e}nosj.exe` reads as `harmless` + `exe.json`). Every message that
//! quotes such text goes through [`escape_controls`] before a terminal or a page shows it.
//! Pages escape it with [`escape_html`]; every cut of such text to a byte budget is
//! [`cut_at`], so a cut never splits a character.

use std::borrow::Cow;

/// Whether `c` must never be shown raw in a message: C0 controls (newline and tab too: a
/// quoted name must not start a line of its own), DEL, C1 controls, the bidi marks
/// (U+200E, U+200F) and the [`is_bidi_control`]s.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}') || is_bidi_control(c)
}

/// The bidi controls that open a range until a matching pop (or the paragraph's end):
/// embeddings and overrides (U+202A–U+202E) and isolates (U+2066–U+2069). Pages replace
/// them in any text (see `site::render::markdown::scrub_controls`); right-to-left prose needs
/// none of them, and the marks U+200E and U+200F, which open nothing, stay there.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every [`is_unsafe_char`] written as a visible escape, `\u{1b}`, so the
/// reader sees that the character is there and nothing acts on it. Idempotent: the
/// escapes are plain ASCII.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.contains(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`escape_controls`] for a message of several lines chorus wrote itself: its line
/// breaks stay, every other unsafe character is escaped.
pub fn escape_message(text: &str) -> Cow<'_, str> {
    if !text.contains(|c: char| c != '\n' && is_unsafe_char(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.split('\n')
            .map(escape_controls)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Escapes the five HTML-significant characters, for element content and quoted attribute
/// values alike. (Tera's default escaper also turns `/` into `&#x2F;`, which mangles every
/// URL in the page source; these five are what safety needs.)
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// `text` cut to at most `max` bytes, at the character boundary at or before `max`.
pub fn cut_at(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped_visibly_and_once() {
        let fake = "\u{1b}[2J\u{1b}[Hok\u{7f}\u{9b}a\u{202e}b\u{2066}c\u{200f}\n\t";
        let escaped = escape_controls(fake);
        assert_eq!(
            escaped,
            "\\u{1b}[2J\\u{1b}[Hok\\u{7f}\\u{9b}a\\u{202e}b\\u{2066}c\\u{200f}\\u{a}\\u{9}"
        );
        assert_eq!(escape_controls(&escaped), escaped, "idempotent");
        assert!(matches!(escape_controls("plain — é ✓"), Cow::Borrowed(_)));
        // Right-to-left text itself is kept: only the controls are escaped.
        assert_eq!(escape_controls("שלום"), "שלום");
        assert_eq!(escape_message("a\u{1b}\nb"), "a\\u{1b}\nb");
    }
}
