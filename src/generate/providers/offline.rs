//! The built-in offline Artists: four personalities that answer any brief in the same
//! marker format as real models, deterministically from (prompt, personality, seed).
//! They exist so the whole pipeline can be demonstrated and tested with no key.

use std::collections::BTreeMap;

use super::{ArtistProvider, ArtistReply, ArtistRequest, ProviderError, Seeded};
use crate::config::{Artist, Price};
use crate::store::Tokens;

/// A personality: the words it reaches for.
struct Personality {
    key: &'static str,
    name: &'static str,
    mediums: &'static [&'static str],
    colours: &'static [&'static str],
    forms: &'static [&'static str],
    moods: &'static [&'static str],
    beliefs: &'static [&'static str],
}

const PERSONALITIES: &[Personality] = &[
    Personality {
        key: "minimalist",
        name: "Offline Minimalist",
        mediums: &[
            "sumi ink on rice paper",
            "a single screenprint",
            "matte gouache",
            "pencil on white gesso",
        ],
        colours: &["white", "grey", "black", "red", "ivory"],
        forms: &[
            "a single circle",
            "one horizon line",
            "a lone square",
            "an empty field",
        ],
        moods: &["stillness", "restraint", "quiet", "breath"],
        beliefs: &[
            "What is left out carries the weight of the work.",
            "One mark, placed well, is a whole sentence.",
            "Silence is a colour too.",
        ],
    },
    Personality {
        key: "maximalist",
        name: "Offline Maximalist",
        mediums: &[
            "collage and gold leaf",
            "riotous acrylic",
            "mosaic of found glass",
            "layered risograph",
        ],
        colours: &[
            "magenta",
            "orange",
            "gold",
            "turquoise",
            "violet",
            "lime",
            "pink",
            "yellow",
        ],
        forms: &[
            "a dense mosaic of tiles",
            "a grid of patterns",
            "confetti of shapes",
            "stripes over stripes",
        ],
        moods: &["abundance", "joy", "noise", "celebration"],
        beliefs: &[
            "More is the only honest amount.",
            "Every corner deserves a story of its own.",
            "A crowded picture is a generous one.",
        ],
    },
    Personality {
        key: "surrealist",
        name: "Offline Surrealist",
        mediums: &[
            "oil glazes",
            "tempera on panel",
            "airbrushed enamel",
            "photogram and paint",
        ],
        colours: &["violet", "teal", "gold", "indigo", "rose"],
        forms: &[
            "floating orbs",
            "a moon inside a room",
            "waves that climb the sky",
            "circles that hover",
        ],
        moods: &["dream logic", "unease", "wonder", "displacement"],
        beliefs: &[
            "The sleeping mind paints more truthfully than the waking one.",
            "An impossible object tells the truth sideways.",
            "Every window opens onto another window.",
        ],
    },
    Personality {
        key: "naturalist",
        name: "Offline Naturalist",
        mediums: &[
            "plein-air watercolour",
            "oil on linen",
            "etching with aquatint",
            "field-study pastel",
        ],
        colours: &["green", "brown", "ochre", "blue", "grey", "olive"],
        forms: &[
            "layered mountain ridges",
            "a river under mist",
            "a forest horizon",
            "waves on a shore",
        ],
        moods: &["patience", "attention", "weather", "season"],
        beliefs: &[
            "Looking slowly is the first act of care.",
            "The land already composed this; I only listen.",
            "Light changes minute by minute, and the picture must hold one of them.",
        ],
    },
];

/// The Artists `--offline` uses, in registry order.
pub fn offline_roster() -> Vec<Artist> {
    PERSONALITIES
        .iter()
        .map(|p| Artist {
            slug: format!("offline-{}", p.key),
            name: p.name.to_string(),
            provider: "offline".to_string(),
            model: p.key.to_string(),
            temperature: None,
            max_tokens: None,
            base_url: None,
            api_key_env: None,
            price: Price::default(),
            concurrency: None,
            rpm: None,
        })
        .collect()
}

pub struct OfflineArtist {
    personality: &'static Personality,
}

impl OfflineArtist {
    /// `model` names the personality: minimalist, maximalist, surrealist or naturalist.
    pub fn new(model: &str) -> Result<OfflineArtist, ProviderError> {
        PERSONALITIES
            .iter()
            .find(|p| p.key == model)
            .map(|personality| OfflineArtist { personality })
            .ok_or_else(|| ProviderError::Fatal {
                reason: format!(
                    "offline model {model:?} is unknown; use one of: {}",
                    PERSONALITIES
                        .iter()
                        .map(|p| p.key)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }

    fn compose(&self, request: &ArtistRequest) -> String {
        let p = self.personality;
        let mut rng = Seeded::from_parts(&[
            p.key.as_bytes(),
            &request.seed.to_le_bytes(),
            request.prompt.as_bytes(),
        ]);
        let theme = theme_of(&request.prompt);
        let medium = rng.pick(p.mediums);
        let form = rng.pick(p.forms);
        let mood = rng.pick(p.moods);
        let belief = rng.pick(p.beliefs);
        // Three distinct colours: a partial Fisher-Yates shuffle of the personality's own.
        let mut colours = p.colours.to_vec();
        for i in 0..3 {
            let j = i + rng.below(colours.len() - i);
            colours.swap(i, j);
        }
        let (c1, c2, c3) = (colours[0], colours[1], colours[2]);
        let title = format!(
            "{} {}",
            capitalise(mood),
            rng.pick(&["Study", "No. 7", "at First Light", "Variation"])
        );
        format!(
            "===ARTIST STATEMENT===\n\
             **{title}** answers the brief \"{theme}\" with {form}, made in {medium}.\n\n\
             {belief} I kept to {c1}, {c2} and {c3} so that the eye rests on {mood} rather than on detail. \
             The piece is meant to be met slowly: the longer you look, the more the place refuses to be anywhere else.\n\n\
             ===FINAL IMAGE PROMPT===\n\
             {form_cap}, {theme}, rendered as {medium}; palette of {c1}, {c2} and {c3}; mood of {mood}.\n",
            form_cap = capitalise(form),
        )
    }
}

#[async_trait::async_trait]
impl ArtistProvider for OfflineArtist {
    fn params(&self) -> BTreeMap<String, serde_json::Value> {
        BTreeMap::from([("personality".to_string(), self.personality.key.into())])
    }

    async fn write(&self, request: &ArtistRequest) -> Result<ArtistReply, ProviderError> {
        let text = self.compose(request);
        Ok(ArtistReply {
            tokens: Some(Tokens {
                input: word_count(&request.prompt),
                output: word_count(&text),
            }),
            text,
            cost_usd: None,
            request_id: None,
            warnings: Vec::new(),
            model: None,
        })
    }
}

fn word_count(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// The brief's subject (one definition for the whole tool).
fn theme_of(prompt: &str) -> String {
    crate::config::brief_of(prompt)
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::parse::parse_reply;

    fn ask(model: &str, prompt: &str, seed: u64) -> String {
        OfflineArtist::new(model).unwrap().compose(&ArtistRequest {
            prompt: prompt.into(),
            seed,
        })
    }

    #[test]
    fn deterministic_and_distinct() {
        let brief = "Paint \"a harbour at dawn\".";
        assert_eq!(ask("minimalist", brief, 1), ask("minimalist", brief, 1));
        assert_ne!(ask("minimalist", brief, 1), ask("maximalist", brief, 1));
        let replies: std::collections::HashSet<String> =
            (0..8).map(|s| ask("surrealist", brief, s)).collect();
        assert!(replies.len() > 1, "seeds should vary the answer");
    }

    #[test]
    fn answers_in_marker_format() {
        for artist in offline_roster() {
            let reply = ask(&artist.model, "Paint \"a harbour at dawn\".", 3);
            let parsed = parse_reply(&reply);
            assert!(parsed.warnings.is_empty(), "{reply}");
            assert!(parsed.image_prompt.contains("a harbour at dawn"));
        }
    }

    #[test]
    fn offline_artists_do_not_sign() {
        for artist in offline_roster() {
            let reply = ask(&artist.model, "Paint \"a harbour at dawn\".", 12345).to_lowercase();
            assert!(!reply.contains(&artist.name.to_lowercase()), "{reply}");
            assert!(!reply.contains(&artist.model), "{reply}");
            assert!(
                !reply.contains("12345") && !reply.contains("seed"),
                "{reply}"
            );
        }
    }
}
