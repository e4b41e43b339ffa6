//! `store` owns the `runs/` format, the contract between `generate` and `build`:
//! `runs/<group-id>/group.json`, one `<artist-slug>.json` per run and the image beside it.
//! It reads (collecting every problem), validates and writes atomically; it never renders
//! HTML or calls the network.

mod files;
mod leftovers;
mod paid;
mod read;
mod schema;
pub mod votes;

use std::path::{Path, PathBuf};

pub use files::*;
pub use leftovers::{clean_leftovers, leftovers};
pub use paid::{read_paid, remove_paid, write_paid, PaidImage, Waiting, PAID_PREFIX};
pub use read::{
    group_dirs, group_order, load_group_dir, load_runs, newest_first, order_key, scan_groups,
    LoadedGroup, RunsTree, StoreProblem, IMAGE_EXTENSIONS,
};
pub use schema::*;

/// The schemaVersion this build writes and the newest it reads.
pub const SCHEMA_VERSION: u32 = 1;
pub const GROUP_FILE: &str = "group.json";

/// Serialises a record the one way chorus does: pretty, fields in declaration order,
/// trailing newline, so `git diff` shows only real changes.
pub fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).expect("records always serialise");
    out.push(b'\n');
    out
}

pub fn group_dir(runs_dir: &Path, group_id: &uuid::Uuid) -> PathBuf {
    runs_dir.join(group_id.to_string())
}

pub fn run_file(group_dir: &Path, artist_slug: &str) -> PathBuf {
    group_dir.join(format!("{artist_slug}.json"))
}

/// The image's file name comes from the slug and the decoded format, never from
/// anything a provider said.
pub fn image_file_name(artist_slug: &str, extension: &str) -> String {
    format!("{artist_slug}.{extension}")
}

pub fn write_group(runs_dir: &Path, group: &GroupRecord) -> std::io::Result<()> {
    write_under(
        runs_dir,
        &group_dir(runs_dir, &group.run_group_id).join(GROUP_FILE),
        &to_json(group),
    )
}

pub fn write_run(runs_dir: &Path, run: &RunRecord) -> std::io::Result<()> {
    write_under(
        runs_dir,
        &run_file(&group_dir(runs_dir, &run.run_group_id), &run.artist_slug),
        &to_json(run),
    )
}

/// Hex SHA-256, used for prompt hashes and content-addressed caches.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
