//! Splits an Artist's reply into its statement and final image prompt.
//!
//! Models decorate the markers (`**===ARTIST STATEMENT===**`, `## === Artist Statement ===`),
//! change their case, add CRLF or skip them altogether. The parser tolerates all of that,
//! never panics, and says in `warnings` when it had to guess.

/// What the parser made of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReply {
    pub statement: String,
    pub image_prompt: String,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Statement,
    ImagePrompt,
}

/// Longest image prompt kept when the parser has to guess one from free text.
const GUESS_LIMIT: usize = 600;

pub fn parse_reply(reply: &str) -> ParsedReply {
    let text = reply.replace("\r\n", "\n").replace('\r', "\n");
    let mut statement: Option<Vec<&str>> = None;
    let mut image: Option<Vec<&str>> = None;
    let mut current: Option<Marker> = None;
    let mut preamble: Vec<&str> = Vec::new();

    for line in text.lines() {
        if let Some((marker, rest)) = marker_line(line) {
            current = Some(marker);
            let slot = match marker {
                Marker::Statement => &mut statement,
                Marker::ImagePrompt => &mut image,
            };
            let section = slot.get_or_insert_with(Vec::new);
            if !rest.is_empty() {
                section.push(rest);
            }
            continue;
        }
        match current {
            Some(Marker::Statement) => statement.get_or_insert_with(Vec::new).push(line),
            Some(Marker::ImagePrompt) => image.get_or_insert_with(Vec::new).push(line),
            None => preamble.push(line),
        }
    }

    let mut warnings = Vec::new();
    let statement_marker_seen = statement.is_some();
    let statement_text = statement.as_deref().map(join_section);
    let image_text = image
        .as_deref()
        .map(|l| clean_image_prompt(&join_section(l)));

    let statement = match statement_text {
        Some(s) if !s.is_empty() => s,
        Some(_) => {
            warnings.push("the ===ARTIST STATEMENT=== section is empty".to_string());
            String::new()
        }
        None if image.is_some() => {
            warnings.push(
                "no ===ARTIST STATEMENT=== marker; used the text before the image prompt"
                    .to_string(),
            );
            join_section(&preamble)
        }
        None => {
            warnings.push(
                "the reply has no ===ARTIST STATEMENT=== / ===FINAL IMAGE PROMPT=== markers; \
                 kept the whole reply as the statement"
                    .to_string(),
            );
            text.trim().to_string()
        }
    };

    let image_prompt = match image_text {
        Some(p) if !p.is_empty() => p,
        found => {
            // With no markers at all, the one warning above already says so.
            if found.is_some() {
                warnings.push(
                    "the ===FINAL IMAGE PROMPT=== section is empty; guessed one from the statement"
                        .to_string(),
                );
            } else if statement_marker_seen {
                warnings.push(
                    "no ===FINAL IMAGE PROMPT=== marker; guessed the image prompt from the reply"
                        .to_string(),
                );
            }
            guess_image_prompt(&statement)
        }
    };

    ParsedReply {
        statement,
        image_prompt,
        warnings,
    }
}

/// Recognises a marker line, however decorated, and returns any text after the marker
/// on the same line.
fn marker_line(line: &str) -> Option<(Marker, &str)> {
    let t = line.trim().trim_matches(is_decoration);
    let after_open = t.strip_prefix("==")?.trim_start_matches('=');
    let close = after_open.find('=')?;
    let label = normalise_label(&after_open[..close]);
    let rest = after_open[close..]
        .trim_start_matches('=')
        .trim_matches(|c: char| is_decoration(c) || c == ':')
        .trim();
    let marker = match label.as_str() {
        "artist statement" | "statement" => Marker::Statement,
        "final image prompt" | "image prompt" | "final prompt" => Marker::ImagePrompt,
        _ => return None,
    };
    Some((marker, rest))
}

fn is_decoration(c: char) -> bool {
    c.is_whitespace() || matches!(c, '*' | '_' | '#' | '>' | '`' | '~')
}

fn normalise_label(label: &str) -> String {
    label
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn join_section(lines: &[&str]) -> String {
    lines.join("\n").trim().to_string()
}

/// Models sometimes wrap the prompt in a code fence, quotes or a "Prompt:" label.
fn clean_image_prompt(text: &str) -> String {
    let mut t = text.trim();
    if let Some(inner) = t.strip_prefix("```") {
        let inner = inner.split_once('\n').map_or("", |(_, rest)| rest);
        t = inner.trim_end().trim_end_matches("```").trim();
    }
    for label in ["Prompt:", "prompt:", "PROMPT:"] {
        if let Some(rest) = t.strip_prefix(label) {
            t = rest.trim();
        }
    }
    let t = t.trim_matches(|c: char| {
        matches!(c, '"' | '“' | '”' | '\'' | '*' | '_') || c.is_whitespace()
    });
    t.to_string()
}

/// Best effort when the markers are missing: a paragraph labelled as an image prompt,
/// otherwise the last paragraph, cut at a word boundary.
fn guess_image_prompt(statement: &str) -> String {
    let paragraphs: Vec<&str> = statement
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let labelled = paragraphs.iter().enumerate().find_map(|(i, p)| {
        let lower = p.to_lowercase();
        let pos = lower.find("image prompt")?;
        let after =
            p[pos + "image prompt".len()..].trim_start_matches(|c: char| !c.is_alphanumeric());
        if after.trim().is_empty() {
            paragraphs.get(i + 1).copied()
        } else {
            Some(after)
        }
    });
    let chosen = labelled.or(paragraphs.last().copied()).unwrap_or_default();
    truncate_words(&clean_image_prompt(chosen), GUESS_LIMIT)
}

fn truncate_words(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let head = crate::untrusted::cut_at(text, limit);
    head.rsplit_once(char::is_whitespace)
        .map_or(head, |(h, _)| h)
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_markers() {
        let p = parse_reply(
            "===ARTIST STATEMENT===\nI paint dawn.\n\nIt is quiet.\n===FINAL IMAGE PROMPT===\nA pale sun over mist.\n",
        );
        assert_eq!(p.statement, "I paint dawn.\n\nIt is quiet.");
        assert_eq!(p.image_prompt, "A pale sun over mist.");
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn bold_markers_crlf_and_preamble_like_gpt() {
        let reply = "Certainly! Here is my piece.\r\n\r\n**===ARTIST STATEMENT===**\r\n\r\n*Threshold* is a painting of a station.\r\n\r\n**===FINAL IMAGE PROMPT===**\r\n\r\n\"An empty railway platform at dawn, teal and rose light.\"\r\n";
        let p = parse_reply(reply);
        assert_eq!(p.statement, "*Threshold* is a painting of a station.");
        assert_eq!(
            p.image_prompt,
            "An empty railway platform at dawn, teal and rose light."
        );
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn heading_markers_lowercase_with_spaces_like_claude() {
        let reply = "## === Artist Statement ===\nThe work listens.\n\n### ===final image prompt===\n```\nA glass harbour, oil on linen\n```";
        let p = parse_reply(reply);
        assert_eq!(p.statement, "The work listens.");
        assert_eq!(p.image_prompt, "A glass harbour, oil on linen");
    }

    #[test]
    fn inline_text_after_marker() {
        let p = parse_reply(
            "===ARTIST STATEMENT=== Short one.\n===FINAL IMAGE PROMPT===: Red square on white.",
        );
        assert_eq!(p.statement, "Short one.");
        assert_eq!(p.image_prompt, "Red square on white.");
    }

    #[test]
    fn no_markers_keeps_reply_and_warns() {
        let reply = "I would paint a lighthouse.\n\nImage prompt: a lighthouse in fog, charcoal.";
        let p = parse_reply(reply);
        assert_eq!(p.statement, reply);
        assert_eq!(p.image_prompt, "a lighthouse in fog, charcoal.");
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn no_markers_uses_last_paragraph() {
        let p = parse_reply("First thought.\n\nA blue bird on a wire at dawn.");
        assert_eq!(p.image_prompt, "A blue bird on a wire at dawn.");
        assert!(!p.warnings.is_empty());
    }

    #[test]
    fn only_image_marker() {
        let p = parse_reply("My statement here.\n===FINAL IMAGE PROMPT===\nA tree.");
        assert_eq!(p.statement, "My statement here.");
        assert_eq!(p.image_prompt, "A tree.");
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn empty_and_odd_inputs_never_panic() {
        for reply in [
            "",
            "===",
            "=====",
            "== =",
            "===ARTIST STATEMENT===",
            "===FINAL IMAGE PROMPT===",
            "é===é",
            "\r\r\n",
        ] {
            let _ = parse_reply(reply);
        }
        let long = "word ".repeat(1000);
        assert!(parse_reply(&long).image_prompt.len() <= GUESS_LIMIT);
        let multibyte = "é".repeat(1000);
        assert!(parse_reply(&multibyte).image_prompt.len() <= GUESS_LIMIT);
    }
}
