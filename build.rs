//! Computes `CHORUS_BUILD_ID`: a digest of everything that decides what the chorus binary
//! writes (its sources, the built-in theme, the locked dependency versions). `build` keeps
//! it in the site manifest, so a different binary renders every page again instead of
//! leaving pages an older one made. The same commit gives the same id on every machine, so
//! a CI cache of `.chorus-cache/` stays valid between runs of one commit.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// FNV-1a, 64 bits, twice with different seeds: no dependency needed for a build id.
fn digest(parts: &[(String, Vec<u8>)]) -> String {
    let mut out = String::new();
    for seed in [0xcbf2_9ce4_8422_2325u64, 0x6c62_272e_07bb_0142] {
        let mut h = seed;
        for (name, bytes) in parts {
            for b in (name.len() as u64)
                .to_le_bytes()
                .iter()
                .chain(name.as_bytes())
                .chain(&(bytes.len() as u64).to_le_bytes())
                .chain(bytes)
            {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        out.push_str(&format!("{h:016x}"));
    }
    out
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut paths = Vec::new();
    for dir in ["src", "themes/default"] {
        files(&root.join(dir), &mut paths);
        println!("cargo:rerun-if-changed={dir}");
    }
    for file in ["Cargo.lock", "Cargo.toml"] {
        paths.push(root.join(file));
        println!("cargo:rerun-if-changed={file}");
    }
    paths.sort();
    let parts: Vec<(String, Vec<u8>)> = paths
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap_or(p);
            (
                rel.to_string_lossy().replace('\\', "/"),
                std::fs::read(p).unwrap_or_default(),
            )
        })
        .collect();
    println!("cargo:rustc-env=CHORUS_BUILD_ID={}", digest(&parts));
}
