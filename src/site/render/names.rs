//! Which name an Artist goes by, decided here for every page.
//!
//! - A group's own pages (its compare grid, blind page, run pages, its card on the index)
//!   show the names its `group.json` gives: they record what the group was made with.
//! - Pages about many groups (the Artists' pages and index, the leaderboards, the prompt
//!   versions' pages with their voice, profiles and matrices, the index's Artist filter)
//!   show one name per slug: chorus.toml's display name when the Artist is configured
//!   there, else the name in the newest group that has the Artist.
//!
//! So a `group.json` can rename an Artist on its own pages, and across the site only for
//! an Artist chorus.toml no longer lists, and only while it is the newest such group;
//! never on another group's pages.

use std::collections::BTreeMap;

use crate::config::Artist;

/// chorus.toml's display names, by slug.
#[derive(Debug, Clone, Default)]
pub struct Names {
    configured: BTreeMap<String, String>,
}

impl Names {
    pub fn new(configured: &[Artist]) -> Names {
        Names {
            configured: configured
                .iter()
                .map(|a| (a.slug.clone(), a.name.clone()))
                .collect(),
        }
    }

    /// The name on pages about many groups; `newest` is the name in the newest group
    /// that has the Artist.
    pub fn across_groups(&self, slug: &str, newest: &str) -> String {
        self.configured
            .get(slug)
            .cloned()
            .unwrap_or_else(|| newest.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chorus_toml_wins_then_the_newest_group() {
        let mut artist = crate::generate::providers::offline_roster().remove(0);
        artist.name = "Configured".into();
        let names = Names::new(&[artist.clone()]);
        assert_eq!(
            names.across_groups(&artist.slug, "From group.json"),
            "Configured"
        );
        assert_eq!(
            names.across_groups("gone", "From group.json"),
            "From group.json"
        );
    }
}
