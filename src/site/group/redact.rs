//! Names taken out of text the blind page shows: a statement or image prompt that names
//! its Artist ("As Claude Sonnet 5.5, I…") would undo the shuffle. Pure functions over
//! plain text (Markdown before it is rendered, so the sanitiser still sees the result).

/// What stands where a name was: neutral, readable aloud, and without Markdown meaning.
pub const MARK: &str = "⟨name hidden⟩";

/// Shorter terms are left alone: a two-letter slug would blank out ordinary words.
const MIN_TERM_CHARS: usize = 3;

/// The words to take out, folded to lower case, longest first (so "Claude Sonnet 5.5"
/// goes whole before "claude" could match inside it).
#[derive(Debug, Clone, Default)]
pub struct Redaction {
    terms: Vec<Vec<char>>,
}

impl Redaction {
    /// From every known Artist's name, slug and model id. A model id with a provider
    /// prefix (`anthropic/claude-sonnet-5.5`) also counts without it.
    pub fn of_artists<'a>(artists: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> Self {
        let mut words: Vec<&str> = Vec::new();
        for (name, slug, model) in artists {
            words.extend([name, slug, model]);
            if let Some((_, tail)) = model.rsplit_once('/') {
                words.push(tail);
            }
        }
        let mut terms: Vec<Vec<char>> = words
            .iter()
            .map(|w| fold(w.trim()))
            .filter(|t| t.len() >= MIN_TERM_CHARS)
            .collect();
        terms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        terms.dedup();
        Redaction { terms }
    }

    /// `text` with every whole-word occurrence of a term, in any case, replaced by [`MARK`].
    pub fn apply(&self, text: &str) -> String {
        if self.terms.is_empty() {
            return text.to_string();
        }
        let chars: Vec<char> = text.chars().collect();
        let folded: Vec<char> = chars.iter().map(|c| fold_char(*c)).collect();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            let starts_word = i == 0 || !is_word(chars[i - 1]);
            let hit = starts_word
                .then(|| {
                    self.terms.iter().find(|t| {
                        folded[i..].starts_with(t)
                            && chars.get(i + t.len()).map_or(true, |c| !is_word(*c))
                    })
                })
                .flatten();
            match hit {
                Some(t) => {
                    out.push_str(MARK);
                    i += t.len();
                }
                None => {
                    out.push(chars[i]);
                    i += 1;
                }
            }
        }
        out
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric()
}

/// One char to one char, so positions in the folded text are positions in the original.
fn fold_char(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn fold(s: &str) -> Vec<char> {
    s.chars().map(fold_char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline() -> Redaction {
        Redaction::of_artists([
            ("Offline Minimalist", "offline-minimalist", "minimalist"),
            (
                "Claude Sonnet 5.5",
                "claude-sonnet-5.5",
                "anthropic/claude-sonnet-5.5",
            ),
            ("X", "x", "x"),
        ])
    }

    #[test]
    fn names_slugs_and_models_go_in_any_case() {
        let r = offline();
        assert_eq!(
            r.apply("_Made by the OFFLINE minimalist, seed 3._"),
            format!("_Made by the {MARK}, seed 3._")
        );
        assert_eq!(
            r.apply("I am claude sonnet 5.5 (anthropic/Claude-Sonnet-5.5), a Minimalist."),
            format!("I am {MARK} ({MARK}), a {MARK}.")
        );
        assert_eq!(r.apply("slug offline-minimalist."), format!("slug {MARK}."));
    }

    #[test]
    fn only_whole_words_and_long_enough_terms() {
        let r = offline();
        // "x" is too short to take out; "minimalistic" is another word.
        assert_eq!(r.apply("x marks minimalistic"), "x marks minimalistic");
        assert_eq!(Redaction::default().apply("anything"), "anything");
    }

    #[test]
    fn text_with_other_scripts_keeps_its_place() {
        let r = offline();
        assert_eq!(
            r.apply("İstanbul — Minimalist — ß"),
            format!("İstanbul — {MARK} — ß")
        );
    }
}
