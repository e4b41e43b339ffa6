//! The one way chorus writes files: atomically (temp file + rename in the same folder),
//! so a crash or Ctrl-C never leaves a half-written record, page or image.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Temp files start with this prefix; readers skip them.
pub const TEMP_PREFIX: &str = ".chorus-tmp-";

fn temp_path(path: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!("{TEMP_PREFIX}{}-{n}-{name}", std::process::id()))
}

/// Writes `bytes` to `path` via a temp file in the same folder and a rename, creating
/// the folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_renamed(path, bytes, true)
}

fn write_renamed(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Like [`write_atomic`], but leaves the file (and its mtime) alone when the content is
/// already what it should be. Returns whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    match std::fs::read(path) {
        Ok(existing) if existing == bytes => Ok(false),
        _ => write_atomic(path, bytes).map(|_| true),
    }
}

/// For files a build can always make again (the site, the thumbnail cache): the same
/// compare, temp file and rename as [`write_if_changed`], but no fsync. A killed build
/// still never leaves a half-written file under the real name; a power cut may lose
/// what was written last, which the next build makes again. An fsync per file made
/// the thumbnail and page writes several times slower than the image work itself.
pub fn write_rebuildable(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    match std::fs::read(path) {
        Ok(existing) if existing == bytes => Ok(false),
        _ => write_renamed(path, bytes, false).map(|_| true),
    }
}

/// Refuses a folder chorus is about to write into (the output, the cache) when it, or a
/// folder directly inside it, is a symbolic link: a link committed to git under those
/// names would make a build write, and prune, outside the project.
pub fn refuse_linked_folder(dir: &Path) -> Result<(), String> {
    let is_link = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    let explain = |p: &Path| {
        format!(
            "{} is a symbolic link; chorus never writes through links (delete the link, or choose \
             another folder with --out)",
            p.display()
        )
    };
    if is_link(dir) {
        return Err(explain(dir));
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            if entry.file_type().is_ok_and(|t| t.is_symlink()) {
                return Err(explain(&entry.path()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_temp_and_skips_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/a.json");
        write_atomic(&p, b"one").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        assert!(!write_if_changed(&p, b"one").unwrap());
        assert!(write_if_changed(&p, b"two").unwrap());
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
    }
}
