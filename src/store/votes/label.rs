//! Voter labels are typed or pasted by anyone, shown on the leaderboard and quoted in
//! messages, so they are cleaned rather than trusted: one rule, written twice, here and
//! in `themes/default/static/votes.js` (`cleanLabel`), so that a label the page cleaned
//! is a label import leaves alone. Import cleans instead of refusing: a browser puts its
//! label on every later vote, so a refusal would refuse all of them (issue 26).

/// The longest voter label, in characters (code points, not UTF-16 units).
pub const MAX_VOTER_CHARS: usize = 64;
/// What a vote says when the viewer gave no label.
pub const ANONYMOUS: &str = "anonymous";

/// Characters that read as a space: the Unicode White_Space set. Tabs and line breaks
/// come in with pasted text.
fn is_space(c: char) -> bool {
    matches!(c,
        '\u{9}'..='\u{d}' | ' ' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// Characters a label never keeps: the other control characters; the bidirectional
/// marks, embeddings, overrides and isolates, which would reorder the text around the
/// label on a page or a terminal; the byte-order mark; and U+FFFD, which stands where a
/// broken character was (a lone surrogate, see [`mend_lone_surrogates`]).
fn is_dropped(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            | '\u{feff}' | '\u{fffd}')
}

/// The label as chorus keeps it: spaces for whitespace (runs of it made one), dropped
/// characters gone, trimmed, at most [`MAX_VOTER_CHARS`] characters, and
/// [`ANONYMOUS`] when nothing is left.
pub fn clean_voter(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut chars = 0;
    for c in label.chars() {
        let c = if is_space(c) { ' ' } else { c };
        if is_dropped(c) || (c == ' ' && (out.is_empty() || out.ends_with(' '))) {
            continue;
        }
        if chars == MAX_VOTER_CHARS {
            break;
        }
        out.push(c);
        chars += 1;
    }
    let kept = out.trim_end_matches(' ').len();
    out.truncate(kept);
    if out.is_empty() {
        ANONYMOUS.to_string()
    } else {
        out
    }
}

/// JSON text with every `\uD800`–`\uDFFF` escape that is not half of a pair replaced by
/// `\uFFFD`. A browser's `JSON.stringify` writes a lone surrogate that way (a label cut
/// in the middle of an emoji), and serde_json refuses the whole text for it; mended, the
/// one bad string is a string again and the rest of the file parses. `None` when there
/// is nothing to mend.
pub fn mend_lone_surrogates(json: &[u8]) -> Option<Vec<u8>> {
    let unit = |at: usize| -> Option<u16> {
        let hex = json.get(at..at + 4)?;
        u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    };
    // An escape `\uXXXX` at `at` (the backslash) and its code unit.
    let escape = |at: usize| -> Option<u16> {
        (json.get(at) == Some(&b'\\') && json.get(at + 1) == Some(&b'u'))
            .then(|| unit(at + 2))
            .flatten()
    };
    let mut out: Option<Vec<u8>> = None;
    let (mut i, mut in_string) = (0, false);
    while i < json.len() {
        let b = json[i];
        if !in_string || b != b'\\' {
            in_string ^= b == b'"';
            if let Some(o) = out.as_mut() {
                o.push(b);
            }
            i += 1;
            continue;
        }
        let len = match escape(i) {
            // A pair: both halves are kept.
            Some(0xd800..=0xdbff)
                if escape(i + 6).is_some_and(|lo| (0xdc00..=0xdfff).contains(&lo)) =>
            {
                12
            }
            Some(0xd800..=0xdfff) => {
                let o = out.get_or_insert_with(|| json[..i].to_vec());
                o.extend_from_slice(b"\\ufffd");
                i += 6;
                continue;
            }
            Some(_) => 6,
            None => 2,
        };
        let end = (i + len).min(json.len());
        if let Some(o) = out.as_mut() {
            o.extend_from_slice(&json[i..end]);
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_lose_controls_direction_marks_and_length_but_keep_their_text() {
        assert_eq!(clean_voter("  Ada\tLovelace\r\n"), "Ada Lovelace");
        assert_eq!(clean_voter("\u{202e}evil\u{2066}"), "evil");
        assert_eq!(clean_voter(""), ANONYMOUS);
        assert_eq!(clean_voter("\u{1b}[2J"), "[2J");
        assert_eq!(clean_voter("\u{fffd}\t"), ANONYMOUS);
        // Code points, not bytes or UTF-16 units: 64 emoji stay 64 emoji.
        let emoji = "😀".repeat(70);
        assert_eq!(clean_voter(&emoji).chars().count(), MAX_VOTER_CHARS);
        // A cut never leaves a trailing space.
        let spaced = format!("{} b", "a".repeat(63));
        assert_eq!(clean_voter(&spaced), "a".repeat(63));
        // Joiners inside emoji sequences are not direction marks.
        assert_eq!(clean_voter("👩\u{200d}💻"), "👩\u{200d}💻");
        for good in ["alice", "Zoë K.", "匿名"] {
            assert_eq!(clean_voter(good), good);
        }
    }

    #[test]
    fn only_lone_surrogate_escapes_are_mended() {
        let mend =
            |s: &str| mend_lone_surrogates(s.as_bytes()).map(|b| String::from_utf8(b).unwrap());
        assert_eq!(mend(r#"{"a":"x\ud83d"}"#).unwrap(), r#"{"a":"x\ufffd"}"#);
        assert_eq!(
            mend(r#"["\udc00\ud800z"]"#).unwrap(),
            r#"["\ufffd\ufffdz"]"#
        );
        assert_eq!(mend(r#"["\ud83d\ude00", "\\ud83d", "\u00e9"]"#), None);
        // Outside a string nothing is an escape; an escaped quote does not end one.
        assert_eq!(mend(r#"{"k\"\ud800":1}"#).unwrap(), r#"{"k\"\ufffd":1}"#);
        let mended = mend(r#"{"voter":"x\ud83d"}"#).unwrap();
        let v: serde_json::Value = serde_json::from_str(&mended).unwrap();
        assert_eq!(clean_voter(v["voter"].as_str().unwrap()), "x");
    }
}
