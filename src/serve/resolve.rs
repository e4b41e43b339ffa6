//! Maps a request path to a file inside the output folder, or to nothing. Anything that
//! could leave the folder (`..`, `%2e%2e`, encoded slashes, symlinks out) is not found;
//! folders are served by their index.html, never listed.

use std::path::{Path, PathBuf};

#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    File(PathBuf),
    /// A folder asked for without its trailing slash: relative links need the slash.
    Redirect(String),
    NotFound,
}

/// Percent-decodes each `/`-separated segment and refuses any that could name something
/// outside the folder. Empty segments (`//`, the trailing slash) are dropped.
pub fn segments(path: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .ok()?;
        let bad = decoded == "."
            || decoded == ".."
            // Dotfiles are not pages (the output marker, atomic-write temp files).
            || decoded.starts_with('.')
            || decoded.contains(['/', '\\', '\0', ':']);
        if bad {
            return None;
        }
        out.push(decoded.into_owned());
    }
    Some(out)
}

/// Resolves `path` (the URL path, still encoded) against the output folder `out`.
pub fn resolve(out: &Path, path: &str) -> Resolved {
    let Some(parts) = segments(path) else {
        return Resolved::NotFound;
    };
    let Ok(base) = out.canonicalize() else {
        return Resolved::NotFound;
    };
    let candidate: PathBuf = parts.iter().fold(base.clone(), |p, s| p.join(s));
    // canonicalize follows symlinks, so a link leading out of the folder is caught here.
    let inside = |p: &Path| p.canonicalize().ok().filter(|c| c.starts_with(&base));
    let Some(real) = inside(&candidate) else {
        return Resolved::NotFound;
    };
    if real.is_file() {
        return Resolved::File(real);
    }
    if !real.is_dir() {
        return Resolved::NotFound;
    }
    if !parts.is_empty() && !path.ends_with('/') {
        let last = path.rsplit('/').next().unwrap_or_default();
        return Resolved::Redirect(format!("{last}/"));
    }
    match inside(&real.join("index.html")) {
        Some(index) if index.is_file() => Resolved::File(index),
        _ => Resolved::NotFound,
    }
}

/// The Content-Type for a file, by extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "atom" => "application/atom+xml",
        "txt" | "md" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "avif" => "image/avif",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        _ => "application/octet-stream",
    }
}

/// How many folders deep a request path is: the way back up to the site root.
pub fn depth(path: &str) -> usize {
    path.trim_start_matches('/').matches('/').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_dotfiles_are_refused() {
        for bad in [
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/a%2f..%2fx",
            "/..%5cx",
            "/.chorus-site",
            "/c:/x",
            "/%00",
        ] {
            assert_eq!(segments(bad), None, "{bad}");
        }
        assert_eq!(
            segments("//groups/a%20b/"),
            Some(vec!["groups".into(), "a b".into()])
        );
        assert_eq!(segments("/"), Some(vec![]));
    }

    #[test]
    fn folders_serve_their_index_and_links_out_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("site");
        std::fs::create_dir_all(out.join("groups/g")).unwrap();
        std::fs::create_dir_all(out.join("empty")).unwrap();
        std::fs::write(out.join("index.html"), "i").unwrap();
        std::fs::write(out.join("groups/g/index.html"), "g").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "s").unwrap();
        let real_out = out.canonicalize().unwrap();
        assert_eq!(
            resolve(&out, "/"),
            Resolved::File(real_out.join("index.html"))
        );
        assert_eq!(
            resolve(&out, "/groups/g/"),
            Resolved::File(real_out.join("groups/g/index.html"))
        );
        assert_eq!(resolve(&out, "/groups/g"), Resolved::Redirect("g/".into()));
        assert_eq!(resolve(&out, "/empty/"), Resolved::NotFound);
        assert_eq!(resolve(&out, "/nope.html"), Resolved::NotFound);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.txt"), out.join("link.txt"))
                .unwrap();
            std::os::unix::fs::symlink(dir.path(), out.join("up")).unwrap();
            assert_eq!(resolve(&out, "/link.txt"), Resolved::NotFound);
            assert_eq!(resolve(&out, "/up/secret.txt"), Resolved::NotFound);
        }
    }

    #[test]
    fn depth_counts_folders() {
        assert_eq!(depth("/"), 0);
        assert_eq!(depth("/index.html"), 0);
        assert_eq!(depth("/groups/x/index.html"), 2);
        assert_eq!(depth("/groups/x/"), 2);
    }
}
