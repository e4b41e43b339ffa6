//! How chorus opens anything under `runs/`, which arrives through pull requests and is
//! untrusted: only regular files (never a symlink, FIFO or device, so a link cannot
//! publish a file from elsewhere and a FIFO cannot hang a build), never more bytes than
//! the kind of file may hold, and images recognised by their content, not their name.

use std::io::Read;
use std::path::Path;

/// The most a `group.json` may hold (a group has at most [`MAX_ARTISTS_PER_GROUP`]
/// Artists; the rest is the prompt text).
pub const MAX_GROUP_JSON_BYTES: u64 = 512 * 1024;
/// The most a run file may hold: a statement, an image prompt and the metadata.
pub const MAX_RUN_JSON_BYTES: u64 = 2 * 1024 * 1024;
/// The longest statement a page shows; a longer one is cut there, and `check` reports it.
pub const MAX_STATEMENT_BYTES: usize = 256 * 1024;
/// The largest image file the build reads.
pub const MAX_IMAGE_BYTES: u64 = 64 * 1024 * 1024;
/// The most pixels an image may have, checked from its header before decoding (a
/// 10000×10000 PNG can be a few hundred KB on disk and 300 MB decoded).
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;
/// The most Artists one group may have: the compare page and the difference views grow
/// with the square of this.
pub const MAX_ARTISTS_PER_GROUP: usize = 32;

/// Ok with the length when `path` is a regular file (not a link to one) of at most `cap`
/// bytes; otherwise why not, in words.
pub fn regular_file(path: &Path, cap: u64) -> Result<u64, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(
            "is a symbolic link; chorus never follows links under runs/ (replace it with the file itself)"
                .into(),
        );
    }
    if !kind.is_file() {
        return Err("is not a regular file (a FIFO, socket or device?); remove it".into());
    }
    if meta.len() > cap {
        return Err(format!(
            "is {} bytes, more than the {cap} this kind of file may hold",
            meta.len()
        ));
    }
    Ok(meta.len())
}

/// Whether `path` is a regular file and not a symbolic link.
pub fn is_regular_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// Reads a regular file of at most `cap` bytes (see [`regular_file`]). The cap holds even
/// if the file grows between the check and the read.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let len = regular_file(path, cap)?;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > cap {
        return Err(format!(
            "is more than the {cap} bytes this kind of file may hold"
        ));
    }
    Ok(bytes)
}

/// The entries of a folder under `runs/`, sorted by name: `Ok(None)` when there is no
/// such folder, `Ok(Some(..))` when it is a real folder, and why not otherwise. The one
/// way chorus opens a folder there: a link to a folder (`runs/<G>/votes -> /elsewhere`)
/// would let a pull request publish, count or overwrite what lies outside the project.
pub fn read_folder(path: &Path) -> Result<Option<Vec<std::fs::DirEntry>>, String> {
    if !is_folder(path)? {
        return Ok(None);
    }
    let entries = std::fs::read_dir(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut entries: Vec<std::fs::DirEntry> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    Ok(Some(entries))
}

/// `Ok(false)` when nothing is at `path`, `Ok(true)` for a real folder, and why not for
/// a link or anything else.
fn is_folder(path: &Path) -> Result<bool, String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("cannot read: {e}")),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(
            "is a symbolic link; chorus never follows links under runs/ (replace it with the folder itself)"
                .into(),
        );
    }
    if !kind.is_dir() {
        return Err("is not a folder; chorus expects a folder here (remove it)".into());
    }
    Ok(true)
}

/// The folders from `runs_dir` down to `path`'s folder, `runs_dir` first.
fn folders_to(runs_dir: &Path, path: &Path) -> Vec<std::path::PathBuf> {
    let mut at = runs_dir.to_path_buf();
    let mut out = vec![at.clone()];
    if let Some(rel) = path.parent().and_then(|p| p.strip_prefix(runs_dir).ok()) {
        for part in rel.components() {
            at.push(part);
            out.push(at.clone());
        }
    }
    out
}

/// `path` named from the project root (`runs/<id>/votes`), never by the machine's folders.
fn shown(runs_dir: &Path, path: &Path) -> String {
    let base = runs_dir.parent().unwrap_or(runs_dir);
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Why a write of `path` would leave `runs_dir` through a symbolic link (one of the
/// folders on the way is a link), if it would.
pub fn linked_on_the_way(runs_dir: &Path, path: &Path) -> Option<String> {
    folders_to(runs_dir, path)
        .into_iter()
        .find(|f| std::fs::symlink_metadata(f).is_ok_and(|m| m.file_type().is_symlink()))
        .map(|f| {
            format!(
                "{}: is a symbolic link; chorus never writes through links under runs/ (replace it with a folder)",
                shown(runs_dir, &f)
            )
        })
}

/// Refuses a write of `path` under `runs_dir` unless every folder between them is a real
/// folder or not there yet (it is then made), and `path` itself is absent or a regular
/// file: the one guard before chorus writes into `runs/`, so a linked folder can never
/// carry a write, or its temp file, out of the project.
pub fn guard_write(runs_dir: &Path, path: &Path) -> Result<(), String> {
    if !path.starts_with(runs_dir) {
        return Err(format!("{}: is not under runs/", path.display()));
    }
    if let Some(reason) = linked_on_the_way(runs_dir, path) {
        return Err(reason);
    }
    for f in folders_to(runs_dir, path) {
        is_folder(&f).map_err(|r| format!("{}: {r}", shown(runs_dir, &f)))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => Err(format!(
            "{}: is a symbolic link or special file; chorus never writes through these (remove it)",
            shown(runs_dir, path)
        )),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `path` under `runs_dir` atomically, after [`guard_write`].
pub fn write_under(runs_dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    guard_write(runs_dir, path).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomic(path, bytes)
}

/// The extension chorus publishes an image under, from its first bytes: `png`, `jpg`,
/// `webp` or `gif`; `None` for anything else (HTML, SVG, text), whatever its name says.
pub fn sniff_image(head: &[u8]) -> Option<&'static str> {
    match image::guess_format(head).ok()? {
        image::ImageFormat::Png => Some("png"),
        image::ImageFormat::Jpeg => Some("jpg"),
        image::ImageFormat::WebP => Some("webp"),
        image::ImageFormat::Gif => Some("gif"),
        _ => None,
    }
}

/// Checks an image file the way `check` and the build do: a regular file within
/// [`MAX_IMAGE_BYTES`] whose content is PNG, JPEG, WebP or GIF. Returns the extension.
pub fn check_image_file(path: &Path) -> Result<&'static str, String> {
    regular_file(path, MAX_IMAGE_BYTES)?;
    let mut head = [0u8; 32];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| format!("cannot read: {e}"))?;
    sniff_image(&head[..n])
        .ok_or_else(|| "is not a PNG, JPEG, WebP or GIF image (its content says otherwise)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_fifos_and_oversize_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.json");
        std::fs::write(&file, b"{}").unwrap();
        assert_eq!(read_capped(&file, 10).unwrap(), b"{}");
        assert!(read_capped(&file, 1).unwrap_err().contains("more than"));
        let link = dir.path().join("b.json");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(read_capped(&link, 10)
            .unwrap_err()
            .contains("symbolic link"));
        assert!(!is_regular_file(&link));
        let fifo = dir.path().join("c.json");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        assert!(read_capped(&fifo, 10)
            .unwrap_err()
            .contains("not a regular file"));
    }

    #[test]
    fn folders_are_opened_and_written_into_only_when_real() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let group = runs.join("g");
        std::fs::create_dir_all(&group).unwrap();
        std::fs::write(group.join("b.json"), b"{}").unwrap();
        std::fs::write(group.join("a.json"), b"{}").unwrap();
        let names: Vec<_> = read_folder(&group)
            .unwrap()
            .unwrap()
            .iter()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["a.json", "b.json"], "sorted");
        assert!(read_folder(&group.join("none")).unwrap().is_none());
        let elsewhere = tempfile::tempdir().unwrap();
        let votes = group.join("votes");
        std::os::unix::fs::symlink(elsewhere.path(), &votes).unwrap();
        assert!(read_folder(&votes).unwrap_err().contains("symbolic link"));
        assert!(read_folder(&group.join("a.json"))
            .unwrap_err()
            .contains("not a folder"));

        let target = votes.join("x.json");
        assert_eq!(
            guard_write(&runs, &target).unwrap_err(),
            "runs/g/votes: is a symbolic link; chorus never writes through links under runs/ (replace it with a folder)"
        );
        assert!(linked_on_the_way(&runs, &target).is_some());
        assert!(write_under(&runs, &target, b"[]").is_err());
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
        assert!(guard_write(&runs, &group.join("new/x.json")).is_ok());
        assert!(guard_write(&runs, &group.join("a.json/x.json")).is_err());
        write_under(&runs, &group.join("new/x.json"), b"[]").unwrap();
        assert!(guard_write(&runs, &dir.path().join("x.json")).is_err());
    }

    #[test]
    fn images_are_known_by_content() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("png"));
        assert_eq!(sniff_image(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some("jpg"));
        assert_eq!(sniff_image(b"<html><script>alert(1)</script>"), None);
        assert_eq!(
            sniff_image(b"<svg xmlns='http://www.w3.org/2000/svg'>"),
            None
        );
    }
}
