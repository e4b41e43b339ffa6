//! What every page depends on besides its own group, as one key: the chorus build, the
//! theme, the site settings and the settings that change what listings say (the cap on
//! each voter's weight). A build whose key differs from the last one renders everything.

use crate::config::Project;
use crate::site::engine::incremental::build_id;
use crate::site::render::theme::Theme;
use crate::site::{BuildOptions, SiteContext};

/// Everything every page depends on besides its own group: when it changes, every
/// page is rendered again.
pub(crate) fn settings_key(
    project: &Project,
    opts: &BuildOptions,
    theme: &Theme,
    site: &SiteContext,
) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut feed = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    feed(env!("CARGO_PKG_VERSION").as_bytes());
    feed(build_id().as_bytes());
    for (name, (path, text)) in &theme.sources {
        feed(name.as_bytes());
        feed(path.as_os_str().as_encoded_bytes());
        feed(text.as_bytes());
    }
    for (rel, bytes) in &theme.statics {
        feed(rel.as_os_str().as_encoded_bytes());
        feed(bytes);
    }
    feed(&serde_json::to_vec(site).unwrap_or_default());
    let s = &project.config.site;
    feed(format!("{:?}|{}|{}", s.originals, s.per_page, opts.no_analysis).as_bytes());
    // The leaderboards (and each Artist's rating) weigh votes by it.
    feed(format!("{:?}", project.config.votes.max_weight_per_voter).as_bytes());
    feed(project.runs_dir().as_os_str().as_encoded_bytes());
    // Every blind page takes these names out of its text.
    for a in &project.config.artists {
        feed(format!("{}|{}|{}", a.name, a.slug, a.model).as_bytes());
    }
    crate::store::sha256_hex(&h.finalize())
}
