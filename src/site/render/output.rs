//! The output folder: claimed with a marker before anything is written (so an interrupted
//! first build leaves a folder the next one recognises), written file by file only where
//! the bytes changed, and pruned of what the build no longer makes. Links are never
//! followed, in the output or into it.

use std::path::{Path, PathBuf};

use crate::fsutil::write_rebuildable;
use crate::site::SiteError;

/// Marks a folder as chorus output, so stale files may be pruned from it safely. It is
/// written before anything else (holding [`MARKER_STARTED`]), so a build interrupted on
/// its first run leaves a folder the next build recognises, and holds [`MARKER_DONE`]
/// once a build has finished: until then every build renders everything.
pub const OUTPUT_MARKER: &str = ".chorus-site";
/// The marker's text while a folder's first build (or the first since it was emptied)
/// has not finished.
const MARKER_STARTED: &[u8] =
    b"This folder is being written by `chorus build`; files not made by it are removed.\n";
/// The marker's text once a build has finished writing the folder.
pub(crate) const MARKER_DONE: &[u8] =
    b"This folder is written by `chorus build`; files not made by it are removed.\n";

/// One file of the output: rendered bytes, or a copy of a file on disk (a run's image
/// or a cached thumbnail). `link`: the source is chorus's own cache, never edited in
/// place, so a hard link may stand in for the copy.
pub(crate) enum OutFile {
    Bytes(Vec<u8>),
    Copy { src: PathBuf, link: bool },
}

/// Makes `dest` hold `src`'s bytes, atomically, leaving it alone when it already does.
/// Returns whether it wrote.
fn copy_if_changed(src: &Path, dest: &Path, link: bool) -> std::io::Result<bool> {
    // Whatever is copied must be a file itself: a link planted in runs/ or in a committed
    // cache would otherwise publish what it points at.
    if !crate::store::is_regular_file(src) {
        return Err(std::io::Error::other(
            "not a regular file (a symbolic link?); chorus only publishes files themselves",
        ));
    }
    let same_len = std::fs::metadata(src)?.len()
        == std::fs::metadata(dest).map(|m| m.len()).unwrap_or(u64::MAX);
    if link && !same_len {
        // Link under a temporary name beside the destination, then rename over it: the
        // same all-or-nothing guarantee as fsutil::write_atomic, without copying bytes.
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = dest.with_file_name(format!(
            "{}{}-link-{}",
            crate::fsutil::TEMP_PREFIX,
            std::process::id(),
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("file")
        ));
        let _ = std::fs::remove_file(&tmp);
        if std::fs::hard_link(src, &tmp).is_ok() {
            return std::fs::rename(&tmp, dest).map(|_| true);
        }
    }
    write_rebuildable(dest, &std::fs::read(src)?)
}

/// The output folder, checked once before anything is written to it.
pub(crate) struct Output {
    dir: PathBuf,
}

impl Output {
    /// Refuses a non-empty folder that chorus did not write, so `--out ~/Documents`
    /// cannot lose data; otherwise creates the folder and claims it with the marker
    /// before anything else is written, so an interrupted build never leaves a folder
    /// the next build would refuse.
    pub(crate) fn open(dir: &Path) -> Result<Output, SiteError> {
        let io = |source| SiteError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let marker = dir.join(OUTPUT_MARKER);
        if !marker.exists() {
            if dir.is_dir() && std::fs::read_dir(dir).map_err(io)?.next().is_some() {
                return Err(SiteError::Output(format!(
                    "{} exists, is not empty and was not written by chorus; empty it or choose another --out",
                    dir.display()
                )));
            }
            crate::fsutil::write_atomic(&marker, MARKER_STARTED).map_err(io)?;
        }
        Ok(Output {
            dir: dir.to_path_buf(),
        })
    }

    /// Whether a build has finished writing this folder (and nothing removed the marker
    /// since): otherwise the next build renders everything.
    pub(crate) fn finished(&self) -> bool {
        crate::store::read_capped(&self.dir.join(OUTPUT_MARKER), 4096)
            .is_ok_and(|text| text == MARKER_DONE)
    }

    /// Writes one file unless it already holds these bytes. Returns whether it wrote, and
    /// the file's length.
    pub(crate) fn write(&self, rel: &Path, file: &OutFile) -> Result<(bool, u64), SiteError> {
        let path = self.dir.join(rel);
        let io = |source| SiteError::Io {
            path: path.clone(),
            source,
        };
        // A linked folder inside the output would take this write elsewhere; chorus never
        // makes one, so it is removed, unfollowed.
        for dir in rel
            .ancestors()
            .skip(1)
            .filter(|d| !d.as_os_str().is_empty())
        {
            let at = self.dir.join(dir);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                std::fs::remove_file(&at).map_err(io)?;
            }
        }
        let wrote = match file {
            OutFile::Bytes(bytes) => write_rebuildable(&path, bytes).map_err(io)?,
            OutFile::Copy { src, link } => copy_if_changed(src, &path, *link).map_err(io)?,
        };
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Ok((wrote, len))
    }

    /// Removes one file the build no longer makes (and its folder, once empty).
    pub(crate) fn remove(&self, rel: &Path) -> Result<bool, SiteError> {
        let path = self.dir.join(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                let mut dir = path.parent();
                while let Some(d) = dir.filter(|d| *d != self.dir) {
                    if std::fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(SiteError::Io { path, source }),
        }
    }

    /// Removes every symbolic link inside the output, unfollowed: a link (in a committed
    /// site/, say) would take writes elsewhere, and chorus never makes one.
    pub(crate) fn remove_links(&self) -> Result<usize, SiteError> {
        use rayon::prelude::*;
        // Folders are read but files are not looked at one by one, and the folders two
        // levels down (one per group) are walked in parallel, so this stays cheap on every
        // build however large the site.
        let entries = |dir: &Path| -> Vec<std::fs::DirEntry> {
            std::fs::read_dir(dir)
                .map(|r| r.filter_map(Result::ok).collect())
                .unwrap_or_default()
        };
        let (mut links, mut subtrees) = (Vec::new(), Vec::new());
        for top in entries(&self.dir) {
            let kind = top.file_type().ok();
            if kind.is_some_and(|t| t.is_symlink()) {
                links.push(top.path());
            } else if kind.is_some_and(|t| t.is_dir()) {
                for child in entries(&top.path()) {
                    let kind = child.file_type().ok();
                    if kind.is_some_and(|t| t.is_symlink()) {
                        links.push(child.path());
                    } else if kind.is_some_and(|t| t.is_dir()) {
                        subtrees.push(child.path());
                    }
                }
            }
        }
        links.par_extend(subtrees.par_iter().flat_map_iter(|dir| {
            walkdir::WalkDir::new(dir)
                .into_iter()
                .filter_entry(|e| e.file_type().is_dir() || e.path_is_symlink())
                .filter_map(Result::ok)
                .filter(|e| e.path_is_symlink())
                .map(walkdir::DirEntry::into_path)
        }));
        for link in &links {
            std::fs::remove_file(link).map_err(|source| SiteError::Io {
                path: link.clone(),
                source,
            })?;
        }
        Ok(links.len())
    }

    /// Removes every file `keep` refuses (it is given root-relative paths): what a full
    /// build does, so the folder holds exactly what a clean build makes.
    pub(crate) fn prune(&self, keep: &dyn Fn(&Path) -> bool) -> Result<usize, SiteError> {
        let stale: Vec<PathBuf> = walkdir::WalkDir::new(&self.dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| !e.file_type().is_dir())
            .filter_map(|e| {
                let rel = e.path().strip_prefix(&self.dir).ok()?;
                (!keep(rel)).then(|| rel.to_path_buf())
            })
            .collect();
        let mut removed = 0;
        for rel in stale {
            removed += usize::from(self.remove(&rel)?);
        }
        Ok(removed)
    }
}

/// Refuses to build when the output or cache folder (or a folder directly in the cache)
/// is a symbolic link, which would make the build write and prune outside the project.
pub(crate) fn guard_folders(out: &Path, cache_dir: &Path) -> Result<(), SiteError> {
    crate::fsutil::refuse_linked_folder(cache_dir).map_err(SiteError::Output)?;
    if std::fs::symlink_metadata(out).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(SiteError::Output(format!(
            "{} is a symbolic link; chorus never writes through links (delete the link, or \
             choose another folder with --out)",
            out.display()
        )));
    }
    Ok(())
}
