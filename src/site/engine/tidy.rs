//! What a full build lets go of in its own state: the cards and voice features of groups
//! no longer in the manifest, and prompt texts no group uses. Only `.chorus-cache/`, never
//! `runs/` or the output.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::site::engine::manifest::Manifest;
use crate::site::group::{card_path, numbers_path};
use crate::site::listings::voice::{features_dir, features_path};

/// Removes the cards and voice features of groups no longer in the manifest.
pub(crate) fn prune_cards(state: &Path, manifest: &Manifest) {
    let dir = state.join("cards");
    let keep: BTreeSet<PathBuf> = manifest
        .named_summaries()
        .flat_map(|(_, s)| {
            [
                card_path(&dir, &s.id),
                numbers_path(&dir, &s.id),
                features_path(state, &s.id),
            ]
        })
        .collect();
    for dir in [dir.clone(), features_dir(state)] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if !keep.contains(&entry.path()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Forgets the prompt texts no group in the manifest uses.
pub(crate) fn forget_unused_prompts(manifest: &mut Manifest) {
    let used: BTreeSet<String> = manifest
        .named_summaries()
        .map(|(_, s)| s.prompt_sha256.clone())
        .collect();
    manifest.prompt_texts.retain(|k, _| used.contains(k));
}
