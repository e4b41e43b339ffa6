//! `analysis` makes the Artists' differences visible: palettes, image and statement
//! similarity, distinctive words, simple measures and profiles across groups, drawn as
//! inline SVG. Everything here is pure except `cache`, which stores image signatures
//! under `<root>/.chorus-cache/analysis/`; nothing here writes the site or renders templates.

pub mod cache;
pub mod group;
pub mod image;
pub mod map;
pub mod mds;
pub mod palette;
pub mod profile;
pub mod ratings;
pub mod svg;
pub mod text;
pub mod voice;

pub use cache::{AnalysisError, SignatureCache};
pub use group::{group_analysis, group_numbers, Entry, GroupAnalysis, GroupNumbers};
pub use image::ImageSignature;
pub use profile::{artist_analysis, version_analysis, ArtistAnalysis, RunStats, VersionAnalysis};

/// The blind page's template; themes without it simply have no blind page.
pub const BLIND_TEMPLATE: &str = "analysis/blind.html";

/// Where a group's blind page lives in the output.
pub fn blind_url(group_id: &str) -> String {
    format!("groups/{group_id}/blind.html")
}
