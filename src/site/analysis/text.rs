//! Statements as numbers: words (stop words removed), TF-IDF weights, cosine similarity,
//! each statement's most distinctive words against the others, and simple text measures.
//! Pure functions over strings.

use std::collections::{BTreeMap, BTreeSet};

/// Word → how often it occurs in one statement.
pub type TermCounts = BTreeMap<String, u32>;
/// Word → weight.
pub type Vector = BTreeMap<String, f64>;

/// Common English words that say little about what sets a statement apart (sorted, so
/// lookups can binary-search).
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "even",
    "every",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "let",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "shall",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "within",
    "without",
    "would",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// Lower-cased words of `text`: letters, digits and inner apostrophes; a trailing "'s"
/// is dropped so "Artist's" counts as "artist". Markdown punctuation falls away.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .map(|w| {
            w.trim_matches(|c| c == '\'' || c == '’')
                .to_lowercase()
                .replace('’', "'")
        })
        .map(|w| w.strip_suffix("'s").map(str::to_string).unwrap_or(w))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Counts of the words that carry meaning: no stop words, no numbers, no single letters.
pub fn term_counts(text: &str) -> TermCounts {
    let mut counts = TermCounts::new();
    for w in words(text) {
        if w.chars().count() > 1 && !w.chars().all(|c| c.is_ascii_digit()) && !is_stop_word(&w) {
            *counts.entry(w).or_default() += 1;
        }
    }
    counts
}

/// TF-IDF vectors over `docs`, with the smoothed IDF ln((1+n)/(1+df)) + 1, so a word every
/// statement shares still counts (two identical statements stay similar, not empty).
pub fn tfidf(docs: &[TermCounts]) -> Vec<Vector> {
    let n = docs.len() as f64;
    let mut df: BTreeMap<&str, f64> = BTreeMap::new();
    for d in docs {
        for w in d.keys() {
            *df.entry(w).or_default() += 1.0;
        }
    }
    docs.iter()
        .map(|d| {
            d.iter()
                .map(|(w, &c)| {
                    (
                        w.clone(),
                        f64::from(c) * (((1.0 + n) / (1.0 + df[w.as_str()])).ln() + 1.0),
                    )
                })
                .collect()
        })
        .collect()
}

/// Cosine of the angle between two vectors, clamped to 0–1 (weights are never
/// negative). `None` when either is empty: an empty statement is like nothing.
pub fn cosine(a: &Vector, b: &Vector) -> Option<f64> {
    let norm = |v: &Vector| v.values().map(|x| x * x).sum::<f64>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        return None;
    }
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let dot: f64 = small
        .iter()
        .filter_map(|(w, x)| large.get(w).map(|y| x * y))
        .sum();
    // `+ 0.0` turns the -0.0 of an empty float sum into 0.0, so pages never print "-0.00".
    Some((dot / (na * nb)).clamp(0.0, 1.0) + 0.0)
}

/// Cosine similarity of every pair of statements (TF-IDF over these statements).
/// Statements that are `None` (failed or missing runs) get `None` cells.
pub fn similarity_matrix(statements: &[Option<&str>]) -> Vec<Vec<Option<f64>>> {
    let present: Vec<usize> = (0..statements.len())
        .filter(|&i| statements[i].is_some())
        .collect();
    let counts: Vec<TermCounts> = present
        .iter()
        .map(|&i| term_counts(statements[i].unwrap_or_default()))
        .collect();
    let vectors = tfidf(&counts);
    let mut slot = vec![None; statements.len()];
    for (k, &i) in present.iter().enumerate() {
        slot[i] = Some(&vectors[k]);
    }
    (0..statements.len())
        .map(|i| {
            (0..statements.len())
                .map(|j| match (slot[i], slot[j]) {
                    (Some(a), Some(b)) => cosine(a, b),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// A word and how distinctive it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WordScore {
    pub word: String,
    pub score: f64,
}

/// The `limit` words that most set statement `i` apart from the others: its count of the
/// word × ln((1+others)/(1+others using it)). A word all others use scores 0 and is left
/// out; ties go alphabetically so pages are stable.
pub fn distinctive_words(docs: &[TermCounts], i: usize, limit: usize) -> Vec<WordScore> {
    let Some(doc) = docs.get(i) else {
        return Vec::new();
    };
    let others = docs.len().saturating_sub(1) as f64;
    let mut scored: Vec<WordScore> = doc
        .iter()
        .map(|(w, &c)| {
            let used_by = docs
                .iter()
                .enumerate()
                .filter(|&(j, d)| j != i && d.contains_key(w))
                .count() as f64;
            WordScore {
                word: w.clone(),
                score: f64::from(c) * ((1.0 + others) / (1.0 + used_by)).ln(),
            }
        })
        .filter(|s| s.score > 1e-12)
        .collect();
    scored.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.word.cmp(&b.word))
    });
    scored.truncate(limit);
    scored
}

/// Sentences, counted by their ending punctuation; text without any counts as one.
pub fn sentence_count(text: &str) -> usize {
    let mut count = 0;
    let mut in_end = false;
    let mut seen_word = false;
    for c in text.chars() {
        if matches!(c, '.' | '!' | '?' | '…') {
            if seen_word && !in_end {
                count += 1;
            }
            in_end = true;
            seen_word = false;
        } else {
            in_end = false;
            if c.is_alphanumeric() {
                seen_word = true;
            }
        }
    }
    count + usize::from(seen_word)
}

/// Number of words (stop words included): what a reader would call the length.
pub fn word_count(text: &str) -> usize {
    words(text).len()
}

/// Words that occur in at least two of the given word lists, with how many lists hold
/// each, most frequent first (an Artist's recurring distinctive words across groups).
pub fn recurring(lists: &[Vec<String>], limit: usize) -> Vec<(String, usize)> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for list in lists {
        let unique: BTreeSet<&str> = list.iter().map(String::as_str).collect();
        for w in unique {
            *seen.entry(w).or_default() += 1;
        }
    }
    let mut out: Vec<(String, usize)> = seen
        .into_iter()
        .filter(|&(_, n)| n >= 2)
        .map(|(w, n)| (w.to_string(), n))
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(
            STOP_WORDS.windows(2).all(|w| w[0] < w[1]),
            "STOP_WORDS must stay sorted"
        );
        assert!(is_stop_word("the") && !is_stop_word("river"));
    }

    #[test]
    fn identical_statements_are_fully_similar() {
        let s = "A quiet river under **violet** light; the river remembers.";
        let m = similarity_matrix(&[Some(s), Some(s)]);
        assert!((m[0][1].unwrap() - 1.0).abs() < 1e-12);
        assert!((m[0][0].unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn statements_with_no_shared_words_are_zero() {
        let m = similarity_matrix(&[
            Some("Crimson towers burn."),
            Some("Quiet meadow grass sleeps."),
        ]);
        assert_eq!(m[0][1], Some(0.0));
    }

    #[test]
    fn shared_stop_words_do_not_count_as_similarity() {
        let m = similarity_matrix(&[
            Some("The towers and the sea."),
            Some("The meadow and the sky."),
        ]);
        assert_eq!(m[0][1], Some(0.0));
    }

    #[test]
    fn missing_statements_have_no_cells_and_matrix_is_symmetric() {
        let m = similarity_matrix(&[Some("red sea waves"), None, Some("red sky clouds")]);
        assert_eq!(m[1], vec![None, None, None]);
        assert_eq!(m[0][2], m[2][0]);
        let v = m[0][2].unwrap();
        assert!(v > 0.0 && v < 1.0);
    }

    #[test]
    fn tokens_drop_markdown_numbers_and_possessives() {
        assert_eq!(
            words("# The Artist's *bold* 2 lines"),
            vec!["the", "artist", "bold", "2", "lines"]
        );
        let c = term_counts("The artist's artist, 42 x");
        assert_eq!(
            c.into_iter().collect::<Vec<_>>(),
            vec![("artist".to_string(), 2)]
        );
    }

    #[test]
    fn distinctive_words_are_those_the_others_lack() {
        let docs: Vec<TermCounts> = [
            "sea sea light storm",
            "sea light meadow",
            "sea light desert",
        ]
        .iter()
        .map(|s| term_counts(s))
        .collect();
        let d = distinctive_words(&docs, 0, 5);
        let words: Vec<&str> = d.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(
            words,
            vec!["storm"],
            "sea and light are shared by every statement"
        );
        assert_eq!(
            distinctive_words(&docs[..1], 0, 5),
            vec![],
            "alone, nothing is distinctive"
        );
    }

    #[test]
    fn sentences_are_counted_by_their_ends() {
        assert_eq!(sentence_count("One. Two! Three?"), 3);
        assert_eq!(sentence_count("No end"), 1);
        assert_eq!(sentence_count("Wait... what?!"), 2);
        assert_eq!(sentence_count(""), 0);
    }

    #[test]
    fn recurring_words_need_two_groups() {
        let lists = vec![
            vec!["sea".to_string(), "storm".into()],
            vec!["sea".into()],
            vec!["storm".into(), "sea".into()],
        ];
        assert_eq!(
            recurring(&lists, 5),
            vec![("sea".to_string(), 3), ("storm".to_string(), 2)]
        );
    }
}
